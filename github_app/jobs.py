"""Jobs and the durable queue that runs them, behind one small interface.

Webhook handlers turn a delivery into a `Job` and `submit` it; they never wait for it.
`HueyJobQueue` records the job in the results store and hands a task to huey: a SQLite
file in the data folder by default (one machine, no extra service), Redis when
`REDIS_URL` is set (any number of workers on any number of machines). The task carries
only the evaluation's id and the attempt it is for; the store is the source of truth, so
a task queued twice runs once and a task lost with a dead worker is queued again by a
recovery sweep (`github_app.consumer`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from huey import Huey, MemoryHuey, RedisHuey
from huey.api import Task
from huey.storage import SqliteStorage
from pydantic import BaseModel, ConfigDict

from github_app.logs import LOGGER
from github_app.settings import Settings
from github_app.store import ClaimedEvaluation, PushedCommit, RepositoryInfo, Store
from github_app.store.checkpoint import BACKSTOP_PAGES
from github_app.store.group_commit import GroupCommit
from github_app.store.write_lock import WriteLock

logger = logging.getLogger(LOGGER)
QUEUE_NAME = "mlops-mentor"
QUEUE_FILE = "queue.db"
# How often `join` looks at the store while waiting.
_POLL = 0.05
# How long `submit` trusts the queue's last counted length: a COUNT under the queue's
# lock on every delivery made a burst of deliveries queue up behind each other, while
# `queue_size` only needs to be roughly right to stop a flood.
_PENDING_TTL = 1.0


# huey's own statement (`SqliteStorage.enqueue`).
_INSERT_TASK = "insert into task (queue, data, priority) values (?, ?, ?)"


class DurableSqliteStorage(SqliteStorage):
    """huey's SQLite queue with WAL and synchronous=NORMAL (huey offers FULL or OFF), its
    writers queued on a `WriteLock` like the store's.

    A queued task is in the WAL file when `enqueue` returns, so it survives the process
    being killed; fsyncs happen at checkpoints, run by a thread of their own
    (`Checkpointer`), instead of holding the lock at every commit. Only a power cut or OS
    crash can lose the last tasks, and the store's recovery sweep queues those evaluations
    again."""

    def __init__(self, name: str = "huey", filename: str = "huey.db", **kwargs: Any) -> None:
        # Before huey's own set-up, which already writes (its tables).
        self.write_lock = WriteLock(Path(filename))
        # A burst's tasks are inserted together, as the store takes its deliveries. One
        # statement each, which SQLite undoes alone when it fails: no savepoint needed.
        self._enqueues: GroupCommit[sqlite3.Cursor] = GroupCommit(
            lambda: self.db(commit=True), lambda _cursor: nullcontext()
        )
        super().__init__(name, filename, **kwargs)

    def enqueue(self, data: bytes, priority: int | None = None) -> None:
        row = (self.name, self.to_blob(data), priority or 0)
        self._enqueues.run(lambda cursor: cursor.execute(_INSERT_TASK, row))

    def _create_connection(self) -> sqlite3.Connection:
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        conn.execute(f"pragma wal_autocheckpoint={BACKSTOP_PAGES}")
        return conn

    @contextmanager
    def db(self, commit: bool = False, close: bool = False) -> Iterator[sqlite3.Cursor]:
        # Only writes queue: under WAL a read never waits for the writer.
        with self.write_lock if commit else nullcontext(), super().db(commit, close) as cursor:
            yield cursor

    def close(self) -> bool:
        self.write_lock.close()
        return bool(super().close())


class Job(BaseModel):
    """One commit to evaluate: plain data, recorded in the store before it is queued."""

    model_config = ConfigDict(frozen=True)

    installation: int
    owner: str
    repo: str
    sha: str
    delivery_id: str
    # GitHub's id of the repository: stable across renames, the store's key.
    repository_id: int
    branch: str | None = None
    trigger: Literal["push", "rerequested"] = "push"
    default_branch: str | None = None
    # The rest is history for the store (kept from the push payload), not needed to run.
    pusher: str | None = None
    pushed_at: datetime | None = None
    commits: tuple[PushedCommit, ...] = ()

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @classmethod
    def of(cls, claimed: ClaimedEvaluation) -> Job:
        """The job of an evaluation taken up from the store."""
        owner, _, repo = claimed.repository.partition("/")
        return cls(
            installation=claimed.installation_id,
            owner=owner,
            repo=repo,
            sha=claimed.sha,
            delivery_id=claimed.delivery_id or f"evaluation-{claimed.id}",
            branch=claimed.branch,
            trigger="rerequested" if claimed.trigger == "rerequested" else "push",
            default_branch=claimed.default_branch,
            repository_id=claimed.repository_id,
            pushed_at=claimed.pushed_at,
        )


class QueueFull(Exception):
    """Too many jobs are waiting; the delivery should fail so GitHub shows it to the staff."""


class JobQueue(Protocol):
    def submit(self, job: Job) -> bool:
        """Queue `job`; False when the delivery was seen before or the same commit is
        already queued or was just evaluated.

        Raises `QueueFull` when the queue cannot take more work.
        """
        ...

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; False if `timeout` passed first."""
        ...

    def close(self) -> None:
        """Release the queue's connections."""
        ...


class Runner(Protocol):
    """What a consumer runs: an evaluation's attempt, an AI review of a commit, and an
    update of a group's progress issue."""

    def run(self, evaluation_id: int, attempt: int) -> str: ...

    def review(self, job: str) -> None: ...

    def starter_pr(self, request: str) -> None: ...
    def progress(self, target: str) -> None: ...


def make_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    """The queue: Redis when `REDIS_URL` is set, else a SQLite file in the data folder.

    `immediate` runs each task as it is queued, in the caller's thread (huey's own mode for
    a single process without a consumer, used by tests that are not about the queue).
    Results are not stored: a job reports on GitHub and in the store, never to a caller.
    """
    if immediate:
        return MemoryHuey(QUEUE_NAME, immediate=True, results=False)
    if settings.redis_url is not None:
        return RedisHuey(QUEUE_NAME, url=settings.redis_url.get_secret_value(), results=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # A generous busy timeout: several gunicorn workers and consumers share the file.
    return Huey(
        QUEUE_NAME,
        storage_class=DurableSqliteStorage,
        filename=str(settings.data_dir / QUEUE_FILE),
        results=False,
        timeout=30,
    )


class HueyJobQueue:
    """The `JobQueue` of the app: the store records, huey carries (see the module)."""

    def __init__(self, huey: Huey, store: Store, settings: Settings) -> None:
        self.huey = huey
        self.store = store
        self.settings = settings
        self._runner: Runner | None = None
        self._pending_lock = threading.Lock()
        # (tasks counted, when, as time.monotonic()): see `_PENDING_TTL`.
        self._pending_seen = (0, float("-inf"))
        self._evaluate = huey.task(name="evaluate")(self._run)
        self._review = huey.task(name="review")(self._run_review)
        self._starter_pr = huey.task(name="starter_pr")(self._run_starter_pr)
        self._progress = huey.task(name="progress")(self._run_progress)

    def attach(self, runner: Runner) -> None:
        """The runner of tasks in this process (a process that only enqueues needs none)."""
        self._runner = runner

    def _attached(self) -> Runner:
        if self._runner is None:
            raise RuntimeError("a task reached a process whose queue has no runner attached")
        return self._runner

    def _run(self, evaluation_id: int, attempt: int) -> None:
        self._attached().run(evaluation_id, attempt)

    def _run_review(self, job: str) -> None:
        self._attached().review(job)

    def _run_starter_pr(self, request: str) -> None:
        self._attached().starter_pr(request)

    def _run_progress(self, target: str) -> None:
        self._attached().progress(target)

    @property
    def pending(self) -> int:
        """Tasks waiting in the queue, ready or scheduled for a retry."""
        return self.huey.pending_count() + self.huey.scheduled_count()

    def depth(self) -> dict[str, int]:
        return {"pending": self.huey.pending_count(), "scheduled": self.huey.scheduled_count()}

    def _recent_pending(self) -> int:
        """Tasks waiting, as counted at most `_PENDING_TTL` ago, plus those this process
        queued since (one thread counts again while the others use the last count)."""
        with self._pending_lock:
            count, at = self._pending_seen
            if time.monotonic() - at < _PENDING_TTL:
                return count
            self._pending_seen = (count, time.monotonic())
        count = self.huey.pending_count()
        with self._pending_lock:
            self._pending_seen = (count, time.monotonic())
        return count

    def _count_queued(self) -> None:
        with self._pending_lock:
            count, at = self._pending_seen
            self._pending_seen = (count + 1, at)

    def submit(self, job: Job) -> bool:
        if self._recent_pending() >= self.settings.queue_size:
            raise QueueFull(f"{self.settings.queue_size} jobs are already waiting")
        accepted = self.store.accept_job(
            delivery_id=job.delivery_id,
            event_name=job.trigger,
            installation_id=job.installation,
            repository=RepositoryInfo(
                id=job.repository_id,
                full_name=job.full_name,
                default_branch=job.default_branch,
            ),
            sha=job.sha,
            branch=job.branch,
            trigger=job.trigger,
            pusher=job.pusher,
            pushed_at=job.pushed_at,
            commits=job.commits,
            dedupe_seconds=self.settings.dedupe_seconds,
            lease_seconds=self.settings.job_lease_seconds,
        )
        if accepted.evaluation_id is None:
            return False
        # A crash between the store's commit and this line leaves a queued evaluation
        # without a task: the recovery sweep queues it once its lease runs out.
        self.enqueue(accepted.evaluation_id, 0)
        self._count_queued()
        return True

    def enqueue(self, evaluation_id: int, attempt: int, delay: float | None = None) -> None:
        """Queue the task for `attempt` of an evaluation, now or after `delay` seconds."""
        if delay:
            self._evaluate.schedule((evaluation_id, attempt), delay=delay)
        else:
            self._evaluate(evaluation_id, attempt)

    def enqueue_review(self, job: Job) -> None:
        """Queue the AI review of a commit whose main check run is complete."""
        self._review(job.model_dump_json(exclude={"commits"}))

    def enqueue_starter_pr(self, request: str) -> None:
        """Queue a pressed fix button (`github_app.starter_pr.StarterRequest` as JSON)."""
        if self.huey.pending_count() >= self.settings.queue_size:
            raise QueueFull(f"{self.settings.queue_size} jobs are already waiting")
        self._starter_pr(request)

    def enqueue_progress(self, target: str) -> None:
        """Queue the update of a group's progress issue (`ProgressTarget` as JSON)."""
        self._progress(target)

    def waiting(self) -> set[int]:
        """Evaluations that have a task waiting in the queue (ready or scheduled)."""
        tasks: list[Task] = [*self.huey.pending(), *self.huey.scheduled()]
        return {int(t.args[0]) for t in tasks if t.name == "evaluate" and t.args}

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the store has no queued or running evaluation (in any process)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.store.unfinished_count():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(_POLL)
        return True

    def close(self) -> None:
        self.huey.storage.close()
        self.store.close()
