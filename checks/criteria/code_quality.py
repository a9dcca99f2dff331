"""Code quality beyond linting: docstrings and type hints, and tests that really test."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from checks.criteria.lint import (
    DOCS_TYPING_CODES,
    Definition,
    RuffRun,
    plural,
    ruff_run,
    start_ruff,
)
from checks.criteria.testing import suite_files
from checks.models import Annotation, Level
from checks.registry import Context, Outcome, criterion, failed, info, passed
from checks.snapshot import Snapshot

_DOCS_TYPING_CODES = frozenset(DOCS_TYPING_CODES)
_DOCSTRING_CODES = frozenset({"D102", "D103"})
_QUOTED = re.compile(r"`([^`]+)`")


@dataclass
class _Lacking:
    """What one public function lacks."""

    path: str
    definition: Definition
    documented: bool = True
    # What has no type hint: "`lr`", "`*args`", "the return value".
    unhinted: list[str] = field(default_factory=list)


def _hint_subject(message: str, code: str) -> str:
    if code == "ANN201":
        return "the return value"
    quoted = _QUOTED.search(message)
    return f"`{quoted.group(1)}`" if quoted else "an argument"


def _lacking(run: RuffRun) -> dict[tuple[str, int], _Lacking]:
    """The public functions ruff found a docstring or type hint missing on, by (path, line)."""
    lacking: dict[tuple[str, int], _Lacking] = {}
    path = ""
    found: list[Definition] = []
    starts: list[int] = []
    for finding in run.findings:
        if finding.code not in _DOCS_TYPING_CODES:
            continue
        if finding.path != path:  # findings come file by file
            path = finding.path
            found = run.definitions.get(path) or []
            starts = [d.line for d in found]
        # A finding belongs to the last `def` starting on or before it: arguments of a
        # signature spread over several lines come after the `def` line.
        index = bisect.bisect_right(starts, finding.line) - 1
        if index < 0 or not found[index].public:
            continue
        definition = found[index]
        docstring = finding.code in _DOCSTRING_CODES
        if docstring and finding.line != definition.line:
            continue  # a `def` the text scan did not see (e.g. on one line with its class)
        key = (finding.path, definition.line)
        entry = lacking.get(key)
        if entry is None:
            entry = lacking[key] = _Lacking(finding.path, definition)
        if docstring:
            entry.documented = False
        else:
            entry.unhinted.append(_hint_subject(finding.message, finding.code))
    return lacking


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _annotation(entry: _Lacking) -> Annotation:
    lacks = []
    if not entry.documented:
        lacks.append("no docstring")
    if entry.unhinted:
        lacks.append(f"no type hints for {_listing(entry.unhinted)}")
    title = {
        (True, False): "Missing docstring",
        (False, True): "Missing type hints",
        (True, True): "Missing docstring and type hints",
    }[(not entry.documented, bool(entry.unhinted))]
    definition = entry.definition
    return Annotation(
        path=entry.path,
        start_line=definition.line,
        end_line=definition.line,
        level=Level.notice,
        title=title,
        message=(
            f"`{definition.name}` ({definition.length} lines) has {' and '.join(lacks)}. "
            "A one-line docstring saying what it does, and type hints on its arguments and "
            "return value, tell your group mates (and your editor) how to use it."
        ),
        # Longer functions first: they are the ones a reader most needs explained.
        rank=90 - min(definition.length, 150) // 5,
    )


def _percent(share: float) -> str:
    return f"{share:.0%}"


@criterion(
    "docs-typing",
    title="Docstrings and type hints",
    module="M7",
    fix="""
        Give your public functions and methods a docstring (one line saying what it does is
        a good start) and type hints on every argument and the return value, starting with
        the longest ones marked in the files. `ruff check --select D102,D103,ANN001,ANN201 .`
        lists the rest locally.
    """,
    thresholds={"min_documented": 0.5, "min_typed": 0.5, "timeout_s": 60},
    rank=70,
    prefetch=start_ruff,
)
def docs_typing(snapshot: Snapshot, context: Context) -> Outcome:
    """Share of your public functions and methods that have a docstring and complete type hints.

    Good coding practice (M7) is code others can use without reading it: a docstring says
    what a function does, type hints say what goes in and comes out, and editors and mypy
    use them to catch mistakes. Counted are functions and methods whose names do not start
    with `_`, outside the tests; a function is typed when all its arguments and its return
    value have hints. Measured with ruff's rules D102, D103, ANN001-ANN003 and ANN201.
    """
    thresholds = context.thresholds
    run = ruff_run(snapshot, thresholds["timeout_s"])
    total = sum(d.public for found in run.definitions.values() for d in found)
    if not total:
        where = "outside the tests" if run.files else "(there are no Python files)"
        return info(f"No public functions or methods {where} to measure.", metrics={"functions": 0})
    lacking = _lacking(run)
    documented = total - sum(not e.documented for e in lacking.values())
    typed = total - sum(bool(e.unhinted) for e in lacking.values())
    doc_share, typed_share = documented / total, typed / total
    metrics = {
        "functions": total,
        "documented": documented,
        "typed": typed,
        "documented_share": round(doc_share, 3),
        "typed_share": round(typed_share, 3),
    }
    summary = (
        f"Of {total} public functions and methods, {documented} have a docstring "
        f"({_percent(doc_share)}) and {typed} complete type hints ({_percent(typed_share)})"
    )
    ordered = sorted(lacking.values(), key=lambda e: -e.definition.length)
    annotations = [_annotation(e) for e in ordered]
    min_doc, min_typed = thresholds["min_documented"], thresholds["min_typed"]
    if doc_share >= min_doc and typed_share >= min_typed:
        return passed(f"{summary}.", metrics=metrics, annotations=annotations)
    goal = (
        f"at least {_percent(min_doc)} of each"
        if min_doc == min_typed
        else f"at least {_percent(min_doc)} documented and {_percent(min_typed)} typed"
    )
    return failed(f"{summary}; aim for {goal}.", metrics=metrics, annotations=annotations)


# -- test-quality -----------------------------------------------------------------------------


@criterion(
    "test-quality",
    title="Tests that check results",
    module="M16",
    fix="""
        Make every test check what the code produced: an `assert` on the result (for example
        `assert model(x).shape == (1, 10)`), `pytest.raises` for an expected error, or
        `pytest.approx` for floating-point values. A test without one only fails when the
        code crashes.
    """,
    rank=30,
)
def test_quality(snapshot: Snapshot, context: Context) -> Outcome:
    """Finds tests that never check anything, so they pass even when the code is wrong.

    A test needs an `assert` (or `pytest.raises`, `pytest.approx`, unittest's
    `self.assert…`, or a helper named `assert…`/`check…`/`verify…`/`expect…`); without
    one it only proves that the code runs without crashing, not that it gives the right
    answer. The tests are those pytest would collect from `test_*.py` and `*_test.py`.
    """
    # The very tests the `tests` criterion counts, so both speak of the same number.
    suite = suite_files(snapshot)
    tests = sum(len(f.tests) for f in suite)
    silent = [(f.path, t.name, t.line) for f in suite for t in f.tests if not t.checks]
    unparsed = [f.path for f in suite if f.error is not None]
    metrics = {"test_files": len(suite), "tests": tests, "tests_without_assertions": len(silent)}
    details = (
        f"Could not read (not valid Python, binary or too large): {', '.join(unparsed)}."
        if unparsed
        else ""
    )
    if not tests:
        found = (
            f"in {plural(len(suite), 'test file')}"
            if suite
            else "(no test_*.py or *_test.py files)"
        )
        return info(f"No tests found {found}.", details=details, metrics=metrics)
    if not silent:
        files = plural(len(suite) - len(unparsed), "file")
        return passed(
            f"Every test asserts something ({plural(tests, 'test')} in {files}).",
            details=details,
            metrics=metrics,
        )
    annotations = [
        Annotation(
            path=path,
            start_line=line,
            end_line=line,
            level=Level.warning,
            title="Test asserts nothing",
            message=(
                f"{name} never asserts anything: it cannot fail because of a wrong result, "
                "only if the code crashes. Add an `assert` on what the code returns."
            ),
        )
        for path, name, line in silent
    ]
    named = [f"{name} ({path}:{line})" for path, name, line in silent[:3]]
    if len(silent) > 3:
        named.append(f"{len(silent) - 3} more")
    return failed(
        f"{len(silent)} of {tests} tests never assert anything: {_listing(named)}.",
        details=details,
        metrics=metrics,
        annotations=annotations,
    )
