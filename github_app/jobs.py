"""Jobs and the queue that runs them, behind one small interface.

Webhook handlers turn a delivery into a `Job` and `submit` it; they never wait for it.
`ThreadJobQueue` runs jobs in a bounded pool of threads in this process. A durable queue
(huey, a database) can replace it by implementing `JobQueue` without touching a handler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from github_app.logs import LOGGER

logger = logging.getLogger(LOGGER)
# Keys remembered for deduplication; older ones are forgotten first.
_RECENT_LIMIT = 50_000


class Job(BaseModel):
    """One commit to evaluate: plain, serialisable data (a durable queue stores it as JSON)."""

    model_config = ConfigDict(frozen=True)

    installation: int
    owner: str
    repo: str
    sha: str
    delivery_id: str
    branch: str | None = None
    trigger: Literal["push", "rerequested"] = "push"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def commit_key(self) -> str:
        """The same commit of the same repository, whichever branch or delivery brought it."""
        return f"{self.installation}:{self.full_name}@{self.sha}"

    @property
    def force(self) -> bool:
        """A re-run somebody asked for is evaluated even if the commit was seen recently."""
        return self.trigger == "rerequested"


class QueueFull(Exception):
    """Too many jobs are waiting; the delivery should fail so GitHub shows it to the staff."""


class JobQueue(Protocol):
    def submit(self, job: Job) -> bool:
        """Queue `job`; False when the same commit is already queued or was just evaluated.

        Raises `QueueFull` when the queue cannot take more work.
        """
        ...

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; False if `timeout` passed first."""
        ...

    def close(self) -> None:
        """Stop taking jobs and finish the ones already queued."""
        ...


class ThreadJobQueue:
    """A bounded pool of worker threads with deduplication by commit.

    Jobs live in memory: a restart loses the queued ones (the durable queue will not).
    """

    def __init__(
        self,
        run: Callable[[Job], object],
        *,
        workers: int = 2,
        max_pending: int = 200,
        dedupe_seconds: float = 6 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run = run
        self._max_pending = max_pending
        self._dedupe_seconds = dedupe_seconds
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._done = threading.Condition()
        self._pending = 0
        self._recent: OrderedDict[str, float] = OrderedDict()

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return self._pending

    def submit(self, job: Job) -> bool:
        with self._done:
            self._forget_old()
            if not job.force and job.commit_key in self._recent:
                return False
            if self._pending >= self._max_pending:
                raise QueueFull(f"{self._pending} jobs are already waiting")
            self._recent[job.commit_key] = self._clock()
            self._recent.move_to_end(job.commit_key)
            self._pending += 1
        self._executor.submit(self._execute, job)
        return True

    def _forget_old(self) -> None:
        horizon = self._clock() - self._dedupe_seconds
        while self._recent:
            seen = next(iter(self._recent.values()))
            if seen > horizon and len(self._recent) < _RECENT_LIMIT:
                break
            self._recent.popitem(last=False)

    def _execute(self, job: Job) -> None:
        try:
            self._run(job)
        except Exception:
            # The runner reports its own failures on the check run; reaching here is a bug.
            logger.exception("job for %s@%s crashed", job.full_name, job.sha)
        finally:
            with self._done:
                self._pending -= 1
                self._done.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
