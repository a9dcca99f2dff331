"""Unit tests and coverage (M16).

Test files are found by pytest's default names and read with `ast` (never imported); the
per-file facts are computed once per snapshot and shared with `api-tests`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

from checks.criteria.ci import cite, find_commands, steps
from checks.facts import Place, declared_dependencies
from checks.models import Annotation, Level
from checks.parsing import ParseError, parse_python
from checks.registry import Context, Outcome, criterion, failed, passed
from checks.snapshot import Snapshot

# pytest's default `python_files`.
_TEST_FILE = re.compile(r"(?:.*/)?(?:test_[^/]*|[^/]*_test)\.py\Z")
# Words in file, import and function names that tell what a test is about.
_TOPIC_WORDS = {
    "data": frozenset(
        {"data", "dataset", "datasets", "datamodule", "dataloader", "dataloaders", "preprocess"}
    ),
    "model": frozenset({"model", "models", "train", "training", "trainer", "network"}),
}
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# Every topic word contains one of these; most names contain none, and skip the split.
_TOPIC_STEMS = ("data", "model", "train", "network", "preprocess")


def _topics(*names: str) -> frozenset[str]:
    """The topics named in identifiers: `MyDataset` and `test_data_shape` are about data."""
    joined = " ".join(names).lower()
    if not any(stem in joined for stem in _TOPIC_STEMS):
        return frozenset()
    words = {w.lower() for name in names for w in _WORD.findall(name)}
    return frozenset(topic for topic, vocabulary in _TOPIC_WORDS.items() if words & vocabulary)


@dataclass(frozen=True)
class FoundTest:
    """A test function pytest would collect (`Class.method` for methods)."""

    name: str
    line: int
    topics: frozenset[str]
    # Whether it asserts, raises, or calls pytest's or a helper's check (test-quality).
    checks: bool = True


@dataclass(frozen=True)
class SuiteFile:
    """One test file: its tests, or why it could not be read."""

    path: str
    tests: tuple[FoundTest, ...]
    topics: frozenset[str]
    error: ParseError | None = None


_Function = ast.FunctionDef | ast.AsyncFunctionDef
# pytest's own ways of checking, and unittest's `self.fail`.
_CHECKING_CALLS = frozenset({"raises", "warns", "approx", "fail", "deprecated_call"})
# unittest's `self.assertEqual`, numpy's `assert_allclose`, mock's `assert_called_once`,
# playwright's `expect`, and the group's own `check_shapes(...)` helpers.
_CHECKING_PREFIXES = ("assert", "check", "verify", "expect")
# Every node that makes a test check something spells one of these in its text (`assert`,
# `raise`, or the called name), in any case: a test whose text has none checks nothing.
_CHECKING_WORDS = re.compile(
    r"assert|raise|check|verify|expect|approx|warns|fail|deprecated_call", re.IGNORECASE
)


def _checks_something(test: _Function, lines: list[str]) -> bool:
    """Whether the test asserts, raises or calls a checking helper (`lines`: its file's)."""
    # Most tests assert in their own body, and most of the rest check nothing at all: both
    # are decided without walking the tree, which costs more than parsing the file did.
    if any(isinstance(statement, ast.Assert | ast.Raise) for statement in test.body):
        return True
    first = min((d.lineno for d in test.decorator_list), default=test.lineno)
    text = "\n".join(lines[first - 1 : test.end_lineno])
    # (Non-ASCII names are normalised by the parser, so their text may differ from the tree.)
    if text.isascii() and not _CHECKING_WORDS.search(text):
        return False
    for node in ast.walk(test):
        # An explicit `raise` fails the test on purpose just like a failed assert.
        if isinstance(node, ast.Assert | ast.Raise):
            return True
        if isinstance(node, ast.Call):
            callee = node.func
            name = (
                callee.id
                if isinstance(callee, ast.Name)
                else callee.attr
                if isinstance(callee, ast.Attribute)
                else ""
            )
            if name in _CHECKING_CALLS or name.lower().startswith(_CHECKING_PREFIXES):
                return True
    return False


def _source_lines(text: str) -> list[str]:
    """The lines as the parser numbers them: it ends a line at CRLF, LF or a lone CR."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _collect(
    body: Iterable[ast.stmt], prefix: str, inherited: frozenset[str], lines: list[str]
) -> list[FoundTest]:
    """Functions named `test*` and the `test*` methods of (nested) classes named `Test*`."""
    found: list[FoundTest] = []
    for node in body:
        if isinstance(node, _Function) and node.name.startswith("test"):
            topics = inherited | _topics(node.name.removeprefix("test"))
            checks = _checks_something(node, lines)
            found.append(FoundTest(prefix + node.name, node.lineno, topics, checks))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            topics = inherited | _topics(node.name.removeprefix("Test"))
            found += _collect(node.body, f"{prefix}{node.name}.", topics, lines)
    return found


def _local_packages(snapshot: Snapshot) -> frozenset[str]:
    """Top-level names of the repository's own modules (`src/<pkg>/…`, `<pkg>/…`, `x.py`)."""
    names = set()
    for path in snapshot.python_files:
        parts = path.split("/")
        if parts[0] == "src" and len(parts) > 1:
            parts = parts[1:]
        names.add(parts[0].removesuffix(".py"))
    return frozenset(names)


# Import statements read from the text: walking every node of the tree costs more than
# parsing it. Parenthesised name lists may span lines. A statement starts after a "\n" (the
# text gets one in front): `re` skips to that literal, where `^` made it try every character.
_IMPORT = re.compile(
    r"\n[ \t]*(?:from[ \t]+(?P<dots>\.*)(?P<module>[\w.]*)[ \t]+import[ \t]*"
    r"(?P<names>\([^)]*\)|[^\n#;]*)|import[ \t]+(?P<plain>[^\n#;]+))"
)


def _imported_names(text: str, local: frozenset[str]) -> list[str]:
    """Names imported from the repository's own code (third-party imports say nothing)."""
    names: list[str] = []
    for match in _IMPORT.finditer("\n" + text):
        if match.group("plain") is not None:
            modules = (m.split()[0] for m in match.group("plain").split(",") if m.strip())
            names += [m for m in modules if m.split(".")[0] in local]
        elif match.group("dots") or match.group("module").split(".")[0] in local:
            names += match.group("module").split(".")
            names += re.findall(r"\w+", match.group("names"))
    return names


_UNREADABLE = ParseError("file is binary or too large")


def _suite(snapshot: Snapshot) -> tuple[SuiteFile, ...]:
    local = _local_packages(snapshot)
    files: list[SuiteFile] = []
    for path in snapshot.python_files:
        if not _TEST_FILE.fullmatch(path):
            continue
        name = path.rsplit("/", 1)[-1].removesuffix(".py")
        text = snapshot.text(path)
        if text is None:
            files.append(SuiteFile(path, (), frozenset(), _UNREADABLE))
            continue
        # Parsed here rather than through the snapshot's cache: everything the criteria need
        # is taken from the tree at once, and 2,000 trees kept to the end of an evaluation
        # cost memory, and time to free.
        parsed = parse_python(text, path)
        if not parsed.ok:
            files.append(SuiteFile(path, (), frozenset(), parsed.error))
            continue
        topics = _topics(name.removeprefix("test_").removesuffix("_test"))
        topics |= _topics(*_imported_names(text, local))
        tests = _collect(parsed.data.body, "", topics, _source_lines(text))
        files.append(SuiteFile(path, tuple(tests), topics))
    return tuple(files)


def suite_files(snapshot: Snapshot) -> tuple[SuiteFile, ...]:
    """Every test file (`test_*.py`, `*_test.py`) with the tests pytest would collect."""
    return snapshot.memo("testing:suite", _suite)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


@criterion(
    "tests",
    title="Unit tests",
    module="M16",
    fix="""
    Add test files in `tests/` named `test_*.py`, with functions named `test_…` that check
    your code: e.g. that the dataset has the expected length and shapes (`tests/test_data.py`)
    and that the model's output has the right shape (`tests/test_model.py`). Run them with
    `pytest tests/`.
    """,
    thresholds={"min_tests": 1},
)
def tests(snapshot: Snapshot, context: Context) -> Outcome:
    """Your repository has unit tests, ideally for both the data and the model code.

    Tests let you change code without fear: they tell you at once when a refactor breaks the
    data pipeline or the model. This counts the test functions pytest would collect (read
    with `ast`, never run) and guesses from file, import and function names whether the data
    and the model code are tested.
    """
    minimum = int(context.thresholds["min_tests"])
    suite = suite_files(snapshot)
    readable = [f for f in suite if f.error is None]
    count = sum(len(f.tests) for f in readable)
    on_data = sum("data" in t.topics for f in readable for t in f.tests)
    on_model = sum("model" in t.topics for f in readable for t in f.tests)
    metrics = {
        "files": len(suite),
        "functions": count,
        "tests_data": on_data,
        "tests_model": on_model,
    }
    annotations = [
        Annotation(
            path=f.path,
            start_line=f.error.line,
            end_line=f.error.line,
            level=Level.warning,
            title="Test file does not parse",
            message=f"pytest cannot collect this file: {f.error.message}.",
        )
        for f in suite
        if f.error is not None
    ]
    annotations += [
        Annotation(
            path=f.path,
            level=Level.notice,
            title="No tests in this file",
            message="pytest collects functions named `test_…` and the `test_…` methods of "
            "classes named `Test…`; this file has none.",
        )
        for f in readable
        if not f.tests
    ]
    details = "\n".join(
        f"- `{f.path}`: "
        + (
            f"does not parse (line {f.error.line}: {f.error.message})"
            if f.error
            else _plural(len(f.tests), "test")
            + (f" ({', '.join(sorted(f.topics))})" if f.topics else "")
        )
        for f in suite[:50]
    )
    if not suite:
        return failed(
            "No test files found (pytest looks for `test_*.py` and `*_test.py`).",
            metrics=metrics,
        )
    if not count:
        return failed(
            f"Found {_plural(len(suite), 'test file')} but no test functions pytest would run.",
            details=details,
            metrics=metrics,
            annotations=annotations,
        )
    missing = [what for what, n in (("data", on_data), ("model", on_model)) if not n]
    if not missing:
        coverage = f", for the data ({on_data}) and the model ({on_model})"
    elif len(missing) == 2:
        coverage = "; none seem to be for the data or the model code"
    else:
        coverage = f"; the {missing[0]} code has none"
    summary = f"{_plural(count, 'test')} in {_plural(len(suite), 'file')}{coverage}."
    if count < minimum:
        return failed(
            f"{summary} At least {minimum} expected.",
            details=details,
            metrics=metrics,
            annotations=annotations,
        )
    return passed(summary, details=details, metrics=metrics, annotations=annotations)


# -- coverage ----------------------------------------------------------------------------------

_COVERAGE_RUN = re.compile(r"(?<![\w-])coverage\s+run\b|--cov\b")
_COVERAGE_SECTION = re.compile(r"^[ \t]*\[(?:tool\.coverage|coverage:)", re.M)
_COVERAGE_DEPENDENCIES = ("coverage", "pytest-cov")
# Where a group may keep its test command or pytest options besides CI.
_TASK_FILES = ("tasks.py", "Makefile", "noxfile.py", "tox.ini", "setup.cfg", "pytest.ini")


def _line_of(text: str, match: re.Match[str]) -> int:
    return text.count("\n", 0, match.start()) + 1


@criterion(
    "coverage",
    title="Test coverage",
    module="M16",
    fix="""
    Measure which lines your tests run: add `coverage` (or `pytest-cov`) to your development
    dependencies and run the tests as `coverage run -m pytest tests/` followed by
    `coverage report -m`, both locally and in your CI workflow.
    """,
)
def coverage(snapshot: Snapshot, context: Context) -> Outcome:
    """Code coverage is set up and, ideally, measured in CI.

    Coverage shows which lines your tests never run, so you know where a bug could hide
    unnoticed. This looks for coverage settings (`[tool.coverage]`, `.coveragerc`), the
    `coverage`/`pytest-cov` dependency, and `coverage run` or `--cov` in CI or task files.
    """
    configured: list[tuple[str, Place]] = []
    if snapshot.is_file(".coveragerc"):
        configured.append(("`.coveragerc`", Place(".coveragerc", 1)))
    for path in ("pyproject.toml", *_TASK_FILES):
        text = snapshot.text(path) if snapshot.is_file(path) else None
        # Settings in a pyproject.toml that does not parse are not applied by any tool.
        if not text or (path == "pyproject.toml" and not snapshot.toml(path).ok):
            continue
        if match := _COVERAGE_SECTION.search(text):
            configured.append(("coverage settings", Place(path, _line_of(text, match))))
        if match := _COVERAGE_RUN.search(text):
            configured.append((f"`{match.group(0)}`", Place(path, _line_of(text, match))))
    declared = declared_dependencies(snapshot)
    configured += [
        (f"`{name}` dependency", Place(declared[name], 1))
        for name in _COVERAGE_DEPENDENCIES
        if name in declared
    ]
    in_ci = [
        (f"`{command.text}`", Place(step.workflow, command.line))
        for step, command in find_commands(snapshot, _COVERAGE_RUN)
    ]
    in_ci += [
        ("Codecov upload", Place(step.workflow, step.line))
        for step in steps(snapshot)
        if step.action == "codecov/codecov-action"
    ]
    metrics = {"configured": bool(configured), "in_ci": bool(in_ci)}
    evidence = configured + in_ci
    details = "\n".join(f"- {what} at {p.path}:{p.line}" for what, p in evidence)
    if not evidence:
        return failed(
            "No coverage set up: no `coverage`/`pytest-cov` dependency, no `[tool.coverage]` "
            "or `.coveragerc`, and no `coverage run` or `--cov` in CI.",
            metrics=metrics,
        )
    if in_ci:
        what, _ = in_ci[0]
        summary = f"Coverage is measured in CI: {what} at {cite(p for _, p in in_ci)}."
    else:
        summary = (
            f"Coverage is set up ({', '.join(dict.fromkeys(w for w, _ in configured))} in "
            f"{cite(p for _, p in configured)}) but not measured in CI yet."
        )
    return passed(summary, details=details, metrics=metrics)
