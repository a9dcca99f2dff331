"""The statements a webhook delivery runs, compiled once per store for its database driver.

A delivery is acknowledged only after its transaction commits, and under a deadline burst
that transaction is the web workers' main cost. SQLAlchemy's execution of a statement
costs about 0.15 ms of Python, against the driver's few microseconds; on SQLite it ran
under the write lock every web process waits for, competing for its process's interpreter
lock with the threads answering other requests: a batch of deliveries held the lock 12 ms
and capped a burst at about 400 deliveries/s. So these statements are SQLAlchemy
expressions compiled once, with SQLAlchemy's own conversion of each parameter, and run on
the driver's cursor inside the store's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Dialect, bindparam, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ClauseElement

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


class DriverStatement:
    """A statement compiled for the driver: its SQL with named parameters, the values
    fixed in it, and SQLAlchemy's conversion of each parameter (e.g. a UTC timestamp into
    SQLite's text form), so that rows read back through SQLAlchemy are the same."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._fixed = {name: value for name, value in compiled.params.items() if value is not None}
        self._convert: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self._convert[name] = process

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        given = {**self._fixed, **values}
        for name, process in self._convert.items():
            if given.get(name) is not None:
                given[name] = process(given[name])
        return given

    def run(self, cursor: Any, values: Mapping[str, Any]) -> Any:
        """Execute on a DBAPI cursor; the cursor, to fetch what it returns."""
        cursor.execute(self.sql, self.parameters(values))
        return cursor

    def run_many(self, cursor: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        cursor.executemany(self.sql, [self.parameters(row) for row in rows])


@contextmanager
def savepoint(cursor: Any) -> Iterator[None]:
    """Undo only what ran inside when it raises (the same SQL on SQLite and PostgreSQL)."""
    cursor.execute("SAVEPOINT delivery")
    try:
        yield
    except BaseException:
        cursor.execute("ROLLBACK TO SAVEPOINT delivery")
        cursor.execute("RELEASE SAVEPOINT delivery")
        raise
    cursor.execute("RELEASE SAVEPOINT delivery")


class Intake:
    """The statements of `Store.accept_job` and of reading a course file."""

    def __init__(self, dialect: Dialect) -> None:
        if dialect.paramstyle not in ("named", "pyformat"):
            # Parameters by name (pysqlite defaults to `?`): the values are dicts.
            dialect = type(dialect)(paramstyle="named")
        insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert

        def compiled(statement: ClauseElement) -> DriverStatement:
            return DriverStatement(statement, dialect)

        # RETURNING, not rowcount: a skipped insert must be told from a claimed one.
        self.claim = compiled(
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
        self.installation = compiled(
            insert(_INSTALLATION)
            .values(id=bindparam("installation_id"), created_at=bindparam("now"))
            .on_conflict_do_nothing(index_elements=[_INSTALLATION.c.id])
        )
        self.installation_removed = compiled(
            select(_INSTALLATION.c.deleted_at).where(
                _INSTALLATION.c.id == bindparam("installation_id")
            )
        )
        # Two variants: a payload without a default branch must not erase the known one.
        self.repository = {
            with_branch: compiled(self._repository_upsert(insert, with_branch))
            for with_branch in (False, True)
        }
        self.commits = compiled(
            insert(_PUSH_COMMIT)
            .values({name: bindparam(name) for name in _COMMIT_COLUMNS})
            .on_conflict_do_nothing(index_elements=["repository_id", "branch", "sha"])
        )
        # The ended statuses as constants of the SQL: SQL compiled once cannot hold a list
        # parameter (SQLAlchemy expands those at each execution).
        ended = [
            literal_column(f"'{status.value}'")
            for status in (EvaluationStatus.failed, EvaluationStatus.skipped)
        ]
        self.seen = compiled(
            select(_EVALUATION.c.id)
            .where(
                _EVALUATION.c.repository_id == bindparam("repository_id"),
                _EVALUATION.c.sha == bindparam("sha"),
                _EVALUATION.c.created_at >= bindparam("since"),
                _EVALUATION.c.status.not_in(ended),
            )
            .limit(1)
        )
        self.evaluation = compiled(
            insert(_EVALUATION)
            .values(
                status=EvaluationStatus.queued.value,
                attempts=0,
                **{name: bindparam(name) for name in _EVALUATION_COLUMNS},
            )
            .returning(_EVALUATION.c.id)
        )
        # A bound parameter may not share a column's name in an UPDATE's SET.
        self.outcome = compiled(
            update(_DELIVERY)
            .where(_DELIVERY.c.delivery_id == bindparam("claimed"))
            .values(outcome=bindparam("new_outcome"))
        )
        self.course_text = compiled(
            select(_COURSE_FILE.c.text, _COURSE_FILE.c.updated_at).where(
                _COURSE_FILE.c.installation_id == bindparam("installation_id")
            )
        )

    @staticmethod
    def _repository_upsert(insert: Any, with_branch: bool) -> ClauseElement:
        values = {"installation_id": bindparam("installation_id"), "full_name": bindparam("name")}
        if with_branch:
            values["default_branch"] = bindparam("default_branch")
        statement = insert(_REPOSITORY).values(
            id=bindparam("repository_id"), created_at=bindparam("now"), **values
        )
        excluded = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=[_REPOSITORY.c.id],
            set_={name: excluded[name] for name in values},
        )


# Every column but the generated id: what `_commit_rows` in the store gives for each commit.
_COMMIT_COLUMNS = tuple(c.name for c in _PUSH_COMMIT.columns if not c.primary_key)
_EVALUATION_COLUMNS = (
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
