"""Team activity and CI health from webhooks, and the class context in a group's run."""

from __future__ import annotations

from typing import Any

from tests.course.conftest import Course
from tests.github.github_helpers import INSTALLATION, deliver, repository


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 10**6, "type": "User"}


def pull_request_payload(
    action: str, number: int, author: str, *, merged: bool = False
) -> dict[str, Any]:
    """A pull_request event shaped like GitHub's (the fields beyond ours included)."""
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "id": 900 + number,
            "number": number,
            "state": "closed" if action == "closed" else "open",
            "title": "Add the training loop",
            "user": _user(author),
            "created_at": "2026-02-03T10:00:00Z",
            "merged": merged,
            "merged_at": "2026-02-04T10:00:00Z" if merged else None,
            "merged_by": _user("carol") if merged else None,
            "head": {"ref": "feature", "sha": "c" * 40},
            "base": {"ref": "main", "sha": "d" * 40},
        },
        "repository": repository(),
        "sender": _user(author),
        "installation": {"id": INSTALLATION},
    }


def review_payload(number: int, author: str, reviewer: str) -> dict[str, Any]:
    return {
        "action": "submitted",
        "review": {
            "id": 70 + number,
            "user": _user(reviewer),
            "state": "approved",
            "submitted_at": "2026-02-04T09:00:00Z",
        },
        "pull_request": pull_request_payload("opened", number, author)["pull_request"],
        "repository": repository(),
        "sender": _user(reviewer),
        "installation": {"id": INSTALLATION},
    }


def workflow_run_payload(
    run_id: int, name: str, sha: str, conclusion: str, branch: str = "main"
) -> dict[str, Any]:
    return {
        "action": "completed",
        "workflow_run": {
            "id": run_id,
            "name": name,
            "head_branch": branch,
            "head_sha": sha,
            "status": "completed",
            "conclusion": conclusion,
            "run_attempt": 1,
            "event": "push",
            "updated_at": f"2026-02-03T10:{run_id % 60:02d}:00Z",
        },
        "workflow": {"id": 5, "name": name},
        "repository": repository(),
        "sender": _user("student"),
        "installation": {"id": INSTALLATION},
    }


def test_pull_requests_per_member_on_the_group_page(course: Course) -> None:
    course.push()
    events = [
        ("pull_request", pull_request_payload("opened", 1, "alice")),
        ("pull_request", pull_request_payload("opened", 2, "alice")),
        ("pull_request", pull_request_payload("closed", 1, "alice", merged=True)),
        ("pull_request", pull_request_payload("closed", 2, "alice")),  # closed unmerged
        ("pull_request_review", review_payload(1, "alice", "bob")),
        ("pull_request_review", review_payload(1, "alice", "bob")),  # a second review, same PR
        ("pull_request_review", review_payload(2, "alice", "alice")),  # own PR: not a review
    ]
    outcomes = [deliver(course.app, event, payload).json["outcome"] for event, payload in events]
    assert outcomes == ["recorded", "recorded", "recorded", "ignored", "recorded", "recorded",
                        "ignored"]  # fmt: skip

    page = course.group_page()
    assert '<th class="num">PRs opened</th>' in page
    alice = page[page.index("@alice") :].split("</tr>")[0]
    bob = page[page.index("@bob") :].split("</tr>")[0]
    assert (
        '<td class="num">2</td>\n        <td class="num">1</td>\n        <td class="num">0</td>'
        in alice
    )
    assert "(pull requests only)" in bob
    assert bob.rstrip().endswith(
        '<td class="num">0</td>\n        <td class="num">0</td>\n        <td class="num">1</td>'
    )


def test_a_failed_workflow_shows_in_the_next_run_and_on_the_dashboard(course: Course) -> None:
    _, first = course.push()
    assert "workflow failed" not in course.run_on(first).output["summary"]
    for run_id, name, conclusion in [(1, "tests", "failure"), (2, "lint", "success")]:
        reply = deliver(course.app, "workflow_run", workflow_run_payload(run_id, name, first,
                                                                          conclusion))  # fmt: skip
        assert reply.json["outcome"] == "recorded"

    _, second = course.push({"README.md": "# fixed?\n"})
    summary = course.run_on(second).output["summary"]
    assert f"Your `tests` workflow failed on {first[:7]}" in summary
    assert summary.index("workflow failed") < summary.index("What to work on first")

    # A re-run of the same workflow run that passed replaces its conclusion.
    deliver(course.app, "workflow_run", workflow_run_payload(1, "tests", first, "success"))
    _, third = course.push({"README.md": "# fixed\n"})
    assert "workflow failed" not in course.run_on(third).output["summary"]

    overview = course.dashboard("/dashboard/").get_data(as_text=True)
    assert "2 of 2 workflow runs succeeded" in overview
    assert "CI runs passing (2/2)" in course.group_page()


def test_class_context_needs_five_evaluated_groups(course: Course) -> None:
    for n in range(4):
        course.push(repo=f"group-{n}")
    # Four groups evaluated on their default branch: too few to share a rate.
    _, fifth = course.push(repo="group-4")
    assert "of groups pass this" not in course.run_on(fifth, "group-4").output["summary"]

    assert course.services.records.evaluated_groups(INSTALLATION) == 5
    _, sixth = course.push(repo="group-5")
    summary = course.run_on(sixth, "group-5").output["summary"]
    # Every group so far lacks a Dockerfile: none passes; every one has a passing lint.
    docker = summary[summary.index("**Dockerfiles**") :].split("\n- ")[0]
    assert "0% of groups pass this." in docker
    assert "group-" not in summary  # no group is named
