"""The deadline hour, test-sized: 1,000 signed pushes from 8 concurrent senders at
`mlops-mentor serve` (gunicorn, embedded consumers) on loopback, against the fake GitHub.
Every delivery is acknowledged well inside GitHub's 10 s, none is lost, and every push
ends in exactly one completed check run. 100 groups push 10 branches each; the
repositories are small, so this is bounded by the app, not by the evaluation."""

from __future__ import annotations

import hashlib
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from github_app.store import Store, database_url
from github_app.worker import COULD_NOT_FINISH
from tests.durability.conftest import SMALL
from tests.durability.processes import Apps, wait_for
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import push_payload, sign

DELIVERIES = 1000
GROUPS = 100
SENDERS = 8


def fake_sha(i: int) -> str:
    return hashlib.sha1(f"load-{i}".encode()).hexdigest()


def test_1000_deliveries_are_acknowledged_fast_and_all_completed(
    apps: Apps, fake_github: FakeGitHub, git_commit, tmp_path: Path
) -> None:
    # One small tree for every push; each push is its own commit id on its own branch.
    archive = git_commit(SMALL).archive
    bodies: dict[str, bytes] = {}
    for i in range(DELIVERIES):
        group, branch = divmod(i, DELIVERIES // GROUPS)
        owner, repo, sha = f"dtu-mlops-group-{group}", "project", fake_sha(i)
        fake_github.add_commit(owner, repo, sha, archive, installation=1000 + group)
        payload = push_payload(
            sha, ref=f"refs/heads/b{branch}", owner=owner, repo=repo, installation=1000 + group
        )
        bodies[f"load-{i}"] = json.dumps(payload).encode()

    server = apps.server()
    latencies: dict[str, float] = {}
    lock = threading.Lock()
    local = threading.local()

    def send(delivery: str) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=10)
        body = bodies[delivery]
        headers = {
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(body),
            "Content-Type": "application/json",
        }
        started = time.perf_counter()
        response = local.client.post(f"{server.url}/webhook", content=body, headers=headers)
        elapsed = time.perf_counter() - started
        assert (response.status_code, response.json()["outcome"]) == (202, "queued")
        with lock:
            latencies[delivery] = elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(SENDERS) as pool:
        for future in [pool.submit(send, d) for d in bodies]:
            future.result()
    sending = time.perf_counter() - started

    assert len(latencies) == DELIVERIES
    ordered = sorted(latencies.values())
    p99 = ordered[int(0.99 * len(ordered)) - 1]
    assert max(ordered) < 5, f"slowest acknowledgement {max(ordered):.2f} s"

    store = Store(database_url(tmp_path / "data"))

    def all_completed() -> bool:
        # The store records a run once GitHub has answered its completion: both, then.
        runs = list(fake_github.check_runs.values())
        completed = len(runs) >= DELIVERIES and all(r.status == "completed" for r in runs)
        return completed and store.unfinished_count() == 0

    try:
        wait_for(all_completed, 90)
    finally:
        store.close()
    finished = time.perf_counter() - started

    runs = list(fake_github.check_runs.values())
    assert sorted(r.head_sha for r in runs) == sorted(fake_sha(i) for i in range(DELIVERIES))
    assert {r.output["title"] for r in runs}.isdisjoint({COULD_NOT_FINISH})
    print(
        f"\n{DELIVERIES} deliveries from {SENDERS} senders in {sending:.1f} s "
        f"(p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {max(ordered) * 1000:.0f} ms); all completed after {finished:.1f} s"
    )
