"""The exam report criteria: answer limits as the course's checker counts them, and checklist."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from checks import CriterionResult, Level, Status, load_profile

REPORT = "reports/README.md"
LIMITS: dict[int, dict[str, list[int]]] = {
    int(k): v for k, v in load_profile().criteria["report"].thresholds["questions"].items()
}
# Section headings the template puts before these questions ("## Coding environment" …).
SECTIONS = {1: "Group information", 4: "Coding environment", 7: "Version control", 17: "Cloud"}

CHECKLIST = """\
## Overall project checklist

The checklist is *exhaustive*.

### Week 1

* [x] Create a git repository (M5)
* [X] Remember to either fill out the `requirements.txt`/`requirements_dev.txt` files or
    keeping your `pyproject.toml`/`uv.lock` up-to-date with
    whatever dependencies that you are using (M2+M6)
* [x] Construct one or multiple docker files for your code (M10)
* [ ] Write one or multiple configurations files for your experiments (M11)

### Week 2

- [x] Create a FastAPI application that can do inference using your model (M22)
- [ ] Write unit tests related to the data part of your code (M16)

### Week 3

* [ ] Check how robust your model is towards data drifting (M27)

### Extra

* [x] Create an architectural diagram over your MLOps pipeline
"""


def words(count: int, per_line: int = 12, prefix: str = "w") -> str:
    """`count` words over lines of `per_line`."""
    tokens = [f"{prefix}{i}" for i in range(count)]
    return "\n".join(" ".join(tokens[i : i + per_line]) for i in range(0, count, per_line))


def good_answer(number: int) -> str:
    """An answer inside the profile's limits for question `number`."""
    limits = LIMITS[number]
    parts = []
    if "words" in limits:
        low, high = limits["words"]
        parts.append(words(max(low, min(20, high))))
    elif number <= 2:
        parts.append("Group 42")
    if "images" in limits:
        parts.extend(f"![figure](figures/q{number}_{i}.png)" for i in range(limits["images"][0]))
    return "\n\n".join(parts)


def figures() -> dict[str, bytes]:
    """The image files `good_answer` links to."""
    return {
        f"reports/figures/q{n}_{i}.png": b"\x89PNG\r\n\x1a\n\x00"
        for n, limits in LIMITS.items()
        for i in range(limits.get("images", [0])[0])
    }


def build_report(
    answers: Mapping[int, str] | None = None,
    *,
    checklist: str = CHECKLIST,
    headings: Mapping[int, str] | None = None,
    after: str = "",
) -> str:
    """A report in the template's shape: checklist, then 31 question sections."""
    answers = answers or {}
    headings = headings or {}
    out = ["# Exam template for 02476 Machine Learning Operations\n", "Intro text.\n", checklist]
    for number in sorted(LIMITS):
        if number in SECTIONS:
            out.append(f"## {SECTIONS[number]}\n\n> In the following section we ask about it.\n")
        out.append(headings.get(number, f"### Question {number}") + "\n")
        out.append(f"> **What did you do for question {number}?**\n>\n> Answer:\n")
        out.append(answers.get(number, good_answer(number)) + "\n")
    return "\n".join(out) + after


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """The 1-based line of the `nth` occurrence of `needle`."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    return text.count("\n", 0, offset) + 1


Run = Callable[..., CriterionResult]


def run_report(run_criterion: Run, text: str | bytes, **extra: Any) -> CriterionResult:
    return run_criterion("report", {REPORT: text, **figures(), **extra})


def course_rule(text: str) -> tuple[list[int], list[int]]:
    """The course checker's rule, written from its description, as an independent reference."""
    pieces = text.split("Answer:")
    answers = []
    for piece in pieces[1:]:
        if "###" in piece:
            piece = piece.split("###")[0]
            if "##" in piece:
                piece = piece.split("##")[0]
            answers.append(piece)
    answers.append(pieces[-1])
    answers = [a.strip("\n") for a in answers]
    image = r"\!\[.*?\]\(.*?\)"
    return [len(a.split()) for a in answers], [len(re.findall(image, a)) for a in answers]


# -- report: answers within limits ----------------------------------------------------------


def test_complete_report_within_limits_passes(run_criterion: Run) -> None:
    result = run_report(run_criterion, build_report())
    assert result.status == Status.passed, result.summary
    assert result.summary.startswith("31 of 31 answers within limits")
    assert result.metrics["answered"] == 31
    assert result.metrics["within_limits"] == 31
    assert result.metrics["words"][7] == 50
    assert result.metrics["images"][29] == 1
    assert result.annotations == []
    assert result.docs_url.endswith("/reports")


@pytest.mark.parametrize(("count", "ok"), [(50, True), (100, True), (49, False), (101, False)])
def test_word_limits_are_inclusive(run_criterion: Run, count: int, ok: bool) -> None:
    result = run_report(run_criterion, build_report({7: words(count)}))
    assert result.metrics["words"][7] == count
    if ok:
        assert result.status == Status.passed
        return
    assert result.status == Status.warn
    (annotation,) = result.annotations
    assert annotation.title == f"Question 7: {count} words, expected 50–100"
    assert annotation.level == Level.warning
    assert annotation.rank == 10
    expected = "too short" if count < 50 else "too long"
    assert f"question 7 is {expected} ({count} words, expected 50–100)" in result.summary


def test_too_short_answer_is_annotated_on_its_lines(run_criterion: Run) -> None:
    text = build_report({7: words(23, per_line=10, prefix="short")})
    result = run_report(run_criterion, text)
    assert result.status == Status.warn
    assert result.summary == (
        "30 of 31 answers within limits; question 7 is too short (23 words, expected 50–100)."
    )
    (annotation,) = result.annotations
    assert annotation.path == REPORT
    assert (annotation.start_line, annotation.end_line) == (
        line_of(text, "short0 short1"),
        line_of(text, "short20 short21"),
    )
    assert "counts 23 words" in annotation.message
    assert "expects 50–100 words" in annotation.message
    assert result.fix and "reports/README.md" in result.fix


def test_placeholders_are_notices_not_word_count_warnings(run_criterion: Run) -> None:
    text = build_report(
        {5: "--- question 5 fill here ---", 30: "--- question 30 fill here ---", 19: ""}
    )
    result = run_report(run_criterion, text)
    assert result.status == Status.warn
    assert result.summary == "28 of 31 answers within limits; 3 not answered yet."
    assert [a.level for a in result.annotations] == [Level.notice] * 3
    by_title = {a.title: a for a in result.annotations}
    five = by_title["Question 5 is not answered yet"]
    assert five.start_line == line_of(text, "--- question 5 fill here")
    assert "(100–200 words)" in five.message
    assert "(exactly 1 image)" not in five.message
    assert "1–2 images" in by_title["Question 19 is not answered yet"].message
    assert result.metrics["answered"] == 28


def test_placeholder_left_above_an_answer(run_criterion: Run) -> None:
    text = build_report({12: "--- question 12 fill here ---\n\n" + words(60)})
    result = run_report(run_criterion, text)
    (annotation,) = result.annotations
    assert annotation.level == Level.notice
    assert annotation.title == "Question 12 still has the template's placeholder"
    assert annotation.start_line == line_of(text, "--- question 12")
    assert result.metrics["words"][12] == 66  # the checker counts the placeholder too
    assert result.metrics["answered"] == 31


def test_image_counts_and_missing_image_files(run_criterion: Run) -> None:
    text = build_report(
        {
            19: "![bucket](figures/gcp/bucket.png)",
            20: "Our registry:\n\n![registry](figures/registry.png)",
            21: "![build](https://example.com/build.png)",
            28: "We wrote `![example](figures/code.png)` in our docs.",
            29: words(250),
        }
    )
    result = run_criterion(
        "report", {REPORT: text, **figures(), "reports/figures/gcp/bucket.png": b"\x89PNG"}
    )
    assert result.status == Status.warn
    titles = {a.title: a for a in result.annotations}
    assert set(titles) == {
        "Question 29: 0 images, expected exactly 1",
        "Image not found: figures/registry.png",
    }
    missing = titles["Image not found: figures/registry.png"]
    assert missing.level == Level.warning
    assert missing.start_line == missing.end_line == line_of(text, "![registry]")
    assert "reports/figures/registry.png" in missing.message
    assert "question 29 has too few images (0, expected exactly 1)" in result.summary
    assert result.summary.endswith("; 1 image not found.")
    assert result.metrics["images"][19] == result.metrics["images"][21] == 1
    assert result.metrics["missing_images"] == 1


def test_image_with_other_letter_case_or_outside_the_repository(run_criterion: Run) -> None:
    text = build_report({19: "![a](figures/Bucket.PNG)", 20: "![b](../../../etc/registry.png)"})
    result = run_criterion(
        "report", {REPORT: text, **figures(), "reports/figures/bucket.png": b"x"}
    )
    by_line = {a.start_line: a for a in result.annotations}
    case = by_line[line_of(text, "![a]")]
    assert "There is reports/figures/bucket.png: the letter case differs." in case.message
    outside = by_line[line_of(text, "![b]")]
    assert "outside the repository" in outside.message


def test_renamed_question_heading_still_counts(run_criterion: Run) -> None:
    text = build_report(headings={7: "### Testing (question seven)"})
    result = run_report(run_criterion, text)
    assert result.status == Status.passed
    assert result.metrics["checker_answers"] == 31


def test_demoted_question_heading_breaks_the_course_checker(run_criterion: Run) -> None:
    text = build_report({6: words(150), 7: words(70)}, headings={7: "## Question 7"})
    result = run_report(run_criterion, text)
    assert result.status == Status.warn
    assert result.summary.startswith(
        "The course's report checker stops with an error on reports/README.md: it finds 30 "
        "answers instead of 31 because the `Answer:` on line "
    )
    (failure,) = [a for a in result.annotations if a.level == Level.failure]
    # Question 6's `Answer:` is the one the checker drops: no `###` before question 7's.
    assert failure.start_line == line_of(text, "Answer:", nth=5)
    assert failure.message.startswith(
        f"The heading `## Question 7` (line {line_of(text, '## Question 7')}) is not a `###` "
        "heading, so the course's checker ignores this answer"
    )
    # Counted by the headings instead, each question keeps its own answer.
    assert result.metrics["words"][6] == 150
    assert result.metrics["words"][7] == 70
    assert result.metrics["within_limits"] == 31


def test_extra_section_after_question_31(run_criterion: Run) -> None:
    text = build_report(after="\n### Appendix\n\nSome extra notes about the project.\n")
    result = run_report(run_criterion, text)
    assert result.status == Status.warn
    assert "it finds 32 answers instead of 31" in result.summary
    assert "the `### Appendix` heading on line" in result.summary
    assert "Counted by the question headings instead: 31 of 31 answers within limits" in (
        result.summary
    )
    (failure,) = result.annotations
    assert failure.level == Level.failure
    assert failure.start_line == line_of(text, "### Appendix")
    assert failure.title == "Extra section after the last answer"
    assert result.metrics["checker_answers"] == 32
    assert result.metrics["words"][31] == 50
    assert len(result.metrics["words"]) == 31


def test_missing_answer_line(run_criterion: Run) -> None:
    text = build_report().replace("question 12?**\n>\n> Answer:", "question 12?**\n>")
    result = run_report(run_criterion, text)
    assert "it finds 30 answers instead of 31 because question 12 (line" in result.summary
    (failure,) = [a for a in result.annotations if a.level == Level.failure]
    assert failure.start_line == line_of(text, "### Question 12")
    assert failure.title == "Question 12 has no `Answer:` line"
    assert 12 not in result.metrics["words"]
    assert result.metrics["words"][13] == 100


def test_stray_answer_marker_inside_an_answer(run_criterion: Run) -> None:
    # Same count for the checker, but it only counts what follows the second `Answer:`.
    text = build_report({9: words(120) + "\nAnswer: yes, and more."})
    result = run_report(run_criterion, text)
    assert result.metrics["checker_answers"] == 31
    assert result.metrics["words"][9] == 3
    warnings = {a.title: a for a in result.annotations}
    stray = warnings["No `###` heading before the next `Answer:`"]
    assert stray.level == Level.warning
    assert stray.start_line == line_of(text, "Answer:", nth=8)
    assert f"the one on line {line_of(text, 'Answer: yes')} makes it ignore" in stray.message
    assert result.summary.startswith("The template's structure was changed")


def test_heading_inside_an_answer_cuts_it_short(run_criterion: Run) -> None:
    text = build_report({8: words(60) + "\n\n#### Details\n\n" + words(80)})
    result = run_report(run_criterion, text)
    (annotation,) = result.annotations
    assert annotation.title == "Question 8: 60 words, expected 100–200"
    assert f"stopped counting at line {line_of(text, '#### Details')}" in annotation.message


def test_crlf_and_latin1_reports(run_criterion: Run) -> None:
    text = build_report({7: words(23, prefix="short")})
    result = run_report(run_criterion, text.replace("\n", "\r\n").encode("latin-1"))
    (annotation,) = result.annotations
    assert (annotation.start_line, annotation.end_line) == (
        line_of(text, "short0"),
        line_of(text, "short22"),
    )
    latin = build_report({3: "Vi brugte også " + words(10)}).encode("latin-1")
    assert run_report(run_criterion, latin).status == Status.passed


def test_no_report(run_criterion: Run) -> None:
    result = run_criterion("report", {"README.md": "# project\n"})
    assert result.status == Status.warn
    assert result.summary == "No exam report found at reports/README.md."
    assert "template's `reports/README.md`" in result.fix
    empty = run_criterion("report", {})
    assert empty.summary == "No exam report found at reports/README.md."


def test_report_without_answers(run_criterion: Run) -> None:
    for text in ("", "# Our report\n\nWe did it all.\n"):
        result = run_criterion("report", {REPORT: text})
        assert result.status == Status.warn
        assert result.summary == (
            "The course's report checker stops with an error on reports/README.md: it finds "
            "1 answer instead of 31 because the report has no `Answer:` line. Counted by the "
            "question headings instead: 0 of 31 answers within limits; 31 not answered yet."
        )
        (failure,) = result.annotations
        assert (failure.level, failure.start_line) == (Level.failure, 1)


def test_report_with_other_letter_case(run_criterion: Run) -> None:
    result = run_criterion("report", {"reports/readme.md": build_report()})
    assert result.summary.startswith("Found reports/readme.md, but the course's report checker")


def test_binary_or_huge_report(run_criterion: Run) -> None:
    binary = run_criterion("report", {REPORT: b"\x00\x01PNG" * 10})
    assert binary.status == Status.warn
    assert "could not be read as text" in binary.summary
    huge = run_criterion("report", {REPORT: "word " * 600_000})
    assert "could not be read as text" in huge.summary


def test_symlink_outside_the_repository_is_not_read(
    run_criterion: Run, make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.md"
    outside.write_text(build_report(), encoding="utf-8")
    root = make_repo({"README.md": "x"})
    (root / "reports").mkdir()
    (root / REPORT).symlink_to(outside)
    result = run_criterion("report", root)
    assert result.summary == "No exam report found at reports/README.md."


REPORT_VARIANTS = {
    "template": build_report(),
    "short and long": build_report({4: words(30), 11: words(400), 29: words(10)}),
    "extra section": build_report(after="\n### Appendix\n\nMore text here.\n"),
    "trailing level-2 section": build_report(after="\n## Appendix\n\n" + words(40)),
    "stray answer": build_report({9: words(120) + "\nAnswer: yes"}),
    "missing answer": build_report().replace("> Answer:\n\nGroup 42", ">\n\nGroup 42", 1),
    "demoted heading": build_report(headings={20: "## Question 20"}),
    "sub-heading and images": build_report(
        {14: words(210) + "\n![a](figures/x.png) ![b](y.png)\n#### More\n" + words(5)}
    ),
    "code with hashes": build_report({15: "```\nC# and ## in code\n```\n" + words(100)}),
    "answer before questions": build_report(checklist="Answer: nothing\n\n" + CHECKLIST),
}


@pytest.mark.parametrize("name", list(REPORT_VARIANTS))
def test_counts_agree_with_the_course_rule(run_criterion: Run, name: str) -> None:
    text = REPORT_VARIANTS[name]
    counts, images = course_rule(text)
    result = run_report(run_criterion, text)
    assert result.metrics["checker_answers"] == len(counts)
    if len(counts) == 31:
        assert list(result.metrics["words"].values()) == counts
        assert list(result.metrics["images"].values()) == images
    else:
        assert result.summary.startswith("The course's report checker stops with an error")
        assert any(a.level == Level.failure for a in result.annotations)


def test_trailing_section_counts_towards_question_31(run_criterion: Run) -> None:
    # The last piece is counted whole, so a `##` section after question 31 adds to its words.
    result = run_report(run_criterion, build_report(after="\n## Appendix\n\n" + words(260)))
    assert result.metrics["words"][31] == 50 + 2 + 260
    assert result.annotations[0].title == "Question 31: 312 words, expected 50–300"


# -- report-checklist ---------------------------------------------------------------------


def test_ticked_docker_box_without_dockerfile(run_criterion: Run) -> None:
    text = build_report()
    result = run_criterion("report-checklist", {REPORT: text}, also=["docker"])
    assert result.status == Status.warn
    (annotation,) = result.annotations
    assert annotation.level == Level.warning
    assert annotation.start_line == annotation.end_line == line_of(text, "* [x] Construct one")
    assert annotation.message.startswith(
        'Ticked "Construct one or multiple docker files for your code (M10)" but the '
        "repository does not show it yet (docker: No Dockerfile found.)"
    )
    assert annotation.rank == 15
    assert result.metrics["ticked"] == 5
    assert result.metrics["unsupported"] == 1
    assert result.metrics["ticked_by_week"] == {"Week 1": 3, "Week 2": 1, "Week 3": 0, "Extra": 1}
    assert result.summary.startswith(
        "5 of 8 boxes ticked (Week 1: 3, Week 2: 1, Week 3: 0, Extra: 1)"
    )
    assert "1 not backed by the repository yet" in result.summary


def test_ticked_docker_box_with_dockerfile(run_criterion: Run) -> None:
    files = {REPORT: build_report(), "dockerfiles/train.dockerfile": "FROM python:3.11-slim\n"}
    result = run_criterion("report-checklist", files, also=["docker"])
    assert result.status == Status.passed
    assert result.annotations == []
    assert "the repository backs every ticked box the checks can verify (1 of 5)" in result.summary


def test_wrapped_item_with_two_modules(run_criterion: Run) -> None:
    text = build_report()
    result = run_criterion("report-checklist", {REPORT: text}, also=["dependencies", "docker"])
    by_line = {a.start_line: a for a in result.annotations}
    wrapped = by_line[line_of(text, "* [X] Remember")]
    assert wrapped.end_line == line_of(text, "    whatever dependencies")
    assert "up-to-date with whatever dependencies that you are using (M2+M6)" in wrapped.message
    assert "dependencies:" in wrapped.message


def test_unchecked_and_unverifiable_boxes_are_left_alone(run_criterion: Run) -> None:
    # Unticked docker box; FastAPI maps to `api`, not in this profile; the diagram maps to none.
    checklist = CHECKLIST.replace("* [x] Construct", "* [ ] Construct")
    result = run_criterion(
        "report-checklist", {REPORT: build_report(checklist=checklist)}, also=["docker"]
    )
    assert result.status == Status.passed
    assert result.metrics["unsupported"] == 0


def test_checklist_without_report_or_ticks(run_criterion: Run) -> None:
    assert run_criterion("report-checklist", {}).summary == "No report found at reports/README.md."
    unticked = run_criterion(
        "report-checklist",
        {REPORT: build_report(checklist=CHECKLIST.replace("[x]", "[ ]").replace("[X]", "[ ]"))},
    )
    assert unticked.status == Status.info
    assert unticked.summary == "No boxes ticked yet in the report's checklist (8 boxes)."
    bare = run_criterion("report-checklist", {REPORT: build_report(checklist="")})
    assert bare.summary == "No project checklist found in reports/README.md."
