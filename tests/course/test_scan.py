"""`mlops-mentor scan`: one queued job per repository of an installation, from the fake GitHub."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from github_app.cli import main
from github_app.scan import scan
from github_app.store.course import CourseRecords
from github_app.web import EXTENSION
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import APP_ID, INSTALLATION, OWNER, WEBHOOK_SECRET, repository_id

GROUPS = [f"group-{n:03d}" for n in range(12)]
PAGE = 5  # three pages (GitHub's is 100 at most)


def _publish(fake: FakeGitHub) -> None:
    for n, repo in enumerate(GROUPS):
        fake.add_repository(
            OWNER,
            repo,
            repository_id=repository_id(OWNER, repo),
            installation=INSTALLATION,
            head=f"{n:040x}",
        )
    # An empty repository (no commit yet), and the organisation's configuration.
    fake.add_repository(OWNER, "empty", repository_id=1, installation=INSTALLATION)
    fake.add_repository(OWNER, ".github", repository_id=2, installation=INSTALLATION, head="f" * 40)
    # Another installation's repository is not listed.
    fake.add_repository("other-org", "theirs", repository_id=3, installation=99, head="e" * 40)


def test_scan_queues_one_job_per_repository(
    make_app: Callable[..., Flask], fake_github: FakeGitHub
) -> None:
    _publish(fake_github)
    app = make_app(immediate=False)  # no consumer: the jobs stay queued
    services = app.extensions[EXTENSION]
    CourseRecords(services.store).save_course_file(INSTALLATION, "branches: [main]\n")
    progress = io.StringIO()

    outcomes = scan(services, INSTALLATION, concurrency=4, stream=progress, page_size=PAGE)

    assert outcomes == {"queued": len(GROUPS), "empty": 1}
    assert services.store.unfinished_count() == len(GROUPS)
    assert services.queue.pending == len(GROUPS)
    lines = progress.getvalue().splitlines()
    # One line per repository with a default branch (the empty one too).
    assert len(lines) == len(GROUPS) + 1
    assert lines[-1].startswith(f"scan: {len(lines)}/{len(lines)} ")
    assert f"{OWNER}/group-000: queued" in progress.getvalue()
    evaluation = services.store.evaluations_for(f"{OWNER}/group-007")[0]
    assert (evaluation.sha, evaluation.branch, evaluation.status) == (f"{7:040x}", "main", "queued")
    # Paginated, and `.github` is not evaluated: its course file is read again instead.
    pages = fake_github.calls_to("GET", "/installation/repositories")
    assert [c.query["page"] for c in pages] == ["1", "2", "3"]
    assert CourseRecords(services.store).course_file(INSTALLATION).stale
    assert not services.store.evaluations_for(f"{OWNER}/.github")

    # Scanning again right away queues nothing new: the commits are already queued.
    again = scan(services, INSTALLATION, stream=io.StringIO(), page_size=PAGE)
    assert again == {"already evaluated": len(GROUPS), "empty": 1}


def test_scan_command(
    make_app: Callable[..., Flask],
    fake_github: FakeGitHub,
    rsa_key: tuple[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_github.add_repository(
        OWNER, "solo", repository_id=5, installation=INSTALLATION, head="a" * 40
    )
    for name, value in {
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_PRIVATE_KEY": rsa_key[0],
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GITHUB_API_URL": fake_github.url,
        "MLOPS_MENTOR_DATA_DIR": str(tmp_path / "scan-data"),
    }.items():
        monkeypatch.setenv(name, value)
    # Its own store and queue in the data folder, not a shared one CI's environment names.
    for shared in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(shared, raising=False)

    assert main(["scan", "--installation", str(INSTALLATION)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"Installation {INSTALLATION}: 1 queued."
    assert f"scan: 1/1 {OWNER}/solo: queued" in err
