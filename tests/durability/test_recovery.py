"""A worker killed midway: its evaluation's lease runs out, a sweep queues it again, and the
next attempt reuses the run it created, skipping the annotations already posted. On the
SQLite queue and on a real Redis (a web process and a worker on two "machines")."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis
from flask import Flask
from huey import RedisHuey

from github_app.consumer import JobConsumer, Warden
from github_app.services import build_services
from github_app.store import EvaluationStatus
from github_app.worker import LeaseLost
from tests.durability.conftest import SMALL
from tests.github.fake_github import CheckRunState, FakeGitHub
from tests.github.github_helpers import (
    OWNER,
    REPO,
    deliver,
    drain,
    expected_annotations,
    noisy_files,
    push_payload,
    queue_of,
)

RUNS = r"/repos/[^/]+/[^/]+/check-runs"
RUN = r"/repos/[^/]+/[^/]+/check-runs/\d+"
LIST = r"/repos/[^/]+/[^/]+/commits/[0-9a-f]+/check-runs"
LEASE = 1.0


@pytest.fixture
def redis_queue(redis_url: str) -> Iterator[str]:
    """The session's Redis, emptied for this test (no task of another test lingers)."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield redis_url
    client.flushdb()
    client.close()


@pytest.fixture(params=["sqlite", "redis", "postgresql"])
def backend(request: pytest.FixtureRequest) -> dict[str, object]:
    """Settings under test: the SQLite queue and store, the queue on Redis, or the store
    on PostgreSQL (where DATABASE_URL is set)."""
    if request.param == "redis":
        return {"redis_url": request.getfixturevalue("redis_queue")}
    if request.param == "postgresql":
        return {"database_url": request.getfixturevalue("postgres_url")}
    return {}


def crash_midway(app: Flask, fake: FakeGitHub, sha: str, posted: list, status: str) -> None:
    """What a worker killed midway leaves: its task taken from the queue, the evaluation
    taken up in the store, and a check run with some annotations on GitHub."""
    queue = queue_of(app)
    assert queue.huey.dequeue() is not None
    assert queue.store.claim_evaluation(1, 0, LEASE) is not None
    fake.check_runs[999] = CheckRunState(
        id=999,
        owner=OWNER,
        repo=REPO,
        name="MLOps Mentor",
        head_sha=sha,
        status=status,
        conclusion="neutral" if status == "completed" else None,
        external_id="d-crash",
        annotations=list(posted),
    )
    time.sleep(LEASE + 0.1)


def test_a_killed_job_resumes_on_its_run_without_repeating_annotations(
    make_app: Callable[..., Flask], start_consumer, fake_github, publish, backend
) -> None:
    # The killed attempt counts: a second one is allowed to resume it.
    app = make_app(immediate=False, job_lease_seconds=LEASE, job_attempts=2, **backend)
    commit = publish(noisy_files())
    expected = expected_annotations(commit.root)
    deliver(app, "push", push_payload(commit.sha), delivery="d-crash")
    crash_midway(app, fake_github, commit.sha, expected[:50], "in_progress")

    start_consumer(app)
    drain(app)
    [run] = fake_github.check_runs.values()
    assert (run.id, run.status) == (999, "completed")
    assert run.annotations == expected
    assert fake_github.calls_to("POST", RUNS) == []
    assert len(fake_github.calls_to("GET", LIST)) == 1
    [evaluation] = queue_of(app).store.evaluations_for(f"{OWNER}/{REPO}")
    assert (evaluation.status, evaluation.attempts, evaluation.check_run_id) == (
        EvaluationStatus.completed,
        2,
        999,
    )


def test_a_job_killed_after_completing_its_run_records_it_with_its_report(
    make_app: Callable[..., Flask], start_consumer, fake_github, publish
) -> None:
    app = make_app(immediate=False, job_lease_seconds=LEASE)
    commit = publish(SMALL)
    deliver(app, "push", push_payload(commit.sha), delivery="d-crash")
    crash_midway(app, fake_github, commit.sha, [], "completed")
    start_consumer(app)
    drain(app)
    # The run stays as students saw it; the report is made again for the dashboard.
    assert fake_github.calls_to("PATCH", RUN) == []
    assert fake_github.calls_to("POST", RUNS) == []
    [evaluation] = queue_of(app).store.evaluations_for(f"{OWNER}/{REPO}", with_reports=True)
    assert (evaluation.status, evaluation.conclusion) == (EvaluationStatus.completed, "neutral")
    assert (evaluation.check_run_id, evaluation.report is not None) == (999, True)


def test_a_lost_task_is_queued_again_and_a_duplicate_task_runs_once(
    make_app: Callable[..., Flask], start_consumer, fake_github, publish
) -> None:
    app = make_app(immediate=False, job_lease_seconds=LEASE)
    lost, doubled = publish(SMALL), publish({**SMALL, "README.md": "# two\n"})
    deliver(app, "push", push_payload(lost.sha, ref="refs/heads/a"))
    deliver(app, "push", push_payload(doubled.sha, ref="refs/heads/b"))
    queue = queue_of(app)
    # The first task vanished (e.g. Redis restarted without persistence); the second was
    # queued twice (a sweep racing a slow consumer).
    assert queue.huey.dequeue() is not None
    queue.enqueue(2, 0)
    time.sleep(LEASE + 0.1)
    start_consumer(app)
    drain(app)
    assert sorted(r.head_sha for r in fake_github.check_runs.values()) == sorted(
        [lost.sha, doubled.sha]
    )
    assert {r.status for r in fake_github.check_runs.values()} == {"completed"}


def test_a_worker_whose_lease_was_taken_over_stops_without_touching_the_run(
    make_app: Callable[..., Flask], fake_github, publish
) -> None:
    app = make_app(immediate=False, job_lease_seconds=LEASE)
    deliver(app, "push", push_payload(publish(SMALL).sha))
    services = app.extensions["mlops_mentor"]
    slow = services.store.claim_evaluation(1, 0, LEASE)
    assert slow is not None
    services.evaluator.leases.hold(slow.id, slow.attempts)
    # It stalled past its lease; a sweep gave the evaluation to another attempt.
    time.sleep(LEASE + 0.1)
    assert services.store.requeue(1, 1, LEASE)
    assert services.store.claim_evaluation(1, 1, LEASE) is not None
    Warden(services).renew()
    with pytest.raises(LeaseLost):
        services.evaluator.leases.check(slow.id)


def test_redis_lets_a_worker_on_another_machine_run_the_jobs(
    make_app: Callable[..., Flask], make_settings, fake_github, publish, redis_queue, tmp_path
) -> None:
    # Two machines share only Redis and the database; each has its own data folder.
    shared = {"redis_url": redis_queue, "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    web = make_app(immediate=False, data_dir=tmp_path / "web", **shared)
    assert isinstance(queue_of(web).huey, RedisHuey)
    worker = build_services(make_settings(data_dir=tmp_path / "worker", **shared))
    consumer = JobConsumer(worker, embedded=True, initial_delay=0.02)
    consumer.start()
    try:
        commits = [publish({**SMALL, "README.md": f"# {i}\n"}) for i in range(3)]
        for i, commit in enumerate(commits):
            deliver(web, "push", push_payload(commit.sha, ref=f"refs/heads/b{i}"))
        drain(web)
    finally:
        consumer.stop(timeout=10)
        worker.close()
    assert sorted(r.head_sha for r in fake_github.check_runs.values()) == sorted(
        c.sha for c in commits
    )
    assert {r.status for r in fake_github.check_runs.values()} == {"completed"}
    assert not (tmp_path / "web" / "queue.db").exists()
