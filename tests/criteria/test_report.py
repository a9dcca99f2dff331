"""The exam report criteria: answer limits as the course's checker counts them, and checklist."""

from __future__ import annotations

import random
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


def good_answer(number: int, questions: Mapping[int, Mapping[str, list[int]]] = LIMITS) -> str:
    """An answer inside the limits of question `number`."""
    limits = questions[number]
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
    questions: Mapping[int, Mapping[str, list[int]]] = LIMITS,
) -> str:
    """A report in the template's shape: checklist, then a section for each question."""
    answers = answers or {}
    headings = headings or {}
    out = ["# Exam template for 02476 Machine Learning Operations\n", "Intro text.\n", checklist]
    for number in sorted(questions):
        if number in SECTIONS:
            out.append(f"## {SECTIONS[number]}\n\n> In the following section we ask about it.\n")
        out.append(headings.get(number, f"### Question {number}") + "\n")
        out.append(f"> **What did you do for question {number}?**\n>\n> Answer:\n")
        out.append(answers.get(number, good_answer(number, questions)) + "\n")
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


def checker_answers(text: str, *, older: bool = False) -> list[str]:
    """The answers as the course's `report.py check` takes them, written from its code.

    `older` is the 27-question years' version: it first drops the file's first 43
    characters, keeps the piece before the first `Answer:` when it has a `###`, and then
    drops the first answer kept (which is that piece only when it had one).
    """
    pieces = (text[43:] if older else text).split("Answer:")
    if not older:
        pieces.pop(0)
    answers = []
    for piece in pieces:
        if "###" in piece:
            piece = piece.split("###")[0]
            if "##" in piece:
                piece = piece.split("##")[0]
            answers.append(piece)
    answers.append(pieces[-1])  # IndexError when there was no `Answer:` at all
    return [a.strip("\n") for a in (answers[1:] if older else answers)]


def course_checker(
    path: Path, limits: Mapping[int, Mapping[str, list[int]]], *, older: bool = False
) -> list[int] | str:
    """What the course's checker says of the file at `path`: the questions it fails, or the
    name of the error it stops with. Reads the file in text mode, as the checker does."""
    with path.open(encoding="utf-8") as file:
        text = file.read()
    try:
        answers = checker_answers(text, older=older)
    except IndexError:
        return "IndexError"
    if len(answers) != len(limits):
        return "ValueError"
    failing = []
    for number, answer in enumerate(answers, start=1):
        counts = {
            "words": len(answer.split()),
            "images": len(re.findall(r"\!\[.*?\]\(.*?\)", answer)),
        }
        if any(not low <= counts[kind] <= high for kind, (low, high) in limits[number].items()):
            failing.append(number)
    return failing


def course_rule(text: str) -> tuple[list[int], list[int]]:
    """Word and image counts of each answer, by the course checker's rule."""
    answers = checker_answers(text)
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
        "The course's report checker stops with an error on reports/README.md (`ValueError: "
        "Number of answers are different from the expected 31. Have you changed the "
        "template?`): it finds 30 answers instead of 31 because the `Answer:` on line "
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
            "The course's report checker stops with an error on reports/README.md "
            "(`IndexError: list index out of range`): it finds 0 answers instead of 31 because "
            "the report has no `Answer:` line. Counted by the question headings instead: 0 of "
            "31 answers within limits; 31 not answered yet."
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


# -- report: the same verdict as the course's checker ---------------------------------------

# The limits of the 27-question template of earlier years, from that year's report.py.
OLDER_LIMITS: dict[int, dict[str, list[int]]] = {
    number: limits
    for number, limits in enumerate(
        [
            {},
            {},
            *[{"words": [100, 200]}] * 3,
            *[{"words": [50, 100]}] * 2,
            *[{"words": [100, 200]}] * 3,
            {"words": [200, 300]},
            {"words": [50, 100]},
            {"words": [100, 200]},
            {"words": [200, 300], "images": [1, 3]},
            {"words": [100, 200]},
            {"words": [100, 200]},
            {"words": [50, 200]},
            {"words": [100, 200]},
            {"images": [1, 2]},
            {"images": [1, 1]},
            {"images": [1, 1]},
            {"words": [100, 200]},
            {"words": [100, 200]},
            {"words": [25, 100]},
            {"words": [200, 400], "images": [1, 1]},
            {"words": [200, 400]},
            {"words": [50, 200]},
        ],
        start=1,
    )
}


def images(count: int, name: str = "fig") -> str:
    return " ".join(f"![{name} {i}](figures/{name}{i}.png)" for i in range(count))


def at_bound(questions: Mapping[int, Mapping[str, list[int]]], kind: str, pick: int) -> str:
    """A report with every `kind` count at a bound: `pick` 0 = min, 1 = max, ±1 beyond them."""
    answers = {}
    for number, limits in questions.items():
        if kind not in limits:
            continue
        low, high = limits[kind]
        count = {0: low, 1: high, -1: low - 1, 2: high + 1}[pick]
        if count < 0:
            continue
        other = {k: v for k, v in limits.items() if k != kind}
        parts = [words(count) if kind == "words" else images(count)]
        if "words" in other:
            parts.append(words(other["words"][0]))
        if "images" in other:
            parts.append(images(other["images"][0]))
        answers[number] = "\n\n".join(parts)
    return build_report(answers, questions=questions)


# Answers whose words and images the checker counts in its own way.
TRICKY_ANSWERS: dict[str, str] = {
    "code fence with ## inside": "```bash\n" + words(40) + "\n## comment\nrun\n```\n" + words(70),
    "single # comment": "```python\n# not a heading\nx = 1\n```\n" + words(98),
    "sub-heading": words(60) + "\n\n#### Details\n\n" + words(80),
    "table": "| tool | use |\n|------|-----|\n| ruff | lint |\n" + words(90),
    "list and links": "- [ruff](https://docs.astral.sh/ruff/) lint\n- see https://x.y/z?a=b\n"
    + words(95),
    "hyphens and punctuation": "state-of-the-art - -- ... — ; " + words(96),
    "non-ASCII": "Vi brugte også naïve 東京 café " + words(94),
    "no-break and other spaces": "a\u00a0b c\u2003d e\u200bf g\tH\x0ci " + words(93),
    "trailing whitespace": words(100) + "   \t  \n\n   ",
    "images the regex misses": "![split\nalt](figures/a.png) <img src='b.png'> ![c](d.png"
    + "\n"
    + words(100),
    "images the regex counts": "![](x.png)![a](b.png) [![c](d.png)](e) `![f](g.png)`\n"
    + words(100),
    "stray answer inside": words(150) + "\nAnswer: yes, " + words(30),
    "lower-case answer:": words(120) + "\nanswer: no",
    "placeholder and text": "--- question 9 fill here ---\n" + words(97),
}


def parity_reports() -> dict[str, tuple[str | bytes, Mapping[int, Mapping[str, list[int]]]]]:
    """Reports in the template's shape hitting the checker's edges, with the limits used."""
    reports: dict[str, tuple[str | bytes, Mapping[int, Mapping[str, list[int]]]]] = {}
    for questions, year in ((LIMITS, "current"), (OLDER_LIMITS, "older")):
        for kind in ("words", "images"):
            for pick, name in ((0, "min"), (1, "max"), (-1, "min-1"), (2, "max+1")):
                reports[f"{year}: {kind} at {name}"] = (at_bound(questions, kind, pick), questions)
    for name, answer in TRICKY_ANSWERS.items():
        # Under questions with 100–200, 50–100 and 0–200 words, and image-only question 19.
        answers = {4: answer, 7: answer, 28: answer, 19: answer, 14: answer + images(1)}
        reports[name] = (build_report(answers), LIMITS)
    placeholders = {n: f"--- question {n} fill here ---" for n in (1, 2, 3, 5, 28, 31)}
    reports["placeholders left"] = (build_report({**placeholders, 19: "", 20: "  "}), LIMITS)
    reports["every placeholder"] = (
        build_report({n: f"--- question {n} fill here ---" for n in LIMITS}),
        LIMITS,
    )
    crlf = build_report({7: words(100) + "  ", 12: words(101)}).replace("\n", "\r\n")
    reports["CRLF line endings"] = (crlf.encode(), LIMITS)
    reports["old Mac line endings"] = (build_report({7: words(49)}).replace("\n", "\r"), LIMITS)
    reports["BOM"] = (b"\xef\xbb\xbf" + build_report({3: words(201)}).encode(), LIMITS)
    # What the checker rejects: too many answers, too few, none, another year's template.
    reports["extra section after 31"] = (build_report(after="\n### Appendix\n\nMore.\n"), LIMITS)
    reports["answer above the questions"] = (
        build_report(checklist="Answer: nothing\n\n" + CHECKLIST),
        LIMITS,
    )
    reports["question 32"] = (
        build_report(after="\n### Question 32\n\n> Answer:\n\n" + words(20) + "\n"),
        LIMITS,
    )
    reports["missing answer line"] = (
        build_report().replace("question 12?**\n>\n> Answer:", "question 12?**\n>"),
        LIMITS,
    )
    reports["demoted heading"] = (build_report(headings={20: "## Question 20"}), LIMITS)
    reports["no answers at all"] = ("# Report\n\n### Question 1\n\nWe did it.\n", LIMITS)
    reports["older template, current limits"] = (build_report(questions=OLDER_LIMITS), LIMITS)
    rng = random.Random(11)
    pool = [*TRICKY_ANSWERS.values(), "", "--- question 0 fill here ---", images(2), images(4)]
    for index in range(12):
        answers = {
            n: rng.choice([*pool, words(rng.randrange(0, 420)) + " " + images(rng.randrange(3))])
            for n in LIMITS
            if rng.random() < 0.5
        }
        reports[f"random {index}"] = (build_report(answers), LIMITS)
    return reports


PARITY_REPORTS = parity_reports()


@pytest.mark.parametrize("name", list(PARITY_REPORTS))
def test_verdict_is_the_course_checkers(
    run_criterion: Run, make_repo: Callable[..., Path], name: str
) -> None:
    text, questions = PARITY_REPORTS[name]
    root = make_repo({REPORT: text})
    older = questions is OLDER_LIMITS
    expected = course_checker(root / REPORT, questions, older=older)
    thresholds = {"questions": questions} if older else None
    result = run_criterion("report", root, thresholds=thresholds)
    if isinstance(expected, str):
        assert result.metrics["checker_failing"] is None
        assert result.metrics["checker_error"].startswith(expected + ":")
        assert result.summary.startswith(
            f"The course's report checker stops with an error on {REPORT} (`{expected}: "
        )
        assert any(a.level == Level.failure for a in result.annotations)
        return
    assert result.metrics["checker_failing"] == expected
    assert result.metrics["checker_error"] is None
    assert f"{len(questions) - len(expected)} of {len(questions)} answers within" in (
        result.summary
    )
    # Each question the checker fails is marked on the report.
    marked = {int(m) for a in result.annotations for m in re.findall(r"^Question (\d+)", a.title)}
    assert set(expected) <= marked
    if not expected:
        assert result.metrics["within_limits"] == len(questions)


def test_unfilled_questions_without_a_lower_limit_pass_the_checker(run_criterion: Run) -> None:
    # Questions 1–3 and 28 accept the placeholder's five words; the report is still unfinished.
    placeholders = {n: f"--- question {n} fill here ---" for n in (1, 2, 3, 28)}
    result = run_report(run_criterion, build_report(placeholders))
    assert result.metrics["checker_failing"] == []
    assert result.summary == "31 of 31 answers within limits; 4 not answered yet."
    assert result.status == Status.warn
    assert {a.title for a in result.annotations} == {
        f"Question {n} is not answered yet" for n in (1, 2, 3, 28)
    }


def test_older_template_is_rejected_by_this_years_checker(run_criterion: Run) -> None:
    text = build_report(questions=OLDER_LIMITS)
    result = run_report(run_criterion, text)
    assert result.metrics["checker_error"].startswith("ValueError: Number of answers are")
    assert "because the report has questions 1–27 (another year's template?)" in result.summary
    (failure,) = [a for a in result.annotations if a.level == Level.failure]
    assert failure.start_line == line_of(text, "### Question 27")
    assert failure.title == "The report has 27 questions, the course's template 31"


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
