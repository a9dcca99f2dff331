"""The organisation's course file end to end: merged with a group's own file, applied by
week, refused when invalid (the last valid one stays), refreshed on a push to `.github`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.course.conftest import CONFIG_REPO, ORG_FILE, Course
from tests.github.github_helpers import OWNER, REPO, deliver, drain, push_payload, repository_id

CONTENTS = r"/repos/[^/]+/\.github/contents/mlops-mentor\.yml"
START = "2026-02-02"  # a Monday
WEEK_1 = datetime(2026, 2, 3, 12, tzinfo=UTC)
WEEK_3 = datetime(2026, 2, 18, 12, tzinfo=UTC)


def test_org_file_and_group_file_merge(course: Course) -> None:
    # The course switches `docs` off and makes `docker` required; the group excludes a
    # folder and asks to be exempted from `frontend`.
    course.org_file("criteria:\n  docs:\n    enabled: false\n  docker:\n    severity: required\n")
    group_file = (
        "exclude:\n  - vendor/**\n"
        "exemptions:\n  - criterion: frontend\n    reason: Our project is a batch pipeline.\n"
    )
    _, sha = course.push({"README.md": "# MNIST\n", ".github/mlops-mentor.yml": group_file})

    run = course.run_on(sha)
    summary = run.output["summary"]
    assert run.conclusion == "failure"  # docker is required now
    assert "**Dockerfiles**" in summary and "❌" in summary
    assert "MkDocs" not in summary  # docs is off for the whole course
    assert "Our project is a batch pipeline. _(requested: waiting for approval)_" in summary
    assert run.details_url == (
        "https://mentor.example.org/dashboard/runs/"
        f"{course.services.store.evaluations_for(f'{OWNER}/{REPO}')[0].id}"
    )


def test_a_group_file_cannot_switch_a_criterion_off(course: Course) -> None:
    course.org_file("criteria:\n  docker:\n    severity: required\n")
    locked = "criteria:\n  docker:\n    enabled: false\n"
    _, sha = course.push({"README.md": "# MNIST\n", ".github/mlops-mentor.yml": locked})

    run = course.run_on(sha)
    assert run.conclusion == "failure"
    assert "**Dockerfiles**" in run.output["summary"]
    refused = [a for a in run.annotations if a["path"] == ".github/mlops-mentor.yml"]
    assert refused and refused[0]["start_line"] == 1
    assert refused[0]["annotation_level"] == "failure"
    assert "unknown key" in refused[0]["message"]


def test_criteria_tighten_with_the_push_time(course: Course) -> None:
    # `drift` is a week-3 practice: a heads-up in week 1, something to work on in week 3.
    course.org_file(f"start: {START}\n")
    _, early = course.push(pushed_at=WEEK_1)
    _, late = course.push({"README.md": "# MNIST v2\n"}, pushed_at=WEEK_3)

    week_1 = course.run_on(early).output["summary"]
    week_3 = course.run_on(late).output["summary"]
    assert "Course week 1." in week_1
    assert "Expected by week 3: No drift detection found" in week_1
    assert "Course week 3." in week_3
    assert "Expected by week 3" not in week_3
    assert "**Data drift detection** — No drift detection found" in week_3


def test_exemption_counts_once_an_instructor_approves_it(course: Course) -> None:
    group_file = (
        "exemptions:\n  - criterion: docker\n    reason: We deploy with a managed notebook.\n"
    )
    files = {"README.md": "# MNIST\n", ".github/mlops-mentor.yml": group_file}
    _, first = course.push(files)
    assert "_(requested: waiting for approval)_" in course.run_on(first).output["summary"]
    assert "No Dockerfile found." in course.run_on(first).output["summary"]

    page = course.group_page()
    assert "We deploy with a managed notebook." in page and ">Approve<" in page
    answer = course.decide_exemption("docker", "approve")
    assert answer.status_code == 302
    page = course.group_page()
    assert "approved by admin" in page and ">Revoke<" in page

    _, second = course.push({**files, "README.md": "# MNIST, exempt\n"})
    summary = course.run_on(second).output["summary"]
    assert "**Dockerfiles**: We deploy with a managed notebook." in summary
    assert "waiting for approval" not in summary
    assert "No Dockerfile found." not in summary


def test_approval_needs_the_form_token_and_a_requested_exemption(course: Course) -> None:
    group_file = "exemptions:\n  - criterion: frontend\n    reason: No users, no frontend.\n"
    course.push({"README.md": "# MNIST\n", ".github/mlops-mentor.yml": group_file})
    url = f"/dashboard/groups/{repository_id(OWNER, REPO)}/exemptions"
    headers = {"Authorization": "Bearer admin-token-for-course-tests-0123"}
    no_token = course.client.post(url, data={"criterion": "docker", "decision": "approve"},
                                  headers=headers)  # fmt: skip
    assert no_token.status_code == 400
    not_requested = course.decide_exemption("docker", "approve")
    assert not_requested.status_code == 400
    assert course.services.records.approved_exemptions(repository_id(OWNER, REPO)) == set()


def test_an_invalid_org_file_is_reported_and_the_last_valid_one_stays(course: Course) -> None:
    course.push_org_file("branches:\n  - main\n", sha="1" * 40)
    valid_run = course.run_on("1" * 40, CONFIG_REPO)
    assert valid_run.conclusion == "success"
    assert "`main`" in valid_run.output["summary"]

    broken = "branches:\n  - main\ncriteria:\n  docker:\n    severity: mandatory\n"
    course.push_org_file(broken, sha="2" * 40)
    run = course.run_on("2" * 40, CONFIG_REPO)
    assert run.conclusion == "neutral"
    assert run.output["title"].startswith("The course configuration is invalid")
    assert run.annotations == [
        {
            "path": ORG_FILE,
            "start_line": 5,
            "end_line": 5,
            "annotation_level": "failure",
            "title": "Invalid course configuration",
            "message": run.annotations[0]["message"],
        }
    ]
    assert "criteria.docker.severity" in run.annotations[0]["message"]

    # The last valid file (only `main` is evaluated) stays in force.
    response, sha = course.push(branch="feature/x")
    assert (response.status_code, response.json["outcome"]) == (202, "ignored")
    assert course.runs_on(sha) == []
    banner = course.dashboard("/dashboard/").get_data(as_text=True)
    assert "course-file-refused" in banner
    assert "line 5: criteria.docker.severity" in banner

    # Fixed: the banner goes.
    course.push_org_file("branches:\n  - main\n  - feature/*\n", sha="3" * 40)
    assert "course-file-refused" not in course.dashboard("/dashboard/").get_data(as_text=True)
    response, sha = course.push(branch="feature/x")
    assert response.json["outcome"] == "queued"
    assert course.run_on(sha).status == "completed"


def test_branch_filter_applies_before_the_first_delivery_knows_it(course: Course) -> None:
    course.org_file("branches:\n  - main\n")
    # The first push of the installation: the handler does not know the file yet, the job
    # reads it and completes without a check run.
    response, first = course.push(branch="wip")
    assert response.json["outcome"] == "queued"
    assert course.runs_on(first) == []
    evaluation = course.services.store.evaluations_for(f"{OWNER}/{REPO}")[0]
    assert evaluation.status == "skipped"
    # Now it is known: the delivery itself is ignored.
    response, second = course.push({"README.md": "# again\n"}, branch="wip")
    assert (response.status_code, response.json["outcome"]) == (202, "ignored")
    assert course.runs_on(second) == []
    assert "does not evaluate branch wip" in response.json["detail"]
    _, on_main = course.push(branch="main")
    assert course.run_on(on_main).status == "completed"


def test_the_org_file_is_read_once_until_dot_github_changes(course: Course) -> None:
    course.org_file("criteria:\n  docker:\n    severity: required\n")
    _, first = course.push()
    assert course.run_on(first).conclusion == "failure"
    reads = len(course.github.calls_to("GET", CONTENTS))
    assert reads == 1

    # Edited on GitHub without a push to `.github` reaching us yet: still the stored one.
    course.org_file("criteria:\n  docker:\n    severity: info\n")
    _, second = course.push({"README.md": "# two\n"})
    assert len(course.github.calls_to("GET", CONTENTS)) == reads
    assert course.run_on(second).conclusion == "failure"

    # The push to `.github` refreshes it for every process (the store holds it).
    course.push_org_file("criteria:\n  docker:\n    severity: info\n", sha="4" * 40)
    _, third = course.push({"README.md": "# three\n"})
    assert course.run_on(third).conclusion != "failure"
    assert course.services.records.course_file(77).text.endswith("severity: info\n")


def test_instructor_only_criteria_stay_off_the_check_run(course: Course) -> None:
    course.org_file("criteria:\n  docker:\n    visibility: instructors\n")
    _, sha = course.push()
    run = course.run_on(sha)
    # The criterion itself is nowhere in the run (its dependants still say they wait on it).
    assert "| Dockerfiles |" not in run.output["summary"]
    assert "**Dockerfiles**" not in run.output["summary"]
    assert "Dockerfiles ·" not in (run.output["text"] or "")

    evaluation = course.services.store.evaluations_for(f"{OWNER}/{REPO}", with_reports=True)[0]
    assert evaluation.report is not None
    assert evaluation.report.result("docker").visibility == "instructors"
    page = course.dashboard(f"/dashboard/runs/{evaluation.id}").get_data(as_text=True)
    assert "No Dockerfile found." in page
    assert "instructors only (not in the check run)" in page


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (b"\xff\xfe\x00 not text", 1, "file is not UTF-8 text"),
        ("branches: [main\ncriteria: {}\n", 2, ""),
        ("start: 2026-02-02\nprofile: no-such-course\n", 2, "profile: unknown profile"),
        ("criteria:\n  docker: []\n", 2, "criteria.docker"),
        ("x: " + "a" * 300_000, 1, "file is over 256 KB"),
    ],
    ids=["binary", "broken-yaml", "unknown-profile", "wrong-type", "huge"],
)
def test_a_broken_org_file_is_marked_on_its_line(
    course: Course, content: str | bytes, line: int, message: str
) -> None:
    course.push_org_file(content, sha="5" * 40)
    run = course.run_on("5" * 40, CONFIG_REPO)
    assert run.conclusion == "neutral"
    assert run.annotations[0]["start_line"] == line
    assert message in run.annotations[0]["message"]
    # Nothing valid was ever read: the groups get the deployment's defaults.
    _, sha = course.push()
    assert course.run_on(sha).status == "completed"


def test_a_deleted_org_file_brings_back_the_defaults(course: Course) -> None:
    course.push_org_file("branches: [main]\n", sha="6" * 40)
    assert course.services.records.course_file(77).text == "branches: [main]\n"
    # The staff delete the file: the next commit of `.github` has none.
    course.github.files.pop((OWNER, CONFIG_REPO, ORG_FILE))
    course.github.add_file(OWNER, CONFIG_REPO, "README.md", b"# org\n", installation=77)
    deliver(course.app, "push", push_payload("7" * 40, repo=CONFIG_REPO))
    drain(course.app)

    run = course.run_on("7" * 40, CONFIG_REPO)
    assert run.conclusion == "neutral"
    assert run.output["title"].startswith("No mlops-mentor.yml")
    assert course.services.records.course_file(77).text is None
    response, _ = course.push(branch="feature")  # every branch again
    assert response.json["outcome"] == "queued"
