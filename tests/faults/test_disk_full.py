"""The disk filling up during a job, through the whole app: the job's workspace is a
1 MB tmpfs (private user and mount namespaces: no root, no mock), the app runs in that
child process against the fake GitHub of this one over loopback. The run completes
`neutral` saying what happened; nothing is left `in_progress`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.github.fake_github import FakeGitHub
from tests.github.fixtures import Commit
from tests.github.github_helpers import APP_ID, INSTALLATION, OWNER, REPO, WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from github_app.web import EXTENSION, create_app
    from github_app.settings import Settings
    from tests.github.github_helpers import deliver, drain, push_payload
    values = json.loads(sys.argv[1])
    app = create_app(Settings(**values), immediate=True)
    response = deliver(app, "push", push_payload(sys.argv[2]))
    drain(app)
    print(json.dumps({"status": response.status_code}))
    app.extensions[EXTENSION].close()
    """
)
MOUNT = 'mkdir -p "$1" && mount -t tmpfs -o size=1m tmpfs "$1" && shift && exec "$@"'


@pytest.mark.parametrize(
    ("content", "title", "says"),
    [
        # 2 MB of zeros: a tiny download, a full disk while extracting.
        (bytes(512 * 1024), "Repository too large to evaluate", "ran out of disk space"),
        # 2 MB of noise: the download itself fills the disk.
        (None, "The evaluation could not finish", "No space left on device"),
    ],
    ids=["extracting", "downloading"],
)
def test_a_full_disk_ends_in_a_completed_run_that_says_so(
    fake_github: FakeGitHub,
    git_commit: Callable[..., Commit],
    rsa_key: tuple[str, bytes],
    tmp_path: Path,
    content: bytes | None,
    title: str,
    says: str,
) -> None:
    commit = git_commit({f"w{n}.bin": content or os.urandom(512 * 1024) for n in range(4)})
    fake_github.add_commit(OWNER, REPO, commit.sha, commit.archive, installation=INSTALLATION)
    data = tmp_path / "data"
    values = {
        "app_id": APP_ID,
        "private_key": rsa_key[0],
        "webhook_secret": WEBHOOK_SECRET,
        "api_url": fake_github.url,
        "data_dir": str(data),
        "http_retries": 0,
        "job_attempts": 1,
    }
    wrap = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", MOUNT, "sh"]
    command = [*wrap, str(data / "work"), sys.executable, "-c", CHILD, json.dumps(values)]
    try:
        child = subprocess.run(
            [*command, commit.sha], capture_output=True, text=True, timeout=60, cwd=ROOT
        )
    except FileNotFoundError:
        pytest.skip("unshare is not installed")
    if child.returncode != 0 and "mount" in child.stderr and not child.stdout:
        pytest.skip(f"cannot mount a small tmpfs here: {child.stderr.strip()[-300:]}")
    assert json.loads(child.stdout.splitlines()[-1]) == {"status": 202}, child.stderr[-2000:]

    [run] = fake_github.check_runs.values()
    assert (run.status, run.conclusion) == ("completed", "neutral")
    assert run.output["title"] == title
    assert says in run.output["summary"]
