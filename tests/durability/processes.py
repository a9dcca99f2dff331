"""The app as real processes, for tests that kill them: `mlops-mentor serve` (gunicorn, its
web workers and, unless told otherwise, its embedded consumers) and a separate
`mlops-mentor worker`, each in a process group of its own so that SIGKILL reaches every
process of it at once, as when a machine or a container dies.

A plugin of the root conftest: the fixtures serve the durability and the load tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.durability.conftest import free_port
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import process_env, sign

SERVE = "import sys; from github_app.serve import serve; sys.exit(serve(sys.argv[1:]))"
WORKER = "import sys; from github_app.cli import main; sys.exit(main(['worker']))"


class AppProcess:
    """One command of the app, started in its own process group."""

    def __init__(self, code: str, env: dict[str, str], log: Path) -> None:
        self.code = code
        self.env = env
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", self.code],
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL to every process of the group: nothing gets to clean up."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the process stalls (swapping, a frozen VM) without knowing it."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


class Server(AppProcess):
    """`mlops-mentor serve` with `workers` web workers (and as many embedded consumers) on
    a free port; ready once it answers."""

    def __init__(self, env: dict[str, str], log: Path, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        gunicorn = f"--bind 127.0.0.1:{self.port} --workers {workers}"
        super().__init__(SERVE, {**env, "GUNICORN_CMD_ARGS": gunicorn}, log)

    def start(self) -> None:
        super().start()
        wait_for(lambda: httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200, 20)


class Apps:
    """Starts the app's processes on one data folder; stops what is left at the end."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.started: list[AppProcess] = []

    def server(self, *, embedded_consumer: bool = True, workers: int = 2) -> Server:
        env = {**self.env, "MLOPS_MENTOR_EMBEDDED_CONSUMER": str(embedded_consumer).lower()}
        server = Server(env, self.log, workers)
        self.start(server)
        return server

    def worker(self) -> AppProcess:
        """`mlops-mentor worker`: consumers alone, beside a serve without its own."""
        worker = AppProcess(WORKER, self.env, self.log)
        self.start(worker)
        return worker

    def start(self, process: AppProcess) -> None:
        """Start `process`, again after a kill: it is stopped at the end."""
        process.start()
        if process not in self.started:
            self.started.append(process)

    def stop(self) -> None:
        for process in self.started:
            process.stop()


def wait_for(ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError("gave up waiting")


def post(url: str, body: bytes, delivery: str, timeout: float = 10) -> httpx.Response:
    """A push delivery, signed, as GitHub sends it."""
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(body),
        "Content-Type": "application/json",
    }
    return httpx.post(f"{url}/webhook", content=body, headers=headers, timeout=timeout)


@pytest.fixture
def server_env(rsa_key: tuple[str, bytes], fake_github: FakeGitHub, tmp_path: Path) -> dict:
    """The environment of the app's processes: the fake GitHub, a data folder in
    tmp_path, short leases, nothing of the caller's own configuration."""
    env = process_env(rsa_key[0], fake_github.url, tmp_path)
    env.update(
        MLOPS_MENTOR_WORKERS="2",
        # A killed job is taken up again 2 s after its worker's last sign of life.
        MLOPS_MENTOR_JOB_LEASE_SECONDS="2",
        MLOPS_MENTOR_HTTP_RETRIES="0",
    )
    return env


@pytest.fixture
def apps(server_env: dict, tmp_path: Path) -> Iterator[Apps]:
    started = Apps(server_env, tmp_path / "server.log")
    yield started
    started.stop()
