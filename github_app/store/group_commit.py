"""Many threads' small write transactions committed as one ("group commit").

Under a deadline burst every web thread wants the database's single write lock for a
delivery's millisecond of statements, and each handover costs more than the work: the
next holder must be woken, win the interpreter lock back from the other threads, and
begin and commit a transaction of its own. Here the first thread to arrive leads: it
waits for the write lock, then runs every write queued meanwhile, each in a savepoint of
one transaction, and wakes their threads after the commit. Under load a batch grows with
the wait; alone, a write runs at once, as before.

A write that raises is rolled back to its savepoint and raises in its own thread; the
others still commit. Nothing returns before the commit that made it durable.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

C = TypeVar("C")  # what a transaction runs statements on: a connection, a cursor
T = TypeVar("T")


@dataclass(eq=False)
class _Write(Generic[C, T]):
    work: Callable[[C], T]
    woken: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    done: bool = False
    result: T | None = None
    error: BaseException | None = None


class GroupCommit(Generic[C]):
    """Runs writes, each `work(connection)`, in shared transactions opened by `begin`
    (holding the write lock); `savepoint(connection)` encloses each write."""

    def __init__(
        self,
        begin: Callable[[], AbstractContextManager[C]],
        savepoint: Callable[[C], AbstractContextManager[object]],
    ) -> None:
        self._begin = begin
        self._savepoint = savepoint
        self._reset()
        # A forked child has none of the parent's threads: none of their writes to run, no
        # leader to wait for. (Weakly, as `WriteLock` does.)
        reset = weakref.WeakMethod(self._reset)
        os.register_at_fork(after_in_child=lambda: (method := reset()) and method())

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[_Write[C, Any]] = []
        self._leader = False

    def run(self, work: Callable[[C], T]) -> T:
        """`work`'s result once committed (its exception, if it raised or the commit failed)."""
        write: _Write[C, T] = _Write(work)
        with self._lock:
            self._waiting.append(write)
            if not self._leader:
                self._leader = write.leads = True
        while not write.done:
            if write.leads:
                self._commit_waiting()
            else:
                write.woken.wait()
                write.woken.clear()
        if write.error is not None:
            raise write.error
        return write.result  # type: ignore[return-value]

    def _commit_waiting(self) -> None:
        batch: list[_Write[C, Any]] = []
        try:
            with self._begin() as connection:
                # Taken once the write lock is ours: everything that queued while we waited.
                with self._lock:
                    batch, self._waiting = self._waiting, []
                if len(batch) == 1:
                    # Alone (the usual case outside a burst): the transaction is its savepoint.
                    batch[0].result = batch[0].work(connection)
                    return
                for write in batch:
                    try:
                        with self._savepoint(connection):
                            write.result = write.work(connection)
                    except Exception as exc:  # that write's own failure, told to its thread
                        write.error = exc
        except BaseException as exc:
            if not batch:  # the transaction could not begin: every waiting write fails
                with self._lock:
                    batch, self._waiting = self._waiting, []
            for write in batch:
                write.result = None
                write.error = write.error or exc
        finally:
            with self._lock:
                for write in batch:
                    write.done = True
                    write.woken.set()
                # The next batch is led by the first write that queued meanwhile.
                if self._waiting:
                    self._waiting[0].leads = True
                    self._waiting[0].woken.set()
                else:
                    self._leader = False
