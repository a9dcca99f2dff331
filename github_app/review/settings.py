"""The AI review's settings: off unless an OpenAI-compatible endpoint and a model are named.

Read from the environment in this one module (`ReviewSettings.from_env()`); the course's
configuration may later switch the review off (`enabled`) or keep it to the default
branch (`default_branch_only`) with `model_copy(update=...)`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

REVIEW_DB = "review.sqlite3"


class ReviewSettingsError(Exception):
    """A malformed review setting; `str()` is one line naming the variable, never its value."""


class ReviewSettings(BaseModel):
    """Where the model is, how long to wait for it, and how much of it a course may use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(min_length=1)
    model: str = Field(min_length=1)
    api_key: SecretStr | None = None
    enabled: bool = True
    default_branch_only: bool = False
    # Seconds for one answer; a local model on a CPU needs a while for a long prompt.
    timeout: float = Field(default=120.0, gt=0)
    # What one judge may read, in tokens (estimated as 4 characters each): small local
    # models have 8k–32k token windows and need room for their answer.
    context_tokens: int = Field(default=12_000, ge=500)
    # Commits judged per installation and UTC day (cached answers do not count).
    daily_commits: int = Field(default=50, ge=0)
    data_dir: Path = Path("data")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")):
            raise ValueError("must start with https:// or http://")
        return url.rstrip("/")

    @property
    def cache_path(self) -> Path:
        """The SQLite file holding cached answers and the daily counts."""
        return self.data_dir / REVIEW_DB

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReviewSettings | None:
        """The settings, or None when `LLM_BASE_URL` or `LLM_MODEL` is unset (no AI review).

        Raises `ReviewSettingsError` naming the variable whose value cannot be used.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: env[name].strip() for field, name in ENV.items() if env.get(name, "").strip()
        }
        if "base_url" not in values or "model" not in values:
            return None
        try:
            return cls(**values)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error["loc"] else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            raise ReviewSettingsError(f"{ENV.get(field, field)}: {message}") from None


ENV: dict[str, str] = {
    "base_url": "LLM_BASE_URL",
    "model": "LLM_MODEL",
    "api_key": "LLM_API_KEY",
    "timeout": "LLM_TIMEOUT",
    "context_tokens": "LLM_CONTEXT_TOKENS",
    "daily_commits": "MLOPS_MENTOR_REVIEW_DAILY_COMMITS",
    "data_dir": "MLOPS_MENTOR_DATA_DIR",
}
