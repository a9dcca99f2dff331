"""The exam report: answers within the course's limits, and checklist claims the code backs.

The course checks `reports/README.md` with its own script (`reports/report.py check`). Its
rule is reproduced here exactly, quirks included, so a group sees the same verdict on every
push instead of on the day of the hand-in, with the lines it is about.
"""

from __future__ import annotations

import posixpath
import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from urllib.parse import unquote

from checks.models import Annotation, CriterionResult, Level, Status
from checks.parsing import split_lines
from checks.registry import Context, Outcome, criterion, failed, info, passed
from checks.snapshot import Snapshot

REPORT_PATH = "reports/README.md"
MARKER = "Answer:"
# The course checker's own image pattern (non-greedy, one line), so the counts agree with it.
IMAGE = re.compile(r"\!\[.*?\]\(.*?\)")
IMAGE_TARGET = re.compile(r"!\[.*?\]\((.*?)\)")
PLACEHOLDER = re.compile(r"---\s*question\s+\d+\s+fill\s+here\s*---", re.I)
# Level-1 to 3 headings delimit question sections; "####" inside an answer does not.
SECTION_HEADING = re.compile(r"^#{1,3}(?!#)", re.M)
QUESTION_HEADING = re.compile(r"#{1,3}(?!#)[ \t]*Question[ \t]*(\d+)", re.I)
# A question heading the checker does not see: not level 3, or written in bold.
OTHER_QUESTION_HEADING = re.compile(
    r"^[ \t]*(?:#{1,2}(?!#)|#{4,}|\*\*)[ \t]*Question[ \t]*(\d+)\b.*$", re.I | re.M
)
FIRST_QUESTION = re.compile(r"^###(?!#)[ \t]*Question\b", re.I | re.M)
CODE_FENCE = re.compile(r"^[ \t]*(?:```|~~~)", re.M)
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
CHECKLIST_ITEM = re.compile(r"^\s*[*+-]\s+\[([ xX])\]\s*(.*)$")
WEEK_HEADING = re.compile(r"^#{1,6}[ \t]*(?:Week[ \t]*(\d+)|(Extra))\b", re.I)
MODULE_TAG = re.compile(r"\(([^()]*\bM\d+\b[^()]*)\)")
MODULE = re.compile(r"\bM\d+\b")
# How many single problems the summary names before "and N more".
SUMMARY_ITEMS = 3
# Enough marked lines to show every kind of structural or image problem; metrics count all.
MAX_ANNOTATIONS = 50


class _Report:
    """The report's text as the course's checker reads it, with offsets mapped to lines."""

    def __init__(self, raw: str) -> None:
        # The checker opens the file in text mode: universal newlines turn \r\n and \r into \n.
        self.text = raw.replace("\r\n", "\n").replace("\r", "\n")
        self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        # Offsets where ``` or ~~~ fences open and close a code block, in turn.
        self._fences = [m.start() for m in CODE_FENCE.finditer(self.text)]

    def line(self, offset: int) -> int:
        """The 1-based line of the character at `offset`."""
        return bisect_left(self._newlines, offset) + 1

    def in_code(self, offset: int) -> bool:
        """Whether `offset` is inside a fenced code block or an inline `code` span."""
        if bisect_right(self._fences, offset) % 2 == 1:
            return True
        line_start = self.text.rfind("\n", 0, offset) + 1
        return self.text.count("`", line_start, offset) % 2 == 1

    def line_text(self, offset: int) -> str:
        start = self.text.rfind("\n", 0, offset) + 1
        end = self.text.find("\n", offset)
        return self.text[start : end if end >= 0 else len(self.text)].strip()


@dataclass(frozen=True)
class Answer:
    """One answer as the checker counts it, and where it sits in the report."""

    text: str  # exactly what the checker counts
    start: int  # offset of `text` in the report
    marker: int  # offset of the `Answer:` it follows
    cut: int | None  # where the checker stopped at a "##", when it did
    end: int  # where the text it was taken from ends (the next `Answer:` or the end)

    @property
    def words(self) -> int:
        return len(self.text.split())

    @property
    def images(self) -> int:
        return len(IMAGE.findall(self.text))

    @property
    def placeholder(self) -> re.Match[str] | None:
        """The template's `--- question N fill here ---`, when it is still there."""
        return PLACEHOLDER.search(self.text)

    @property
    def written(self) -> bool:
        """Whether the group wrote anything besides the placeholder."""
        return bool(PLACEHOLDER.sub("", self.text).strip())

    def lines(self, report: _Report) -> tuple[int, int]:
        """The lines holding the answer's text (the `Answer:` line when it is empty)."""
        body = self.text.strip()
        if not body:
            line = report.line(self.marker)
            return line, line
        first = self.start + len(self.text) - len(self.text.lstrip())
        last = self.start + len(self.text.rstrip()) - 1
        return report.line(first), report.line(last)


def _answer(piece: str, offset: int, cut: int | None) -> Answer:
    """The answer in `piece` (the text after an `Answer:` at `offset`), cut at `cut` if given."""
    kept = piece if cut is None else piece[:cut]
    text = kept.strip("\n")
    lead = len(kept) - len(kept.lstrip("\n"))
    return Answer(
        text=text,
        start=offset + lead,
        # A report without any `Answer:` has its only piece at 0, after no marker.
        marker=max(offset - len(MARKER), 0),
        cut=None if cut is None else offset + cut,
        end=offset + len(piece),
    )


@dataclass(frozen=True)
class _Split:
    """The report split on `Answer:`: the pieces, their offsets and the checker's answers."""

    pieces: list[str]
    offsets: list[int]
    answers: list[Answer]


def checker_split(text: str) -> _Split:
    """The course checker's rule: split on `Answer:`, keep the pieces up to a `###`, add the last.

    A piece without `###` is dropped unless it is the last one, which is always added whole,
    so a last piece that itself holds `###` is counted twice.
    """
    pieces = text.split(MARKER)
    offsets, position = [], 0
    for piece in pieces:
        offsets.append(position)
        position += len(piece) + len(MARKER)
    answers = []
    for piece, offset in zip(pieces[1:], offsets[1:], strict=True):
        if "###" in piece:
            end = piece.index("###")
            if "##" in piece[:end]:
                end = piece.index("##")
            answers.append(_answer(piece, offset, end))
    # Without any `Answer:` the checker has no last piece to add: it stops with an IndexError.
    if len(pieces) > 1:
        answers.append(_answer(pieces[-1], offsets[-1], None))
    return _Split(pieces, offsets, answers)


def checker_error(found: int, expected: int) -> str:
    """The error the course's checker stops with when it does not find `expected` answers."""
    if found == 0:
        return "IndexError: list index out of range"
    return (
        f"ValueError: Number of answers are different from the expected {expected}. "
        "Have you changed the template?"
    )


def misses_limits(answer: Answer, limits: Mapping[str, _Range]) -> bool:
    """Whether the checker fails this answer: a word or image count outside its range."""
    counts = {"words": answer.words, "images": answer.images}
    return any(counts[kind] not in limit for kind, limit in limits.items())


@dataclass(frozen=True)
class _Problem:
    """A change to the template that makes the checker count the wrong text."""

    offset: int
    title: str
    message: str
    reason: str  # a clause for the summary


@dataclass(frozen=True)
class _Section:
    """A question's section of the report, found by its heading rather than the checker's rule."""

    number: int
    heading: int  # offset of the heading
    explicit: bool  # numbered "Question N" in the heading, not by position
    answer: Answer | None


def _sections(text: str) -> list[_Section]:
    """Question sections by their headings: a `Question N` heading or a section with `Answer:`."""
    bounds = [m.start() for m in SECTION_HEADING.finditer(text)] + [len(text)]
    sections: list[_Section] = []
    number = 0
    for start, end in pairwise(bounds):
        body = text[start:end]
        numbered = QUESTION_HEADING.match(body)
        at = body.rfind(MARKER)
        if numbered is None and at < 0:
            continue
        number = int(numbered.group(1)) if numbered else number + 1
        answer = None
        if at >= 0:
            # Like the checker, the answer is what follows the last `Answer:`, up to a "##".
            piece = body[at + len(MARKER) :]
            cut = piece.find("##")
            answer = _answer(piece, start + at + len(MARKER), cut if cut >= 0 else None)
        sections.append(_Section(number, start, numbered is not None, answer))
    return sections


def by_headings(sections: Sequence[_Section]) -> dict[int, Answer]:
    """Answers per question number, found through the question headings."""
    positional: dict[int, Answer] = {}
    explicit: dict[int, Answer] = {}
    for section in sections:
        if section.answer is not None:
            chosen = explicit if section.explicit else positional
            chosen.setdefault(section.number, section.answer)
    return {**positional, **explicit}


def _problems(
    report: _Report, split: _Split, sections: Sequence[_Section], expected: int
) -> list[_Problem]:
    """Every place where the template was changed in a way the checker's rule trips over."""
    text = report.text
    problems: list[_Problem] = []
    last = split.pieces[-1]
    if len(split.pieces) > 1 and "###" in last:
        offset = split.offsets[-1] + last.index("###")
        heading = report.line_text(offset)
        problems.append(
            _Problem(
                offset,
                "Extra section after the last answer",
                f"The course's checker counts everything after the last `Answer:` as the last "
                f"answer and, because this `###` heading follows it, counts that text a second "
                f"time as one more answer. Remove the heading `{heading}` (bold text works "
                f"instead) or move this section above question 1.",
                f"the `{heading}` heading on line {report.line(offset)} comes after the last "
                f"`Answer:` and is counted as one more answer",
            )
        )
    first_question = FIRST_QUESTION.search(text)
    # Each loop finds its problems in the report's order, so stopping each one after the
    # annotation cap still leaves the first ones of all; a pathological report stays fast.
    before = len(problems)
    for index, (piece, offset) in enumerate(
        zip(split.pieces[1:-1], split.offsets[1:-1], strict=True), start=1
    ):
        if len(problems) - before >= MAX_ANNOTATIONS:
            break
        marker = offset - len(MARKER)
        if "###" not in piece:
            following = report.line(split.offsets[index + 1] - len(MARKER))
            demoted = OTHER_QUESTION_HEADING.search(piece)
            if demoted is not None:
                heading = demoted.group().strip()
                advice = (
                    f"The heading `{heading}` (line {report.line(offset + demoted.start())}) "
                    f"is not a `###` heading, so the course's checker ignores this answer "
                    f"and counts only what follows the next `Answer:` (line {following}). "
                    f"Write it as `### Question {demoted.group(1)}`, as in the template."
                )
            else:
                advice = (
                    f"The course's checker starts a new answer at every `Answer:`, so the "
                    f"one on line {following} makes it ignore the text between here and "
                    f"there. Keep one `Answer:` per question: rephrase the other one (a "
                    f"lower-case `answer:` is not counted)."
                )
            problems.append(
                _Problem(
                    marker,
                    "No `###` heading before the next `Answer:`",
                    advice,
                    f"the `Answer:` on line {report.line(marker)} is not followed by a `###` "
                    f"heading before the next `Answer:`",
                )
            )
        elif first_question is not None and marker < first_question.start():
            problems.append(
                _Problem(
                    marker,
                    "`Answer:` above the questions",
                    "The course's checker treats every `Answer:` as the start of an answer, "
                    "this one above the questions too, and counts one answer too many. "
                    "Rephrase it (a lower-case `answer` is not counted).",
                    f"the `Answer:` on line {report.line(marker)} is above the questions",
                )
            )
    seen: set[int] = set()
    before = len(problems)
    for section in sections:
        if len(problems) - before >= MAX_ANNOTATIONS:
            break
        if not section.explicit:
            continue
        line = report.line(section.heading)
        if section.answer is None:
            problems.append(
                _Problem(
                    section.heading,
                    f"Question {section.number} has no `Answer:` line",
                    "The course's checker finds answers by the literal `Answer:`. Without it, "
                    "this question's answer is not counted and every later answer is matched "
                    "to the wrong question. Put back the template's `> Answer:` line under the "
                    "question.",
                    f"question {section.number} (line {line}) has no `Answer:` line",
                )
            )
        elif section.number in seen or section.number > expected:
            problems.append(
                _Problem(
                    section.heading,
                    f"Extra question section: Question {section.number}",
                    f"The report has exactly {expected} questions and this section adds one "
                    f"more answer to them. Remove it or merge it into the question it belongs to.",
                    f"question {section.number} on line {line} is an extra question section",
                )
            )
        seen.add(section.number)
    found = len(split.answers)
    numbered = [s for s in sections if s.explicit]
    if (
        not problems
        and 0 < found != expected
        and [s.number for s in numbered] == list(range(1, found + 1))
    ):
        # Questions 1 to N, each answered, and N is not the template's count: another year's.
        problems.append(
            _Problem(
                numbered[-1].heading,
                f"The report has {found} questions, the course's template {expected}",
                f"The course's checker expects the {expected} questions of this year's template "
                f"and stops with an error on {found}. Move your answers into the current "
                f"template (`reports/README.md` of the course's project template).",
                f"the report has questions 1–{found} (another year's template?) and the "
                f"checker expects {expected}",
            )
        )
    if not problems and found != expected:
        problems.append(
            _Problem(
                0,
                f"The course's checker finds {_plural(found, 'answer')}, not {expected}",
                "The course's checker needs exactly one `Answer:` line per question, each "
                "followed by the next `### Question N` heading, as in the template. Compare "
                "your report with the template to find what changed.",
                "the report has no `Answer:` line"
                if len(split.pieces) == 1
                else "its question sections differ from the template's",
            )
        )
    return sorted(problems, key=lambda p: p.offset)


@dataclass(frozen=True)
class _Range:
    low: int
    high: int

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high

    def text(self, noun: str = "") -> str:
        span = f"exactly {self.low}" if self.low == self.high else f"{self.low}–{self.high}"
        if not noun:
            return span
        return f"{span} {noun}" + ("" if self.low == self.high == 1 else "s")


def _constraints(questions: Mapping[Any, Any]) -> dict[int, dict[str, _Range]]:
    """The profile's per-question ranges, keyed by question number."""
    return {
        int(number): {kind: _Range(*bounds) for kind, bounds in (limits or {}).items()}
        for number, limits in questions.items()
    }


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _needs(limits: Mapping[str, _Range]) -> str:
    parts = [limits[kind].text(kind[:-1]) for kind in ("words", "images") if kind in limits]
    return " and ".join(parts)


def _cut_short(report: _Report, answer: Answer) -> str:
    """Why the checker stopped early, when a `##` inside the answer cut it off."""
    if answer.cut is None:
        return ""
    text = report.text
    mid_line = answer.cut > 0 and text[answer.cut - 1] != "\n"
    rest = text[answer.cut : answer.end].split("\n")[1:]
    # After the answer the template only has blank lines, headings and quoted question text.
    own_text = any(line.strip() and not line.lstrip().startswith(("#", ">")) for line in rest)
    if not (mid_line or own_text):
        return ""
    return (
        f" The checker stopped counting at line {report.line(answer.cut)} "
        f"(`{report.line_text(answer.cut)[:60]}`): a `##` inside an answer ends it for the "
        f"checker, so the text below it was not counted."
    )


def _limit_annotations(
    report: _Report,
    path: str,
    number: int,
    answer: Answer,
    limits: Mapping[str, _Range],
) -> tuple[list[Annotation], list[str]]:
    """Warnings (and summary clauses) for each range this answer misses."""
    annotations, clauses = [], []
    start, end = answer.lines(report)
    for kind, count in (("words", answer.words), ("images", answer.images)):
        limit = limits.get(kind)
        if limit is None or count in limit:
            continue
        noun = kind[:-1]
        short = count < limit.low
        if kind == "words":
            clauses.append(
                f"question {number} is too {'short' if short else 'long'} "
                f"({_plural(count, noun)}, expected {limit.text()})"
            )
            advice = (
                "Add more detail on what the question asks." + _cut_short(report, answer)
                if short
                else f"Shorten it to at most {limit.high} words: the checker counts every "
                "whitespace-separated piece, including code, links and image tags."
            )
        else:
            clauses.append(
                f"question {number} has too {'few' if short else 'many'} images "
                f"({count}, expected {limit.text()})"
            )
            advice = (
                "Add the screenshot with `![description](figures/<name>.png)` and commit the "
                "image file to reports/figures/."
                if short
                else f"Keep at most {_plural(limit.high, 'image')} in this answer."
            )
        annotations.append(
            Annotation(
                path=path,
                start_line=start,
                end_line=end,
                level=Level.warning,
                title=f"Question {number}: {_plural(count, noun)}, expected {limit.text()}",
                message=f"The course's report checker counts {_plural(count, noun)} in this "
                f"answer and expects {limit.text(noun)}. {advice}",
            )
        )
    return annotations, clauses


def _image_target(raw: str) -> str:
    """The path inside `![alt](...)`, without a title, `<>`, query or fragment."""
    target = raw.strip()
    if target.startswith("<") and ">" in target:
        target = target[1 : target.index(">")]
    else:
        target = target.split(maxsplit=1)[0] if target else ""
    return unquote(re.split(r"[?#]", target, maxsplit=1)[0])


def _missing_images(snapshot: Snapshot, report: _Report, path: str) -> tuple[list[Annotation], int]:
    """Warnings for images whose file is not in the repository (web images are not checked).

    Returns the first warnings (up to the annotation cap) and how many images are missing.
    """
    folder = posixpath.dirname(path)
    annotations: list[Annotation] = []
    count = 0
    by_lower: dict[str, str] | None = None
    for match in IMAGE_TARGET.finditer(report.text):
        target = _image_target(match.group(1))
        if not target or target.startswith("//") or URL_SCHEME.match(target):
            continue
        # An image shown as code (like the template's own example) is not displayed.
        if report.in_code(match.start()):
            continue
        # GitHub resolves "/x.png" from the repository root and "x.png" from the report's folder.
        joined = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        resolved = posixpath.normpath(joined)
        if snapshot.is_file(resolved):
            continue
        count += 1
        if len(annotations) >= MAX_ANNOTATIONS:
            continue
        line = report.line(match.start())
        if resolved == ".." or resolved.startswith("../"):
            message = (
                f"This image points to `{target}`, outside the repository, so it will be "
                "missing from your hand-in. Put the image in reports/figures/ and link it as "
                "`figures/<name>.png`."
            )
        else:
            if by_lower is None:
                by_lower = {p.lower(): p for p in snapshot.paths}
            actual = by_lower.get(resolved.lower())
            case = f" There is {actual}: the letter case differs." if actual else ""
            message = (
                f"This image points to {resolved}, which is not in the repository, so it will "
                f"be missing from your hand-in. Commit the image or fix the path (it is "
                f"relative to {folder or 'the repository root'}/, and letter case matters).{case}"
            )
        annotations.append(
            Annotation(
                path=path,
                start_line=line,
                end_line=line,
                level=Level.warning,
                title=f"Image not found: {target}",
                message=message,
            )
        )
    return annotations, count


def _not_found(snapshot: Snapshot, path: str) -> Outcome:
    """No readable report: say what is there instead, if anything."""
    if snapshot.is_file(path):
        return failed(
            f"{path} could not be read as text (it is binary or larger than "
            f"{snapshot.read_cap // (1024 * 1024)} MB)."
        )
    folder = posixpath.dirname(path)
    candidates = snapshot.under(folder) if folder else snapshot.paths
    similar = [p for p in candidates if p.lower() == path.lower()]
    if similar:
        return failed(
            f"Found {similar[0]}, but the course's report checker reads {path} exactly "
            "(letter case matters): rename it."
        )
    return failed(f"No exam report found at {path}.")


@criterion(
    "report",
    title="Exam report",
    module="Report",
    fix="""
        Keep the course template's `reports/README.md` and replace every
        `--- question N fill here ---` with your answer, within the word and image limits
        stated under each question. Don't rename or remove the `### Question N` headings or
        the `Answer:` lines: the course's `reports/report.py check` relies on them.
    """,
    thresholds={"path": REPORT_PATH},
    rank=10,
)
def report(snapshot: Snapshot, context: Context) -> Outcome:
    """Your exam report (`reports/README.md`), checked the way the course checks it.

    The course's `report.py check` splits the report on each `Answer:`, counts the words and
    images of every answer and compares them with the limits given under each question. This
    criterion uses exactly the same rule on every push and marks the answers that are too
    short or too long, the questions not answered yet, images whose file is missing, and
    changes to the template that would make the course's checker stop with an error.
    """
    path = context.thresholds["path"]
    limits = _constraints(context.thresholds["questions"])
    expected = max(limits, default=0)
    raw = snapshot.text(path)
    if raw is None:
        return _not_found(snapshot, path)
    report = _Report(raw)
    split = checker_split(report.text)
    sections = _sections(report.text)
    problems = _problems(report, split, sections, expected)
    broken = len(split.answers) != expected
    answers = by_headings(sections) if broken else dict(enumerate(split.answers, start=1))

    annotations: list[Annotation] = []
    level = Level.failure if broken else Level.warning
    for problem in problems[:MAX_ANNOTATIONS]:
        line = report.line(problem.offset)
        annotations.append(
            Annotation(
                path=path,
                start_line=line,
                end_line=line,
                level=level,
                title=problem.title,
                message=problem.message,
            )
        )

    # The checker's verdict: by position, a placeholder counted like any other text. When the
    # checker stops with an error it gives none, and the answers found by heading are judged.
    failing = [
        number
        for number in range(1, expected + 1)
        if number not in answers or misses_limits(answers[number], limits.get(number, {}))
    ]
    within = expected - len(failing)
    words: dict[int, int] = {}
    images: dict[int, int] = {}
    answered = 0
    unanswered: list[int] = []
    clauses: list[str] = []
    for number in range(1, expected + 1):
        answer = answers.get(number)
        if answer is None:
            unanswered.append(number)
            continue
        words[number], images[number] = answer.words, answer.images
        needs = _needs(limits.get(number, {}))
        placeholder = answer.placeholder
        if not answer.written:
            unanswered.append(number)
            start, end = answer.lines(report)
            what = (
                f"Replace `{placeholder.group()}` with your answer"
                if placeholder
                else "This answer is empty: write your answer below the `Answer:` line"
            )
            annotations.append(
                Annotation(
                    path=path,
                    start_line=start,
                    end_line=end,
                    level=Level.notice,
                    title=f"Question {number} is not answered yet",
                    message=what + (f" ({needs})." if needs else "."),
                )
            )
            continue
        if placeholder:
            line = report.line(answer.start + placeholder.start())
            annotations.append(
                Annotation(
                    path=path,
                    start_line=line,
                    end_line=line,
                    level=Level.notice,
                    title=f"Question {number} still has the template's placeholder",
                    message=f"Remove `{placeholder.group()}` now that you have answered: it "
                    f"would show in your hand-in, and the checker counts its words too.",
                )
            )
        answered += 1
        found, missed = _limit_annotations(report, path, number, answer, limits.get(number, {}))
        annotations.extend(found)
        clauses.extend(missed)
    image_warnings, missing = _missing_images(snapshot, report, path)
    annotations.extend(image_warnings)

    summary = f"{within} of {expected} answers within limits"
    if unanswered:
        summary += f"; {len(unanswered)} not answered yet"
    if clauses:
        more = len(clauses) - SUMMARY_ITEMS
        summary += "; " + ", ".join(clauses[:SUMMARY_ITEMS])
        summary += f" and {more} more" if more > 0 else ""
    if missing:
        summary += f"; {_plural(missing, 'image')} not found"
    if broken:
        # `_problems` always names at least one cause when the count is off.
        summary = (
            f"The course's report checker stops with an error on {path} "
            f"(`{checker_error(len(split.answers), expected)}`): it finds "
            f"{_plural(len(split.answers), 'answer')} instead of {expected} because "
            f"{problems[0].reason}. Counted by the question headings instead: {summary}"
        )
    elif problems:
        summary = (
            f"The template's structure was changed, so the course's checker counts the wrong "
            f"text in places ({problems[0].reason}). {summary}"
        )
    metrics = {
        "answered": answered,
        "within_limits": within,
        "words": words,
        "images": images,
        "checker_answers": len(split.answers),
        # What `report.py check` says: the questions it fails, or the error it stops with.
        "checker_failing": None if broken else failing,
        "checker_error": checker_error(len(split.answers), expected) if broken else None,
        "missing_images": missing,
    }
    ok = within == expected and not unanswered and not problems and not missing and not broken
    outcome = passed if ok else failed
    return outcome(summary + ".", metrics=metrics, annotations=annotations)


@dataclass(frozen=True)
class ChecklistItem:
    """One box of the report's project checklist."""

    text: str
    ticked: bool
    week: str
    start_line: int
    end_line: int

    @property
    def modules(self) -> list[str]:
        """The course modules in the item's last `(M..)` tag, e.g. `(M2+M6)`."""
        tags = MODULE_TAG.findall(self.text)
        return MODULE.findall(tags[-1]) if tags else []


def checklist(text: str) -> list[ChecklistItem]:
    """The checklist boxes above the questions, with their week and lines (wrapped lines too)."""
    lines = split_lines(text)
    items: list[ChecklistItem] = []
    week = "Checklist"
    index = 0
    while index < len(lines):
        line = lines[index]
        if MARKER in line or FIRST_QUESTION.match(line):
            break
        heading = WEEK_HEADING.match(line)
        if heading:
            week = f"Week {heading.group(1)}" if heading.group(1) else "Extra"
        item = CHECKLIST_ITEM.match(line)
        index += 1
        if item is None:
            continue
        parts = [item.group(2).strip()]
        start = index
        while (
            index < len(lines)
            and lines[index][:1].isspace()
            and lines[index].strip()
            and not CHECKLIST_ITEM.match(lines[index])
        ):
            parts.append(lines[index].strip())
            index += 1
        items.append(
            ChecklistItem(" ".join(parts), item.group(1) != " ", week, start, index),
        )
    return items


def _backing(item: ChecklistItem, thresholds: Mapping[str, Any]) -> list[str]:
    """The criteria that would show a ticked item: by its text first, else by its modules."""
    claim = item.text.casefold()
    for entry in thresholds.get("lines", []):
        if str(entry["contains"]).casefold() in claim:
            return list(entry["criteria"])
    modules: Mapping[str, Sequence[str]] = thresholds.get("modules", {})
    found: list[str] = []
    for module in item.modules:
        found.extend(c for c in modules.get(module, []) if c not in found)
    return found


def _unbacked(result: CriterionResult) -> bool:
    """A result that shows the claimed work is missing (not merely unknown or exempt)."""
    if result.status == Status.skip:
        return not result.exempt_reason
    return result.status in (Status.fail, Status.warn)


@criterion(
    "report-checklist",
    title="Report checklist backed by the repository",
    module="Report",
    fix="""
        Every ticked box in the report's project checklist should be visible in the
        repository: commit the work the marked line claims (the annotation quotes the check
        that found nothing), or untick the box until it is done. The teachers compare the
        checklist with your repository.
    """,
    thresholds={"path": REPORT_PATH},
    rank=15,
)
def report_checklist(snapshot: Snapshot, context: Context) -> Outcome:
    """The ticked boxes of your report's checklist, compared with what the repository shows.

    For each ticked box, mlops-mentor looks at the checks that would show that work (for
    example "Construct one or multiple docker files" needs a Dockerfile) and marks the boxes
    whose evidence it could not find. Boxes no check can verify (like "Make sure all group
    members have an understanding about all parts of the project") are left alone.
    """
    path = context.thresholds["path"]
    raw = snapshot.text(path)
    if raw is None:
        return info(f"No report found at {path}.")
    items = checklist(_Report(raw).text)
    if not items:
        return info(f"No project checklist found in {path}.")
    ticked = [i for i in items if i.ticked]
    by_week: dict[str, int] = {}
    for item in items:
        by_week[item.week] = by_week.get(item.week, 0) + item.ticked
    metrics: dict[str, Any] = {
        "boxes": len(items),
        "ticked": len(ticked),
        "ticked_by_week": by_week,
    }
    if not ticked:
        return info(
            f"No boxes ticked yet in the report's checklist ({len(items)} boxes).", metrics=metrics
        )

    annotations: list[Annotation] = []
    unbacked: list[str] = []
    verified = 0
    for item in ticked:
        results = [r for r in map(context.result, _backing(item, context.thresholds)) if r]
        known = [r for r in results if r.status not in (Status.info, Status.error)]
        verified += bool(known)
        missing = [r for r in known if _unbacked(r)]
        if not missing:
            continue
        evidence = "; ".join(f"{r.id}: {r.summary}" for r in missing)
        short = item.text if len(item.text) <= 60 else item.text[:59] + "…"
        unbacked.append(f"“{short}” ({', '.join(r.id for r in missing)})")
        if len(annotations) >= MAX_ANNOTATIONS:
            continue
        annotations.append(
            Annotation(
                path=path,
                start_line=item.start_line,
                end_line=item.end_line,
                level=Level.warning,
                title="Ticked, but the "
                + " and ".join(f"“{r.title}”" for r in missing)
                + (" check" if len(missing) == 1 else " checks")
                + " did not pass",
                message=f'Ticked "{item.text}" but the repository does not show it yet '
                f"({evidence}). If you did this, make sure the work is committed on this "
                "branch; otherwise untick the box until it is done.",
            )
        )
    metrics["unsupported"] = len(unbacked)
    metrics["verified"] = verified
    weeks = ", ".join(f"{week}: {count}" for week, count in by_week.items())
    summary = f"{len(ticked)} of {len(items)} boxes ticked ({weeks})"
    if unbacked:
        more = len(unbacked) - SUMMARY_ITEMS
        listed = "; ".join(unbacked[:SUMMARY_ITEMS]) + (f" and {more} more" if more > 0 else "")
        return failed(
            f"{summary}; {len(unbacked)} not backed by the repository yet: {listed}.",
            metrics=metrics,
            annotations=annotations,
        )
    return passed(
        f"{summary}; the repository backs every ticked box the checks can verify "
        f"({verified} of {len(ticked)}).",
        metrics=metrics,
    )
