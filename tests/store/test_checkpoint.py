"""The write-ahead log is copied back into the database file by a thread of each writing
process, not by whichever delivery's commit passes SQLite's threshold: a burst too small
to reach that threshold is in the file within a second, for the store and the queue."""

from __future__ import annotations

import time
from pathlib import Path

from github_app.jobs import DurableSqliteStorage
from github_app.store import RepositoryInfo, Store
from github_app.store.checkpoint import INTERVAL_SECONDS

REPO = RepositoryInfo(id=7, full_name="org/group", default_branch="main")


def file_pages(database: Path) -> int:
    """Pages in the database file itself: what a checkpoint has copied out of the log."""
    return database.stat().st_size // 4096


def wal_pages(database: Path) -> int:
    wal = database.with_name(database.name + "-wal")
    return wal.stat().st_size // 4096 if wal.exists() else 0


def test_a_burst_of_deliveries_is_copied_into_the_file_by_the_thread(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    store = Store(f"sqlite:///{database}")
    store.migrate()
    before = file_pages(database)
    for i in range(50):
        store.accept_job(
            delivery_id=f"d-{i}",
            event_name="push",
            installation_id=1,
            repository=REPO,
            sha=f"{i:040x}",
            branch=f"b-{i}",
            trigger="push",
            lease_seconds=60,
        )
    # Under SQLite's own 1,000-page threshold: only the thread copies the log back.
    assert 0 < wal_pages(database) < 1000
    time.sleep(3 * INTERVAL_SECONDS)
    assert file_pages(database) > before
    store.close()
    assert len(Store(f"sqlite:///{database}").evaluations_for(REPO.full_name)) == 50


def test_the_queue_file_is_copied_back_too(tmp_path: Path) -> None:
    database = tmp_path / "queue.db"
    storage = DurableSqliteStorage("q", filename=str(database))
    before = file_pages(database)
    tasks = [f"task-{i}:".encode() + b"x" * 1000 for i in range(150)]
    for task in tasks:
        storage.enqueue(task)
    assert 0 < wal_pages(database) < 1000
    time.sleep(3 * INTERVAL_SECONDS)
    assert file_pages(database) > before
    assert [bytes(storage.dequeue()) for _ in range(2)] == tasks[:2]
    storage.close()
