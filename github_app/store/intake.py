"""The statements a webhook delivery runs, built once per store.

A delivery is acknowledged only after its transaction commits, and under a deadline burst
that transaction is the web workers' main cost. Building SQLAlchemy statements and going
through the ORM cost about 4 ms per delivery, twice the database's own work; statements
built once with bound parameters and run on a plain connection skip both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Select, Update, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from github_app.store.models import (
    CourseConfigRecord,
    Delivery,
    Evaluation,
    EvaluationStatus,
    Installation,
    PushCommit,
    Repository,
)

_DELIVERY = Delivery.__table__
_INSTALLATION = Installation.__table__
_REPOSITORY = Repository.__table__
_PUSH_COMMIT = PushCommit.__table__
_EVALUATION = Evaluation.__table__
_COURSE_FILE = CourseConfigRecord.__table__


class Intake:
    """Prepared statements of `Store.accept_job` and of reading a course file."""

    def __init__(self, dialect: str) -> None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # RETURNING, not rowcount: a skipped insert must be told from a claimed one.
        self.claim: Insert = (
            insert(_DELIVERY)
            .values(
                delivery_id=bindparam("delivery_id"),
                event=bindparam("event"),
                installation_id=bindparam("installation_id"),
                received_at=bindparam("now"),
                # What it led to, unless the same transaction says otherwise.
                outcome="queued",
            )
            .on_conflict_do_nothing(index_elements=[_DELIVERY.c.delivery_id])
            .returning(_DELIVERY.c.delivery_id)
        )
        self.installation: Insert = (
            insert(_INSTALLATION)
            .values(id=bindparam("installation_id"), created_at=bindparam("now"))
            .on_conflict_do_nothing(index_elements=[_INSTALLATION.c.id])
        )
        self.installation_removed: Select[Any] = select(_INSTALLATION.c.deleted_at).where(
            _INSTALLATION.c.id == bindparam("installation_id")
        )
        # Two variants: a payload without a default branch must not erase the known one.
        self.repository = {
            with_branch: self._repository_upsert(insert, with_branch)
            for with_branch in (False, True)
        }
        self.commits: Insert = insert(_PUSH_COMMIT).on_conflict_do_nothing(
            index_elements=["repository_id", "branch", "sha"]
        )
        self.seen: Select[Any] = (
            select(_EVALUATION.c.id)
            .where(
                _EVALUATION.c.repository_id == bindparam("repository_id"),
                _EVALUATION.c.sha == bindparam("sha"),
                _EVALUATION.c.created_at >= bindparam("since"),
                _EVALUATION.c.status.not_in(
                    [EvaluationStatus.failed.value, EvaluationStatus.skipped.value]
                ),
            )
            .limit(1)
        )
        self.evaluation: Insert = (
            insert(_EVALUATION)
            .values(
                status=EvaluationStatus.queued.value,
                attempts=0,
                **{
                    name: bindparam(name)
                    for name in (
                        "repository_id",
                        "sha",
                        "branch",
                        "pushed_at",
                        "pusher_login",
                        "delivery_id",
                        "trigger",
                        "lease_until",
                        "created_at",
                    )
                },
            )
            .returning(_EVALUATION.c.id)
        )
        # A bound parameter may not share a column's name in an UPDATE's SET.
        self.outcome: Update = (
            update(_DELIVERY)
            .where(_DELIVERY.c.delivery_id == bindparam("claimed"))
            .values(outcome=bindparam("new_outcome"))
        )
        self.course_file: Select[Any] = select(_COURSE_FILE).where(
            _COURSE_FILE.c.installation_id == bindparam("installation_id")
        )

    @staticmethod
    def _repository_upsert(insert: Any, with_branch: bool) -> Insert:
        values = {"installation_id": bindparam("installation_id"), "full_name": bindparam("name")}
        if with_branch:
            values["default_branch"] = bindparam("default_branch")
        statement: Insert = insert(_REPOSITORY).values(
            id=bindparam("repository_id"), created_at=bindparam("now"), **values
        )
        excluded = statement.excluded  # type: ignore[attr-defined]
        return statement.on_conflict_do_update(
            index_elements=[_REPOSITORY.c.id],
            set_={name: excluded[name] for name in values},
        )
