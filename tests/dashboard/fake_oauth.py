"""A small fake of GitHub's OAuth web flow and the few API calls sign-in makes, served over
real HTTP on loopback: authorize (redirects back with a code, as if the user approved),
the code-for-token exchange, `GET /user`, and organisation and team memberships.

Strict where GitHub is: codes are single-use and bound to the client and redirect URI,
API calls need a valid user token, and a user may only read memberships of an
organisation they belong to.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLIENT_ID = "Iv1.dashboardtest"
CLIENT_SECRET = "fake-client-secret-0123456789abcdef"


@dataclass
class FakeUser:
    login: str
    # org -> (role, state), e.g. {"dtu-mlops": ("admin", "active")}
    orgs: dict[str, tuple[str, str]] = field(default_factory=dict)
    # "org/slug" -> state
    teams: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeGitHubOAuth:
    users: dict[str, FakeUser]
    base_url: str = ""
    # The user who "approves" the app on the authorize page.
    signed_in_as: str = ""
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (login, uri)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> login
    calls: list[str] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return self.base_url + "/api"

    def __post_init__(self) -> None:
        self._map = Map(
            [
                Rule("/login/oauth/authorize", endpoint="authorize", methods=["GET"]),
                Rule("/login/oauth/access_token", endpoint="token", methods=["POST"]),
                Rule("/api/user", endpoint="user", methods=["GET"]),
                Rule("/api/orgs/<org>/memberships/<login>", endpoint="org", methods=["GET"]),
                Rule(
                    "/api/orgs/<org>/teams/<slug>/memberships/<login>",
                    endpoint="team",
                    methods=["GET"],
                ),
            ]
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        adapter = self._map.bind_to_environ(environ)
        endpoint, args = adapter.match()
        self.calls.append(f"{request.method} {request.path}")
        response = getattr(self, f"_{endpoint}")(request, **args)
        return response(environ, start_response)

    # --- OAuth ---------------------------------------------------------------------------

    def _authorize(self, request: Request) -> Response:
        if request.args.get("client_id") != CLIENT_ID:
            return _json({"message": "unknown client"}, 404)
        code = secrets.token_hex(10)
        uri = request.args["redirect_uri"]
        self.codes[code] = (self.signed_in_as, uri)
        query = urlencode({"code": code, "state": request.args.get("state", "")})
        return Response(status=302, headers={"Location": f"{uri}?{query}"})

    def _token(self, request: Request) -> Response:
        form = request.form
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return _json({"error": "incorrect_client_credentials"})
        found = self.codes.pop(form.get("code", ""), None)
        if found is None or found[1] != form.get("redirect_uri"):
            return _json({"error": "bad_verification_code"})
        token = "ghu_" + secrets.token_hex(18)
        self.tokens[token] = found[0]
        return _json({"access_token": token, "token_type": "bearer", "scope": "read:org"})

    # --- API -------------------------------------------------------------------------------

    def _viewer(self, request: Request) -> FakeUser | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        login = self.tokens.get(token) if scheme.lower() in ("token", "bearer") else None
        return self.users.get(login) if login else None

    def _user(self, request: Request) -> Response:
        user = self._viewer(request)
        if user is None:
            return _json({"message": "Bad credentials"}, 401)
        return _json({"login": user.login, "id": abs(hash(user.login)) % 10**6, "type": "User"})

    def _org(self, request: Request, org: str, login: str) -> Response:
        user = self._viewer(request)
        if user is None:
            return _json({"message": "Bad credentials"}, 401)
        if org not in user.orgs:
            return _json({"message": "Not Found"}, 404)
        target = self.users.get(login)
        if target is None or org not in target.orgs:
            return _json({"message": "Not Found"}, 404)
        role, state = target.orgs[org]
        return _json({"role": role, "state": state, "organization": {"login": org}})

    def _team(self, request: Request, org: str, slug: str, login: str) -> Response:
        user = self._viewer(request)
        if user is None:
            return _json({"message": "Bad credentials"}, 401)
        target = self.users.get(login)
        state = target.teams.get(f"{org}/{slug}") if target else None
        if org not in user.orgs or state is None:
            return _json({"message": "Not Found"}, 404)
        return _json({"role": "member", "state": state, "url": f"/orgs/{org}/teams/{slug}"})


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve a WSGI app on a free loopback port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
