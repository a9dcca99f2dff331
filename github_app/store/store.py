"""The results store: installations, pushes, evaluations and processed webhook deliveries.

One short transaction per call, plain pydantic values out (never an ORM object that
outlives its session). SQLite by default (a file in the data folder), PostgreSQL when a
`postgresql://` URL is given. The store never receives a token, and every free text it
writes (reports, errors) goes through the log redactor first.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, nullcontext, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    create_engine,
    delete,
    event,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError
from sqlalchemy.orm import Session, undefer
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.schema import CreateColumn

from checks.models import Report
from github_app.logs import REDACTOR
from github_app.store.checkpoint import BACKSTOP_PAGES
from github_app.store.group_commit import GroupCommit
from github_app.store.intake import DriverStatement, Intake, savepoint
from github_app.store.models import (
    SCHEMA_VERSION,
    Base,
    CourseConfigRecord,
    Delivery,
    Evaluation,
    EvaluationStatus,
    ExemptionApproval,
    Installation,
    ProgressIssue,
    ProgressReminder,
    PullRequestActivity,
    PushCommit,
    Repository,
    SchemaVersion,
    WorkflowRun,
)
from github_app.store.write_lock import WriteLock

DB_FILE = "mlops-mentor.db"
DEFAULT_RETENTION_DAYS = 365
# Long enough for several gunicorn workers and the queue consumer to take turns writing.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant shared by every process: PostgreSQL's lock serialising start-up migrations.
_MIGRATION_LOCK = 0x6D6C6F7073
_WRITE = "mlops_mentor_write"


class StoreError(Exception):
    """A store problem an operator must act on; `str()` is one line, never a password."""


class InstallationRemoved(StoreError):
    """The installation was removed: its data was purged and must not be re-created."""


# --- Values in ---------------------------------------------------------------------------


class RepositoryInfo(BaseModel):
    """The repository fields of a webhook payload that the store keeps."""

    model_config = ConfigDict(frozen=True)

    id: int
    full_name: str
    default_branch: str | None = None


class PushedCommit(BaseModel):
    """A commit of a push payload, without its message (only the message's length)."""

    model_config = ConfigDict(frozen=True)

    sha: str = Field(min_length=1)
    author_login: str | None = None
    author_name: str | None = None
    message_length: int = Field(default=0, ge=0)
    timestamp: datetime | None = None

    @classmethod
    def from_payload(cls, commit: Mapping[str, Any]) -> PushedCommit:
        """From one entry of a push payload's `commits`; the message is measured, not kept.

        Lenient like the rest of our payload models: GitHub omits `username` for authors
        whose e-mail belongs to no account, and an unreadable timestamp is dropped.
        """
        author = commit.get("author") or {}
        message = commit.get("message")
        stamp = commit.get("timestamp")
        try:
            timestamp = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
        except ValueError:
            timestamp = None
        if timestamp is not None and timestamp.tzinfo is None:
            timestamp = None
        return cls(
            sha=commit.get("id"),
            author_login=author.get("username") or None,
            author_name=author.get("name") or None,
            message_length=len(message) if isinstance(message, str) else 0,
            timestamp=timestamp,
        )


# --- Values out --------------------------------------------------------------------------


class InstallationRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    account_login: str | None
    account_type: str | None
    created_at: datetime
    deleted_at: datetime | None


class EvaluationRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    repository: str
    installation_id: int
    sha: str
    branch: str | None
    status: EvaluationStatus
    pushed_at: datetime | None
    pusher_login: str | None
    delivery_id: str | None
    check_run_id: int | None
    conclusion: str | None
    passed: int | None
    total: int | None
    # None when not asked for, not finished, or stored by a version whose report no
    # longer validates.
    report: Report | None
    duration_ms: float | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    trigger: str | None = None
    attempts: int = 0


class AcceptedJob(BaseModel):
    """What `accept_job` made of a delivery: a queued evaluation, or why nothing is to do."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["queued", "duplicate_delivery", "duplicate_commit"]
    evaluation_id: int | None = None


class ClaimedEvaluation(BaseModel):
    """An evaluation a worker has just taken up: everything its job needs to run."""

    model_config = ConfigDict(frozen=True)

    id: int
    attempts: int
    installation_id: int
    repository_id: int
    repository: str
    default_branch: str | None
    sha: str
    branch: str | None
    trigger: str | None
    delivery_id: str | None
    check_run_id: int | None
    created_at: datetime
    # When the commit was pushed (the payload's time): criteria tighten by course week.
    pushed_at: datetime | None = None


class CommitRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    repository: str
    branch: str
    sha: str
    author_login: str | None
    author_name: str | None
    message_length: int
    committed_at: datetime | None
    pushed_by: str | None
    pushed_at: datetime


class PurgeCounts(BaseModel):
    """How many rows of each kind a purge deleted."""

    model_config = ConfigDict(frozen=True)

    installations: int = 0
    repositories: int = 0
    evaluations: int = 0
    commits: int = 0
    deliveries: int = 0

    @property
    def total(self) -> int:
        return (
            self.installations
            + self.repositories
            + self.evaluations
            + self.commits
            + self.deliveries
        )


class MigrationResult(BaseModel):
    """What `migrate()` did, for the start-up log line."""

    model_config = ConfigDict(frozen=True)

    from_version: int
    to_version: int
    created_tables: tuple[str, ...] = ()
    added_columns: tuple[str, ...] = ()


# --- Configuration -----------------------------------------------------------------------


def database_url(data_dir: Path, database_url: str | None = None) -> str:
    """`database_url` when given (e.g. `DATABASE_URL`), else a SQLite file in `data_dir`."""
    if database_url and database_url.strip():
        return database_url.strip()
    return f"sqlite:///{(data_dir / DB_FILE).resolve()}"


def _with_driver(url: str) -> str:
    """`postgres://` is what hosting platforms hand out and a bare `postgresql://` makes
    SQLAlchemy pick psycopg2: both mean psycopg 3 here."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # pysqlite opens transactions lazily and runs DDL outside them; we issue BEGIN
        # ourselves (below) so migrations are transactional and writers queue up.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The busy timeout makes writers wait their turn instead of failing with "database
        # is locked"; set first, so that switching a new file to WAL waits too. WAL:
        # readers never block the writer.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL fsyncs at checkpoints, not at every commit: a committed
        # transaction survives the process being killed (it is in the WAL file the OS
        # holds); only a power cut or OS crash can lose the last ones. FULL's fsync per
        # commit held the write lock ~1 ms longer per delivery, and writers queued on it.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Checkpoints run in a thread of their own (see `Checkpointer`), not in commits.
        cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # A write takes the write lock up front: a read transaction upgraded to a write
        # fails at once (SQLITE_BUSY, no waiting) when another process wrote meanwhile.
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# --- The store ---------------------------------------------------------------------------


class Store:
    """The app's history and idempotency records. Call `migrate()` once at start-up."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], datetime] | None = None,
        redact: Callable[[str], str] = REDACTOR,
    ) -> None:
        try:
            parsed = make_url(_with_driver(url.strip()))
        except ArgumentError:
            raise StoreError("the database URL is malformed") from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise StoreError(f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL")
        if self.dialect == "sqlite" and parsed.database in (None, "", ":memory:"):
            # Every pooled connection would see its own empty database.
            raise StoreError("SQLite needs a file path: an in-memory database is not shared")
        if self.dialect == "sqlite":
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = create_engine(parsed, pool_pre_ping=self.dialect == "postgresql")
        except (ModuleNotFoundError, NoSuchModuleError):
            raise StoreError(
                f"no database driver for {parsed.drivername}: "
                "for PostgreSQL install 'psycopg[binary]'"
            ) from None
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self._writer = self.engine.execution_options(**{_WRITE: True})
        self._intake = Intake(self.engine.dialect)
        self._intake_connection: Any = None  # see `_write_cursor`
        forget = weakref.WeakMethod(self._forget_intake_connection)
        os.register_at_fork(after_in_child=lambda: (method := forget()) and method())
        self._deliveries: GroupCommit[Any] = GroupCommit(self._write_cursor, savepoint)
        self._write_lock = (
            WriteLock(Path(str(parsed.database))) if self.dialect == "sqlite" else None
        )
        self._now = clock or (lambda: datetime.now(UTC))
        self._redact = redact
        self.url = parsed.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def close(self) -> None:
        """Close pooled connections (e.g. in a worker after fork, or at the end of tests)."""
        self._close_intake_connection()
        self.engine.dispose()
        if self._write_lock is not None:
            self._write_lock.close()

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        with (
            self._writing(write),
            Session(self._writer if write else self.engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def _connection(self, *, write: bool = False) -> Iterator[Connection]:
        """`_session` without the ORM, for the statements of `Intake`."""
        with self._writing(write), (self._writer if write else self.engine).begin() as conn:
            yield conn

    def _driver_row(
        self, statement: DriverStatement, values: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        """The first row of one read through the driver, without SQLAlchemy's transaction
        (a single statement reads one committed state anyway)."""
        with (
            closing(self.engine.raw_connection()) as connection,
            closing(connection.cursor()) as cursor,
        ):
            row = statement.run(cursor, values).fetchone()
        return None if row is None else tuple(row)

    @contextmanager
    def _write_cursor(self) -> Iterator[Any]:
        """A DBAPI cursor in a write transaction, for the statements of `Intake`.

        On SQLite, on a driver connection of its own, kept open: a pool checkout, return
        and SQLAlchemy's begin and commit cost ~0.2 ms per transaction, most of a batch's
        cost outside a burst. Only the deliveries' group commit uses it, one batch at a
        time under the write lock. PostgreSQL keeps the pool, which checks a connection
        is still alive before lending it."""
        if self._write_lock is None:
            with self._connection(write=True) as conn, closing(conn.connection.cursor()) as cursor:
                yield cursor
            return
        with self._writing(True):
            if self._intake_connection is None:
                self._intake_connection = self.engine.raw_connection()
            connection = self._intake_connection
            try:
                with closing(connection.cursor()) as cursor:
                    cursor.execute("BEGIN IMMEDIATE")
                    yield cursor
                connection.commit()
            except BaseException:
                # Whatever failed, the next transaction starts on a fresh connection.
                self._intake_connection = None
                with suppress(Exception):
                    connection.rollback()
                connection.close()
                raise

    def _close_intake_connection(self) -> None:
        connection, self._intake_connection = self._intake_connection, None
        if connection is not None:
            connection.close()

    def _forget_intake_connection(self) -> None:
        # A forked child must not touch its parent's SQLite connection, not even to close it.
        self._intake_connection = None

    def _writing(self, write: bool) -> WriteLock | nullcontext[None]:
        # SQLite has one writer at a time: writers queue on `WriteLock` (see there).
        return self._write_lock if write and self._write_lock is not None else nullcontext()

    # --- Schema ------------------------------------------------------------------------

    def migrate(self) -> MigrationResult:
        """Create missing tables, add missing columns and indexes, record the version.

        Safe to call from every process at start-up: one migrates while the others wait
        (SQLite's write lock, PostgreSQL's advisory lock), then find nothing to do.
        """
        # Under the write lock even for SQLite: switching a new file to WAL does not wait
        # in the busy handler, so a second process starting at once failed "locked".
        with self._writing(True), self._writer.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            existing = set(inspect(conn).get_table_names())
            version = 0
            if SchemaVersion.__tablename__ in existing:
                version = conn.scalar(select(func.max(SchemaVersion.version))) or 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the database is at schema version {version}, newer than this "
                    f"mlops-mentor's {SCHEMA_VERSION}: deploy the newer version"
                )
            created = tuple(t.name for t in Base.metadata.sorted_tables if t.name not in existing)
            Base.metadata.create_all(conn)
            added = _add_missing_columns(conn, existing)
            for table in Base.metadata.sorted_tables:
                for index in table.indexes:
                    index.create(conn, checkfirst=True)
            if version < SCHEMA_VERSION:
                conn.execute(
                    SchemaVersion.__table__.insert().values(
                        version=SCHEMA_VERSION, applied_at=self._now()
                    )
                )
        return MigrationResult(
            from_version=version,
            to_version=SCHEMA_VERSION,
            created_tables=created,
            added_columns=added,
        )

    # --- Deliveries --------------------------------------------------------------------

    def claim_delivery(
        self, delivery_id: str, event_name: str, installation_id: int | None = None
    ) -> bool:
        """True only the first time a delivery id is seen, in any process: the primary key
        makes the second insert fail, so a redelivered webhook does nothing new."""
        try:
            with self._session(write=True) as session:
                session.add(
                    Delivery(
                        delivery_id=delivery_id,
                        event=event_name,
                        installation_id=installation_id,
                        received_at=self._now(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def record_delivery_outcome(self, delivery_id: str, outcome: str) -> None:
        """What handling the delivery led to, e.g. `queued`, `ignored`, `failed`."""
        with self._session(write=True) as session:
            session.execute(
                update(Delivery).where(Delivery.delivery_id == delivery_id).values(outcome=outcome)
            )

    def release_delivery(self, delivery_id: str) -> None:
        """Forget a claim whose handling failed before anything was done, so that a manual
        redelivery from GitHub's settings page is processed instead of ignored."""
        with self._session(write=True) as session:
            session.execute(delete(Delivery).where(Delivery.delivery_id == delivery_id))

    # --- Installations -----------------------------------------------------------------

    def record_installation(
        self, installation_id: int, account_login: str | None, account_type: str | None
    ) -> InstallationRecord:
        """Insert or update an installation; a removed one stays removed (see the model)."""
        now = self._now()
        with self._session(write=True) as session:
            values = {"account_login": account_login, "account_type": account_type}
            statement = self._insert(Installation).values(
                id=installation_id, created_at=now, **values
            )
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[Installation.id],
                    set_=values,
                    where=Installation.deleted_at.is_(None),
                )
            )
            row = session.get_one(Installation, installation_id)
            return InstallationRecord.model_validate(row, from_attributes=True)

    def installation(self, installation_id: int) -> InstallationRecord | None:
        with self._session() as session:
            row = session.get(Installation, installation_id)
            return (
                None
                if row is None
                else InstallationRecord.model_validate(row, from_attributes=True)
            )

    def remove_installation(self, installation_id: int) -> PurgeCounts:
        """Purge everything of an installation: repositories, evaluations, commits and
        deliveries (student data is personal data). A tombstone without the account's
        login stays, so that a late event cannot bring the data back."""
        now = self._now()
        with self._session(write=True) as session:
            repos = select(Repository.id).where(Repository.installation_id == installation_id)
            commits = session.execute(delete(PushCommit).where(PushCommit.repository_id.in_(repos)))
            # Team activity names members (personal data) and belongs to the repositories.
            for model in (
                ExemptionApproval,
                PullRequestActivity,
                WorkflowRun,
                ProgressIssue,
                ProgressReminder,
            ):
                session.execute(delete(model).where(model.repository_id.in_(repos)))
            evaluations = session.execute(
                delete(Evaluation).where(Evaluation.repository_id.in_(repos))
            )
            repositories = session.execute(
                delete(Repository).where(Repository.installation_id == installation_id)
            )
            deliveries = session.execute(
                delete(Delivery).where(Delivery.installation_id == installation_id)
            )
            session.execute(
                delete(CourseConfigRecord).where(
                    CourseConfigRecord.installation_id == installation_id
                )
            )
            tombstone = {"account_login": None, "account_type": None, "deleted_at": now}
            session.execute(
                self._insert(Installation)
                .values(id=installation_id, created_at=now, **tombstone)
                .on_conflict_do_update(index_elements=[Installation.id], set_=tombstone)
            )
        return PurgeCounts(
            repositories=repositories.rowcount,
            evaluations=evaluations.rowcount,
            commits=commits.rowcount,
            deliveries=deliveries.rowcount,
        )

    def record_repositories(
        self, installation_id: int, repositories: Sequence[RepositoryInfo]
    ) -> None:
        """The repositories an installation may see (from `installation` and
        `installation_repositories` events). Raises `InstallationRemoved` for a removed one."""
        now = self._now()
        with self._session(write=True) as session:
            for repository in repositories:
                self._ensure_repository(session.connection(), installation_id, repository, now)

    def remove_repositories(
        self, installation_id: int, repository_ids: Sequence[int]
    ) -> PurgeCounts:
        """Purge the history of repositories taken out of an installation: the app can no
        longer see them, so it keeps nothing of them either."""
        if not repository_ids:
            return PurgeCounts()
        with self._session(write=True) as session:
            repos = select(Repository.id).where(
                Repository.installation_id == installation_id, Repository.id.in_(repository_ids)
            )
            commits = session.execute(delete(PushCommit).where(PushCommit.repository_id.in_(repos)))
            # Team activity names members (personal data) and belongs to the repositories.
            for model in (
                ExemptionApproval,
                PullRequestActivity,
                WorkflowRun,
                ProgressIssue,
                ProgressReminder,
            ):
                session.execute(delete(model).where(model.repository_id.in_(repos)))
            evaluations = session.execute(
                delete(Evaluation).where(Evaluation.repository_id.in_(repos))
            )
            repositories = session.execute(
                delete(Repository).where(
                    Repository.installation_id == installation_id,
                    Repository.id.in_(repository_ids),
                )
            )
        return PurgeCounts(
            repositories=repositories.rowcount,
            evaluations=evaluations.rowcount,
            commits=commits.rowcount,
        )

    # --- Pushes and evaluations --------------------------------------------------------

    def record_push(
        self,
        installation_id: int,
        repository: RepositoryInfo,
        branch: str,
        pusher: str | None,
        commits: Sequence[PushedCommit],
    ) -> int:
        """Keep the commits a push carried onto `branch`; returns how many were new (a
        commit already recorded on that branch, e.g. after a force push, is not repeated).
        Raises `InstallationRemoved` for a removed installation."""
        now = self._now()
        with self._session(write=True) as session:
            self._ensure_repository(session.connection(), installation_id, repository, now)
            if not commits:
                return 0
            rows = _commit_rows(repository.id, branch, pusher, commits, now)
            result = session.execute(
                self._insert(PushCommit)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["repository_id", "branch", "sha"])
            )
            return result.rowcount

    def start_evaluation(
        self,
        installation_id: int,
        repository: RepositoryInfo,
        sha: str,
        branch: str | None,
        *,
        pushed_at: datetime | None = None,
        pusher_login: str | None = None,
        delivery_id: str | None = None,
        status: EvaluationStatus = EvaluationStatus.queued,
    ) -> int:
        """Record an evaluation before the work starts (so a restart can find it); returns
        its id. Raises `InstallationRemoved` for a removed installation."""
        now = self._now()
        with self._session(write=True) as session:
            self._ensure_repository(session.connection(), installation_id, repository, now)
            evaluation = Evaluation(
                repository_id=repository.id,
                sha=sha,
                branch=branch,
                status=status.value,
                pushed_at=pushed_at,
                pusher_login=pusher_login,
                delivery_id=delivery_id,
                created_at=now,
            )
            session.add(evaluation)
            session.flush()
            return evaluation.id

    def mark_evaluation(
        self,
        evaluation_id: int,
        status: EvaluationStatus,
        *,
        check_run_id: int | None = None,
        error: str | None = None,
        conclusion: str | None = None,
    ) -> bool:
        """Move an evaluation to `in_progress`, or end it as `failed`, `skipped` or `completed`
        without a report (with why, and the check run's conclusion). False when it no longer
        exists (purged meanwhile)."""
        values: dict[str, Any] = {"status": status.value}
        if check_run_id is not None:
            values["check_run_id"] = check_run_id
        if error is not None:
            values["error"] = self._redact(error)
        if conclusion is not None:
            values["conclusion"] = conclusion
        if status in _ENDED:
            values["finished_at"] = self._now()
            values["lease_until"] = None
        return self._update_evaluation(evaluation_id, values)

    def finish_evaluation(
        self,
        evaluation_id: int,
        report: Report,
        check_run_id: int | None,
        *,
        duration_ms: float,
        conclusion: str | None = None,
    ) -> bool:
        """Store the verdict and the full report (redacted) of a completed evaluation.
        `conclusion` defaults to the report's; `duration_ms` is the whole job's time.
        False when the evaluation no longer exists (purged meanwhile)."""
        return self._update_evaluation(
            evaluation_id,
            {
                "status": EvaluationStatus.completed.value,
                "check_run_id": check_run_id,
                "conclusion": conclusion or report.conclusion.value,
                "passed": report.passed,
                "total": report.total,
                "report": _redacted(report.model_dump(mode="json"), self._redact),
                "duration_ms": duration_ms,
                "finished_at": self._now(),
                "lease_until": None,
            },
        )

    def last_evaluation(
        self, repo_full_name: str, branch: str, before_sha: str | None = None
    ) -> EvaluationRecord | None:
        """The newest completed evaluation of `branch`, with its report: what "since …"
        compares against. With `before_sha` (the commit about to be evaluated), an
        evaluation of that same commit (a re-run) is passed over."""
        statement = (
            self._evaluations(repo_full_name)
            .where(
                Evaluation.branch == branch,
                Evaluation.status == EvaluationStatus.completed.value,
            )
            .options(undefer(Evaluation.report))
            .limit(1)
        )
        if before_sha is not None:
            statement = statement.where(Evaluation.sha != before_sha)
        with self._session() as session:
            row = session.execute(statement).first()
            return None if row is None else _evaluation_record(*row, with_report=True)

    def evaluation(self, evaluation_id: int) -> EvaluationRecord | None:
        statement = (
            select(Evaluation, Repository.full_name, Repository.installation_id)
            .join(Repository)
            .where(Evaluation.id == evaluation_id)
            .options(undefer(Evaluation.report))
        )
        with self._session() as session:
            row = session.execute(statement).first()
            return None if row is None else _evaluation_record(*row, with_report=True)

    def evaluations_for(
        self, repo_full_name: str, *, limit: int = 100, with_reports: bool = False
    ) -> list[EvaluationRecord]:
        """A repository's evaluations, newest first."""
        statement = self._evaluations(repo_full_name).limit(limit)
        if with_reports:
            statement = statement.options(undefer(Evaluation.report))
        with self._session() as session:
            return [
                _evaluation_record(*row, with_report=with_reports)
                for row in session.execute(statement)
            ]

    def unfinished_evaluations(self) -> list[EvaluationRecord]:
        """Evaluations still queued or in progress, oldest first: what a restart resumes."""
        statement = (
            select(Evaluation, Repository.full_name, Repository.installation_id)
            .join(Repository)
            .where(
                Evaluation.status.in_(
                    [EvaluationStatus.queued.value, EvaluationStatus.in_progress.value]
                )
            )
            .order_by(Evaluation.created_at, Evaluation.id)
        )
        with self._session() as session:
            return [
                _evaluation_record(*row, with_report=False) for row in session.execute(statement)
            ]

    def commits_for(
        self, repo_full_name: str, *, branch: str | None = None, limit: int = 1000
    ) -> list[CommitRecord]:
        """Commits pushed to a repository (optionally one branch), newest push first."""
        statement = (
            select(PushCommit, Repository.full_name)
            .join(Repository)
            .where(Repository.full_name == repo_full_name)
            .order_by(PushCommit.pushed_at.desc(), PushCommit.id.desc())
            .limit(limit)
        )
        if branch is not None:
            statement = statement.where(PushCommit.branch == branch)
        with self._session() as session:
            return [
                CommitRecord(
                    repository=full_name,
                    branch=commit.branch,
                    sha=commit.sha,
                    author_login=commit.author_login,
                    author_name=commit.author_name,
                    message_length=commit.message_length,
                    committed_at=commit.committed_at,
                    pushed_by=commit.pushed_by,
                    pushed_at=commit.pushed_at,
                )
                for commit, full_name in session.execute(statement)
            ]

    # --- Jobs: accepted once, taken up once, recovered when a worker dies --------------

    def accept_job(
        self,
        *,
        delivery_id: str,
        event_name: str,
        installation_id: int,
        repository: RepositoryInfo,
        sha: str,
        branch: str | None,
        trigger: str,
        pusher: str | None = None,
        pushed_at: datetime | None = None,
        commits: Sequence[PushedCommit] = (),
        dedupe_seconds: float = 0,
        lease_seconds: float,
    ) -> AcceptedJob:
        """Take a delivery that asks for an evaluation, in ONE transaction: claim the
        delivery id, keep the push's commits, and record a queued evaluation. A crash
        can then never keep one without the others: either GitHub's redelivery is taken
        afresh, or the evaluation exists and a recovery sweep finds it.

        A delivery seen before is `duplicate_delivery`; a push of a commit this repository
        had evaluated (or queued) within `dedupe_seconds`, e.g. the same commit pushed to a
        second branch, is `duplicate_commit` (its commits are still kept). The queued
        evaluation's lease is `lease_seconds`: a sweep re-queues it only after that, when
        it is not waiting in the queue. Raises `InstallationRemoved` for a removed
        installation (nothing is written then)."""
        now = self._now()
        intake = self._intake

        def accept(cursor: Any) -> AcceptedJob:
            claimed = intake.claim.run(
                cursor,
                {
                    "delivery_id": delivery_id,
                    "event": event_name,
                    "installation_id": installation_id,
                    "now": now,
                },
            ).fetchone()
            if claimed is None:
                return AcceptedJob(outcome="duplicate_delivery")
            self._ensure_repository_on(cursor, installation_id, repository, now)
            if branch is not None and commits:
                intake.commits.run_many(
                    cursor, _commit_rows(repository.id, branch, pusher, commits, now)
                )
            if trigger == "push" and dedupe_seconds > 0:
                seen = intake.seen.run(
                    cursor,
                    {
                        "repository_id": repository.id,
                        "sha": sha,
                        "since": now - timedelta(seconds=dedupe_seconds),
                    },
                ).fetchone()
                if seen is not None:
                    intake.outcome.run(
                        cursor, {"claimed": delivery_id, "new_outcome": "duplicate_commit"}
                    )
                    return AcceptedJob(outcome="duplicate_commit")
            (evaluation_id,) = intake.evaluation.run(
                cursor,
                {
                    "repository_id": repository.id,
                    "sha": sha,
                    "branch": branch,
                    "pushed_at": pushed_at,
                    "pusher_login": pusher,
                    "delivery_id": delivery_id,
                    "trigger": trigger,
                    "lease_until": now + timedelta(seconds=lease_seconds),
                    "created_at": now,
                },
            ).fetchone()
            return AcceptedJob(outcome="queued", evaluation_id=evaluation_id)

        # Committed together with the deliveries other threads take meanwhile.
        return self._deliveries.run(accept)

    def claim_evaluation(
        self, evaluation_id: int, attempt: int, lease_seconds: float
    ) -> ClaimedEvaluation | None:
        """Take up an unfinished evaluation whose attempt counter is still `attempt` (the
        one its queued task was made for): atomically counts the attempt and leases it to
        the caller for `lease_seconds`. None when another task took it up first, it has
        ended, or it was purged: the caller then has nothing to do."""
        now = self._now()
        taking = (
            update(Evaluation)
            .where(
                Evaluation.id == evaluation_id,
                Evaluation.attempts == attempt,
                Evaluation.status.in_(_UNFINISHED),
            )
            .values(
                status=EvaluationStatus.in_progress.value,
                attempts=attempt + 1,
                lease_until=now + timedelta(seconds=lease_seconds),
            )
        )
        # Only the claim holds the write lock (deliveries wait for it); what was claimed is
        # read afterwards, ours by the lease.
        with self._connection(write=True) as conn:
            if conn.execute(taking).rowcount != 1:
                return None
        with self._session() as session:
            row = session.execute(
                select(Evaluation, Repository)
                .join(Repository)
                .where(*_held(evaluation_id, attempt + 1))
            ).first()
            if row is None:  # purged, or ended, since
                return None
            evaluation, repository = row
            return ClaimedEvaluation(
                id=evaluation.id,
                attempts=evaluation.attempts,
                installation_id=repository.installation_id,
                repository_id=repository.id,
                repository=repository.full_name,
                default_branch=repository.default_branch,
                sha=evaluation.sha,
                branch=evaluation.branch,
                trigger=evaluation.trigger,
                delivery_id=evaluation.delivery_id,
                check_run_id=evaluation.check_run_id,
                created_at=evaluation.created_at,
                pushed_at=evaluation.pushed_at,
            )

    def renew_leases(self, held: Mapping[int, int], lease_seconds: float) -> set[int]:
        """Extend the leases of evaluations this worker runs ({id: attempts}); returns the
        ids it no longer holds (taken over after a lapse, ended, or purged)."""
        if not held:
            return set()
        until = self._now() + timedelta(seconds=lease_seconds)
        lost: set[int] = set()
        with self._session(write=True) as session:
            for evaluation_id, attempts in held.items():
                renewed = session.execute(
                    update(Evaluation)
                    .where(*_held(evaluation_id, attempts))
                    .values(lease_until=until)
                )
                if renewed.rowcount != 1:
                    lost.add(evaluation_id)
        return lost

    def postpone(self, evaluation_id: int, attempts: int, until: datetime) -> bool:
        """Hold an evaluation whose retry is scheduled for `until` (no sweep re-queues it
        before then); False when the caller no longer holds it."""
        with self._session(write=True) as session:
            held = session.execute(
                update(Evaluation)
                .where(
                    Evaluation.id == evaluation_id,
                    Evaluation.attempts == attempts,
                    Evaluation.status.in_(_UNFINISHED),
                )
                .values(lease_until=until)
            )
            return held.rowcount == 1

    def holds(self, evaluation_id: int, attempts: int) -> bool:
        """Whether attempt `attempts` still runs the evaluation: no later attempt took it
        up, and it has not ended (nor been purged)."""
        with self._session() as session:
            return (
                session.scalar(select(Evaluation.id).where(*_held(evaluation_id, attempts)))
                is not None
            )

    def record_check_run(self, evaluation_id: int, attempts: int, check_run_id: int) -> bool:
        """Remember the check run attempt `attempts` created, so a retry or a recovery
        reuses it; only while that attempt still runs the evaluation (False otherwise: a
        later attempt has its own run, which a stale one must not replace)."""
        held = _held(evaluation_id, attempts)
        recording = update(Evaluation).where(*held).values(check_run_id=check_run_id)
        with self._connection(write=True) as conn:
            return conn.execute(recording).rowcount == 1

    def stale_evaluations(self, limit: int = 500) -> list[tuple[int, int]]:
        """Unfinished evaluations whose lease ran out, oldest first, as (id, attempts): the
        worker that held one died, or its queued task was lost."""
        statement = (
            select(Evaluation.id, Evaluation.attempts)
            .where(
                Evaluation.status.in_(_UNFINISHED),
                or_(Evaluation.lease_until.is_(None), Evaluation.lease_until < self._now()),
            )
            .order_by(Evaluation.id)
            .limit(limit)
        )
        with self._session() as session:
            return [(row.id, row.attempts) for row in session.execute(statement)]

    def requeue(self, evaluation_id: int, attempts: int, lease_seconds: float) -> bool:
        """Renew a stale evaluation's lease for the task about to be queued for it; only one
        of several sweeping workers gets True (and queues it)."""
        now = self._now()
        with self._session(write=True) as session:
            renewed = session.execute(
                update(Evaluation)
                .where(
                    Evaluation.id == evaluation_id,
                    Evaluation.attempts == attempts,
                    Evaluation.status.in_(_UNFINISHED),
                    or_(Evaluation.lease_until.is_(None), Evaluation.lease_until < now),
                )
                .values(lease_until=now + timedelta(seconds=lease_seconds))
            )
            return renewed.rowcount == 1

    def newer_push(self, evaluation_id: int) -> str | None:
        """The commit of the newest push to the same branch made after this evaluation's,
        if any: a waiting push-evaluation is then superseded. "After" is GitHub's time of
        the push, not the order deliveries arrived in (GitHub does not promise that): a
        late delivery of an older push must not supersede the branch's newest commit."""
        this = select(Evaluation).where(Evaluation.id == evaluation_id).subquery()
        mine, theirs = _pushed(this.c), _pushed(Evaluation)
        statement = (
            select(Evaluation.sha)
            .join(this, Evaluation.repository_id == this.c.repository_id)
            .where(
                Evaluation.branch == this.c.branch,
                or_(theirs > mine, and_(theirs == mine, Evaluation.id > this.c.id)),
                Evaluation.sha != this.c.sha,
                Evaluation.trigger == "push",
            )
            .order_by(theirs.desc(), Evaluation.id.desc())
            .limit(1)
        )
        with self._session() as session:
            return session.scalar(statement)

    def unfinished_count(self) -> int:
        """Evaluations queued or running, in every process."""
        with self._session() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(Evaluation)
                    .where(Evaluation.status.in_(_UNFINISHED))
                )
                or 0
            )

    # --- Retention ---------------------------------------------------------------------

    def purge_older_than(self, days: float = DEFAULT_RETENTION_DAYS) -> PurgeCounts:
        """Delete evaluations, commits and deliveries recorded more than `days` ago, and
        tombstones of installations removed that long ago."""
        if days < 0:
            raise ValueError("days must not be negative")
        cutoff = self._now() - timedelta(days=days)
        with self._session(write=True) as session:
            evaluations = session.execute(delete(Evaluation).where(Evaluation.created_at < cutoff))
            commits = session.execute(delete(PushCommit).where(PushCommit.pushed_at < cutoff))
            session.execute(delete(PullRequestActivity).where(PullRequestActivity.at < cutoff))
            session.execute(delete(WorkflowRun).where(WorkflowRun.completed_at < cutoff))
            deliveries = session.execute(delete(Delivery).where(Delivery.received_at < cutoff))
            installations = session.execute(
                delete(Installation).where(Installation.deleted_at < cutoff)
            )
        return PurgeCounts(
            installations=installations.rowcount,
            evaluations=evaluations.rowcount,
            commits=commits.rowcount,
            deliveries=deliveries.rowcount,
        )

    # --- Helpers -----------------------------------------------------------------------

    def _insert(self, model: type[Base]) -> Any:
        """The dialect's INSERT, which has ON CONFLICT (both SQLite and PostgreSQL)."""
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(model)

    def _ensure_repository(
        self, conn: Connection, installation_id: int, repository: RepositoryInfo, now: datetime
    ) -> None:
        """`_ensure_repository_on` within a SQLAlchemy transaction."""
        with closing(conn.connection.cursor()) as cursor:
            self._ensure_repository_on(cursor, installation_id, repository, now)

    def _ensure_repository_on(
        self, cursor: Any, installation_id: int, repository: RepositoryInfo, now: datetime
    ) -> None:
        # An app installed before the store existed sends pushes for an installation we
        # never saw created: record it without a login rather than lose the push.
        intake = self._intake
        intake.installation.run(cursor, {"installation_id": installation_id, "now": now})
        (removed,) = intake.installation_removed.run(
            cursor, {"installation_id": installation_id}
        ).fetchone()
        if removed is not None:
            raise InstallationRemoved(f"installation {installation_id} was removed")
        intake.repository[bool(repository.default_branch)].run(
            cursor,
            {
                "repository_id": repository.id,
                "installation_id": installation_id,
                "name": repository.full_name,
                "default_branch": repository.default_branch,
                "now": now,
            },
        )

    def _evaluations(self, repo_full_name: str) -> Select[Any]:
        return (
            select(Evaluation, Repository.full_name, Repository.installation_id)
            .join(Repository)
            .where(Repository.full_name == repo_full_name)
            .order_by(Evaluation.created_at.desc(), Evaluation.id.desc())
        )

    def _update_evaluation(self, evaluation_id: int, values: dict[str, Any]) -> bool:
        # Built before the write lock is taken, run without the ORM's unit of work: the
        # deliveries of a burst wait while a job holds the lock.
        updating = update(Evaluation).where(Evaluation.id == evaluation_id).values(**values)
        with self._connection(write=True) as conn:
            return conn.execute(updating).rowcount == 1


def _pushed(columns: Any) -> Any:
    """When an evaluation's commit was pushed (GitHub's time), else when it was taken."""
    return func.coalesce(columns.pushed_at, columns.created_at)


_UNFINISHED = [EvaluationStatus.queued.value, EvaluationStatus.in_progress.value]


def _held(evaluation_id: int, attempts: int) -> tuple[ColumnElement[bool], ...]:
    """The evaluation, while attempt `attempts` runs it (a later claim counts one more)."""
    return (
        Evaluation.id == evaluation_id,
        Evaluation.attempts == attempts,
        Evaluation.status == EvaluationStatus.in_progress.value,
    )


_ENDED = (EvaluationStatus.completed, EvaluationStatus.failed, EvaluationStatus.skipped)


def _commit_rows(
    repository_id: int,
    branch: str,
    pusher: str | None,
    commits: Sequence[PushedCommit],
    now: datetime,
) -> list[dict[str, Any]]:
    return [
        {
            "repository_id": repository_id,
            "branch": branch,
            "sha": commit.sha,
            "author_login": commit.author_login,
            "author_name": commit.author_name,
            "message_length": commit.message_length,
            "committed_at": commit.timestamp,
            "pushed_by": pusher,
            "pushed_at": now,
        }
        for commit in commits
    ]


def _add_missing_columns(conn: Connection, existing_tables: set[str]) -> tuple[str, ...]:
    """ALTER TABLE … ADD COLUMN for model columns an older database lacks (additive only)."""
    inspector = inspect(conn)
    added: list[str] = []
    for table in Base.metadata.sorted_tables:
        if table.name not in existing_tables:
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable and column.server_default is None:
                # Existing rows would need a value: that is a data migration, not additive.
                raise StoreError(
                    f"cannot add required column {table.name}.{column.name} automatically"
                )
            ddl = CreateColumn(column).compile(dialect=conn.dialect)
            table_name = conn.dialect.identifier_preparer.quote(table.name)
            conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {ddl}")
            added.append(f"{table.name}.{column.name}")
    return tuple(added)


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """Every string in a JSON value through the redactor (strings one by one, so a mask can
    never break the JSON's structure)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(item, redact) for item in value]
    if isinstance(value, dict):
        return {redact(str(k)): _redacted(v, redact) for k, v in value.items()}
    return value


def _evaluation_record(
    evaluation: Evaluation, full_name: str, installation_id: int, *, with_report: bool
) -> EvaluationRecord:
    report = None
    if with_report and evaluation.report is not None:
        # A report stored by an older version may no longer validate: the row's own
        # columns still tell the history, so it is returned without one.
        with suppress(ValidationError):
            report = Report.model_validate(evaluation.report)
    return EvaluationRecord(
        id=evaluation.id,
        repository=full_name,
        installation_id=installation_id,
        sha=evaluation.sha,
        branch=evaluation.branch,
        status=EvaluationStatus(evaluation.status),
        pushed_at=evaluation.pushed_at,
        pusher_login=evaluation.pusher_login,
        delivery_id=evaluation.delivery_id,
        check_run_id=evaluation.check_run_id,
        conclusion=evaluation.conclusion,
        passed=evaluation.passed,
        total=evaluation.total,
        report=report,
        duration_ms=evaluation.duration_ms,
        error=evaluation.error,
        created_at=evaluation.created_at,
        finished_at=evaluation.finished_at,
        trigger=evaluation.trigger,
        attempts=evaluation.attempts or 0,
    )
