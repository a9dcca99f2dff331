"""Issue 11: a process SIGKILLed at any moment of a job loses nothing. For each kill point
and both ways to run the app (`serve` with its embedded consumers; `serve` without them
beside a separate `mlops-mentor worker`), the process doing the work is killed exactly
there and started again; the accepted push then ends in exactly one completed check run
with every annotation once, the dashboard's store has its report, and redelivering the
push adds nothing.

The kill points: (a) accepted (recorded in the store) but not yet queued, (b) the check
run created on GitHub but its answer not received, (c) a batch of annotations posted but
its answer not received, (d) the run completed on GitHub but the answer lost. Then two
ways a job goes wrong without a clean kill: a worker stalled past its lease while another
takes over, and a job whose process dies on every attempt.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from github_app.jobs import QUEUE_FILE
from github_app.store import EvaluationRecord, EvaluationStatus, Store, database_url
from github_app.worker import COULD_NOT_FINISH
from tests.durability.processes import AppProcess, Apps, Server, post, wait_for
from tests.github.fake_github import CheckRunState, FakeGitHub
from tests.github.github_helpers import (
    OWNER,
    REPO,
    expected_annotations,
    noisy_files,
    push_payload,
)

RUNS = r"/repos/[^/]+/[^/]+/check-runs"
RUN = r"/repos/[^/]+/[^/]+/check-runs/\d+"
TARBALL = r"/repos/[^/]+/[^/]+/tarball/.*"
DELIVERY = "killed-delivery"


def annotating(body: Any) -> bool:
    """A batch of annotations sent before the run's last request (which completes it)."""
    return bool(body.get("output", {}).get("annotations")) and "conclusion" not in body


def completing(body: Any) -> bool:
    return body.get("status") == "completed"


# The requests held on the fake GitHub (applied there, the answer never sent) while the
# consumer is killed: (method, path, which body).
HELD: dict[str, tuple[str, str, Callable[[Any], bool] | None]] = {
    "created": ("POST", RUNS, None),
    "annotating": ("PATCH", RUN, annotating),
    "completing": ("PATCH", RUN, completing),
}


@dataclass
class Topology:
    """The app's processes: serve, and the consumer doing the jobs (serve itself, or a
    separate worker)."""

    server: Server
    consumer: AppProcess


def separate_worker(apps: Apps) -> Topology:
    return Topology(apps.server(embedded_consumer=False, workers=1), apps.worker())


@pytest.fixture(params=["serve", "worker"])
def topology(request: pytest.FixtureRequest, apps: Apps) -> Topology:
    # One web worker (so one embedded consumer): fewer processes to boot on a small machine.
    if request.param == "serve":
        server = apps.server(workers=1)
        return Topology(server, server)
    return separate_worker(apps)


@contextmanager
def queue_locked(data_dir: Path) -> Iterator[None]:
    """Hold the queue file's write lock: whoever enqueues waits (SQLite's busy timeout)."""
    conn = sqlite3.connect(data_dir / QUEUE_FILE, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        conn.close()


def evaluations(data_dir: Path) -> list[EvaluationRecord]:
    store = Store(database_url(data_dir))
    try:
        return store.evaluations_for(f"{OWNER}/{REPO}", with_reports=True)
    finally:
        store.close()


def runs_of(fake: FakeGitHub, sha: str) -> list[CheckRunState]:
    return [r for r in fake.check_runs.values() if r.head_sha == sha]


def settled(fake: FakeGitHub, sha: str, data_dir: Path) -> bool:
    """GitHub shows a completed run and the store ended the evaluation."""
    runs = runs_of(fake, sha)
    ended = [e for e in evaluations(data_dir) if e.finished_at is not None]
    return bool(runs) and all(r.status == "completed" for r in runs) and bool(ended)


def assert_redelivery_adds_nothing(fake: FakeGitHub, server: Server, body: bytes) -> None:
    runs, calls = len(fake.check_runs), len(fake.calls)
    again = post(server.url, body, DELIVERY)
    assert (again.status_code, again.json()["outcome"]) == (202, "duplicate")
    time.sleep(1)
    assert (len(fake.check_runs), len(fake.calls)) == (runs, calls)


@pytest.mark.parametrize("point", ["queued", *HELD])
def test_a_process_killed_at_any_point_leaves_exactly_one_completed_run(
    point: str, topology: Topology, apps: Apps, fake_github: FakeGitHub, publish, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    commit = publish(noisy_files())
    body = json.dumps(push_payload(commit.sha)).encode()

    if point == "queued":
        # The web process has recorded the push and waits to queue its task.
        killed: AppProcess = topology.server
        with queue_locked(data_dir), ThreadPoolExecutor(1) as pool:
            answer = pool.submit(post, topology.server.url, body, DELIVERY)
            wait_for(lambda: evaluations(data_dir) != [], 20)
            killed.kill()
            assert isinstance(answer.exception(), httpx.TransportError)
    else:
        method, path, when = HELD[point]
        held = fake_github.hold_next(method, path, applied=True, when=when)
        assert post(topology.server.url, body, DELIVERY).status_code == 202
        held.wait()
        killed = topology.consumer
        killed.kill()
    apps.start(killed)

    wait_for(lambda: settled(fake_github, commit.sha, data_dir), 60)
    [run] = runs_of(fake_github, commit.sha)
    assert run.status == "completed" and run.output["title"] != COULD_NOT_FINISH
    assert run.annotations == expected_annotations(commit.root)
    [evaluation] = evaluations(data_dir)
    assert evaluation.status == EvaluationStatus.completed
    assert (evaluation.check_run_id, evaluation.conclusion) == (run.id, run.conclusion)
    assert evaluation.report is not None, "the dashboard has no report of the push"
    assert_redelivery_adds_nothing(fake_github, topology.server, body)


@pytest.mark.parametrize(
    "stalls",
    [
        # Reading the course file, before it creates the run: answered after the stall.
        "before creating the run",
        # Downloading the commit, after creating the run: GitHub refuses it meanwhile, so
        # the woken job fails and would complete the run as not finished.
        "then fails",
    ],
)
def test_a_worker_stalled_past_its_lease_leaves_the_run_to_the_one_that_took_over(
    stalls: str, apps: Apps, fake_github: FakeGitHub, publish, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    commit = publish(noisy_files())
    server = apps.server(embedded_consumer=False, workers=1)
    if stalls == "then fails":
        waits_on = TARBALL
        fake_github.fail_next("GET", TARBALL, 404, delay=3)
    else:
        waits_on = r"/repos/.*/contents/.*"
        fake_github.delay_next("GET", waits_on, 3)
    # The first worker's process stalls while its job waits on GitHub; a second worker
    # takes the evaluation over once the lease has run out.
    stalled = apps.worker()
    assert post(server.url, json.dumps(push_payload(commit.sha)).encode(), DELIVERY).is_success
    wait_for(lambda: fake_github.calls_to("GET", waits_on) != [], 20)
    stalled.pause()
    apps.worker()
    wait_for(lambda: settled(fake_github, commit.sha, data_dir), 60)

    # Woken up, the stalled job gets its answer and goes on.
    stalled.resume()
    time.sleep(2)
    [run] = runs_of(fake_github, commit.sha)
    assert run.status == "completed" and run.output["title"] != COULD_NOT_FINISH
    [evaluation] = evaluations(data_dir)
    assert (evaluation.status, evaluation.attempts) == (EvaluationStatus.completed, 2)
    assert (evaluation.check_run_id, evaluation.report is not None) == (run.id, True)


def test_a_job_that_kills_its_process_every_time_ends_saying_it_could_not_finish(
    apps: Apps, fake_github: FakeGitHub, publish, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    commit = publish(noisy_files())
    body = json.dumps(push_payload(commit.sha)).encode()
    apps.env["MLOPS_MENTOR_JOB_ATTEMPTS"] = "2"
    # Each attempt dies while evaluating, as one running out of memory on this commit would.
    evaluating = fake_github.hold_next("GET", TARBALL, times=2)
    app = separate_worker(apps)
    assert post(app.server.url, body, DELIVERY).status_code == 202
    for _ in range(2):
        evaluating.wait()
        app.consumer.kill()
        apps.start(app.consumer)

    wait_for(lambda: settled(fake_github, commit.sha, data_dir), 60)
    [run] = runs_of(fake_github, commit.sha)
    assert (run.status, run.conclusion, run.output["title"]) == (
        "completed",
        "neutral",
        COULD_NOT_FINISH,
    )
    assert "tried 2 times" in run.output["summary"]
    # The third attempt only closed the run: it did not evaluate (and die) again.
    assert len(fake_github.calls_to("GET", TARBALL)) == 2
    [evaluation] = evaluations(data_dir)
    assert (evaluation.status, evaluation.attempts) == (EvaluationStatus.failed, 3)
    assert evaluation.check_run_id == run.id
    assert_redelivery_adds_nothing(fake_github, app.server, body)
