"""`serve()`: gunicorn with our configuration, refusing to start on a bad environment."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import process_env, sign

SERVE = "import sys; from github_app.serve import serve; sys.exit(serve(sys.argv[1:]))"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server_env(rsa_key: tuple[str, bytes], fake_github: FakeGitHub, tmp_path: Path) -> dict:
    return process_env(rsa_key[0], fake_github.url, tmp_path)


@pytest.fixture
def server(server_env: dict, tmp_path: Path) -> Iterator[str]:
    """`serve([])` in a subprocess, bound through GUNICORN_CMD_ARGS; yields its base URL."""
    port = free_port()
    env = {**server_env, "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --threads 4"}
    # A file, not a pipe: an unread pipe fills up and blocks the server's logging.
    log_path = tmp_path / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-c", SERVE], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        process.kill()
        process.wait()
        pytest.fail(f"server did not start: {log_path.read_text()[-2000:]}")
    yield url
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    log.close()


def test_serve_answers_webhooks_under_gunicorn(server: str) -> None:
    body = json.dumps({"zen": "Speak like a human.", "hook_id": 1}).encode()
    response = httpx.post(
        f"{server}/webhook",
        content=body,
        headers={
            "X-GitHub-Event": "ping",
            "X-GitHub-Delivery": "d-1",
            "X-Hub-Signature-256": sign(body),
        },
    )
    assert (response.status_code, response.json()["outcome"]) == (200, "pong")
    unsigned = httpx.post(f"{server}/webhook", content=body, headers={"X-GitHub-Event": "ping"})
    assert unsigned.status_code == 401


def test_access_log_leaves_out_query_strings(server: str, tmp_path: Path) -> None:
    """The sign-in callback's query carries GitHub's one-time code: never in the log."""
    code, state = "3f9a1c0d5e7b2a4c6e8f", "Zq8xW2vN5tR7yU1iO3pA"
    httpx.get(f"{server}/dashboard/login/callback", params={"code": code, "state": state})
    httpx.get(f"{server}/healthz")
    log = tmp_path / "server.log"
    deadline = time.monotonic() + 5
    while "/healthz" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = log.read_text()
    assert '"GET /dashboard/login/callback HTTP/1.1"' in text
    assert code not in text and state not in text


def test_the_image_healthcheck_command_passes_against_the_server(server: str) -> None:
    from tests.github.test_app_deploy import healthcheck_command

    port = server.rsplit(":", 1)[1]
    done = subprocess.run(
        healthcheck_command(), env={**os.environ, "PORT": port}, capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stderr


def test_oversize_delivery_is_refused_before_the_body_arrives(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
            b"X-Hub-Signature-256: sha256=00\r\nContent-Type: application/json\r\n"
            b"Content-Length: 26214401\r\n\r\n{"
        )
        # Only one byte of the 25 MB was sent: the answer cannot have waited for the rest.
        assert conn.recv(100).startswith(b"HTTP/1.1 413")


def test_serve_refuses_to_start_without_configuration(server_env: dict) -> None:
    del server_env["GITHUB_APP_ID"]
    done = subprocess.run(
        [sys.executable, "-c", SERVE], env=server_env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert done.stderr == "mlops-mentor: GITHUB_APP_ID: is required\n"


def test_plain_gunicorn_with_the_config_file_refuses_too(server_env: dict) -> None:
    server_env["GITHUB_WEBHOOK_SECRET"] = ""
    config = Path(__file__).resolve().parents[2] / "github_app" / "gunicorn.conf.py"
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(config)],
        env=server_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "mlops-mentor: GITHUB_WEBHOOK_SECRET: is required" in done.stderr
    assert "Traceback" not in done.stderr
