"""Faults of GitHub, the store and the disk, each injected into a real run against the
fake GitHub (real HTTP on loopback), through the durable queue and a running consumer.

After each: every accepted delivery ends in exactly one completed check run (or, when
the app lost access to the repository, a failed evaluation logged with the reason),
nothing is left `in_progress`, and no commit gets a second run.

Already proven elsewhere and not repeated here: SIGKILL of `serve` mid-burst
(`tests/durability/test_restart.py`), a job killed mid-run resuming on its run
(`tests/durability/test_recovery.py`), 502 / failed create / 403 secondary rate limit /
permanent failure (`tests/durability/test_retries.py`)."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from github_app.store import EvaluationStatus
from github_app.web import EXTENSION
from github_app.worker import COULD_NOT_FINISH
from tests.durability.conftest import SMALL
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import INSTALLATION, OWNER, REPO, deliver, drain, push_payload

TOKEN = r"/app/installations/\d+/access_tokens"
CREATE = r"/repos/[^/]+/[^/]+/check-runs"
RUN = r"/repos/[^/]+/[^/]+/check-runs/\d+"
TARBALL = r"/repos/[^/]+/[^/]+/tarball/.*"
DOWNLOAD = r"/_codeload/.*"


def assert_one_completed_run_each(fake: FakeGitHub, shas: list[str]) -> None:
    runs = list(fake.check_runs.values())
    assert sorted(r.head_sha for r in runs) == sorted(shas), "one run per commit, no duplicate"
    assert [r.status for r in runs] == ["completed"] * len(shas), [r.output for r in runs]


def evaluations(app: Flask) -> list[Any]:
    return app.extensions[EXTENSION].store.evaluations_for(f"{OWNER}/{REPO}")


def statuses(app: Flask) -> list[str]:
    store = app.extensions[EXTENSION].store
    return [str(e.status) for e in store.unfinished_evaluations()]


FAULTS: dict[str, Callable[[FakeGitHub], object]] = {
    "500 minting the token": lambda f: f.fail_next("POST", TOKEN, 500),
    "500 creating the run": lambda f: f.fail_next("POST", CREATE, 500),
    "502 on the tarball": lambda f: f.fail_next("GET", TARBALL, 502),
    "503 completing the run": lambda f: f.fail_next("PATCH", RUN, 503, times=2),
    "timeout on the tarball": lambda f: f.delay_next("GET", TARBALL, 2.0),
    "timeout completing the run": lambda f: f.delay_next("PATCH", RUN, 2.0),
    "connection closed creating the run": lambda f: f.drop_next("POST", CREATE),
    "connection closed on the download": lambda f: f.drop_next("GET", DOWNLOAD),
    "connection closed completing the run": lambda f: f.drop_next("PATCH", RUN),
    "403 secondary rate limit": lambda f: f.fail_next(
        "POST",
        CREATE,
        403,
        body={"message": "You have exceeded a secondary rate limit."},
        headers={"Retry-After": "1"},
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_transient_fault_is_retried_into_one_completed_run(
    queued_app, fake_github: FakeGitHub, publish, fault: str
) -> None:
    app = queued_app(http_timeout=0.5)
    commit = publish({**SMALL, "README.md": f"# {fault}\n"})
    FAULTS[fault](fake_github)
    assert deliver(app, "push", push_payload(commit.sha)).status_code == 202
    drain(app, timeout=30)

    # The fault really happened.
    assert all(f.times == 0 for f in fake_github._faults)
    assert_one_completed_run_each(fake_github, [commit.sha])
    [run] = fake_github.check_runs.values()
    assert run.output["title"] != COULD_NOT_FINISH, run.output["summary"]
    [evaluation] = evaluations(app)
    assert (evaluation.status, evaluation.check_run_id) == (EvaluationStatus.completed, run.id)
    assert statuses(app) == []


def test_a_commit_force_pushed_away_completes_neutral_saying_so(
    queued_app, fake_github: FakeGitHub, publish
) -> None:
    app = queued_app()
    publish(SMALL)  # the repository exists; the pushed commit is gone (404)
    gone = "0badc0de" * 5
    assert deliver(app, "push", push_payload(gone)).status_code == 202
    drain(app)

    assert_one_completed_run_each(fake_github, [gone])
    [run] = fake_github.check_runs.values()
    assert (run.conclusion, run.output["title"]) == ("neutral", COULD_NOT_FINISH)
    assert "GitHub answered 404 to GET" in run.output["summary"]
    # A 404 is final: asked for once, not retried.
    assert len(fake_github.calls_to("GET", TARBALL)) == 1


def test_a_422_on_the_annotations_completes_neutral_with_the_reason(
    queued_app, fake_github: FakeGitHub, publish
) -> None:
    app = queued_app()
    commit = publish({**SMALL, "src/mnist/model.py": "import os, sys\n"})
    fake_github.fail_next(
        "PATCH",
        RUN,
        422,
        body={"message": "Invalid request.", "errors": ["output.annotations[0].path"]},
    )
    assert deliver(app, "push", push_payload(commit.sha)).status_code == 202
    drain(app)

    assert_one_completed_run_each(fake_github, [commit.sha])
    [run] = fake_github.check_runs.values()
    assert (run.conclusion, run.output["title"]) == ("neutral", COULD_NOT_FINISH)
    assert "GitHub answered 422 to PATCH" in run.output["summary"]
    assert len(fake_github.calls_to("PATCH", RUN)) == 2  # the refused one, then the reason


def test_installation_removed_mid_job_is_a_logged_failure_then_a_purge(
    queued_app, fake_github: FakeGitHub, publish, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="mlops_mentor")
    app = queued_app()
    commit = publish(SMALL)
    fake_github.delay_next("GET", TARBALL, 1.0)
    assert deliver(app, "push", push_payload(commit.sha)).status_code == 202
    deadline = time.monotonic() + 10
    while not fake_github.check_runs and time.monotonic() < deadline:
        time.sleep(0.02)
    # The student uninstalls the app while the job downloads: the token stops working (401)
    # and no new one can be minted (404).
    fake_github.installations.discard(INSTALLATION)
    fake_github.expire_tokens()
    drain(app)

    [evaluation] = evaluations(app)
    assert evaluation.status == EvaluationStatus.failed
    assert "GitHub answered 401" in (evaluation.error or "")
    jobs = [
        json.loads(r.getMessage()) for r in caplog.records if '"event": "job"' in r.getMessage()
    ]
    assert [(j["outcome"], j["sha"]) for j in jobs] == [("error", commit.sha)]
    assert statuses(app) == []
    # A 401 is final: no retry loop against a removed installation.
    assert len(fake_github.calls_to("POST", TOKEN)) <= 2

    # The run GitHub showed stays as it was: the app may no more touch the repository.
    # GitHub then tells the app; everything of the installation is purged.
    uninstall = {"action": "deleted", "installation": {"id": INSTALLATION}}
    assert deliver(app, "installation", uninstall).json["outcome"] == "purged"
    assert evaluations(app) == []


def lock_database(app: Flask, seconds: float) -> threading.Thread:
    """Hold the SQLite store's write lock from another connection for `seconds`."""
    url = app.extensions[EXTENSION].store.engine.url
    locked = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(url.database, timeout=30)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        conn.rollback()
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    return thread


def test_a_locked_database_delays_but_loses_nothing(
    queued_app, fake_github: FakeGitHub, publish
) -> None:
    app = queued_app()
    first, second = (
        publish({**SMALL, "README.md": "# 1\n"}),
        publish({**SMALL, "README.md": "# 2\n"}),
    )
    fake_github.delay_next("GET", TARBALL, 0.5)
    assert deliver(app, "push", push_payload(first.sha)).status_code == 202
    while not fake_github.check_runs:
        time.sleep(0.02)
    # Locked while a job is mid-run and while another delivery arrives: both wait their turn.
    holder = lock_database(app, 1.5)
    started = time.perf_counter()
    response = deliver(app, "push", push_payload(second.sha, ref="refs/heads/other"))
    assert response.status_code == 202, response.json
    assert time.perf_counter() - started >= 1.0
    holder.join()
    drain(app)

    assert_one_completed_run_each(fake_github, [first.sha, second.sha])
    assert all(r.output["title"] != COULD_NOT_FINISH for r in fake_github.check_runs.values())
    assert statuses(app) == []
