"""The store's tables: SQLAlchemy 2 typed models, portable between SQLite and PostgreSQL.

Ids of installations and repositories are GitHub's own (stable across renames). Every
timestamp is timezone-aware and stored as UTC. Additive changes (a new table, a new
nullable column, a new index) only need an edit here and a bump of `SCHEMA_VERSION`:
`Store.migrate()` adds what an existing database lacks on start-up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Bumped with every change to the tables below; a database recorded at a newer version
# than this code is refused (an older deployment must not write to a newer schema).
SCHEMA_VERSION = 5


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored as UTC and always read back aware, in UTC.

    SQLite keeps no time zone and returns naive values; PostgreSQL's `timestamptz` returns
    the session's zone. Normalising both ways makes comparisons and arithmetic safe.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive time is ambiguous; refusing it catches the bug where it is made.
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EvaluationStatus(StrEnum):
    """Where an evaluation is: recorded before the work starts so a restart can resume it."""

    queued = "queued"
    in_progress = "in_progress"
    completed = "completed"
    failed = "failed"
    skipped = "skipped"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class SchemaVersion(Base):
    """One row per schema version this database was brought to, with when."""

    __tablename__ = "schema_version"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    applied_at: Mapped[datetime]


class Installation(Base):
    """An installation of the app on an account (a student's or the course organisation).

    On removal only a tombstone stays (id, deleted_at; no login): GitHub never reuses an
    installation id, so a late or redelivered event for it can be recognised and dropped
    instead of re-creating the data that was just purged.
    """

    __tablename__ = "installations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account_login: Mapped[str | None] = mapped_column(String)
    account_type: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class Repository(Base):
    """A group's repository, by GitHub id; the name follows renames and transfers."""

    __tablename__ = "repositories"
    __table_args__ = (Index("ix_repositories_full_name", "full_name"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    installation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("installations.id"), index=True
    )
    full_name: Mapped[str] = mapped_column(String)
    default_branch: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime]


class Evaluation(Base):
    """One evaluation of one commit: its state, its verdict and the full report."""

    __tablename__ = "evaluations"
    __table_args__ = (
        Index("ix_evaluations_branch", "repository_id", "branch", "created_at"),
        # Every push asks whether its commit was just evaluated: without it, a scan of the
        # repository's whole history (0.26 ms at 1,000 evaluations, growing).
        Index("ix_evaluations_commit", "repository_id", "sha"),
        Index("ix_evaluations_created_at", "created_at"),
        Index("ix_evaluations_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("repositories.id"))
    sha: Mapped[str] = mapped_column(String(64))
    branch: Mapped[str | None] = mapped_column(String)
    status: Mapped[str] = mapped_column(String(16))
    pushed_at: Mapped[datetime | None]
    pusher_login: Mapped[str | None] = mapped_column(String)
    delivery_id: Mapped[str | None] = mapped_column(String(64))
    check_run_id: Mapped[int | None] = mapped_column(BigInteger)
    conclusion: Mapped[str | None] = mapped_column(String(32))
    passed: Mapped[int | None]
    total: Mapped[int | None]
    # Deferred: listings never pay for loading reports they do not show.
    report: Mapped[dict[str, Any] | None] = mapped_column(deferred=True)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    # Why a `failed` evaluation failed, already redacted; never a traceback.
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # What asked for it: "push" (a newer push to the branch supersedes it while it waits)
    # or "rerequested" (a re-run somebody asked for, never superseded).
    trigger: Mapped[str | None] = mapped_column(String(16))
    # How many times a worker took it up; a queued task names the attempt it expects, so a
    # task queued twice (a redelivery, a recovery) runs once.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Until when the worker that took it up holds it (renewed while it runs); after that a
    # recovery sweep queues it again: the worker died.
    lease_until: Mapped[datetime | None]


class PushCommit(Base):
    """A commit as a push carried it onto a branch. The message itself is never stored:
    its length is enough to see "wip" commits, and messages can hold anything."""

    __tablename__ = "push_commits"
    __table_args__ = (
        UniqueConstraint("repository_id", "branch", "sha", name="uq_push_commits_branch_sha"),
        Index("ix_push_commits_pushed_at", "pushed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("repositories.id"))
    branch: Mapped[str] = mapped_column(String)
    sha: Mapped[str] = mapped_column(String(64))
    author_login: Mapped[str | None] = mapped_column(String)
    author_name: Mapped[str | None] = mapped_column(String)
    message_length: Mapped[int]
    committed_at: Mapped[datetime | None]
    pushed_by: Mapped[str | None] = mapped_column(String)
    pushed_at: Mapped[datetime]


class Delivery(Base):
    """A webhook delivery already taken: its id is the primary key, so a redelivery of the
    same X-GitHub-Delivery fails to insert, atomically, in every process."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_received_at", "received_at"),)

    delivery_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    # Not a foreign key: a delivery is claimed before its installation may be known.
    installation_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    received_at: Mapped[datetime]
    outcome: Mapped[str | None] = mapped_column(String(64))


class CourseConfigRecord(Base):
    """The course file of an installation (its organisation's `.github/mlops-mentor.yml`),
    shared by every process: the last valid text stays in force while a newer one is
    invalid, and a push to the `.github` repository marks it stale (fetched again)."""

    __tablename__ = "course_configs"

    installation_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The last valid file's text; None when the organisation has no course file.
    text: Mapped[str | None] = mapped_column(Text)
    # Why the newest file was refused ([{"message", "line"}]), None when it is valid.
    problems: Mapped[list[Any] | None] = mapped_column(JSON)
    # The `.github` commit the refused file came from (its check run is on it).
    problems_sha: Mapped[str | None] = mapped_column(String(64))
    # None: stale, read the file from GitHub again before the next evaluation.
    fetched_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ExemptionApproval(Base):
    """An instructor's approval of a group's requested exemption from one criterion."""

    __tablename__ = "exemption_approvals"
    __table_args__ = (
        UniqueConstraint("repository_id", "criterion", name="uq_exemption_approvals"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("repositories.id"))
    criterion: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str] = mapped_column(String)
    approved_at: Mapped[datetime]


class PullRequestActivity(Base):
    """A member opening, merging or reviewing a pull request (each once per pull request)."""

    __tablename__ = "pull_request_activity"
    __table_args__ = (
        UniqueConstraint(
            "repository_id", "number", "kind", "login", name="uq_pull_request_activity"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("repositories.id"))
    number: Mapped[int] = mapped_column(Integer)
    # "opened", "merged" or "reviewed".
    kind: Mapped[str] = mapped_column(String(16))
    # "" when GitHub names nobody (a deleted account).
    login: Mapped[str] = mapped_column(String)
    at: Mapped[datetime]


class WorkflowRun(Base):
    """A completed run of one of the group's own GitHub Actions workflows."""

    __tablename__ = "workflow_runs"
    __table_args__ = (Index("ix_workflow_runs_repository", "repository_id", "completed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # GitHub's id: a re-run of the same run updates its row.
    run_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    repository_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("repositories.id"))
    workflow: Mapped[str] = mapped_column(String)
    head_sha: Mapped[str] = mapped_column(String(64))
    head_branch: Mapped[str | None] = mapped_column(String)
    conclusion: Mapped[str | None] = mapped_column(String(32))
    completed_at: Mapped[datetime]


class ProgressIssue(Base):
    """A group's progress issue (the course's `progress_issue`). The row is inserted before
    the issue is created, so two workers evaluating one repository create one issue."""

    __tablename__ = "progress_issues"

    repository_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("repositories.id"), primary_key=True, autoincrement=False
    )
    # None while the worker that claimed the row looks for the issue or creates it.
    number: Mapped[int | None] = mapped_column(Integer)
    # "open", or "closed" (by a student or the staff): never updated again.
    state: Mapped[str] = mapped_column(String(16))
    claimed_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ProgressReminder(Base):
    """A deadline reminder posted (or being posted) on a group's progress issue: one per
    repository, deadline and threshold, whatever number of workers evaluate it."""

    __tablename__ = "progress_reminders"
    __table_args__ = (
        UniqueConstraint("repository_id", "deadline", "threshold", name="uq_progress_reminders"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("repositories.id"))
    deadline: Mapped[datetime]
    # "7d" or "1d" (see `checks.render.progress.REMINDERS`).
    threshold: Mapped[str] = mapped_column(String(8))
    sent_at: Mapped[datetime]
