"""Structured, secret-free logging: one JSON line per event, credentials masked on the way out."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any

LOGGER = "mlops_mentor"
MASK = "[redacted]"
# Shapes of credentials that may travel through an exception message or a URL:
# GitHub tokens (ghs_/ghp_/gho_/ghu_/ghr_/github_pat_), Authorization values, JWTs,
# `token=` query parameters and PEM blocks.
_CREDENTIALS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})"
    r"|(?i:\b(?:bearer|token|basic)\s+)[A-Za-z0-9._~+/=-]{12,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"
    r"|(?i:[?&](?:token|access_token|jwt)=)[^&\s\"']+"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)"
)


class Redactor:
    """Masks known secret values and anything shaped like a credential."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            for part in [secret, *secret.splitlines()]:
                # Short fragments would mask ordinary words; PEM lines are 64 characters.
                if len(part.strip()) >= 8:
                    self._secrets.add(part.strip())

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return _CREDENTIALS.sub(MASK, text)


# One per process: the app registers its secrets when it is created.
REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    """Rewrites a record's final text (message and traceback) through the redactor."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = self.redactor(message)
        record.args = None
        return True


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured line: `{"event": name, ...fields}` as JSON."""
    payload = {"event": name, **fields}
    logger.log(level, json.dumps(payload, default=str, ensure_ascii=False))


# The loggers (exact names: a filter does not apply to child loggers) that see requests.
PROTECTED_LOGGERS = (
    LOGGER,
    "githubkit",
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "werkzeug",
)


def protect(loggers: Iterable[str] = PROTECTED_LOGGERS) -> None:
    """Put the redacting filter on the loggers that may see request details.

    Logger filters run for records created on that logger, whatever handler (gunicorn's,
    pytest's) finally writes them; the filter is added once.
    """
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
