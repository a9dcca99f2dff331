"""Fixtures for the GitHub App: a test key, a fake GitHub over HTTP, the app, signed posts."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from werkzeug.test import TestResponse

from github_app.consumer import JobConsumer
from github_app.dashboard import DashboardSettings
from github_app.review.settings import ReviewSettings
from github_app.settings import Settings
from github_app.web import EXTENSION, create_app
from tests.conftest import RepoFiles, write_files
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import APP_ID, OWNER, REPO, WEBHOOK_SECRET, deliver


@pytest.fixture(scope="session")
def rsa_key() -> tuple[str, bytes]:
    """A fresh RSA key for this test session: (private PEM text, public PEM bytes)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


@pytest.fixture
def fake_github(rsa_key: tuple[str, bytes]) -> Iterator[FakeGitHub]:
    """A strict fake GitHub API on 127.0.0.1 that knows the test app's public key."""
    fake = FakeGitHub(APP_ID, rsa_key[1]).start()
    yield fake
    fake.stop()


@pytest.fixture
def make_settings(
    rsa_key: tuple[str, bytes], fake_github: FakeGitHub, tmp_path: Path
) -> Callable[..., Settings]:
    """Settings pointing at the fake GitHub, with fast retries; keyword arguments override."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "app_id": APP_ID,
            "private_key": rsa_key[0],
            "webhook_secret": WEBHOOK_SECRET,
            "api_url": fake_github.url,
            "data_dir": tmp_path / "data",
            "http_retries": 0,
            "retry_backoff": 0,
            "http_timeout": 10,
            # One attempt: a GitHub failure ends the job at once (retry tests raise it).
            "job_attempts": 1,
            "job_retry_delay": 0.1,
        }
        return Settings(**{**values, **overrides})

    return make


@pytest.fixture
def make_app(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Flask]]:
    """Build the app with settings overrides; its store and queue are closed after the test.

    `immediate=True` (the default) runs each job in the delivering request's thread, with
    huey's immediate mode; `immediate=False` keeps the durable SQLite queue in the data
    folder, for a consumer to run (see `start_consumer`).
    """
    apps: list[Flask] = []

    def make(
        *,
        immediate: bool = True,
        review: ReviewSettings | None = None,
        dashboard: DashboardSettings | None = None,
        **overrides: Any,
    ) -> Flask:
        app = create_app(
            make_settings(**overrides), immediate=immediate, review=review, dashboard=dashboard
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions[EXTENSION].close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The app with default test settings, running jobs as they are delivered."""
    return make_app()


@pytest.fixture
def start_consumer() -> Iterator[Callable[[Flask], JobConsumer]]:
    """Start a real queue consumer (huey's threads and the warden) for an app built with
    `immediate=False`; stopped after the test."""
    started: list[JobConsumer] = []

    def start(app: Flask) -> JobConsumer:
        consumer = JobConsumer(app.extensions[EXTENSION], embedded=True, initial_delay=0.02)
        consumer.start()
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        consumer.stop(timeout=20)


@pytest.fixture
def signed_post(app: Flask) -> Callable[..., TestResponse]:
    """POST a webhook delivery to `app`, signed with the test secret unless told otherwise."""
    return partial(deliver, app)


@dataclass
class Commit:
    sha: str
    archive: bytes  # as GitHub serves it: .tar.gz with a top folder `{owner}-{repo}-{sha7}/`
    root: Path  # the working tree that was committed


@pytest.fixture
def git_commit(tmp_path: Path) -> Callable[..., Commit]:
    """Commit files to a real git repository and archive the commit like GitHub does."""
    counter = iter(range(1000))

    def commit(files: RepoFiles, owner: str = OWNER, repo: str = REPO) -> Commit:
        root = tmp_path / f"git{next(counter)}"
        root.mkdir()
        write_files(root, files)
        env = {
            "GIT_AUTHOR_NAME": "Student",
            "GIT_AUTHOR_EMAIL": "s@example.com",
            "GIT_COMMITTER_NAME": "Student",
            "GIT_COMMITTER_EMAIL": "s@example.com",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_NOSYSTEM": "1",
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        }

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
            ).stdout.strip()

        git("init", "-q", "-b", "main")
        git("add", "-A")
        git("commit", "-q", "-m", "work")
        sha = git("rev-parse", "HEAD")
        archive = subprocess.run(
            ["git", "archive", "--format=tar.gz", f"--prefix={owner}-{repo}-{sha[:7]}/", "HEAD"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        ).stdout
        return Commit(sha, archive, root)

    return commit
