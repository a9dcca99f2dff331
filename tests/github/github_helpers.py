"""Helpers for the GitHub App tests: constants, signatures, payloads shaped like GitHub's."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import tarfile
import uuid
import zlib
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.test import TestResponse

from checks import evaluate
from checks.profile import course_profile
from github_app.checkrun import CheckAnnotation
from github_app.jobs import HueyJobQueue
from github_app.web import EXTENSION

APP_ID = 4242
INSTALLATION = 77
WEBHOOK_SECRET = "whsec-test-1f2e3d4c5b6a"
OWNER = "dtu-mlops-group-7"
REPO = "mnist-project"
# The caller's own configuration, never passed on to an app process a test starts.
_OWN_CONFIGURATION = (
    "GITHUB_", "MLOPS_", "DATABASE_URL", "REDIS_URL", "PROMETHEUS_", "GUNICORN_", "LLM_",
)  # fmt: skip


def process_env(private_key: str, github_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of an app process a test starts: the app's key (written to a file),
    the fake GitHub, a data folder in tmp_path and nothing of the caller's configuration."""
    key = tmp_path / "app.pem"
    key.write_text(private_key)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_CONFIGURATION)}
    env.update(
        GITHUB_APP_ID=str(APP_ID),
        GITHUB_PRIVATE_KEY_PATH=str(key),
        GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
        GITHUB_API_URL=github_url,
        MLOPS_MENTOR_DATA_DIR=str(tmp_path / "data"),
    )
    return env


def queue_of(app: Flask) -> HueyJobQueue:
    return app.extensions[EXTENSION].queue


def drain(app: Flask, timeout: float = 20) -> None:
    """Wait until every evaluation the app recorded has finished (in any process)."""
    assert queue_of(app).join(timeout), "jobs did not finish in time"


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(
    app: Flask,
    event: str,
    payload: dict[str, Any] | bytes,
    *,
    delivery: str | None = None,
    signature: str | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """POST a webhook delivery as GitHub does, signed with the test secret unless told otherwise."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "123456",
        "X-Hub-Signature-256": sign(body) if signature is None else signature,
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/abc1234",
        **(headers or {}),
    }
    return app.test_client().post("/webhook", data=body, headers=sent)


def tarball(entries: dict[str, bytes], top: str) -> bytes:
    """A .tar.gz written entry by entry (names used as given, so `..` can be tested)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name if name.startswith(("/", "..")) else f"{top}/{name}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def repository_id(owner: str = OWNER, repo: str = REPO) -> int:
    """GitHub's id of a repository: one per owner/name here, as on GitHub."""
    return zlib.crc32(f"{owner}/{repo}".encode())


def repository(owner: str = OWNER, repo: str = REPO) -> dict[str, Any]:
    """A repository object shaped like GitHub's (fields beyond the ones we use included)."""
    return {
        "id": repository_id(owner, repo),
        "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
        "name": repo,
        "full_name": f"{owner}/{repo}",
        "private": True,
        "owner": {"login": owner, "id": 21031067, "type": "Organization"},
        "html_url": f"https://github.com/{owner}/{repo}",
        "default_branch": "main",
    }


def push_payload(
    sha: str,
    *,
    ref: str = "refs/heads/main",
    before: str = "a" * 40,
    installation: int = INSTALLATION,
    owner: str = OWNER,
    repo: str = REPO,
) -> dict[str, Any]:
    """A push event like GitHub sends it to an app (deletions: `sha` of 40 zeros)."""
    deleted = set(sha) == {"0"}
    head = None if deleted else {"id": sha, "message": "work", "timestamp": "2024-01-09T10:00:00Z"}
    return {
        "ref": ref,
        "before": before,
        "after": sha,
        "created": set(before) == {"0"},
        "deleted": deleted,
        "forced": False,
        "base_ref": None,
        "compare": f"https://github.com/{owner}/{repo}/compare/{before[:12]}...{sha[:12]}",
        "commits": [] if deleted else [head],
        "head_commit": head,
        "repository": repository(owner, repo),
        "pusher": {"name": "student", "email": "s@example.com"},
        "sender": {"login": "student", "id": 1, "type": "User"},
        "installation": {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="},
    }


def check_run_payload(
    sha: str, action: str = "rerequested", *, installation: int = INSTALLATION
) -> dict[str, Any]:
    """A check_run event for a run of ours on `sha`."""
    return {
        "action": action,
        "check_run": {
            "id": 128620228,
            "head_sha": sha,
            "external_id": "",
            "status": "completed",
            "conclusion": "neutral",
            "name": "MLOps Mentor",
            "check_suite": {"id": 118578147, "head_branch": "main", "head_sha": sha},
            "app": {"id": APP_ID, "slug": "mlops-mentor"},
            "pull_requests": [],
        },
        "repository": repository(),
        "sender": {"login": "student", "id": 1, "type": "User"},
        "installation": {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="},
    }


def check_suite_payload(
    sha: str, action: str, *, installation: int = INSTALLATION
) -> dict[str, Any]:
    """A check_suite event on `sha`."""
    return {
        "action": action,
        "check_suite": {
            "id": 118578147,
            "head_branch": "main",
            "head_sha": sha,
            "status": "requested" if action == "requested" else "completed",
            "conclusion": None,
            "app": {"id": APP_ID, "slug": "mlops-mentor"},
            "pull_requests": [],
        },
        "repository": repository(),
        "sender": {"login": "student", "id": 1, "type": "User"},
        "installation": {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="},
    }


def noisy_files(functions: int = 40, requirements: int = 30) -> dict[str, str]:
    """A small project with well over 50 annotations (lint, missing docstrings, unpinned deps)."""
    code = ["import os, sys"] + [
        f"def f{i}(a,b):\n    x=1\n    return a+b\n" for i in range(functions)
    ]
    return {
        "README.md": "# MNIST\n",
        "src/mnist/model.py": "\n".join(code),
        "requirements.txt": "\n".join(f"package{i}" for i in range(requirements)) + "\n",
    }


def expected_annotations(root: Path) -> list[dict[str, Any]]:
    """What the app should post for the tree at `root`: the engine's annotations, in order."""
    report = evaluate(root, course_profile())
    return [CheckAnnotation.of(a).model_dump(exclude_none=True) for a in report.annotations()]
