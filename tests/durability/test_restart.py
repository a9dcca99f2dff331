"""The real thing: `mlops-mentor serve` (gunicorn, two workers, embedded consumers) killed
with SIGKILL in the middle of a burst of pushes, then started again on the same data.
Against the fake GitHub: every push ends with exactly one completed check run, none is
left in progress, and redelivering everything adds nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.durability.conftest import SMALL, free_port
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import APP_ID, WEBHOOK_SECRET, push_payload, sign

SERVE = "import sys; from github_app.serve import serve; sys.exit(serve(sys.argv[1:]))"
PUSHES = 12


class Server:
    """`mlops-mentor serve` in its own process group, so SIGKILL reaches every process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log_path = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        env = {**self.env, "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{self.port} --workers 2"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVE],
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_for(lambda: httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200, 20)
        return self

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


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


@pytest.fixture
def server_env(rsa_key: tuple[str, bytes], fake_github: FakeGitHub, tmp_path: Path) -> dict:
    key = tmp_path / "app.pem"
    key.write_text(rsa_key[0])
    hidden = ("GITHUB_", "MLOPS_", "DATABASE_URL", "REDIS_URL", "PROMETHEUS_", "GUNICORN_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(hidden)}
    env.update(
        GITHUB_APP_ID=str(APP_ID),
        GITHUB_PRIVATE_KEY_PATH=str(key),
        GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
        GITHUB_API_URL=fake_github.url,
        MLOPS_MENTOR_DATA_DIR=str(tmp_path / "data"),
        MLOPS_MENTOR_WORKERS="2",
        # A killed job is taken up again 2 s after its worker's last sign of life.
        MLOPS_MENTOR_JOB_LEASE_SECONDS="2",
        MLOPS_MENTOR_HTTP_RETRIES="0",
    )
    return env


@pytest.fixture
def servers(server_env: dict, tmp_path: Path) -> Iterator[Callable[[], Server]]:
    started: list[Server] = []

    def start() -> Server:
        server = Server(server_env, tmp_path / "server.log").start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def post(url: str, body: bytes, delivery: str) -> httpx.Response:
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(body),
        "Content-Type": "application/json",
    }
    return httpx.post(f"{url}/webhook", content=body, headers=headers, timeout=10)


def test_sigkill_mid_burst_loses_nothing_and_leaves_nothing_spinning(
    servers, fake_github: FakeGitHub, git_commit, tmp_path: Path
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

    server = servers()
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
    server = servers()
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
