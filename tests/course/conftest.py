"""A course on the fake GitHub: the organisation's course file, group pushes, the dashboard."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from github_app.dashboard import DashboardSettings
from github_app.web import EXTENSION
from tests.github.fake_github import CheckRunState, FakeGitHub
from tests.github.fixtures import Commit
from tests.github.github_helpers import (
    INSTALLATION,
    OWNER,
    REPO,
    deliver,
    drain,
    push_payload,
    repository_id,
)

ADMIN_TOKEN = "admin-token-for-course-tests-0123"
SMALL = {"README.md": "# MNIST\n", "src/mnist/__init__.py": '"""MNIST."""\n'}
CONFIG_REPO = ".github"
ORG_FILE = "mlops-mentor.yml"


@dataclass
class Course:
    """The app, the fake GitHub and helpers to act as the staff and the groups."""

    app: Flask
    github: FakeGitHub
    commit: Callable[..., Commit]
    shas: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> Any:
        return self.app.extensions[EXTENSION]

    def org_file(self, text: str | bytes, *, sha: str | None = None) -> None:
        """The course file on `.github`'s default branch (and at commit `sha`)."""
        for ref in (None, sha) if sha else (None,):
            self.github.add_file(
                OWNER,
                CONFIG_REPO,
                ORG_FILE,
                text if isinstance(text, bytes) else text.encode(),
                ref=ref,
                installation=INSTALLATION,
            )

    def push_org_file(self, text: str | bytes, *, sha: str) -> TestResponse:
        """The staff push a new course file to `.github`."""
        self.org_file(text, sha=sha)
        response = deliver(self.app, "push", push_payload(sha, repo=CONFIG_REPO))
        drain(self.app)
        return response

    def push(
        self,
        files: dict[str, str | bytes] | None = None,
        *,
        repo: str = REPO,
        branch: str = "main",
        pushed_at: datetime | None = None,
    ) -> tuple[TestResponse, str]:
        """A group pushes a commit; the delivery's answer and the commit id."""
        commit = self.commit(files or SMALL, repo=repo)
        self.github.add_commit(OWNER, repo, commit.sha, commit.archive, installation=INSTALLATION)
        payload = push_payload(commit.sha, ref=f"refs/heads/{branch}", repo=repo)
        if pushed_at is not None:
            payload["repository"]["pushed_at"] = int(pushed_at.timestamp())
        response = deliver(self.app, "push", payload)
        drain(self.app)
        return response, commit.sha

    def runs_on(self, sha: str, repo: str = REPO) -> list[CheckRunState]:
        return [r for r in self.github.check_runs.values() if (r.repo, r.head_sha) == (repo, sha)]

    def run_on(self, sha: str, repo: str = REPO) -> CheckRunState:
        runs = self.runs_on(sha, repo)
        assert len(runs) == 1, f"expected one run on {sha[:7]}, got {len(runs)}"
        return runs[0]

    def dashboard(self, path: str) -> TestResponse:
        return self.client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    @property
    def client(self) -> Any:
        if not hasattr(self, "_client"):
            self._client = self.app.test_client()
        return self._client

    def group_page(self, repo: str = REPO) -> str:
        response = self.dashboard(f"/dashboard/groups/{repository_id(OWNER, repo)}")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def decide_exemption(self, criterion: str, decision: str, repo: str = REPO) -> TestResponse:
        """Press Approve (or Revoke) on the group page, with the form's CSRF token."""
        page = self.group_page(repo)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        return self.client.post(
            f"/dashboard/groups/{repository_id(OWNER, repo)}/exemptions",
            data={"csrf_token": token.group(1), "criterion": criterion, "decision": decision},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )


@pytest.fixture
def course(
    make_app: Callable[..., Flask], fake_github: FakeGitHub, git_commit: Callable[..., Commit]
) -> Course:
    app = make_app(
        dashboard=DashboardSettings(admin_token=ADMIN_TOKEN),
        public_url="https://mentor.example.org",
    )
    return Course(app, fake_github, git_commit)
