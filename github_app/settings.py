"""The app's configuration: read from the environment in this one module, validated once.

Tests build `Settings(...)` directly; the server calls `Settings.from_env()`, which turns
any missing or malformed value into ONE line naming the variable, never its value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from github_app.extract import ExtractLimits

# GitHub never delivers a webhook payload over 25 MB.
GITHUB_MAX_PAYLOAD = 25 * 1024 * 1024


class SettingsError(Exception):
    """A configuration value that stops start-up; `str()` is one line naming the variable."""


class Settings(BaseModel):
    """Everything the app needs to know, each field read from the variable in `ENV`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app_id: int = Field(gt=0)
    private_key: SecretStr
    webhook_secret: SecretStr = Field(min_length=1)
    api_url: str = "https://api.github.com"
    data_dir: Path = Path("data")
    check_name: str = Field(default="MLOps Mentor", min_length=1, max_length=100)
    # Where this server is reached (https://mentor.example.org): each check run's
    # "Details" link then opens its run page on the dashboard.
    public_url: str | None = None
    course_config: Path | None = None
    webhook_path: str = "/webhook"
    # Served behind a TLS-terminating reverse proxy that sets X-Forwarded-Proto/-Host.
    behind_proxy: bool = False
    max_payload_bytes: int = Field(default=GITHUB_MAX_PAYLOAD, gt=0)
    # Compressed size of a commit's tarball; a course repository is far below this.
    max_tarball_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    # None keeps `github_app.extract.ExtractLimits`' own default.
    max_extract_bytes: int | None = Field(default=None, gt=0)
    max_extract_files: int | None = Field(default=None, gt=0)
    max_file_bytes: int | None = Field(default=None, gt=0)
    annotation_cap: int = Field(default=500, ge=0)
    # Jobs run at once by each consumer (`serve`'s embedded one, or `mlops-mentor worker`).
    workers: int = Field(default=2, ge=1, le=64)
    # `serve` also consumes the queue; off when separate `mlops-mentor worker`s do it all.
    embedded_consumer: bool = True
    # Jobs waiting at most; over it a delivery is answered 503 (GitHub shows it, and it can
    # be redelivered). The queue is durable: this only guards against a flood.
    queue_size: int = Field(default=5000, ge=1)
    # How long a commit already evaluated is not evaluated again for another push.
    dedupe_seconds: float = Field(default=6 * 3600, ge=0)
    http_timeout: float = Field(default=30.0, gt=0)
    # Quick retries of a GitHub 5xx inside one request, before the job itself is retried.
    http_retries: int = Field(default=2, ge=0, le=5)
    retry_backoff: float = Field(default=1.0, ge=0)
    # A rate limit that resets within this many seconds is waited out in the request;
    # a longer one reschedules the job instead of blocking a worker.
    rate_limit_wait: float = Field(default=5.0, ge=0)
    # Attempts of a job failing on GitHub 5xx, timeouts or rate limits, and the first
    # delay between them (doubling each time, with jitter), capped at `job_retry_max`.
    # Also the attempts of a job whose process dies each time: the next one gives up.
    job_attempts: int = Field(default=5, ge=1, le=20)
    job_retry_delay: float = Field(default=15.0, ge=0)
    job_retry_max: float = Field(default=900.0, ge=0)
    # How long a worker holds a job without renewing it; a job whose worker died is
    # picked up again this long after the worker's last sign of life.
    job_lease_seconds: float = Field(default=120.0, ge=1)
    # Where the queue is: Redis (any number of workers on any number of machines) when
    # set, else a SQLite file in the data folder (one machine).
    redis_url: SecretStr | None = None
    # The results store: PostgreSQL or SQLite URL; a SQLite file in the data folder if unset.
    database_url: SecretStr | None = None
    # Evaluations, pushed commits and deliveries older than this are deleted.
    retention_days: float = Field(default=365, gt=0)

    @field_validator("private_key")
    @classmethod
    def _pem_key(cls, key: SecretStr) -> SecretStr:
        # Env files often carry the PEM on one line with literal "\n"s.
        text = key.get_secret_value().replace("\\n", "\n").strip()
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        try:
            load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError):
            # Never include the value (or the library's message about it) in the error.
            raise ValueError(
                "is not a PEM private key (download it from the app's settings)"
            ) from None
        return SecretStr(text + "\n")

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local test server)")
        return url.rstrip("/") + "/"

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if not url.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local test server)")
        return url.rstrip("/")

    @field_validator("webhook_path")
    @classmethod
    def _absolute_path(cls, path: str) -> str:
        if not path.startswith("/") or path == "/healthz":
            raise ValueError("must start with / and differ from /healthz")
        return path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from environment variables, or `SettingsError` naming the bad one."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: env[name] for field, name in ENV.items() if env.get(name, "").strip()
        }
        key_path = env.get(PRIVATE_KEY_PATH_VAR, "").strip()
        if "private_key" not in values and key_path:
            try:
                values["private_key"] = Path(key_path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SettingsError(
                    f"{PRIVATE_KEY_PATH_VAR}: cannot read {key_path} ({type(exc).__name__})"
                ) from None
        try:
            return cls(**values)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error["loc"] else ""
            name = ENV.get(field, field)
            if field == "private_key" and error["type"] == "missing":
                name = f"{ENV['private_key']} or {PRIVATE_KEY_PATH_VAR}"
            message = "is required" if error["type"] == "missing" else error["msg"]
            message = message.removeprefix("Value error, ")
            raise SettingsError(f"{name}: {message}") from None

    def extract_limits(self) -> ExtractLimits:
        """The extraction caps: ours where set, `ExtractLimits`' defaults otherwise."""
        given = {
            "max_total_bytes": self.max_extract_bytes,
            "max_files": self.max_extract_files,
            "max_file_bytes": self.max_file_bytes,
        }
        return ExtractLimits(**{k: v for k, v in given.items() if v is not None})

    def secrets(self) -> list[str]:
        """Values that must never reach a log line or a check run."""
        key = self.private_key.get_secret_value()
        body = "".join(line for line in key.splitlines() if not line.startswith("-----"))
        found = [self.webhook_secret.get_secret_value(), key.strip(), body]
        for url in (self.redis_url, self.database_url):
            if url is not None:
                # The whole URL and its password alone (a driver may print either).
                found.append(url.get_secret_value())
                password = urlsplit(url.get_secret_value()).password
                if password:
                    found.append(password)
        return found

    def store_url(self) -> str:
        """The results store's URL: `DATABASE_URL`, else a SQLite file in the data folder."""
        from github_app.store import database_url

        given = self.database_url.get_secret_value() if self.database_url else None
        return database_url(self.data_dir, given)


PRIVATE_KEY_PATH_VAR = "GITHUB_PRIVATE_KEY_PATH"
ENV: dict[str, str] = {
    "app_id": "GITHUB_APP_ID",
    "private_key": "GITHUB_PRIVATE_KEY",
    "webhook_secret": "GITHUB_WEBHOOK_SECRET",
    "api_url": "GITHUB_API_URL",
    "data_dir": "MLOPS_MENTOR_DATA_DIR",
    "check_name": "MLOPS_MENTOR_CHECK_NAME",
    "public_url": "MLOPS_MENTOR_PUBLIC_URL",
    "course_config": "MLOPS_MENTOR_CONFIG",
    "webhook_path": "MLOPS_MENTOR_WEBHOOK_PATH",
    "behind_proxy": "MLOPS_MENTOR_BEHIND_PROXY",
    "max_payload_bytes": "MLOPS_MENTOR_MAX_PAYLOAD_BYTES",
    "max_tarball_bytes": "MLOPS_MENTOR_MAX_TARBALL_BYTES",
    "max_extract_bytes": "MLOPS_MENTOR_MAX_EXTRACT_BYTES",
    "max_extract_files": "MLOPS_MENTOR_MAX_EXTRACT_FILES",
    "max_file_bytes": "MLOPS_MENTOR_MAX_FILE_BYTES",
    "annotation_cap": "MLOPS_MENTOR_ANNOTATION_CAP",
    "workers": "MLOPS_MENTOR_WORKERS",
    "embedded_consumer": "MLOPS_MENTOR_EMBEDDED_CONSUMER",
    "queue_size": "MLOPS_MENTOR_QUEUE_SIZE",
    "dedupe_seconds": "MLOPS_MENTOR_DEDUPE_SECONDS",
    "http_timeout": "MLOPS_MENTOR_HTTP_TIMEOUT",
    "http_retries": "MLOPS_MENTOR_HTTP_RETRIES",
    "retry_backoff": "MLOPS_MENTOR_RETRY_BACKOFF",
    "rate_limit_wait": "MLOPS_MENTOR_RATE_LIMIT_WAIT",
    "job_attempts": "MLOPS_MENTOR_JOB_ATTEMPTS",
    "job_retry_delay": "MLOPS_MENTOR_JOB_RETRY_DELAY",
    "job_retry_max": "MLOPS_MENTOR_JOB_RETRY_MAX",
    "job_lease_seconds": "MLOPS_MENTOR_JOB_LEASE_SECONDS",
    "redis_url": "REDIS_URL",
    "database_url": "DATABASE_URL",
    "retention_days": "MLOPS_MENTOR_RETENTION_DAYS",
}
