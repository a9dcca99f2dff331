"""What a student reads in the check run, within GitHub's limits."""

from __future__ import annotations

from checks import Annotation, CriterionResult, Report
from checks.render import title_line
from checks.render.markdown import GITHUB_TEXT_LIMIT, details_markdown, summary_markdown
from checks.render.workflow import render_workflow_commands


def result(cid: str, status: str, **extra: object) -> CriterionResult:
    return CriterionResult(
        id=cid,
        title=cid.title(),
        module="M10",
        module_title="Docker",
        week=1,
        status=status,
        summary=extra.pop("summary", f"{cid} summary"),
        docs_url="https://skaftenicki.github.io/dtu_mlops/s3_reproducibility/docker/",
        **extra,
    )


def report(results: list[CriterionResult], conclusion: str = "neutral") -> Report:
    passed = sum(r.status == "pass" for r in results)
    return Report(
        profile="dtu-mlops",
        results=results,
        passed=passed,
        total=len(results),
        conclusion=conclusion,
        duration_ms=120.0,
    )


def test_what_needs_work_comes_first_with_the_fix_and_the_course_page() -> None:
    r = report(
        [
            result("docker", "pass"),
            result("dvc", "warn", fix="Run `dvc init`."),
            result("secrets", "fail", fix="Revoke the key."),
        ],
        conclusion="failure",
    )
    text = summary_markdown(r)
    assert text.index("Secrets") < text.index("Dvc") < text.index("<details>")
    assert "**How to fix:** Revoke the key." in text
    assert "[M10 Docker](https://skaftenicki.github.io/" in text
    assert title_line(r) == "1/3 practices · 1 must fix · 1 to work on"


def test_a_huge_report_is_shortened_to_fit_and_keeps_its_score_line() -> None:
    many = [
        result(
            f"c{i}",
            "warn",
            summary="x" * 900,
            fix="y" * 900,
            annotations=[Annotation(path="a.py", message="m")] * 3,
        )
        for i in range(200)
    ]
    r = report(many)
    text = summary_markdown(r)
    assert len(text) <= GITHUB_TEXT_LIMIT
    assert "shortened to fit GitHub's limit" in text
    assert "**Score:** 0/200 practices" in text
    assert "**Marked lines:** 600" in text
    assert len(details_markdown(r)) <= GITHUB_TEXT_LIMIT


def test_workflow_commands_escape_what_the_runner_would_misread() -> None:
    a = Annotation(
        path="src/a,b.py",
        start_line=3,
        end_line=4,
        level="failure",
        title="x: y",
        message="100% wrong\nsecond line",
    )
    out = render_workflow_commands(report([result("lint", "warn", annotations=[a])]))
    first = out.splitlines()[0]
    assert first == (
        "::error file=src/a%2Cb.py,line=3,endLine=4,title=x%3A y::100%25 wrong%0Asecond line"
    )
