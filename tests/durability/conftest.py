"""Fixtures for the durability tests: a real `redis-server`, a published commit, a queued app.

The fake GitHub and the app fixtures come from `tests.github.fixtures` (a plugin of the
root conftest).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from tests.github.fake_github import FakeGitHub
from tests.github.fixtures import Commit
from tests.github.github_helpers import INSTALLATION, OWNER, REPO

Files = dict[str, str | bytes]
SMALL: Files = {"README.md": "# MNIST\n", "src/mnist/__init__.py": '"""MNIST."""\n'}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `redis-server` on a free loopback port, in a temporary folder, persisting
    nothing; skipped where the binary is missing, except under CI, where that fails."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing (install the redis-server package)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def publish(
    fake_github: FakeGitHub, git_commit: Callable[..., Commit]
) -> Callable[[Files], Commit]:
    """Commit files and make the commit downloadable from the fake GitHub."""

    def publish(files: Files) -> Commit:
        commit = git_commit(files)
        fake_github.add_commit(OWNER, REPO, commit.sha, commit.archive, installation=INSTALLATION)
        return commit

    return publish


@pytest.fixture
def queued_app(make_app: Callable[..., Flask], start_consumer: Callable) -> Callable[..., Flask]:
    """An app on the durable SQLite queue with a running consumer (real threads), fast
    retries and several attempts; keyword arguments override settings."""

    def make(**overrides: object) -> Flask:
        values: dict[str, object] = {"job_attempts": 4, "job_retry_delay": 0.2}
        app = make_app(immediate=False, **{**values, **overrides})
        start_consumer(app)
        return app

    return make
