"""Answers already given, and commits judged per installation and day, in one SQLite file.

An answer is stored under a hash of everything the model was sent (the model's name,
the judge's instructions and rubric, the paths and contents of the files), so an
unchanged codebase is never judged twice, and a push that only touched the tests asks
only the testing judge again. Only valid answers are stored; failures are retried on the
next push. Each call opens its own connection, so worker threads and processes share the
file safely (SQLite serialises the writers).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from github_app.review.judges import JudgeAnswer

# Answers older than this are deleted: a course runs for weeks, not months.
KEEP_ANSWERS = timedelta(days=30)
# Daily counts are kept a week, for the logs' sake.
KEEP_COUNTS = timedelta(days=7)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    answer TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_created ON answers (created);
CREATE TABLE IF NOT EXISTS judged (
    installation INTEGER NOT NULL,
    day TEXT NOT NULL,
    commits INTEGER NOT NULL,
    PRIMARY KEY (installation, day)
);
"""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ReviewCache:
    """The AI review's own store (separate from the results store, so it can be dropped)."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = _utc_now) -> None:
        self.path = path
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # Autocommit, with explicit transactions where a read and a write go together.
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            yield db

    def get(self, key: str) -> JudgeAnswer | None:
        with self._db() as db:
            row = db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return JudgeAnswer.model_validate_json(row[0])
        except ValidationError:
            # Written by an older version with other rules: ask the model again.
            return None

    def put(self, key: str, answer: JudgeAnswer) -> None:
        now = self._clock()
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO answers (key, created, answer) VALUES (?, ?, ?)",
                (key, now.isoformat(), answer.model_dump_json()),
            )
            db.execute("DELETE FROM answers WHERE created < ?", ((now - KEEP_ANSWERS).isoformat(),))

    def _today(self) -> date:
        return self._clock().astimezone(UTC).date()

    def spend(self, installation: int, limit: int) -> bool:
        """Count one judged commit for `installation` today; False (nothing counted) when
        `limit` commits were already judged today (UTC)."""
        today = self._today()
        with self._db() as db:
            # IMMEDIATE takes the write lock first: two workers cannot both take the last one.
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT commits FROM judged WHERE installation = ? AND day = ?",
                    (installation, today.isoformat()),
                ).fetchone()
                used = row[0] if row else 0
                if used >= limit:
                    db.execute("ROLLBACK")
                    return False
                db.execute(
                    "INSERT INTO judged (installation, day, commits) VALUES (?, ?, 1) "
                    "ON CONFLICT (installation, day) DO UPDATE SET commits = commits + 1",
                    (installation, today.isoformat()),
                )
                db.execute("DELETE FROM judged WHERE day < ?", ((today - KEEP_COUNTS).isoformat(),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return True

    def judged_today(self, installation: int) -> int:
        with self._db() as db:
            row = db.execute(
                "SELECT commits FROM judged WHERE installation = ? AND day = ?",
                (installation, self._today().isoformat()),
            ).fetchone()
        return row[0] if row else 0
