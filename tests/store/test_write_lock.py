"""The SQLite write lock across processes: writers wait for each other, a killed writer
never leaves the database locked, and a forked worker does not share its parent's lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from github_app.store import RepositoryInfo, Store, database_url
from github_app.store.write_lock import WriteLock

HOLD = """
import sys, time
from pathlib import Path
from github_app.store.write_lock import WriteLock
with WriteLock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def accept(store: Store, delivery: str) -> str:
    return store.accept_job(
        delivery_id=delivery,
        event_name="push",
        installation_id=1,
        repository=RepositoryInfo(id=7, full_name="org/group", default_branch="main"),
        sha=delivery[-1] * 40,
        branch="main",
        trigger="push",
        lease_seconds=60,
    ).outcome


def test_a_writer_killed_holding_the_lock_does_not_block_the_others(tmp_path: Path) -> None:
    store = Store(database_url(tmp_path))
    store.migrate()
    database = Path(store.engine.url.database or "")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        outcome: list[str] = []
        writer = threading.Thread(target=lambda: outcome.append(accept(store, "d-1")))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive(), "a write went ahead while another process held the lock"
        holder.send_signal(signal.SIGKILL)
        writer.join(5)
        assert outcome == ["queued"]
    finally:
        holder.kill()
        holder.wait()
        store.close()


def test_a_forked_process_waits_for_its_parents_lock(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "queue.db")
    with lock:  # opened before the fork, as in gunicorn's master
        pass
    read, write = os.pipe()
    with lock:
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through the pipe
            got = threading.Event()
            threading.Thread(target=lambda: (lock.__enter__(), got.set()), daemon=True).start()
            before = got.wait(0.5)
            after = got.wait(5)
            os.write(write, f"{before:d}{after:d}".encode())
            os._exit(0)
        time.sleep(1)
    answer = os.read(read, 2)
    os.waitpid(child, 0)
    # Not while the parent held it; at once when it let go.
    assert answer == b"01"
    lock.close()
