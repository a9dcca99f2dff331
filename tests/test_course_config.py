"""The course's configuration: criteria tighten week by week, exemptions need approval,
instructor-only criteria stay out of what students see, and groups cannot loosen rules."""

from __future__ import annotations

from datetime import UTC, datetime

from checks import Status, evaluate, load_profile
from checks.profile import CourseConfig, course_profile, validate_yaml_model
from checks.render.markdown import summary_markdown

COURSE = """\
profile: dtu-mlops
start: 2027-01-04
deadline: 2027-01-22T23:59:00+01:00
criteria:
  docker: {week: 2}
  tests: {visibility: instructors}
"""
BARE = {"README.md": "A project.\n", "src/pkg/model.py": "x = 1\n"}
WEEK2 = datetime(2027, 1, 12, 12, tzinfo=UTC)


def course(text: str = COURSE) -> CourseConfig:
    config, problems = validate_yaml_model(CourseConfig, text)
    assert config is not None, problems
    return config


def narrowed(config: CourseConfig, *ids: str):
    return course_profile(config).model_copy(update={"select": list(ids)})


def test_a_miss_before_its_week_is_a_heads_up_and_counts_after(make_repo) -> None:
    profile = narrowed(course(), "docker")
    repo = make_repo(BARE)
    week1 = evaluate(repo, profile, at=datetime(2027, 1, 6, 12, tzinfo=UTC))
    docker = week1.result("docker")
    assert week1.course_week == 1
    assert docker.status == Status.info
    assert docker.summary.startswith("Expected by week 2:")
    assert docker.fix  # the student still learns how to do it
    week2 = evaluate(repo, profile, at=WEEK2)
    assert week2.course_week == 2
    assert week2.result("docker").status == Status.warn


def test_pushes_after_the_deadline_are_evaluated_and_marked_late(make_repo) -> None:
    profile = narrowed(course(), "docker")
    repo = make_repo(BARE)
    on_time = evaluate(repo, profile, at=datetime(2027, 1, 22, 22, 58, tzinfo=UTC))
    late = evaluate(repo, profile, at=datetime(2027, 1, 22, 23, 1, tzinfo=UTC))
    assert not on_time.late and late.late
    assert "after the deadline" in summary_markdown(late)
    assert late.result("docker").status == Status.warn


EXEMPTION = (
    "exemptions:\n  - criterion: docker\n"
    "    reason: Our model runs as a notebook on Colab, agreed with the TA.\n"
)


def test_an_exemption_waits_for_approval_then_counts_as_exempt(make_repo) -> None:
    profile = narrowed(course(), "docker")
    repo = make_repo({**BARE, ".github/mlops-mentor.yml": EXEMPTION})
    waiting = evaluate(repo, profile, at=WEEK2, approved_exemptions=[])
    docker = waiting.result("docker")
    assert docker.status == Status.warn and docker.exemption == "requested"
    assert "waiting for approval" in summary_markdown(waiting)
    approved = evaluate(repo, profile, at=WEEK2, approved_exemptions=["docker"])
    assert approved.result("docker").status == Status.skip
    assert approved.result("docker").exemption == "approved"
    assert approved.total == 0


def test_the_course_can_forbid_groups_from_requesting_exemptions(make_repo) -> None:
    config = course(COURSE + "repository:\n  allow: [exclude]\n")
    repo = make_repo({**BARE, ".github/mlops-mentor.yml": EXEMPTION})
    result = evaluate(repo, narrowed(config, "docker"), at=WEEK2).result("docker")
    assert result.status == Status.warn and result.exemption == ""


def test_instructor_only_criteria_never_reach_the_student_view(make_repo) -> None:
    profile = narrowed(course(), "tests", "docker")
    report = evaluate(make_repo(BARE), profile, at=WEEK2)
    assert report.result("tests").visibility == "instructors"
    students = report.for_students()
    assert [r.id for r in students.results] == ["config", "docker"]
    assert students.total == 1
    assert "Unit tests" not in summary_markdown(students)


def test_a_course_file_with_wrong_types_points_at_the_line() -> None:
    config, problems = validate_yaml_model(
        CourseConfig, "profile: dtu-mlops\nstart: next monday\ncriteria:\n  docker: {week: two}\n"
    )
    assert config is None
    lines = {p.line for p in problems}
    assert lines == {2, 4}


def test_the_default_profile_has_no_schedule_so_nothing_is_tightened(make_repo) -> None:
    report = evaluate(make_repo(BARE), load_profile().model_copy(update={"select": ["docker"]}))
    assert report.course_week is None
    assert report.result("docker").status == Status.warn


def test_a_criterion_waiting_on_an_instructor_only_one_does_not_quote_it(make_repo) -> None:
    config = course(
        COURSE.replace("  docker: {week: 2}", "  docker: {week: 2, visibility: instructors}")
    )
    profile = narrowed(config, "docker", "dockerfile-lint")
    report = evaluate(make_repo(BARE), profile, at=WEEK2).for_students()
    lint = report.result("dockerfile-lint")
    assert lint.status == Status.skip
    assert lint.summary == "Skipped until `docker` passes"
    assert "docker" not in [r.id for r in report.results]
