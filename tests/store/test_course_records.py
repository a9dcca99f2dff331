"""Course records: the course file's life cycle, approvals, team activity, and their purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from github_app.store import RepositoryInfo, Store
from github_app.store.course import CourseRecords

NOW = datetime(2026, 2, 3, 9, tzinfo=UTC)
GROUP = RepositoryInfo(id=11, full_name="org/group", default_branch="main")


def records(tmp_path: Path) -> CourseRecords:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", clock=lambda: NOW)
    store.migrate()
    store.record_installation(1, "org", "Organization")
    return CourseRecords(store)


def test_course_file_refused_keeps_the_valid_text_and_goes_stale_on_a_push(
    tmp_path: Path,
) -> None:
    course = records(tmp_path)
    assert course.course_file(1) is None
    course.save_course_file(1, "branches: [main]\n")
    course.refuse_course_file(1, [{"message": "criteria: bad", "line": 3}], "a" * 40)
    stored = course.course_file(1)
    assert stored is not None and not stored.stale
    assert stored.text == "branches: [main]\n"
    assert course.refused_course_files()[0][0] == "org"

    course.invalidate_course_file(1)
    assert course.course_file(1).stale
    course.save_course_file(1, None)  # the file was deleted: the deployment's applies
    assert course.course_file(1).text is None
    assert course.refused_course_files() == []


def test_activity_is_counted_once_and_purged_with_the_installation(tmp_path: Path) -> None:
    course = records(tmp_path)
    assert course.record_pull_request(1, GROUP, 5, "opened", "alice", NOW)
    assert not course.record_pull_request(1, GROUP, 5, "opened", "alice", NOW)  # redelivery
    course.record_pull_request(1, GROUP, 5, "reviewed", None, NOW)
    for conclusion in ("failure", "success"):  # a re-run of the same run
        course.record_workflow_run(1, GROUP, run_id=9, workflow="tests", head_sha="b" * 40,
                                   head_branch="main", conclusion=conclusion,
                                   completed_at=NOW)  # fmt: skip
    assert course.approve_exemption(GROUP.id, "docker", "teacher")
    assert not course.approve_exemption(GROUP.id, "docker", "other")

    counts = course.pull_request_counts(GROUP.id)
    assert (counts["alice"].opened, counts[""].reviewed) == (1, 1)
    assert course.ci_health()[GROUP.id].pass_rate == 1.0
    assert course.approvals(GROUP.id)[0].approved_by == "teacher"

    purged = course.store.remove_installation(1)
    assert purged.repositories == 1
    assert course.pull_request_counts(GROUP.id) == {}
    assert course.ci_health() == {}
    assert course.approved_exemptions(GROUP.id) == set()


def test_old_activity_goes_with_the_retention_period(tmp_path: Path) -> None:
    course = records(tmp_path)
    old = NOW - timedelta(days=400)
    course.record_pull_request(1, GROUP, 1, "opened", "alice", old)
    course.record_pull_request(1, GROUP, 2, "opened", "alice", NOW)
    course.store.purge_older_than(365)
    assert course.pull_request_counts(GROUP.id)["alice"].opened == 1
