"""One writer at a time on a SQLite file, across the threads and processes sharing it.

SQLite lets one transaction write at a time. A writer that finds the file locked waits in
SQLite's busy handler, which sleeps between tries (up to 100 ms each), so under a burst a
delivery's transaction could wait half a second after the file was free. Writers that
queue on this lock instead (a thread lock, then `flock` on `<database>.lock`) are woken
the moment the previous one commits. The operating system drops the `flock` of a killed
process, so a crash never leaves the lock held. A process's first write also starts its
thread copying the file's log back (`Checkpointer`), which no commit then has to do.
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO

from github_app.store.checkpoint import Checkpointer


class WriteLock:
    """A context manager held around every write transaction to one SQLite file."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._threads = threading.Lock()
        self._file: IO[bytes] | None = None
        self._checkpointer = Checkpointer(database)
        # A forked child shares the parent's open lock file (and with it the parent's
        # flock) and may inherit the thread lock held: it starts afresh. Weakly, so the
        # fork hook does not keep every lock ever made alive.
        forget = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (method := forget()) and method())

    def __enter__(self) -> WriteLock:
        self._checkpointer.start()
        self._threads.acquire()
        try:
            if self._file is None:
                self._file = self.path.open("ab")
            fcntl.flock(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        assert self._file is not None
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        """Stop this process's checkpoints and close the lock file (the next write opens it
        and starts them again)."""
        self._checkpointer.stop()
        with self._threads:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _after_fork(self) -> None:
        self._threads = threading.Lock()
        if self._file is not None:
            # Closing the child's descriptor leaves the parent's flock in place.
            self._file.close()
            self._file = None
