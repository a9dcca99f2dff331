"""The history: what a push leaves in the store, what the check run says about progress,
redeliveries, newer pushes superseding waiting ones, and uninstalls purging everything."""

from __future__ import annotations

from flask import Flask

from github_app.store import EvaluationStatus
from tests.durability.conftest import SMALL
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import (
    INSTALLATION,
    OWNER,
    REPO,
    check_run_payload,
    deliver,
    drain,
    push_payload,
    queue_of,
    repository_id,
)

FULL_NAME = f"{OWNER}/{REPO}"
DOCKERFILE = "FROM python:3.11-slim\nCOPY . /app\n"


def runs_of(fake: FakeGitHub, sha: str) -> list:
    return [r for r in fake.check_runs.values() if r.head_sha == sha]


def test_second_push_says_what_changed_since_the_first(
    app: Flask, fake_github: FakeGitHub, publish
) -> None:
    first = publish(SMALL)
    deliver(app, "push", push_payload(first.sha))
    [before] = runs_of(fake_github, first.sha)
    assert "Since" not in before.output["summary"]

    second = publish({**SMALL, "Dockerfile": DOCKERFILE})
    deliver(app, "push", push_payload(second.sha, before=first.sha))
    [after] = runs_of(fake_github, second.sha)
    summary = after.output["summary"]
    assert summary.startswith(f"**Since {first.sha[:7]}:** 2 fixed.")
    assert "- Fixed: Dockerfiles, Dockerfile habits. Nice work!" in summary
    # The preamble comes before the report's own title.
    assert summary.index("Since") < summary.index("### ")


def test_a_push_is_kept_with_its_commits_and_report(app: Flask, fake_github, publish) -> None:
    commit = publish(SMALL)
    payload = push_payload(commit.sha)
    payload["commits"] = [
        {
            "id": commit.sha,
            "message": "Add the model\n\nwith a long explanation",
            "timestamp": "2026-01-09T10:00:00+01:00",
            "author": {"name": "Ada", "email": "ada@example.com", "username": "ada"},
        }
    ]
    deliver(app, "push", payload, delivery="d-history")
    store = queue_of(app).store
    [evaluation] = store.evaluations_for(FULL_NAME, with_reports=True)
    assert (evaluation.sha, evaluation.branch, evaluation.status) == (
        commit.sha,
        "main",
        EvaluationStatus.completed,
    )
    assert evaluation.pusher_login == "student"
    assert evaluation.delivery_id == "d-history"
    assert evaluation.report is not None and evaluation.report.total == evaluation.total
    assert evaluation.check_run_id == next(iter(fake_github.check_runs))
    assert evaluation.duration_ms and evaluation.duration_ms > 0
    [kept] = store.commits_for(FULL_NAME)
    assert (kept.author_login, kept.author_name, kept.message_length) == (
        "ada",
        "Ada",
        len("Add the model\n\nwith a long explanation"),
    )


def test_a_redelivery_adds_nothing(app: Flask, fake_github: FakeGitHub, publish) -> None:
    commit = publish(SMALL)
    assert deliver(app, "push", push_payload(commit.sha), delivery="d-1").json["outcome"] == (
        "queued"
    )
    again = deliver(app, "push", push_payload(commit.sha), delivery="d-1")
    assert (again.status_code, again.json["outcome"]) == (202, "duplicate")
    assert len(fake_github.check_runs) == 1
    assert len(queue_of(app).store.evaluations_for(FULL_NAME)) == 1


def test_a_newer_push_supersedes_a_waiting_one(make_app, start_consumer, fake_github, publish):
    app = make_app(immediate=False)
    old, new = publish(SMALL), publish({**SMALL, "Dockerfile": DOCKERFILE})
    rerun = publish({**SMALL, "README.md": "# re-run me\n"})
    deliver(app, "push", push_payload(old.sha))
    deliver(app, "check_run", check_run_payload(rerun.sha))
    deliver(app, "push", push_payload(new.sha, before=old.sha))
    # Nothing ran yet: all three wait in the queue.
    assert fake_github.check_runs == {}
    start_consumer(app)
    drain(app)

    [skipped] = runs_of(fake_github, old.sha)
    assert (skipped.status, skipped.conclusion) == ("completed", "skipped")
    assert new.sha[:7] in skipped.output["title"]
    assert f"`{new.sha[:7]}`, was pushed to `main`" in skipped.output["summary"]
    assert runs_of(fake_github, new.sha)[0].conclusion in ("success", "neutral", "failure")
    # A re-run somebody asked for is never superseded.
    assert runs_of(fake_github, rerun.sha)[0].conclusion != "skipped"
    statuses = {e.sha: e.status for e in queue_of(app).store.evaluations_for(FULL_NAME)}
    assert statuses[old.sha] == EvaluationStatus.skipped
    assert statuses[new.sha] == EvaluationStatus.completed


def installation_payload(action: str, **extra: object) -> dict:
    return {
        "action": action,
        "installation": {"id": INSTALLATION, "account": {"login": OWNER, "type": "Organization"}},
        **extra,
    }


def test_installation_events_are_recorded(app: Flask, fake_github) -> None:
    repos = [{"id": repository_id(), "name": REPO, "full_name": FULL_NAME}]
    created = deliver(app, "installation", installation_payload("created", repositories=repos))
    assert (created.status_code, created.json["outcome"]) == (200, "recorded")
    store = queue_of(app).store
    assert store.installation(INSTALLATION).account_login == OWNER  # type: ignore[union-attr]
    removed = deliver(
        app,
        "installation_repositories",
        installation_payload("removed", repositories_added=[], repositories_removed=repos),
    )
    assert removed.json["outcome"] == "recorded"
    assert fake_github.calls == []


def test_uninstalling_purges_everything_of_the_installation(
    app: Flask, fake_github: FakeGitHub, publish
) -> None:
    commit = publish(SMALL)
    deliver(app, "installation", installation_payload("created"))
    deliver(app, "push", push_payload(commit.sha))
    store = queue_of(app).store
    assert store.evaluations_for(FULL_NAME) and store.commits_for(FULL_NAME)

    deleted = deliver(app, "installation", installation_payload("deleted"), delivery="d-del")
    assert (deleted.status_code, deleted.json["outcome"]) == (200, "purged")
    assert store.evaluations_for(FULL_NAME) == []
    assert store.commits_for(FULL_NAME) == []
    tombstone = store.installation(INSTALLATION)
    assert tombstone is not None and tombstone.account_login is None and tombstone.deleted_at
    # A late push of the removed installation brings nothing back.
    calls = len(fake_github.calls)
    late = deliver(app, "push", push_payload(publish(SMALL | {"x.py": "x = 1\n"}).sha))
    assert (late.status_code, late.json["outcome"]) == (202, "ignored")
    assert store.evaluations_for(FULL_NAME) == []
    assert len(fake_github.calls) == calls
