"""The operations around the queue: `mlops-mentor worker` consuming alone, `mlops-mentor
purge`, and the AI review queued as its own task after the main run."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from github_app.review.checkrun import RUN_SUFFIX
from github_app.review.settings import ReviewSettings
from github_app.store import RepositoryInfo, Store, database_url
from tests.durability.conftest import SMALL
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import (
    deliver,
    drain,
    process_env,
    push_payload,
)
from tests.review.fake_llm import FakeLLM

CLI = [sys.executable, "-m", "github_app.cli"]


@pytest.fixture
def cli_env(rsa_key: tuple[str, bytes], fake_github: FakeGitHub, tmp_path: Path) -> dict:
    return process_env(rsa_key[0], fake_github.url, tmp_path)


def test_a_separate_worker_process_runs_what_the_web_process_queued(
    make_app, cli_env: dict, fake_github: FakeGitHub, publish, tmp_path: Path
) -> None:
    # The web process (this one) only queues; the worker shares its data folder.
    app: Flask = make_app(immediate=False, embedded_consumer=False)
    commit = publish(SMALL)
    assert deliver(app, "push", push_payload(commit.sha)).json["outcome"] == "queued"
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen([*CLI, "worker", "--workers", "1"], env=cli_env, stdout=log,
                              stderr=log)  # fmt: skip
    try:
        drain(app, timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=30)
        log.close()
    assert code == 0, (tmp_path / "worker.log").read_text()[-2000:]
    [run] = fake_github.check_runs.values()
    assert (run.head_sha, run.status) == (commit.sha, "completed")
    # Its metrics land beside serve's, in the data folder.
    assert list((tmp_path / "data" / "metrics").glob("*.db"))


def test_worker_refuses_a_bad_option_in_one_line(cli_env: dict) -> None:
    done = subprocess.run(
        [*CLI, "worker", "--workers", "0"], env=cli_env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.startswith("mlops-mentor: --workers:")


def test_purge_deletes_what_is_older_than_the_retention(cli_env: dict, tmp_path: Path) -> None:
    now = [datetime.now(UTC) - timedelta(days=400)]
    store = Store(database_url(tmp_path / "data"), clock=lambda: now[0])
    store.migrate()
    repo = RepositoryInfo(id=1, full_name="group/project")
    store.start_evaluation(1, repo, "a" * 40, "main")
    now[0] = datetime.now(UTC)
    store.start_evaluation(1, repo, "b" * 40, "main")
    # Only the store's settings are needed: no app credentials in a cron job.
    env = {k: v for k, v in cli_env.items() if not k.startswith("GITHUB_")}
    done = subprocess.run([*CLI, "purge"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Deleted what is older than 365 days: 1 evaluations,")
    assert [e.sha for e in store.evaluations_for("group/project")] == ["b" * 40]
    again = subprocess.run([*CLI, "purge", "--days", "0"], env=env, capture_output=True, text=True)
    assert again.returncode == 2
    assert again.stderr == "mlops-mentor: --days: must be a number of days above 0\n"
    store.close()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    yield fake
    fake.stop()


def test_the_ai_review_is_its_own_task_after_the_main_run(
    make_app, fake_github: FakeGitHub, fake_llm: FakeLLM, publish, tmp_path: Path
) -> None:
    review = ReviewSettings(
        base_url=fake_llm.base_url, model="test-model", timeout=5, data_dir=tmp_path / "data"
    )
    app = make_app(review=review)
    commit = publish(SMALL)
    deliver(app, "push", push_payload(commit.sha))
    drain(app)
    runs = sorted(fake_github.check_runs.values(), key=lambda r: r.id)
    assert [r.name for r in runs] == ["MLOps Mentor", "MLOps Mentor" + RUN_SUFFIX]
    assert {r.status for r in runs} == {"completed"}
    # The main run was complete before the review's run was created.
    creates = [i for i, c in enumerate(fake_github.calls) if c.method == "POST" and
               c.path.endswith("/check-runs")]  # fmt: skip
    main_done = max(i for i, c in enumerate(fake_github.calls) if c.method == "PATCH"
                    and c.path.endswith(f"/{runs[0].id}"))  # fmt: skip
    assert creates[1] > main_done
    assert fake_llm.requests


def test_no_review_off_the_default_branch_when_so_configured(
    make_app, fake_github: FakeGitHub, fake_llm: FakeLLM, publish, tmp_path: Path
) -> None:
    review = ReviewSettings(
        base_url=fake_llm.base_url,
        model="test-model",
        default_branch_only=True,
        data_dir=tmp_path / "data",
    )
    app = make_app(review=review)
    deliver(app, "push", push_payload(publish(SMALL).sha, ref="refs/heads/feature"))
    drain(app)
    assert [r.name for r in fake_github.check_runs.values()] == ["MLOps Mentor"]
    assert fake_llm.requests == []
