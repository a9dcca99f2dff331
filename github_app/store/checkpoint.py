"""SQLite's write-ahead log copied back into the database file by a thread of its own.

By default SQLite checkpoints inside the commit that grows the log past 1,000 pages: that
commit copies the log and syncs the file while it holds the write lock, 5-20 ms here, and
every delivery of a burst waits behind it. A checkpoint needs no write lock, so commits go
on appending to the log while a thread copies it. Each process that writes a file runs
one (the log is copied back whichever processes are still running); SQLite's own
checkpoint stays as a backstop at a size the thread keeps the log well under.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

from github_app.logs import LOGGER

logger = logging.getLogger(LOGGER)

# Pages after which a commit still checkpoints (SQLite's default is 1,000): only reached
# if the thread cannot keep up or has stopped.
BACKSTOP_PAGES = 20_000
INTERVAL_SECONDS = 0.5


class Checkpointer:
    """Checkpoints `database` every `interval` seconds from a daemon thread, started by
    the first write of each process (`start`)."""

    def __init__(self, database: Path, interval: float = INTERVAL_SECONDS) -> None:
        self.database = database
        self.interval = interval
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Make sure this process's thread runs (a forked child starts its own)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="wal-checkpoint", daemon=True
            )
            self._thread.start()
            self._pid = os.getpid()

    def stop(self) -> None:
        """Stop this process's thread after one last checkpoint."""
        with self._lock:
            if self._pid != os.getpid() or self._thread is None:
                return
            self._stop.set()
            self._thread.join()
            self._pid = self._thread = None

    def _run(self, stop: threading.Event) -> None:
        connection: sqlite3.Connection | None = None
        while True:
            stopping = stop.wait(self.interval)
            try:
                if connection is None:
                    connection = sqlite3.connect(self.database, timeout=1)
                # PASSIVE: copies what no reader still needs, never waits for anyone.
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                # The next round tries again on a new connection; the backstop meanwhile.
                logger.warning("checkpoint of %s failed: %s", self.database.name, exc)
                if connection is not None:
                    connection.close()
                connection = None
            if stopping:
                if connection is not None:
                    connection.close()
                return
