"""Who may see the dashboard: staff signed in with GitHub, or the holder of the admin token.

Sessions are signed, timestamped cookies scoped to `/dashboard` (HttpOnly, SameSite=Lax,
Secure over https). The OAuth `state` lives in its own short-lived signed cookie, so a
callback without the matching browser is refused. POST forms carry a CSRF token checked
against a signed cookie (double submit). Tokens are compared in constant time, and no
secret or user token is ever stored in a cookie, a page or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

import httpx
from flask import Request, Response
from githubkit import GitHub, TokenAuthStrategy
from githubkit.exception import GitHubException, RequestFailed
from itsdangerous import BadSignature, URLSafeTimedSerializer

from github_app.client import USER_AGENT
from github_app.dashboard.settings import DashboardSettings
from github_app.logs import LOGGER, event

logger = logging.getLogger(LOGGER)

PREFIX = "/dashboard"
SESSION_COOKIE = "mlops_mentor_dashboard"
OAUTH_COOKIE = "mlops_mentor_oauth"
CSRF_COOKIE = "mlops_mentor_csrf"
CSRF_FIELD = "csrf_token"
# Long enough to approve the app on GitHub, short enough that a leaked state is useless.
OAUTH_SECONDS = 600
CSRF_SECONDS = 24 * 3600
ADMIN_LOGIN = "admin"


class Via(StrEnum):
    github = "github"
    token = "token"


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a GitHub login (staff) or the admin token's holder."""

    login: str
    via: Via


class SignInError(Exception):
    """Signing in failed; `str()` is a sentence for the login page (never a secret)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Auth:
    """Signs and checks the dashboard's cookies; talks to GitHub for sign-in."""

    def __init__(self, settings: DashboardSettings) -> None:
        self.settings = settings
        key = settings.session_key()
        self._session = URLSafeTimedSerializer(key, salt="mlops-mentor.dashboard.session")
        self._oauth = URLSafeTimedSerializer(key, salt="mlops-mentor.dashboard.oauth")
        self._csrf = URLSafeTimedSerializer(key, salt="mlops-mentor.dashboard.csrf")
        self._session_seconds = int(settings.session_hours * 3600)
        # Token sessions name the token they came from: rotating it signs them out.
        token = settings.admin_token.get_secret_value() if settings.admin_token else ""
        self._token_id = hmac.new(key, token.encode(), hashlib.sha256).hexdigest()[:32]

    # --- Who is asking -----------------------------------------------------------------

    def bearer(self, request: Request) -> Viewer | None:
        """The admin token from `Authorization: Bearer …`; raises `SignInError` (401) for a
        header that is present but wrong, so a script sees its mistake."""
        header = request.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not self.token_matches(value.strip()):
            raise SignInError("The Authorization header does not hold the admin token.", 401)
        return Viewer(ADMIN_LOGIN, Via.token)

    def token_matches(self, candidate: str) -> bool:
        token = self.settings.admin_token
        if token is None or not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), token.get_secret_value().encode())

    def viewer(self, request: Request) -> Viewer | None:
        """The signed-in viewer from the session cookie, if it is valid and fresh."""
        data = self._load(self._session, request.cookies.get(SESSION_COOKIE), self._session_seconds)
        if not isinstance(data, dict) or not isinstance(data.get("login"), str):
            return None
        try:
            via = Via(data.get("via"))
        except ValueError:
            return None
        if via is Via.token and (
            self.settings.admin_token is None or data.get("token") != self._token_id
        ):
            return None
        if via is Via.github and not self.settings.oauth_enabled:
            return None
        return Viewer(data["login"], via)

    def sign_in(self, response: Response, request: Request, viewer: Viewer) -> None:
        payload: dict[str, Any] = {"login": viewer.login, "via": viewer.via.value}
        if viewer.via is Via.token:
            payload["token"] = self._token_id
        self._set(response, request, SESSION_COOKIE, self._session.dumps(payload))

    def sign_out(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)

    # --- CSRF (double submit: the form's token must equal the signed cookie's) ---------

    def csrf_token(self, request: Request) -> tuple[str, str | None]:
        """The form token to embed, and a new cookie value to set (None: keep the cookie)."""
        token = self._load(self._csrf, request.cookies.get(CSRF_COOKIE), CSRF_SECONDS)
        if isinstance(token, str):
            return token, None
        token = secrets.token_urlsafe(32)
        return token, self._csrf.dumps(token)

    def set_csrf(self, response: Response, request: Request, cookie: str) -> None:
        self._set(response, request, CSRF_COOKIE, cookie, max_age=CSRF_SECONDS)

    def csrf_ok(self, request: Request) -> bool:
        expected = self._load(self._csrf, request.cookies.get(CSRF_COOKIE), CSRF_SECONDS)
        given = request.form.get(CSRF_FIELD, "")
        return isinstance(expected, str) and hmac.compare_digest(given.encode(), expected.encode())

    # --- GitHub sign-in ------------------------------------------------------------------

    def start_oauth(self, redirect_uri: str, next_path: str) -> tuple[str, str]:
        """GitHub's authorize URL to send the browser to, and the signed state cookie that
        the callback must find (set it with `set_state`)."""
        state = secrets.token_urlsafe(32)
        query = urlencode(
            {
                "client_id": self.settings.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                # Needed by an OAuth App to read memberships; a GitHub App ignores it.
                "scope": "read:org",
                "allow_signup": "false",
            }
        )
        cookie = self._oauth.dumps({"state": state, "next": next_path})
        return f"{self.settings.github_url}/login/oauth/authorize?{query}", cookie

    def set_state(self, response: Response, request: Request, cookie: str) -> None:
        self._set(response, request, OAUTH_COOKIE, cookie, max_age=OAUTH_SECONDS)

    def callback(self, request: Request, redirect_uri: str) -> tuple[Viewer, str]:
        """Check the state, exchange the code, and let staff in: (viewer, where to go)."""
        data = self._load(self._oauth, request.cookies.get(OAUTH_COOKIE), OAUTH_SECONDS)
        state = request.args.get("state", "")
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("state"), str)
            or not hmac.compare_digest(state.encode(), data["state"].encode())
        ):
            raise SignInError(
                "This sign-in could not be verified (it expired or did not start in this "
                "browser). Please sign in again."
            )
        if request.args.get("error"):
            raise SignInError("GitHub sign-in was cancelled.")
        code = request.args.get("code", "")
        if not code:
            raise SignInError("GitHub sent no sign-in code. Please sign in again.")
        token = self._exchange(code, redirect_uri)
        login = self._staff_login(token)
        return Viewer(login, Via.github), str(data.get("next") or PREFIX + "/")

    def forget_state(self, response: Response) -> None:
        response.delete_cookie(OAUTH_COOKIE, path=PREFIX)

    def _exchange(self, code: str, redirect_uri: str) -> str:
        """The user's token for `code`: a plain form POST, as GitHub's web flow defines."""
        assert self.settings.client_secret is not None  # only called with OAuth enabled
        try:
            reply = httpx.post(
                f"{self.settings.github_url}/login/oauth/access_token",
                data={
                    "client_id": self.settings.client_id,
                    "client_secret": self.settings.client_secret.get_secret_value(),
                    "code": code,
                    "redirect_uri": redirect_uri,
                },
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                timeout=self.settings.http_timeout,
            )
            body = reply.json() if reply.status_code == 200 else {}
        except (httpx.HTTPError, ValueError) as exc:
            event(logger, "dashboard_sign_in", level=logging.WARNING, error=type(exc).__name__)
            raise SignInError("GitHub could not be reached. Please try again.", 502) from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            # e.g. bad_verification_code: the code was used already or expired.
            error = body.get("error") if isinstance(body, dict) else None
            event(
                logger,
                "dashboard_sign_in",
                level=logging.WARNING,
                status=reply.status_code,
                error=str(error)[:64],
            )
            raise SignInError("GitHub did not accept this sign-in. Please sign in again.")
        return token

    def _staff_login(self, token: str) -> str:
        """The user's login if they own the course organisation or are in the staff team;
        `SignInError` (403) for anyone else, students included."""
        settings = self.settings
        with GitHub(
            TokenAuthStrategy(token),
            base_url=settings.api_url + "/",
            user_agent=USER_AGENT,
            timeout=settings.http_timeout,
            http_cache=False,
            auto_retry=False,
        ) as gh:
            try:
                # Only two fields are needed: read the JSON rather than the full models,
                # which Enterprise servers and future API versions may not match exactly.
                login = gh.rest.users.get_authenticated().json()["login"]
                org = settings.staff_org
                if org and _membership(gh.rest.orgs.get_membership_for_user, org, login) == (
                    "admin",
                    "active",
                ):
                    return _signed_in(login, "owner of " + org)
                if settings.staff_team:
                    team_org, slug = settings.staff_team.split("/", 1)
                    found = _membership(
                        gh.rest.teams.get_membership_for_user_in_org, team_org, slug, login
                    )
                    if found is not None and found[1] == "active":
                        return _signed_in(login, "member of " + settings.staff_team)
            except (GitHubException, KeyError, TypeError, ValueError) as exc:
                event(logger, "dashboard_sign_in", level=logging.WARNING, error=type(exc).__name__)
                raise SignInError(
                    "GitHub could not confirm who you are. Please try again.", 502
                ) from None
        event(logger, "dashboard_sign_in", level=logging.WARNING, login=login, outcome="not_staff")
        who = f"owners of {settings.staff_org}" if settings.staff_org else ""
        if settings.staff_team:
            who += (" and " if who else "") + f"members of the team {settings.staff_team}"
        raise SignInError(
            f"You are signed in to GitHub as @{login}, but the dashboard is only for the "
            f"course staff ({who}). Your group's feedback is on the check runs of your commits.",
            403,
        )

    # --- Cookies -------------------------------------------------------------------------

    @staticmethod
    def _load(serializer: URLSafeTimedSerializer, value: str | None, max_age: int) -> Any:
        if not value:
            return None
        try:
            return serializer.loads(value, max_age=max_age)
        except BadSignature:  # also covers an expired signature
            return None

    def _set(
        self,
        response: Response,
        request: Request,
        name: str,
        value: str,
        *,
        max_age: int | None = None,
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age if max_age is not None else self._session_seconds,
            path=PREFIX,
            httponly=True,
            # Lax: the cookie comes back on GitHub's redirect to the callback (a top-level
            # GET), never on a cross-site POST.
            samesite="Lax",
            secure=request.is_secure,
        )


def _membership(method: Any, *path: str) -> tuple[str, str] | None:
    """(role, state) of a membership, or None when GitHub says there is none (404) or the
    user may not see it (403: e.g. not in that organisation at all)."""
    try:
        body = method(*path).json()
    except RequestFailed as exc:
        if exc.response.status_code in (403, 404):
            return None
        raise
    return str(body.get("role", "")), str(body.get("state", ""))


def _signed_in(login: str, because: str) -> str:
    event(logger, "dashboard_sign_in", login=login, outcome="staff", because=because)
    return login
