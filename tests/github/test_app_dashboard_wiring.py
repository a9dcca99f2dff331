"""The app serves the dashboard next to the webhook: evaluations from pushes appear there."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from pydantic import SecretStr

from github_app.dashboard import DashboardSettings
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import OWNER, REPO, deliver, push_payload

TOKEN = "a-long-enough-admin-token-for-tests-0123456789"


def test_a_push_shows_up_on_the_dashboard(
    make_app: Callable[..., Flask], fake_github: FakeGitHub, git_commit
) -> None:
    app = make_app(dashboard=DashboardSettings(admin_token=SecretStr(TOKEN)))
    commit = git_commit({"README.md": "# Group 1\n", "Dockerfile": "FROM python:3.11-slim\n"})
    fake_github.add_commit(OWNER, REPO, commit.sha, commit.archive)
    answer = deliver(app, "push", push_payload(commit.sha))
    assert answer.status_code == 202
    client = app.test_client()
    assert client.get("/dashboard/").status_code == 302  # no session: to the login page
    page = client.get("/dashboard/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200
    assert f"{OWNER}/{REPO}" in page.get_data(as_text=True)


def test_behind_a_proxy_the_oauth_callback_uses_the_public_https_address(
    make_app: Callable[..., Flask],
) -> None:
    oauth = DashboardSettings(
        client_id="Iv1.course",
        client_secret=SecretStr("client-secret-for-the-tests-0123456789"),
        course_org="dtu-mlops",
        secret_key=SecretStr(TOKEN),
    )
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "mentor.dtu.dk"}
    for behind_proxy, expected in ((True, "https%3A%2F%2Fmentor.dtu.dk"), (False, "http%3A%2F%2F")):
        app = make_app(behind_proxy=behind_proxy, dashboard=oauth)
        start = app.test_client().get("/dashboard/login/github", headers=forwarded)
        assert start.status_code == 302
        assert f"redirect_uri={expected}" in start.headers["Location"]
