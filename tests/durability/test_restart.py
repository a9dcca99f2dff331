"""The real thing: `mlops-mentor serve` (gunicorn, two workers, embedded consumers) killed
with SIGKILL in the middle of a burst of pushes, then started again on the same data.
Against the fake GitHub: every push ends with exactly one completed check run, none is
left in progress, and redelivering everything adds nothing."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.durability.conftest import SMALL
from tests.durability.processes import Apps, post, wait_for
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import push_payload

PUSHES = 12


def test_sigkill_mid_burst_loses_nothing_and_leaves_nothing_spinning(
    apps: Apps, fake_github: FakeGitHub, git_commit
) -> None:
    commits = [git_commit({**SMALL, "README.md": f"# version {i}\n"}) for i in range(PUSHES)]
    bodies = {}
    for i, commit in enumerate(commits):
        fake_github.add_commit("dtu-mlops-group-7", "mnist-project", commit.sha, commit.archive,
                               installation=77)  # fmt: skip
        payload = push_payload(commit.sha, ref=f"refs/heads/branch-{i}")
        bodies[f"push-{i}"] = json.dumps(payload).encode()
    # Slow downloads keep jobs in the middle of their work when the kill comes.
    fake_github.delay_next("GET", r"/repos/.*/tarball/.*", 0.4, times=1000)

    server = apps.server()
    acked: set[str] = set()
    lock = threading.Lock()

    def send(delivery: str) -> None:
        try:
            response = post(server.url, bodies[delivery], delivery)
        except httpx.TransportError:
            return  # the server died mid-request: GitHub shows a failed delivery
        if response.status_code == 202:
            with lock:
                acked.add(delivery)

    deliveries = list(bodies)
    first, rest = deliveries[: PUSHES // 2], deliveries[PUSHES // 2 :]
    with ThreadPoolExecutor(3) as pool:
        for delivery in first:
            pool.submit(send, delivery)
            time.sleep(0.05)
        # However loaded the machine, the kill comes while jobs run and the burst goes on.
        wait_for(
            lambda: any(r.status == "in_progress" for r in fake_github.check_runs.values()), 20
        )
        for delivery in rest[:2]:
            pool.submit(send, delivery)
        server.kill()
    in_progress_at_kill = [
        r.head_sha for r in fake_github.check_runs.values() if r.status == "in_progress"
    ]
    assert in_progress_at_kill, "the kill must interrupt running jobs"
    assert len(acked) < PUSHES

    # Started again on the same data; what GitHub did not get an answer for is redelivered
    # from the app's settings page, as an operator would.
    apps.start(server)
    for delivery in sorted(set(bodies) - acked):
        assert post(server.url, bodies[delivery], delivery).status_code == 202

    def all_done() -> bool:
        runs = list(fake_github.check_runs.values())
        return {r.head_sha for r in runs} == {c.sha for c in commits} and all(
            r.status == "completed" for r in runs
        )

    wait_for(all_done, 60)
    per_commit = {c.sha: [r for r in fake_github.check_runs.values() if r.head_sha == c.sha]
                  for c in commits}  # fmt: skip
    assert all(len(runs) == 1 for runs in per_commit.values()), {
        sha[:7]: len(runs) for sha, runs in per_commit.items() if len(runs) != 1
    }
    for sha in in_progress_at_kill:
        [run] = per_commit[sha]
        assert run.output["title"] != "The evaluation could not finish"

    # Every delivery again: nothing new happens.
    runs_before, calls_before = len(fake_github.check_runs), len(fake_github.calls)
    for delivery, body in bodies.items():
        again = post(server.url, body, delivery)
        assert (again.status_code, again.json()["outcome"]) == (202, "duplicate")
    time.sleep(1.5)
    assert len(fake_github.check_runs) == runs_before
    assert len(fake_github.calls) == calls_before

    # Both gunicorn workers' counters, the killed server's included, add up in one scrape.
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    deliveries = sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "mlops_mentor_deliveries_total"
    )
    answered = len(acked) + (PUSHES - len(acked)) + PUSHES
    assert answered <= deliveries <= 2 * PUSHES + PUSHES
