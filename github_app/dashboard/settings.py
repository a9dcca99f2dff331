"""The dashboard's configuration: who may sign in, and how. Read from the environment here.

Two ways in, either or both: GitHub sign-in (the app's own OAuth client id and secret;
owners of the course organisation and members of a staff team are let in), and a static
admin token for small setups. With neither configured the login page says what to set.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from github_app.settings import SettingsError

# GitHub logins and team slugs: letters, digits, hyphens (slugs also underscores and dots).
_ORG = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_TEAM = re.compile(rf"^({_ORG})/([A-Za-z0-9._-]{{1,100}})$")
# Shorter secrets can be guessed through the login form.
MIN_SECRET_LENGTH = 16


class DashboardSettings(BaseModel):
    """Everything the dashboard needs, each field read from the variable in `DASHBOARD_ENV`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    admin_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # "org/team-slug": members of this team are staff, besides the organisation's owners.
    staff_team: str | None = None
    # The course organisation whose owners are staff; defaults to the staff team's org.
    # Never "any organisation the app is installed on": groups install it on their own
    # organisations, where every student is an owner.
    course_org: str | None = None
    secret_key: SecretStr | None = None
    github_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    # Activity is shown in the course's local time: a 3 a.m. commit should look like one.
    timezone: str = "Europe/Copenhagen"
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    http_timeout: float = Field(default=15.0, gt=0)

    @field_validator("admin_token", "secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_SECRET_LENGTH} characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return None if value is None else SecretStr(value.get_secret_value().strip())

    @field_validator("staff_team")
    @classmethod
    def _team(cls, value: str | None) -> str | None:
        if value is not None and not _TEAM.match(value.strip()):
            raise ValueError("must be ORG/TEAM-SLUG, e.g. dtu-mlops/teachers")
        return None if value is None else value.strip()

    @field_validator("course_org")
    @classmethod
    def _org(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(_ORG, value.strip()):
            raise ValueError("must be an organisation login, e.g. dtu-mlops")
        return None if value is None else value.strip()

    @field_validator("github_url", "api_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local test server)")
        return url.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a time zone name, e.g. Europe/Copenhagen or UTC") from None
        return name

    @model_validator(mode="after")
    def _complete_oauth(self) -> DashboardSettings:
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("GitHub sign-in needs both GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET")
        if self.oauth_enabled:
            if self.secret_key is None:
                raise ValueError("GitHub sign-in needs MLOPS_MENTOR_SECRET_KEY to sign sessions")
            if self.staff_org is None:
                raise ValueError(
                    "GitHub sign-in needs MLOPS_MENTOR_COURSE_ORG or MLOPS_MENTOR_STAFF_TEAM "
                    "to know who is staff"
                )
        return self

    @property
    def oauth_enabled(self) -> bool:
        return self.client_id is not None and self.client_secret is not None

    @property
    def staff_org(self) -> str | None:
        """The organisation whose owners are staff."""
        if self.course_org:
            return self.course_org
        return self.staff_team.split("/", 1)[0] if self.staff_team else None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def session_key(self) -> bytes:
        """The key signing the dashboard's cookies.

        `MLOPS_MENTOR_SECRET_KEY` when set. A token-only setup may leave it out: the key is
        then derived from the admin token, so every worker process agrees on it and it is
        as secret as the token (and changing the token signs everyone out).
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if self.admin_token is None:
            # Nobody can sign in, so nothing is ever signed with it that must verify later.
            return os.urandom(32)
        token = self.admin_token.get_secret_value().encode()
        return hmac.new(token, b"mlops-mentor dashboard session key", hashlib.sha256).digest()

    def secrets(self) -> list[str]:
        """Values that must never reach a log line or a page."""
        values = (self.admin_token, self.client_secret, self.secret_key)
        return [value.get_secret_value() for value in values if value is not None]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DashboardSettings:
        """Settings from environment variables, or `SettingsError` naming the bad one."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: env[name].strip()
            for field, name in DASHBOARD_ENV.items()
            if env.get(name, "").strip()
        }
        try:
            return cls(**values)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error["loc"] else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            # A whole-model rule names its variables in its message.
            raise SettingsError(
                f"{DASHBOARD_ENV[field]}: {message}" if field else message
            ) from None


DASHBOARD_ENV: dict[str, str] = {
    "admin_token": "MLOPS_MENTOR_ADMIN_TOKEN",
    "client_id": "GITHUB_CLIENT_ID",
    "client_secret": "GITHUB_CLIENT_SECRET",
    "staff_team": "MLOPS_MENTOR_STAFF_TEAM",
    "course_org": "MLOPS_MENTOR_COURSE_ORG",
    "secret_key": "MLOPS_MENTOR_SECRET_KEY",
    "github_url": "GITHUB_URL",
    "api_url": "GITHUB_API_URL",
    "timezone": "MLOPS_MENTOR_TIMEZONE",
    "session_hours": "MLOPS_MENTOR_SESSION_HOURS",
}
