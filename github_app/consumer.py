"""Consumers of the job queue: embedded in `serve`, or alone as `mlops-mentor worker`.

Each consumer process runs huey's worker threads and one warden thread. The warden renews
the leases of the evaluations this process runs (so no other worker takes them over),
sweeps the store for evaluations whose lease ran out and that no task waits for (a
worker was killed, or a task was lost) and queues them again, and applies the retention
period once a day. Every hour it queues the progress issues whose deadline reminder is
due. It sweeps once as soon as it starts: a restart resumes what the previous process
left unfinished.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from huey.consumer import Consumer

from github_app.logs import LOGGER, event
from github_app.services import Services

logger = logging.getLogger(LOGGER)
PURGE_EVERY = 24 * 3600.0
# Deadline reminders for groups that do not push: the one-day window is never missed.
REMIND_EVERY = 3600.0
# The most the queue is polled apart when idle (SQLite; Redis blocks on the list instead).
MAX_POLL_DELAY = 1.0


class EmbeddedConsumer(Consumer):
    """huey's consumer running as threads of a process that owns its signals (gunicorn)."""

    def _set_signal_handlers(self) -> None:
        # The host process decides when to stop, and calls `stop()`.
        return None


class Warden(threading.Thread):
    """Lease renewal, recovery sweeps and retention for one consumer process."""

    def __init__(self, services: Services) -> None:
        super().__init__(name="warden", daemon=True)
        self.services = services
        lease = services.settings.job_lease_seconds
        # Renewed well before it runs out, even if one renewal is slow.
        self.renew_every = lease / 4
        self.sweep_every = min(lease / 2, 60.0)
        self._stop_flag = threading.Event()

    def stop(self) -> None:
        self._stop_flag.set()

    def run(self) -> None:
        next_sweep = next_purge = next_reminders = time.monotonic()
        while not self._stop_flag.is_set():
            now = time.monotonic()
            try:
                self.renew()
                if now >= next_sweep:
                    self.sweep()
                    next_sweep = now + self.sweep_every
                if now >= next_purge:
                    self.purge()
                    next_purge = now + PURGE_EVERY
                if now >= next_reminders:
                    self.remind()
                    next_reminders = now + REMIND_EVERY
            except Exception:
                # The store may be briefly unreachable; the next round tries again.
                logger.exception("warden round failed")
            self._stop_flag.wait(self.renew_every)

    def renew(self) -> None:
        evaluator = self.services.evaluator
        lost = self.services.store.renew_leases(
            evaluator.leases.held(), self.services.settings.job_lease_seconds
        )
        if lost:
            evaluator.leases.mark_lost(lost)

    def sweep(self) -> int:
        """Queue again every evaluation whose lease ran out and that no task waits for;
        how many were queued."""
        store, queue = self.services.store, self.services.queue
        stale = store.stale_evaluations()
        if not stale:
            return 0
        waiting = queue.waiting()
        requeued = []
        for evaluation_id, attempts in stale:
            if evaluation_id in waiting:
                continue
            # Only one of several sweeping processes wins the renewal and queues it.
            if store.requeue(evaluation_id, attempts, self.services.settings.job_lease_seconds):
                queue.enqueue(evaluation_id, attempts)
                requeued.append(evaluation_id)
        if requeued:
            event(logger, "recovered", level=logging.WARNING, evaluations=requeued)
        return len(requeued)

    def remind(self) -> int:
        """Queue a progress update for every open progress issue whose deadline reminder
        is due (a group that stopped pushing still gets it); how many were queued. Several
        processes may queue the same one: the store lets only one post it."""
        due = self.services.evaluator.progress_issues.due_targets()
        for target in due:
            self.services.queue.enqueue_progress(target.model_dump_json())
        if due:
            event(logger, "reminders_due", repos=[t.full_name for t in due])
        return len(due)

    def purge(self) -> None:
        days = self.services.settings.retention_days
        purged = self.services.store.purge_older_than(days)
        if purged.total:
            event(logger, "purge", retention_days=days, **purged.model_dump())


class JobConsumer:
    """huey's worker threads and the warden, started and stopped together."""

    def __init__(self, services: Services, *, embedded: bool, **options: Any) -> None:
        self.services = services
        kind = EmbeddedConsumer if embedded else Consumer
        self.consumer = kind(
            services.queue.huey,
            workers=services.settings.workers,
            worker_type="thread",
            periodic=False,
            max_delay=MAX_POLL_DELAY,
            check_worker_health=not embedded,
            # `docker stop` and gunicorn send SIGTERM: finish the running jobs first.
            graceful_signal="TERM",
            **options,
        )
        self.warden = Warden(services)

    def start(self) -> None:
        self.warden.start()
        self.consumer.start()

    def run(self) -> None:
        """Run in the foreground until SIGTERM or SIGINT (`mlops-mentor worker`)."""
        self.warden.start()
        try:
            self.consumer.run()
        finally:
            self.warden.stop()

    def stop(self, timeout: float | None = None) -> None:
        """Let running jobs finish (up to `timeout` seconds), then stop."""
        self.consumer.shutdown_timeout = timeout
        self.consumer.stop(graceful=True)
        self.warden.stop()
