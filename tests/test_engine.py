"""The engine's contract: dependencies skip, errors are contained, conclusions follow severity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from checks import Annotation, Conclusion, Severity, Snapshot, Status, evaluate, load_profile
from checks.profile import CriterionSettings, Profile
from checks.registry import REGISTRY, Context, Outcome, all_criteria, criterion, failed, passed


@pytest.fixture
def scratch_criteria() -> Iterator[list[str]]:
    """Register throw-away criteria for one test and remove them afterwards."""
    added: list[str] = []
    before = set(all_criteria())  # the catalog, imported before the test adds its own
    yield added
    for cid in set(REGISTRY) - before:
        del REGISTRY[cid]


def _profile(ids: list[str], **settings: CriterionSettings) -> Profile:
    base = load_profile()
    return base.model_copy(update={"select": ids, "criteria": {**base.criteria, **settings}})


def _register_pair(has_file: str) -> None:
    @criterion("t-base", title="Base", module="M17", fix="Add base.txt.")
    def base(snapshot: Snapshot, context: Context) -> Outcome:
        """Base exists."""
        return passed("found") if snapshot.is_file(has_file) else failed("base.txt is missing")

    @criterion("t-child", title="Child", module="M17", fix="-", requires=("t-base",))
    def child(snapshot: Snapshot, context: Context) -> Outcome:
        """Child runs only after base."""
        return passed("child ok")


def test_a_criterion_is_skipped_with_the_reason_when_what_it_requires_fails(
    make_repo, scratch_criteria
) -> None:
    _register_pair("base.txt")
    report = evaluate(make_repo({"other.txt": "x"}), _profile(["t-child", "t-base"]))
    child = report.result("t-child")
    assert child.status == Status.skip
    assert "t-base" in child.summary and "base.txt is missing" in child.summary
    assert report.result("t-base").status == Status.warn  # recommended by default
    assert report.result("t-base").fix == "Add base.txt."


def test_requirements_met_lets_the_dependent_criterion_run(make_repo, scratch_criteria) -> None:
    _register_pair("base.txt")
    report = evaluate(make_repo({"base.txt": "x"}), _profile(["t-child", "t-base"]))
    assert report.result("t-child").status == Status.passed
    assert report.conclusion == Conclusion.success
    assert (report.passed, report.total) == (2, 2)
    assert report.result("t-child").fix == ""  # no fix text for a pass


def test_a_criterion_that_raises_becomes_an_error_and_the_others_still_run(
    make_repo, scratch_criteria
) -> None:
    @criterion("t-broken", title="Broken", module="M2", fix="-")
    def broken(snapshot: Snapshot, context: Context) -> Outcome:
        """Always raises."""
        raise ZeroDivisionError("boom")

    @criterion("t-fine", title="Fine", module="M2", fix="-")
    def fine(snapshot: Snapshot, context: Context) -> Outcome:
        """Always passes."""
        return passed("fine")

    report = evaluate(make_repo({}), _profile(["t-broken", "t-fine"]))
    assert report.result("t-broken").status == Status.error
    assert "ZeroDivisionError: boom" in report.result("t-broken").summary
    assert report.result("t-fine").status == Status.passed
    assert report.conclusion == Conclusion.neutral


def test_severity_decides_what_a_miss_means(make_repo, scratch_criteria) -> None:
    @criterion("t-miss", title="Miss", module="M2", fix="Do it.", thresholds={"need": "a.txt"})
    def miss(snapshot: Snapshot, context: Context) -> Outcome:
        """Needs a file named by a threshold."""
        need = context.thresholds["need"]
        return passed("ok") if snapshot.is_file(need) else failed(f"{need} missing")

    repo = make_repo({"b.txt": "x"})
    required = evaluate(
        repo, _profile(["t-miss"], **{"t-miss": CriterionSettings(severity=Severity.required)})
    )
    assert required.result("t-miss").status == Status.fail
    assert required.conclusion == Conclusion.failure
    informative = evaluate(
        repo, _profile(["t-miss"], **{"t-miss": CriterionSettings(severity=Severity.info)})
    )
    assert informative.result("t-miss").status == Status.info
    assert informative.total == 0
    loosened = evaluate(
        repo, _profile(["t-miss"], **{"t-miss": CriterionSettings(thresholds={"need": "b.txt"})})
    )
    assert loosened.result("t-miss").status == Status.passed


def test_results_carry_the_course_module_and_its_page(make_repo, scratch_criteria) -> None:
    _register_pair("base.txt")
    result = evaluate(make_repo({}), _profile(["t-base"])).result("t-base")
    assert result.module == "M17"
    assert result.module_title == "GitHub Actions"
    assert result.week == 2
    assert result.docs_url.startswith("https://skaftenicki.github.io/dtu_mlops/")
    assert result.description == "Base exists."


def test_an_invalid_repository_config_fails_with_an_annotation_on_its_line(
    make_repo, scratch_criteria
) -> None:
    _register_pair("base.txt")
    repo = make_repo(
        {
            ".github/mlops-mentor.yml": "exclude:\n  - vendor/\ndisable:\n  - t-base\n",
            "base.txt": "x",
        }
    )
    report = evaluate(repo, _profile(["t-base"]))
    config = report.result("config")
    assert config.status == Status.fail
    assert report.conclusion == Conclusion.failure
    [annotation] = config.annotations
    assert (annotation.path, annotation.start_line) == (".github/mlops-mentor.yml", 3)
    assert "disable" in annotation.message and "unknown key" in annotation.message
    # A broken config never switches a criterion off.
    assert report.result("t-base").status == Status.passed


def test_broken_yaml_in_the_repository_config_points_at_the_line(make_repo) -> None:
    repo = make_repo({".github/mlops-mentor.yml": "exclude:\n  - a\n  b: [\n"})
    config = evaluate(repo, _profile([])).result("config")
    assert config.status == Status.fail
    assert config.annotations[0].start_line >= 3


def test_exemptions_show_as_exemptions_and_leave_the_score(make_repo, scratch_criteria) -> None:
    _register_pair("base.txt")
    repo = make_repo(
        {
            ".github/mlops-mentor.yml": (
                "exemptions:\n  - criterion: t-base\n"
                "    reason: Our project has no base file by design (agreed with the TA).\n"
            )
        }
    )
    report = evaluate(repo, _profile(["t-base"]))
    base = report.result("t-base")
    assert base.status == Status.skip and base.exempt_reason.startswith("Our project")
    assert report.total == 0


def test_a_required_criterion_that_is_not_exemptable_cannot_be_exempted(make_repo) -> None:
    repo = make_repo(
        {
            ".github/mlops-mentor.yml": (
                "exemptions:\n  - criterion: secrets\n"
                "    reason: we need the key in git for grading\n"
            ),
            ".env": "GITHUB_TOKEN=ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8" + "\n",
        }
    )
    report = evaluate(repo, _profile(["secrets"]))
    assert report.result("secrets").status == Status.fail


def test_excluded_paths_are_invisible_to_criteria(make_repo, scratch_criteria) -> None:
    _register_pair("vendor/base.txt")
    repo = make_repo({".github/mlops-mentor.yml": "exclude: [vendor/]\n", "vendor/base.txt": "x"})
    assert evaluate(repo, _profile(["t-base"])).result("t-base").status == Status.warn


def test_annotations_are_ordered_failures_first_then_by_rank(make_repo, scratch_criteria) -> None:
    @criterion("t-lines", title="Lines", module="M7", fix="-", rank=70)
    def lines(snapshot: Snapshot, context: Context) -> Outcome:
        """Marks lines."""
        return failed(
            "marked",
            annotations=[
                Annotation(path="a.py", start_line=3, level="notice", message="n"),
                Annotation(path="a.py", start_line=2, level="failure", message="f"),
                Annotation(path="a.py", start_line=1, level="warning", message="w", rank=5),
            ],
        )

    report = evaluate(make_repo({"a.py": "x\n"}), _profile(["t-lines"]))
    assert [a.message for a in report.annotations()] == ["f", "w", "n"]
    assert report.annotations()[0].rank == 70  # the criterion's rank was stamped


def test_checks_never_imports_the_network_side() -> None:
    import subprocess
    import sys

    code = (
        "import sys, checks, checks.cli; from checks.registry import all_criteria; all_criteria();"
        "bad = [m for m in ('flask', 'githubkit', 'httpx', 'github_app', 'requests')"
        " if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_default_profile_selects_every_registered_criterion() -> None:
    from checks.registry import all_criteria

    profile = load_profile()
    assert profile.selected(list(all_criteria())) == list(all_criteria())
    for cid in profile.criteria:
        assert cid in all_criteria(), f"profile configures unknown criterion {cid}"


def test_every_criterion_is_documented_for_students() -> None:
    from checks.registry import all_criteria

    profile = load_profile()
    for c in all_criteria().values():
        assert c.description, c.id
        assert c.fix, c.id
        assert c.module in profile.modules, f"{c.id}: unknown module {c.module}"


def test_evaluating_an_empty_repository_gives_a_full_report(tmp_path: Path) -> None:
    report = evaluate(tmp_path, load_profile())
    assert report.conclusion == Conclusion.neutral
    assert all(r.status != Status.error for r in report.results), [
        (r.id, r.summary) for r in report.results if r.status == Status.error
    ]


def test_a_group_cannot_hide_a_committed_secret_by_excluding_its_file(make_repo) -> None:
    repo = make_repo(
        {
            ".github/mlops-mentor.yml": "exclude: [.env, secrets/]\n",
            ".env": "GITHUB_TOKEN=ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8" + "\n",
        }
    )
    report = evaluate(repo, _profile(["secrets"]))
    assert report.result("secrets").status == Status.fail
    assert report.result("secrets").annotations[0].path == ".env"


def test_prefetch_starts_before_any_criterion_and_its_criterion_runs_last(
    make_repo, scratch_criteria
) -> None:
    events: list[str] = []

    def start(snapshot: Snapshot) -> None:
        events.append(f"prefetch saw {len(snapshot)} file(s)")

    @criterion("t-slow", title="Slow", module="M7", fix="-", prefetch=start)
    def slow(snapshot: Snapshot, context: Context) -> Outcome:
        """Uses what its prefetch started."""
        events.append("slow")
        return passed("collected")

    @criterion("t-quick", title="Quick", module="M7", fix="-")
    def quick(snapshot: Snapshot, context: Context) -> Outcome:
        """Needs nothing started."""
        events.append("quick")
        return passed("quick")

    report = evaluate(make_repo({"a.py": "x\n"}), _profile(["t-slow", "t-quick"]))
    assert events == ["prefetch saw 1 file(s)", "quick", "slow"]
    # The report keeps the profile's order, whatever order the criteria ran in.
    assert [r.id for r in report.results] == ["config", "t-slow", "t-quick"]


def test_a_failing_prefetch_leaves_the_criterion_to_report_it(make_repo, scratch_criteria) -> None:
    def start(snapshot: Snapshot) -> None:
        raise OSError("could not start the tool")

    @criterion("t-tool", title="Tool", module="M7", fix="-", prefetch=start)
    def tool(snapshot: Snapshot, context: Context) -> Outcome:
        """Runs the tool itself when the prefetch could not."""
        start(snapshot)
        return passed("never")

    @criterion("t-other", title="Other", module="M7", fix="-")
    def other(snapshot: Snapshot, context: Context) -> Outcome:
        """Unaffected."""
        return passed("fine")

    report = evaluate(make_repo({"a.py": "x\n"}), _profile(["t-tool", "t-other"]))
    assert report.result("t-tool").status == Status.error
    assert "could not start the tool" in report.result("t-tool").summary
    assert report.result("t-other").status == Status.passed


def test_an_exempted_criterion_is_not_prefetched(make_repo, scratch_criteria) -> None:
    started: list[str] = []

    @criterion("t-exempt", title="Exempt", module="M7", fix="-", prefetch=started.append)
    def exempt(snapshot: Snapshot, context: Context) -> Outcome:
        """Exempted by the group."""
        return passed("never runs")

    repo = make_repo(
        {
            ".github/mlops-mentor.yml": (
                "exemptions:\n  - criterion: t-exempt\n    reason: Agreed with the TA.\n"
            )
        }
    )
    report = evaluate(repo, _profile(["t-exempt"]))
    assert report.result("t-exempt").exemption == "approved"
    assert started == []


def test_evaluation_restores_the_garbage_collector(make_repo, scratch_criteria) -> None:
    import gc

    @criterion("t-gc", title="GC", module="M7", fix="-")
    def collecting(snapshot: Snapshot, context: Context) -> Outcome:
        """Reports whether the collector runs during the evaluation."""
        return passed(f"collecting: {gc.isenabled()}")

    assert gc.isenabled()
    report = evaluate(make_repo({"a.py": "x\n"}), _profile(["t-gc"]))
    assert report.result("t-gc").summary == "collecting: False"
    assert gc.isenabled()
    gc.disable()
    try:
        evaluate(make_repo({"a.py": "x\n"}), _profile(["t-gc"]))
        assert not gc.isenabled()  # a caller's choice is left as it was
    finally:
        gc.enable()
