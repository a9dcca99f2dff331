"""The progress issue end to end: pushes in, one issue per group on the fake GitHub (real
HTTP), edited never duplicated, left alone once closed, skipped when GitHub refuses, and
the deadline reminders posted once each."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from githubkit import GitHub
from githubkit.exception import RequestFailed

from checks.render.progress import PROGRESS_MARKER, PROGRESS_TITLE
from github_app.client import GitHubApp
from github_app.consumer import Warden
from github_app.progress_issue import ProgressIssues, ProgressTarget
from github_app.services import Services
from github_app.store.progress import ProgressRecords
from github_app.web import EXTENSION
from tests.github.fake_github import Call, FakeGitHub
from tests.github.fake_issues import IssueState
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

DEADLINE = datetime(2027, 1, 22, 23, 59, tzinfo=UTC)
COURSE_FILE = f"progress_issue: true\ndeadline: {DEADLINE.isoformat()}\n"
SMALL = {"README.md": "# MNIST\n", "src/mnist/__init__.py": '"""MNIST."""\n'}
BETTER = {**SMALL, ".gitignore": ".venv/\n__pycache__/\n.env\n"}
ISSUES = rf"/repos/{OWNER}/{REPO}/issues"


@dataclass
class Group:
    """The app, the fake GitHub and a group that pushes to its repository."""

    app: Flask
    github: FakeGitHub
    commit: Callable[..., Commit]
    pushes: int = 0

    @property
    def services(self) -> Services:
        return self.app.extensions[EXTENSION]

    def course_file(self, text: str) -> None:
        self.github.add_file(
            OWNER, ".github", "mlops-mentor.yml", text.encode(), installation=INSTALLATION
        )

    def push(self, files: dict[str, str] | None = None, branch: str = "main") -> str:
        # A new commit each time (the same tree twice would be the same, deduplicated, sha).
        self.pushes += 1
        commit = self.commit({**(files or SMALL), "NOTES.md": f"push {self.pushes}\n"})
        self.github.add_commit(OWNER, REPO, commit.sha, commit.archive, installation=INSTALLATION)
        deliver(self.app, "push", push_payload(commit.sha, ref=f"refs/heads/{branch}"))
        drain(self.app)
        run = next(r for r in self.github.check_runs.values() if r.head_sha == commit.sha)
        # Whatever happens to the issue, the run is complete as usual.
        assert run.status == "completed" and run.conclusion in ("success", "neutral", "failure")
        return commit.sha

    def issues(self) -> list[IssueState]:
        return self.github.issues_of(OWNER, REPO)

    def calls(self, method: str, path: str = ISSUES + r".*") -> list[Call]:
        return self.github.calls_to(method, path)

    def progress(self, clock: Callable[[], datetime]) -> ProgressIssues:
        """The app's progress issues with a clock of the test's."""
        return ProgressIssues(self.services.store, self.services.courses, clock=clock)

    def client(self) -> GitHub:
        return GitHubApp(self.services.settings).installation(INSTALLATION)


TARGET = ProgressTarget(
    installation=INSTALLATION,
    repository_id=repository_id(),
    owner=OWNER,
    repo=REPO,
    default_branch="main",
)


@pytest.fixture
def group(make_app, fake_github: FakeGitHub, git_commit) -> Group:
    found = Group(make_app(), fake_github, git_commit)
    found.course_file(COURSE_FILE)
    return found


def progress_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    lines = []
    for record in caplog.records:
        message = record.getMessage()
        if message.startswith("{") and '"progress_issue"' in message:
            lines.append(json.loads(message))
    return lines


def test_first_evaluation_creates_the_issue_and_later_ones_edit_it(group: Group) -> None:
    first = group.push()
    [issue] = group.issues()
    assert issue.title == PROGRESS_TITLE
    assert issue.creator == group.github.bot_login and issue.via_app
    assert issue.body.startswith(PROGRESS_MARKER)
    assert f"at `{first[:7]}`" in issue.body
    assert "- [ ] **Repository hygiene**" in issue.body
    assert "### What to do next" in issue.body and "**Deadline:** Fri 22 Jan 2027" in issue.body

    second = group.push(BETTER)
    third = group.push(BETTER)
    assert [i.number for i in group.issues()] == [issue.number]
    assert len(group.calls("POST", ISSUES)) == 1
    assert issue.edits == 2
    assert f"at `{third[:7]}`" in issue.body and second != third
    assert "- [x] **Repository hygiene**" in issue.body
    record = ProgressRecords(group.services.store).issue(repository_id())
    assert record is not None and (record.number, record.state) == (issue.number, "open")


def test_without_progress_issue_the_app_never_touches_issues(group: Group) -> None:
    group.course_file("deadline: 2027-01-22T23:59:00+01:00\n")
    group.push()
    assert group.calls("POST") == [] and group.calls("GET") == group.calls("PATCH") == []
    assert group.github.calls_to("GET", "/app") == []


def test_a_push_to_another_branch_leaves_the_issue_alone(group: Group) -> None:
    group.push(branch="feature/data")
    assert group.issues() == []
    group.push()
    group.push(BETTER, branch="feature/data")
    [issue] = group.issues()
    assert issue.edits == 0


def test_a_closed_issue_is_never_edited_reopened_or_replaced(group: Group) -> None:
    group.push()
    [issue] = group.issues()
    issue.state = "closed"  # a student closes it on GitHub
    group.push(BETTER)
    group.push(BETTER)
    assert [(i.number, i.state, i.edits) for i in group.issues()] == [(issue.number, "closed", 0)]
    assert group.calls("PATCH") == [] and len(group.calls("POST", ISSUES)) == 1
    # Known closed: the later push did not even ask GitHub.
    assert len(group.calls("GET", rf"{ISSUES}/\d+")) == 1


def test_a_store_that_lost_the_number_finds_the_apps_issue_by_its_marker(group: Group) -> None:
    gh = group.github
    gh.add_issue(OWNER, REPO, "Copy", body=f"{PROGRESS_MARKER} pasted by a student")
    gh.add_issue(OWNER, REPO, "Fix", body=PROGRESS_MARKER, creator=gh.bot_login, pull_request=True)
    ours = gh.add_issue(
        OWNER, REPO, PROGRESS_TITLE, body=f"{PROGRESS_MARKER}\nold", creator=gh.bot_login
    )
    gh.add_issue(OWNER, REPO, "Bug", body="unrelated", creator=gh.bot_login)

    sha = group.push()

    assert len(group.issues()) == 3 and group.calls("POST", ISSUES) == []
    issue = next(i for i in group.issues() if i.number == ours)
    assert issue.edits == 1 and f"at `{sha[:7]}`" in issue.body
    [listing] = group.calls("GET", ISSUES)
    assert listing.query == {
        "state": "all",
        "creator": "mlops-mentor[bot]",
        "per_page": "100",
        "page": "1",
    }
    assert ProgressRecords(group.services.store).issue(repository_id()).number == ours


def test_issues_switched_off_skip_the_repository_with_one_log_line(
    group: Group, caplog: pytest.LogCaptureFixture
) -> None:
    group.github.issues_disabled.add((OWNER, REPO))
    with caplog.at_level(logging.INFO, logger="mlops_mentor"):
        group.push()
    assert group.issues() == []
    assert [c.status for c in group.calls("POST", ISSUES)] == [410]
    [line] = progress_lines(caplog)
    assert line["outcome"] == "issues_disabled" and line["repo"] == f"{OWNER}/{REPO}"
    assert "410" in line["error"] and "ghs_" not in json.dumps(line)

    # Switched on again: the next evaluation creates it.
    group.github.issues_disabled.clear()
    group.push()
    assert len(group.issues()) == 1


def test_without_the_issues_permission_the_run_is_unaffected_and_it_is_logged(
    group: Group, caplog: pytest.LogCaptureFixture
) -> None:
    group.github.issue_permissions[INSTALLATION] = None
    with caplog.at_level(logging.INFO, logger="mlops_mentor"):
        group.push()
    assert [line["outcome"] for line in progress_lines(caplog)] == ["forbidden"]
    assert [c.status for c in group.calls("GET", ISSUES)] == [403]
    assert group.calls("POST", ISSUES) == []
    # The staff grant Issues: write; the next push creates the issue.
    del group.github.issue_permissions[INSTALLATION]
    group.push()
    assert len(group.issues()) == 1


def test_two_updates_at_once_create_one_issue(group: Group) -> None:
    # An evaluation of main exists, without an issue yet (the permission came later).
    group.github.issue_permissions[INSTALLATION] = None
    group.push()
    del group.github.issue_permissions[INSTALLATION]
    # The first worker's listing is slow, so the second one starts while it creates.
    group.github.delay_next("GET", ISSUES, 0.5)
    progress = group.progress(lambda: datetime.now(UTC))
    outcomes: list[str] = []

    def update() -> None:
        with group.client() as gh:
            outcomes.append(progress.update(gh, TARGET))

    threads = [threading.Thread(target=update) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(outcomes) == ["busy", "created"]
    assert len(group.issues()) == 1 and len(group.calls("POST", ISSUES)) == 1


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_a_while(group: Group) -> None:
    group.push(branch="feature/x")
    records = ProgressRecords(group.services.store)
    assert records.claim_issue(repository_id(), timedelta(minutes=5)).mine
    assert not records.claim_issue(repository_id(), timedelta(minutes=5)).mine
    assert records.claim_issue(repository_id(), timedelta(0)).mine


def test_reminders_are_posted_once_a_week_and_once_a_day_before_the_deadline(
    group: Group,
) -> None:
    group.push()
    [issue] = group.issues()
    now = [DEADLINE - timedelta(days=10)]
    progress = group.progress(lambda: now[0])

    def at(moment: datetime) -> str:
        now[0] = moment
        with group.client() as gh:
            return progress.update(gh, TARGET)

    assert at(DEADLINE - timedelta(days=10)) == "updated" and issue.comments == []
    at(DEADLINE - timedelta(days=6))
    at(DEADLINE - timedelta(days=5))
    assert len(issue.comments) == 1
    week = issue.comments[0]["body"]
    assert "less than a week away" in week and "6 days left" in week
    assert "- **Repository hygiene**" in week
    at(DEADLINE - timedelta(hours=20))
    at(DEADLINE - timedelta(hours=2))
    at(DEADLINE + timedelta(hours=1))
    assert len(issue.comments) == 2
    assert "less than a day away" in issue.comments[1]["body"]
    assert "20 hours left" in issue.comments[1]["body"]


def test_a_first_evaluation_in_the_last_day_posts_only_the_days_reminder(group: Group) -> None:
    group.push()
    progress = group.progress(lambda: DEADLINE - timedelta(hours=6))
    with group.client() as gh:
        progress.update(gh, TARGET)
        progress.update(gh, TARGET)
    [issue] = group.issues()
    assert [c["body"].split("\n")[0] for c in issue.comments] == [
        "<!-- mlops-mentor:reminder:1d -->"
    ]


def test_the_warden_reminds_groups_that_stopped_pushing(group: Group) -> None:
    group.push()
    [issue] = group.issues()
    services = group.services
    warden = Warden(services)
    assert warden.remind() == 0
    services.evaluator.progress_issues = group.progress(lambda: DEADLINE - timedelta(days=3))
    assert warden.remind() == 1  # the task ran at once (immediate queue)
    assert len(issue.comments) == 1 and "3 days left" in issue.comments[0]["body"]
    assert warden.remind() == 0
    issue.state = "closed"
    services.evaluator.progress_issues = group.progress(lambda: DEADLINE - timedelta(hours=3))
    with group.client() as gh:
        assert services.evaluator.progress_issues.update(gh, TARGET) == "closed"
    assert warden.remind() == 0 and len(issue.comments) == 1


def test_the_fake_refuses_what_github_refuses(group: Group) -> None:
    group.push()
    [issue] = group.issues()
    issue_url = f"{ISSUES}/{issue.number}"
    with group.client() as gh:
        # Sent as raw requests: githubkit would refuse some of them before sending.
        for method, url, body in (
            ("POST", ISSUES, {"body": "no title"}),
            ("POST", ISSUES, {"title": "", "body": "x"}),
            ("POST", ISSUES, {"title": "t", "body": "x" * 65_537}),
            ("PATCH", issue_url, {"state": "shut"}),
            ("PATCH", issue_url, {"body": "x" * 65_537}),
            ("POST", f"{issue_url}/comments", {"body": ""}),
            ("POST", f"{issue_url}/comments", {"body": "y" * 65_537}),
        ):
            with pytest.raises(RequestFailed) as refused:
                gh.request(method, url, json=body)
            assert refused.value.response.status_code == 422, (method, url)
        assert gh.rest.issues.create(OWNER, REPO, title="t", body="x" * 65_536).status_code == 201
        with pytest.raises(RequestFailed) as missing:
            gh.rest.issues.get(OWNER, REPO, 999)
        assert missing.value.response.status_code == 404
        listed = gh.rest.issues.list_for_repo(OWNER, REPO, state="all").json()
        assert [i["number"] for i in listed] == [issue.number + 1, issue.number]
