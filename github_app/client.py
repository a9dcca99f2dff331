"""GitHub clients for the app and its installations (githubkit does the authentication).

githubkit signs the app's JWT, exchanges it for an installation token and caches that
token until a minute before it expires, one per installation. The cache lives in this
object, so every job of an installation reuses the token, and two apps (or two tests with
different fake servers) never share one.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GitHubException, RateLimitExceeded, RequestFailed
from githubkit.retry import RetryOption
from githubkit.typing import RetryDecisionFunc

from github_app.metrics import api_response_hook
from github_app.settings import Settings

USER_AGENT = "mlops-mentor"
# githubkit reads a zero wait as "no hint" and sleeps a minute instead.
_MIN_WAIT = timedelta(milliseconds=1)


def jittered(seconds: float) -> float:
    """`seconds` spread over [seconds/2, seconds]: workers failing together retry apart."""
    return seconds / 2 + random.uniform(0, seconds / 2)


def retry_policy(retries: int, backoff: float, rate_limit_wait: float = 5.0) -> RetryDecisionFunc:
    """Retry server errors a few times inside the request, with exponential backoff and
    jitter, and wait out a rate limit that resets within `rate_limit_wait` seconds.

    githubkit's default would sleep until a rate limit resets (up to an hour), blocking a
    worker; a longer wait surfaces as `RateLimitExceeded`, and the job is rescheduled
    for after the reset instead (`github_app.worker`).
    """

    def decide(exc: GitHubException, attempt: int) -> RetryOption:
        if attempt >= retries:
            return RetryOption(False)
        if isinstance(exc, RateLimitExceeded):
            if exc.retry_after <= timedelta(seconds=rate_limit_wait):
                return RetryOption(True, max(exc.retry_after, _MIN_WAIT))
            return RetryOption(False)
        if isinstance(exc, RequestFailed) and exc.response.status_code >= 500:
            wait = timedelta(seconds=jittered(backoff * 2**attempt))
            return RetryOption(True, max(wait, _MIN_WAIT))
        return RetryOption(False)

    return decide


class GitHubApp:
    """Makes installation clients that share one token cache."""

    def __init__(self, settings: Settings) -> None:
        self._auth = AppAuthStrategy(settings.app_id, settings.private_key.get_secret_value())
        self._tokens = MemCacheStrategy()
        self._base_url = settings.api_url
        self._timeout = httpx.Timeout(
            settings.http_timeout, connect=min(10.0, settings.http_timeout)
        )
        self._retry = retry_policy(
            settings.http_retries, settings.retry_backoff, settings.rate_limit_wait
        )
        self._first_calls: dict[int, threading.Lock] = {}

    @contextmanager
    def one_at_a_time(self, installation_id: int) -> Iterator[None]:
        """Serialise a job's first request per installation.

        Without it, jobs starting together with no cached token each mint one (githubkit
        does not coordinate threads); with it, the first mints and the others reuse it.
        """
        # setdefault is atomic: two threads always get the same lock.
        with self._first_calls.setdefault(installation_id, threading.Lock()):
            yield

    def installation(
        self,
        installation_id: int,
        on_request: Callable[[httpx.Request], None] | None = None,
    ) -> GitHub:
        """A client acting as one installation; `on_request` sees every HTTP request sent,
        and every answer is counted in the metrics (endpoint, status, rate limit left).

        Use it as a context manager (`with client:`): one connection pool for the job,
        and streamed downloads need it.
        """
        hooks: dict[str, list[Callable[..., None]]] = {
            "response": [api_response_hook(installation_id)]
        }
        if on_request:
            hooks["request"] = [on_request]
        return GitHub(
            self._auth.as_installation(installation_id),
            base_url=self._base_url,
            user_agent=USER_AGENT,
            timeout=self._timeout,
            # The HTTP cache makes httpx ignore our timeout, and nothing we ask is cacheable.
            http_cache=False,
            cache_strategy=self._tokens,
            auto_retry=self._retry,
            event_hooks=hooks,
        )
