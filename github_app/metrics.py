"""Prometheus metrics, correct across processes: `GET /metrics` in the text format.

Several processes do the work on one machine: gunicorn's workers answer webhooks, the
embedded consumer or `mlops-mentor worker`s run jobs. `serve` and `worker` therefore put
prometheus-client in multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, default
`<data dir>/metrics`): each process writes its counters to its own memory-mapped files
there, and a scrape adds them up, so every process of the machine is counted whatever
gunicorn worker answers `/metrics`. Files of processes that ended stay, which keeps the
counters' totals monotonic across restarts (delete the folder while nothing runs to reset
them). The queue depth is not a per-process value: it is read from the queue itself at
scrape time. Without the variable (tests, an app built in-process) the metrics live in
this process's own registry.

prometheus-client chooses its mode when first imported, so this module imports it only
inside functions, after `use_multiprocess_dir()` has had its chance.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a job is a tarball download plus the engine, a few seconds for a course repo.
JOB_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
# GitHub API paths as templates, so labels stay few whatever the repository or run id.
_ENDPOINTS = [
    (re.compile(pattern + "$"), template)
    for pattern, template in [
        (r"/app/installations/[^/]+/access_tokens", "/app/installations/{id}/access_tokens"),
        (r"/repos/[^/]+/[^/]+/check-runs", "/repos/{owner}/{repo}/check-runs"),
        (r"/repos/[^/]+/[^/]+/check-runs/[^/]+", "/repos/{owner}/{repo}/check-runs/{id}"),
        (
            r"/repos/[^/]+/[^/]+/commits/[^/]+/check-runs",
            "/repos/{owner}/{repo}/commits/{ref}/check-runs",
        ),
        (r"/repos/[^/]+/[^/]+/tarball/.+", "/repos/{owner}/{repo}/tarball/{ref}"),
    ]
]


def use_multiprocess_dir(data_dir: Path) -> Path:
    """Switch this process (and the ones it starts) to multiprocess metrics in
    `PROMETHEUS_MULTIPROC_DIR`, or `<data_dir>/metrics` when that is unset; the folder."""
    folder = Path(os.environ.setdefault(MULTIPROC_ENV, str(data_dir.resolve() / "metrics")))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def endpoint(request: httpx.Request) -> str:
    """`METHOD /path/template` of a GitHub API request; `download` for the archive host."""
    path = request.url.path
    for pattern, template in _ENDPOINTS:
        if pattern.search(path):
            return f"{request.method} {template}"
    return f"{request.method} download" if request.method == "GET" else f"{request.method} other"


@dataclass(frozen=True)
class Instruments:
    deliveries: Counter
    job_duration: Histogram
    api_calls: Counter
    rate_limit_remaining: Gauge
    registry: CollectorRegistry


_instruments: Instruments | None = None
_lock = threading.Lock()


def instruments() -> Instruments:
    """This process's metrics, made on first use (after the mode is chosen)."""
    global _instruments
    with _lock:
        if _instruments is None:
            from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

            registry = CollectorRegistry(auto_describe=True)
            _instruments = Instruments(
                deliveries=Counter(
                    "mlops_mentor_deliveries",
                    "Webhook deliveries answered, by event and outcome.",
                    ["event", "outcome"],
                    registry=registry,
                ),
                job_duration=Histogram(
                    "mlops_mentor_job_duration_seconds",
                    "Time a job took, by how it ended.",
                    ["outcome"],
                    buckets=JOB_BUCKETS,
                    registry=registry,
                ),
                api_calls=Counter(
                    "mlops_mentor_github_api_calls",
                    "Requests to the GitHub API, by endpoint and HTTP status.",
                    ["endpoint", "status"],
                    registry=registry,
                ),
                rate_limit_remaining=Gauge(
                    "mlops_mentor_github_rate_limit_remaining",
                    "X-RateLimit-Remaining in GitHub's latest answer, per installation.",
                    ["installation"],
                    registry=registry,
                    # Across processes: the value written last, not a sum.
                    multiprocess_mode="mostrecent",
                ),
                registry=registry,
            )
        return _instruments


def api_response_hook(installation: int) -> Callable[[httpx.Response], None]:
    """An httpx response hook counting each answer and keeping the rate limit left."""

    def record(response: httpx.Response) -> None:
        metrics = instruments()
        metrics.api_calls.labels(endpoint(response.request), str(response.status_code)).inc()
        remaining = response.headers.get("x-ratelimit-remaining", "")
        if remaining.isdigit():
            metrics.rate_limit_remaining.labels(str(installation)).set(int(remaining))

    return record


class QueueDepth:
    """A collector asking the queue (shared by every process) how many jobs wait."""

    def __init__(self, depth: Callable[[], dict[str, int]]) -> None:
        self._depth = depth

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            "mlops_mentor_queue_depth",
            "Jobs in the queue: pending (ready to run) and scheduled (retries waiting).",
            labels=["state"],
        )
        for state, count in self._depth().items():
            family.add_metric([state], count)
        yield family


class _Forward:
    """Collects another registry's metrics (this process's own, in single-process mode)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Any]:
        return self._registry.collect()


def exposition_registry(depth: Callable[[], dict[str, int]]) -> CollectorRegistry:
    """What a scrape collects: every process's metrics (or this one's) and the queue depth."""
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry(auto_describe=True)
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(instruments().registry))
    registry.register(QueueDepth(depth))
    return registry


def exposition(depth: Callable[[], dict[str, int]]) -> bytes:
    """The text every scrape gets, in Prometheus' text format."""
    from prometheus_client import generate_latest

    return generate_latest(exposition_registry(depth))
