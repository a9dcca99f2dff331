"""Deliveries that arrive together are committed together, each with its own outcome: a
burst's writes queued behind the write lock go in one transaction, a failing one leaves
its neighbours committed, and none returns before its commit."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from huey import Huey
from sqlalchemy import text

from github_app.jobs import DurableSqliteStorage
from github_app.store import InstallationRemoved, RepositoryInfo, Store
from tests.store.test_write_lock import HOLD

REPO = RepositoryInfo(id=7, full_name="org/group", default_branch="main")
REMOVED = 9


def accept(store: Store, delivery: str, installation: int = 1) -> str:
    return store.accept_job(
        delivery_id=delivery,
        event_name="push",
        installation_id=installation,
        repository=REPO if installation == 1 else RepositoryInfo(id=8, full_name="org/gone"),
        sha=f"{abs(hash(delivery)):040x}"[:40],
        branch=delivery,
        trigger="push",
        lease_seconds=60,
    ).outcome


@contextmanager
def sqlite_lock_held(database: Path) -> Iterator[None]:
    """The file's write lock, held by another process."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.kill()
        holder.wait()


@contextmanager
def writes_held(store: Store) -> Iterator[None]:
    """Every write of `store` held up by another writer until the block ends."""
    if store.dialect == "sqlite":
        with sqlite_lock_held(Path(store.engine.url.database or "")):
            yield
        return
    # PostgreSQL: another session's table lock stops every delivery's first insert.
    with store.engine.begin() as conn:
        conn.execute(text("LOCK TABLE deliveries IN EXCLUSIVE MODE"))
        yield


def while_held(
    held: AbstractContextManager[None], writes: list[Callable[[], object]]
) -> list[object]:
    """Run `writes` in threads of their own while `held` holds them up, so that they all
    queue; then let them go. Each one's result or exception."""
    results: list[object] = [None] * len(writes)

    def run(i: int) -> None:
        try:
            results[i] = writes[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(writes))]
    with held:
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        assert all(t.is_alive() for t in threads), "a write went ahead of the lock's holder"
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads), "a write was never answered"
    return results


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    store.migrate()
    store.remove_installation(REMOVED)
    yield store
    store.close()


def test_a_burst_queued_behind_the_lock_gets_every_outcome_right(store: Store) -> None:
    deliveries = [f"d-{i}" for i in range(12)]
    writes = [lambda d=d: accept(store, d) for d in deliveries]
    # A redelivery in the same burst, and a push for an installation removed meanwhile.
    writes += [lambda: accept(store, "d-3"), lambda: accept(store, "gone", REMOVED)]
    results = while_held(writes_held(store), writes)

    assert sorted([results[3], results[12]]) == ["duplicate_delivery", "queued"]
    assert [r for i, r in enumerate(results[:12]) if i != 3] == ["queued"] * 11
    assert isinstance(results[13], InstallationRemoved)
    assert {e.branch for e in store.evaluations_for(REPO.full_name)} == set(deliveries)
    # The refused delivery wrote nothing: its id is still free.
    assert store.claim_delivery("gone", "push", REMOVED)


def test_one_thread_alone_is_answered_at_once(store: Store) -> None:
    started = time.perf_counter()
    assert accept(store, "alone") == "queued"
    assert time.perf_counter() - started < 1
    assert [e.branch for e in store.evaluations_for(REPO.full_name)] == ["alone"]


def test_queued_tasks_of_a_burst_are_each_stored_once(tmp_path: Path) -> None:
    huey = Huey("burst", storage_class=DurableSqliteStorage, filename=str(tmp_path / "q.db"))
    storage = huey.storage
    assert isinstance(storage, DurableSqliteStorage)
    tasks = [f"task-{i}".encode() for i in range(40)]
    enqueues = [lambda t=t: storage.enqueue(t) for t in tasks]
    results = while_held(sqlite_lock_held(tmp_path / "q.db"), enqueues)
    assert results == [None] * len(tasks)
    assert sorted(bytes(storage.dequeue()) for _ in tasks) == sorted(tasks)
    assert storage.dequeue() is None
    storage.close()


def test_a_delivery_refused_alone_leaves_the_next_ones_committed(store: Store, db_url: str) -> None:
    with pytest.raises(InstallationRemoved):
        accept(store, "gone", REMOVED)
    assert accept(store, "after") == "queued"
    # Committed for every other connection, not only visible to the one that wrote it.
    other = Store(db_url)
    try:
        assert [e.branch for e in other.evaluations_for(REPO.full_name)] == ["after"]
    finally:
        other.close()


def test_a_forked_process_records_deliveries_beside_its_parent(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    assert accept(store, "before-fork") == "queued"  # the parent's connection is open
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        outcome = accept(store, "in-child")
        store.close()
        os.write(write, outcome.encode())
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 20) == b"queued"
    assert accept(store, "after-fork") == "queued"
    branches = {e.branch for e in store.evaluations_for(REPO.full_name)}
    assert branches == {"before-fork", "in-child", "after-fork"}
    store.close()
