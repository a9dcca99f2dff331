"""A delivery answered 202 is committed: `mlops-mentor serve` killed with SIGKILL (every
process of it) right after the answer still evaluates that push once started again.
The SQLite files run with WAL and synchronous=NORMAL, which survive a killed process."""

from __future__ import annotations

import json
from pathlib import Path

from github_app.store import Store, database_url
from tests.durability.conftest import SMALL
from tests.durability.processes import Apps, post, wait_for
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import push_payload


def test_push_acknowledged_just_before_sigkill_is_evaluated_after_restart(
    apps: Apps, fake_github: FakeGitHub, git_commit, tmp_path: Path
) -> None:
    commit = git_commit(SMALL)
    fake_github.add_commit("dtu-mlops-group-7", "mnist-project", commit.sha, commit.archive,
                           installation=77)  # fmt: skip
    # The job cannot finish before the kill: its download is slow.
    fake_github.delay_next("GET", r"/repos/.*/tarball/.*", 5, times=1)
    body = json.dumps(push_payload(commit.sha, ref="refs/heads/main")).encode()

    server = apps.server()
    assert post(server.url, body, "acked-then-killed").status_code == 202
    server.kill()

    store = Store(database_url(tmp_path / "data"))
    try:
        [evaluation] = store.evaluations_for("dtu-mlops-group-7/mnist-project")
        assert evaluation.sha == commit.sha and evaluation.delivery_id == "acked-then-killed"
    finally:
        store.close()

    apps.start(server)
    wait_for(
        lambda: [r.status for r in fake_github.check_runs.values()
                 if r.head_sha == commit.sha and r.status == "completed"] != [],
        60,
    )  # fmt: skip
    runs = [r for r in fake_github.check_runs.values() if r.head_sha == commit.sha]
    assert [r.status for r in runs] == ["completed"]
