"""Linting with ruff: one ruff process over the repository's Python files, read as data.

The same pass serves `docs-typing`: ruff also reports missing docstrings and type hints,
and while it works Python reads where the functions are from the text. A large repository
is thus parsed once (by ruff), not once per criterion.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import subprocess
import tempfile
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version
from typing import IO, NamedTuple

from ruff import find_ruff_bin

from checks.criteria.structure import is_test_path
from checks.models import Annotation, Level
from checks.registry import Context, Outcome, criterion, failed, info, passed
from checks.snapshot import Snapshot

# What `docs-typing` measures, added to every run: missing docstrings of public methods and
# functions, and missing type hints on arguments and on public return values.
DOCS_TYPING_CODES = ("D102", "D103", "ANN001", "ANN002", "ANN003", "ANN201")

# Without a ruff configuration in the repository we check what the course teaches in M7:
# PEP 8 (pycodestyle E/W, at the template's 120 columns), real mistakes (pyflakes F,
# bugbear B) and sorted imports (I). Named explicitly rather than "ruff's defaults" so the
# verdict does not change when a new ruff release changes its defaults.
DEFAULT_SELECT = "E,W,F,I,B"
DEFAULT_LINE_LENGTH = "120"
# The course's Python, when pyproject.toml does not say: it decides which syntax is valid.
DEFAULT_TARGET = 11
_TARGETS = range(7, 15)  # py37 … py314, the versions this ruff knows

# ruff's own `exclude` default: applied before ruff runs too, so that docs-typing does not
# count the functions of a committed virtualenv that ruff leaves out.
RUFF_DEFAULT_EXCLUDE = (
    *(".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints"),
    *(".mypy_cache", ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache"),
    *(".svn", ".tox", ".venv", ".vscode", "__pypackages__", "_build", "buck-out", "dist"),
    *("node_modules", "site-packages", "venv"),
)
# At the root, ruff uses the first of these that configures it.
CONFIG_NAMES = (".ruff.toml", "ruff.toml", "pyproject.toml")
# Settings holding paths: pointing them outside the repository would make ruff read (or
# write) files of the machine running mlops-mentor.
_PATH_SETTINGS = ("extend", "cache-dir", "src")
# Linux allows about 2 MB of arguments; above this, the files go to ruff in several batches.
_ARGUMENT_BUDGET = 500_000

# Rules whose findings are likely bugs rather than style: syntax and I/O errors (E9),
# pyflakes (F: undefined names, unused imports) and pylint's errors (PLE).
_WARNING_PREFIXES = ("E9", "F", "PLE")
SYNTAX_ERROR = "invalid-syntax"
# ruff's concise report, not its JSON: on 10,000 files the JSON is five times larger, and
# decoding it took Python longer than ruff's whole run. Syntax errors carry no rule code
# (`invalid-syntax:`, `SyntaxError:` before ruff 0.9).
_CONCISE = re.compile(
    r"(.+?):(\d+):\d+: (?:(?:invalid-syntax|SyntaxError): |([A-Z]+[0-9]+) (?:\[\*\] )?)(.*)"
)


class Finding(NamedTuple):
    """One ruff diagnostic: the file (relative to the root), the line it starts on, the rule."""

    path: str
    line: int
    code: str
    message: str


@dataclass(slots=True)
class Definition:
    """A `def` read from a file's text, with its qualified name and its last non-blank line."""

    name: str
    line: int
    # Public as ruff sees it: its name and every enclosing class's name not underscored,
    # and not nested in a function (a function inside a function is nobody's interface).
    public: bool
    end: int = 0

    @property
    def length(self) -> int:
        return self.end - self.line + 1


@dataclass
class RuffRun:
    """The shared result of running ruff once over a snapshot."""

    findings: list[Finding]
    files: list[str]
    # The `def`s of the files whose functions docs-typing counts, by file.
    definitions: dict[str, list[Definition]]
    # Python files over the snapshot's read cap, left out of the run.
    skipped: list[str]
    # The root configuration ruff used; None when it ran with the course's default rules.
    config: str | None
    # Why the repository's configuration was not used, on the line responsible.
    config_problems: list[Annotation] = field(default_factory=list)
    # The repository's own rule selectors, to tell its findings from the ones we added.
    selected: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()

    def repo_selects(self, code: str) -> bool:
        """Whether the repository's configuration enables `code` (ruff: most specific wins)."""

        def specificity(selectors: Iterable[str]) -> int:
            matching = (s for s in selectors if s == "ALL" or code.startswith(s))
            return max((0 if s == "ALL" else len(s) for s in matching), default=-1)

        return specificity(self.selected) > specificity(self.ignored)


class RuffError(RuntimeError):
    """ruff itself failed: our problem, reported as an error of the criteria using it."""


@cache
def ruff_version() -> str:
    return version("ruff")


@cache
def rule_names() -> dict[str, str]:
    """Rule code → name (F401 → unused-import), from the catalog of the ruff we run."""
    command = [find_ruff_bin(), "rule", "--all", "--output-format=json"]
    done = subprocess.run(command, capture_output=True, timeout=30, check=False)
    try:
        return {rule["code"]: rule["name"] for rule in json.loads(done.stdout)}
    except (ValueError, KeyError, TypeError) as exc:
        raise RuffError(f"ruff's rule catalog could not be read: {done.stderr[:200]!r}") from exc


def ruff_run(snapshot: Snapshot, timeout_s: float) -> RuffRun:
    """The one ruff run over this snapshot, shared by every criterion that needs it.

    Started by the engine's prefetch (else by the first criterion to ask); the first
    criterion to wait for it sets the time limit, counted from ruff's start.
    """
    outcome = snapshot.memo("ruff", lambda snap: _capture(snap, timeout_s))
    if isinstance(outcome, RuffError):
        raise outcome
    return outcome


def _capture(snapshot: Snapshot, timeout_s: float) -> RuffRun | RuffError:
    # A failure is remembered too, so the second criterion does not wait for ruff again.
    try:
        return _run(snapshot, timeout_s)
    except RuffError as exc:
        return exc


# -- the repository's configuration -----------------------------------------------------------


@dataclass
class _Config:
    root: str | None = None
    problems: list[Annotation] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=lambda: list(RUFF_DEFAULT_EXCLUDE))


def _ruff_table(snapshot: Snapshot, path: str) -> tuple[dict | None, Annotation | None]:
    """The ruff settings of a configuration file (None when it does not configure ruff)."""
    parsed = snapshot.toml(path)
    if not parsed.ok:
        assert parsed.error is not None
        return None, _config_problem(
            path,
            parsed.error.line,
            f"{path} is not valid TOML ({parsed.error.message}), so ruff cannot read it.",
        )
    table = parsed.data
    if path.rsplit("/", 1)[-1] == "pyproject.toml":
        tool = table.get("tool")
        table = tool.get("ruff") if isinstance(tool, dict) else None
    return (table if isinstance(table, dict) else None), None


def _config_problem(path: str, line: int, why: str) -> Annotation:
    return Annotation(
        path=path,
        start_line=line,
        end_line=line,
        level=Level.warning,
        title="ruff configuration not used",
        message=(
            f"{why} mlops-mentor therefore checked your code with the course's default rules "
            f"({DEFAULT_SELECT}) instead of your configuration."
        ),
        rank=15,
    )


def _key_line(snapshot: Snapshot, path: str, key: str) -> int:
    """The line setting `key` (in pyproject.toml: after the `[tool.ruff` header)."""
    lines = snapshot.lines(path)
    start = 0
    if path.rsplit("/", 1)[-1] == "pyproject.toml":
        start = next(
            (i for i, line in enumerate(lines) if line.lstrip().startswith("[tool.ruff")), 0
        )
    setting = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")
    for number in range(start, len(lines)):
        if setting.match(lines[number]):
            return number + 1
    return start + 1


def _outside(folder: str, value: str) -> bool:
    """Whether a path setting (relative to its configuration's folder) leaves the repository."""
    # ruff expands `~` and environment variables in paths: their targets are unknowable.
    if value.startswith(("/", "~", "\\")) or "$" in value:
        return True
    resolved = posixpath.normpath(posixpath.join(folder, value))
    return resolved == ".." or resolved.startswith("../")


def _vet(
    snapshot: Snapshot, path: str, table: dict, seen: set[str]
) -> tuple[list[Annotation], list[dict]]:
    """Problems with a configuration and those it extends, and the chain of them, base first."""
    folder = posixpath.dirname(path)
    problems: list[Annotation] = []
    for key in _PATH_SETTINGS:
        values = table.get(key)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and _outside(folder, value):
                problems.append(
                    _config_problem(
                        path,
                        _key_line(snapshot, path, key),
                        f"`{key} = {value!r}` points outside the repository, and mlops-mentor "
                        "never lets ruff read files outside it. Keep every ruff setting inside "
                        "the repository (for example, copy the shared settings into this file).",
                    )
                )
    base = table.get("extend")
    if problems or not isinstance(base, str):
        return problems, [table]
    target = posixpath.normpath(posixpath.join(folder, base))
    if not snapshot.is_file(target):
        why = f"`extend = {base!r}` names {target}, which is not in the repository."
        return [_config_problem(path, _key_line(snapshot, path, "extend"), why)], [table]
    if target in seen:  # ruff refuses a cycle itself; we only must not loop
        return [], [table]
    extended, problem = _ruff_table(snapshot, target)
    if problem is not None:
        return [problem], [table]
    if extended is None:
        return [], [table]
    problems, chain = _vet(snapshot, target, extended, seen | {target})
    return problems, [*chain, table]


def _honoured(path: str, chain: list[dict]) -> _Config:
    """What a configuration chain (base first: later settings win) selects and excludes."""
    config = _Config(root=path)
    select: list[str] = []
    for table in chain:
        if "exclude" in table:
            config.exclude = _strings(table, "exclude")
        config.exclude += _strings(table, "extend-exclude")
        lint = table.get("lint")
        for section in (table, lint if isinstance(lint, dict) else {}):
            if "select" in section:
                select = _strings(section, "select")
            config.selected += _strings(section, "extend-select")
            config.ignored += _strings(section, "ignore") + _strings(section, "extend-ignore")
        if isinstance(lint, dict):
            config.exclude += _strings(lint, "exclude")
    config.selected += select
    return config


def _strings(section: dict, key: str) -> list[str]:
    value = section.get(key)
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


def _repository_config(snapshot: Snapshot) -> _Config:
    """The ruff configuration at the root to honour, or why it is not honoured.

    ruff is then pointed at exactly that file: it reads no configuration in sub-folders,
    in the folders above the checkout or in the home folder of the machine running it.
    """
    for path in CONFIG_NAMES:  # ruff's own order of preference
        if not snapshot.is_file(path):
            continue
        table, problem = _ruff_table(snapshot, path)
        if problem is not None:
            return _Config(problems=[problem])
        if table is None:
            continue  # a pyproject.toml without [tool.ruff]
        problems, chain = _vet(snapshot, path, table, {path})
        if problems:
            return _Config(problems=problems)
        return _honoured(path, chain)
    return _Config()


# -- where the functions are ------------------------------------------------------------------

# `def` and `class` statements, read as text: ruff parses each file once already, and
# parsing them all again with ast would cost as much as that whole ruff run. Two literal
# patterns, not one anchored at every line start: Python's regex engine finds a literal
# prefix several times faster.
_DEF = re.compile(r"def[ \t]+(\w+)")
_CLASS = re.compile(r"class[ \t]+(\w+)")


def _private(name: str) -> bool:
    """`_helper` is private; dunders such as `__init__.py` are not (ruff's definition)."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def documentable(path: str) -> bool:
    """Files whose functions should be documented: not tests, not private modules."""
    if is_test_path(path):
        return False
    if not path.startswith("_") and "/_" not in path:
        return True  # no part of the path is even underscored: most paths, told at once
    return not any(_private(part.removesuffix(".py")) for part in path.split("/"))


def definitions(text: str) -> list[Definition]:
    """Every `def` of a file, nested ones included, located by indentation."""
    found: list[Definition] = []
    # Open `def`/`class` blocks: indent, qualified name, whether what they hold can be
    # public, and the definition when the block is a function.
    scopes: list[tuple[int, str, bool, Definition | None]] = []
    line, last = 1, 0

    def close(indent: int, position: int) -> None:
        """Close the blocks the text at `position` leaves: they end on its last non-blank line."""
        gap = position
        while gap > 0 and text[gap - 1] in " \t\r\n":
            gap -= 1
        end = line - text.count("\n", gap, position)
        while scopes and scopes[-1][0] >= indent:
            definition = scopes.pop()[3]
            if definition is not None:
                definition.end = end

    matches = [*_DEF.finditer(text), *_CLASS.finditer(text)]
    matches.sort(key=lambda match: match.start())
    for match in matches:
        start = match.start()
        begins = text.rfind("\n", 0, start) + 1
        head = text[begins:start]
        code = head.lstrip(" \t")
        # Not a statement: `undef x`, `subclass Y`, text after code. (A line of a string that
        # starts with `def ` still counts: rare, and only ever as one more function.)
        if code and code.rstrip(" \t") != "async":
            continue
        line += text.count("\n", last, begins)
        last = begins
        indent = len(head) - len(code)
        if scopes and scopes[-1][0] >= indent:
            close(indent, begins)
        name = match.group(1)
        outer, opens = (scopes[-1][1] + ".", scopes[-1][2]) if scopes else ("", True)
        public = opens and not name.startswith("_")
        if match.re is _DEF:
            definition = Definition(outer + name, line, public)
            found.append(definition)
            scopes.append((indent, outer + name, False, definition))
        else:
            scopes.append((indent, outer + name, public, None))
    line += text.count("\n", last)
    close(0, len(text))
    return found


def _read_definitions(snapshot: Snapshot, files: list[str]) -> dict[str, list[Definition]]:
    found = {}
    for path in files:
        if documentable(path) and (text := snapshot.text(path)) and "def" in text:
            found[path] = definitions(text)
    return found


# -- running ruff -----------------------------------------------------------------------------


def _target_version(snapshot: Snapshot) -> str:
    """The Python version to check against: pyproject's `requires-python`, else the course's."""
    project = snapshot.pyproject.get("project")
    spec = project.get("requires-python") if isinstance(project, dict) else None
    match = re.search(r"(?:>=|~=|==)\s*3\.(\d+)", spec) if isinstance(spec, str) else None
    minor = int(match.group(1)) if match else DEFAULT_TARGET
    return f"py3{min(max(minor, _TARGETS.start), _TARGETS.stop - 1)}"


def _command(snapshot: Snapshot, config: _Config) -> list[str]:
    command = [
        find_ruff_bin(),
        "check",
        "--output-format=concise",
        "--quiet",  # findings only, no totals
        "--no-cache",
        "--exit-zero",
        # Files we name are still skipped when ruff's `exclude` (or its defaults: .venv,
        # build, site-packages …) says so, as a plain `ruff check .` would.
        "--force-exclude",
        f"--extend-select={','.join(DOCS_TYPING_CODES)}",
    ]
    if config.root is not None:
        command.append(f"--config={config.root}")
    else:
        command += [
            "--isolated",
            f"--select={DEFAULT_SELECT}",
            f"--line-length={DEFAULT_LINE_LENGTH}",
            f"--target-version={_target_version(snapshot)}",
        ]
    return command


def _environment() -> dict[str, str]:
    """ruff's environment: ours, with one core left to the Python criteria.

    ruff would use every core, but the other criteria run while it works; on one core
    fewer it is still done long before they are. A thread count set by the caller wins.
    """
    return {"RAYON_NUM_THREADS": str(max((os.cpu_count() or 1) - 1, 1)), **os.environ}


def _batches(files: list[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for path in files:
        if batch and size + len(path) > _ARGUMENT_BUDGET:
            yield batch
            batch, size = [], 0
        batch.append(path)
        size += len(path) + 1
    if batch:
        yield batch


@dataclass(frozen=True)
class _Refusal:
    """ruff refused to start (a configuration it cannot load): what it said, and where."""

    message: str
    path: str | None
    line: int


class _Ruff:
    """ruff processes checking `files`, started at once and collected later.

    They write to temporary files, not pipes: nothing has to be drained while Python does
    other work in the meantime, so a long report never stalls ruff.
    """

    def __init__(self, snapshot: Snapshot, command: list[str], files: list[str]) -> None:
        # Not keeping the snapshot: held in its memo, this would be a reference cycle that
        # keeps every file read alive until the collector's next full pass.
        self._files = files
        self._stack = ExitStack()
        self._running: list[tuple[subprocess.Popen[bytes], IO[bytes], IO[bytes]]] = []
        try:
            for batch in _batches(files):
                out = self._stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
                err = self._stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
                process = subprocess.Popen(
                    [*command, "--", *batch],
                    cwd=snapshot.root,
                    env=_environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                )
                self._stack.callback(_stop, process)
                self._running.append((process, out, err))
        except OSError as exc:
            self._stack.close()
            raise RuffError(f"ruff could not be started: {exc}") from exc
        # Started ahead (a prefetch) for a criterion that then never collects it: stopped
        # with the snapshot holding it at the latest.
        weakref.finalize(self, self._stack.close)

    def __enter__(self) -> _Ruff:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def findings(self, snapshot: Snapshot, deadline: float) -> list[Finding] | _Refusal:
        """Wait for ruff (until `deadline`, a `time.monotonic()`) and read what it found."""
        wanted = set(self._files)
        findings: list[Finding] = []
        for process, out, err in self._running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired as exc:
                files = plural(len(self._files), "file")
                raise RuffError(f"ruff did not finish in time on {files}") from exc
            if process.returncode != 0:
                err.seek(0)
                return _refusal(snapshot, err.read())
            out.seek(0)
            findings.extend(_read(out.read(), wanted))
        return sorted(findings)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def _read(output: bytes, files: set[str]) -> list[Finding]:
    """ruff's concise report, one `path:row:column: CODE [*] message` line per finding."""
    findings: list[Finding] = []
    for raw in output.decode("utf-8", "replace").splitlines():
        match = _CONCISE.fullmatch(raw)
        if match is None:
            if not findings:
                raise RuffError(f"ruff's report does not read as expected: {raw[:200]!r}")
            # A message spread over several lines continues the finding before it.
            findings[-1] = findings[-1]._replace(message=f"{findings[-1].message} {raw.strip()}")
            continue
        path, row, code, message = match.groups()
        findings.append(Finding(path, max(int(row), 1), code or SYNTAX_ERROR, message))
    # Only what the snapshot (and its exclusions) holds.
    return [f for f in findings if f.path in files]


def _refusal(snapshot: Snapshot, stderr: bytes) -> _Refusal:
    # ruff names files by absolute path: say them relative, never show the server's folders.
    text = stderr.decode("utf-8", "replace")
    text = text.replace(f"{snapshot.root}/", "").replace(str(snapshot.root), ".")
    lines = [line.strip().removeprefix("Cause:").strip() for line in text.splitlines()]
    # Drop ruff's banner and the source excerpt it draws with "|" gutters.
    said = [line for line in lines if line and line != "ruff failed" and "|" not in line[:8]]
    # The last line is the root cause; ruff's list of every valid setting helps nobody here.
    message = said[-1].split(", expected one of")[0][:300] if said else "it exited silently"
    named = re.search(r"`([^`]+\.toml)`|(\S+\.toml)", text)
    path = next((p for p in named.groups() if p), None) if named else None
    line = re.search(r"at line (\d+)", text)
    return _Refusal(
        message,
        path if path is not None and snapshot.is_file(path) else None,
        int(line.group(1)) if line else 1,
    )


@dataclass
class _Launch:
    """ruff started over a snapshot's Python files, not yet waited for."""

    config: _Config
    files: list[str]
    skipped: list[str]
    ruff: _Ruff | None  # None when there is nothing to lint
    started: float  # time.monotonic()


def _launch(snapshot: Snapshot) -> _Launch | RuffError:
    config = _repository_config(snapshot)
    python_files = snapshot.excluding(config.exclude).python_files
    readable = {p: snapshot.files[p].size <= snapshot.read_cap for p in python_files}
    files = [p for p, ok in readable.items() if ok]
    skipped = [p for p, ok in readable.items() if not ok]
    started = time.monotonic()
    try:
        ruff = _Ruff(snapshot, _command(snapshot, config), files) if files else None
    except RuffError as exc:
        return exc
    return _Launch(config, files, skipped, ruff, started)


def start_ruff(snapshot: Snapshot) -> None:
    """Start the shared ruff run before any criterion runs (the engine's prefetch): ruff
    then checks the files on another core while the other criteria work."""
    snapshot.memo("ruff:launch", _launch)


def _run(snapshot: Snapshot, timeout_s: float) -> RuffRun:
    launch = snapshot.memo("ruff:launch", _launch)
    if isinstance(launch, RuffError):
        raise launch
    config, files, skipped = launch.config, launch.files, launch.skipped
    if launch.ruff is None:
        return RuffRun(findings=[], files=[], definitions={}, skipped=skipped, config=None)
    # The time limit counts from ruff's start, which may have been before this criterion's.
    deadline = launch.started + timeout_s
    with launch.ruff as ruff:
        # While ruff is still at work, Python reads the definitions.
        found = _read_definitions(snapshot, files)
        outcome = ruff.findings(snapshot, deadline)
    if isinstance(outcome, _Refusal) and config.root is not None:
        # The group's configuration is broken (unknown key, wrong `required-version` …):
        # say so on it, and still give them feedback with the course's rules.
        why = f"ruff cannot use it: {outcome.message}"
        config = _Config(problems=[_config_problem(outcome.path or config.root, outcome.line, why)])
        with _Ruff(snapshot, _command(snapshot, config), files) as ruff:
            outcome = ruff.findings(snapshot, deadline)
    if isinstance(outcome, _Refusal):
        raise RuffError(f"ruff refused to run: {outcome.message}")
    return RuffRun(
        findings=outcome,
        files=files,
        definitions=found,
        skipped=skipped,
        config=config.root,
        config_problems=config.problems,
        selected=tuple(config.selected),
        ignored=tuple(config.ignored),
    )


# -- the criterion ----------------------------------------------------------------------------

RULES_URL = "https://docs.astral.sh/ruff/rules/"


def _label(code: str) -> str:
    return "syntax error" if code == SYNTAX_ERROR else f"{code} {rule_names().get(code, code)}"


def _annotation(finding: Finding) -> Annotation:
    if finding.code == SYNTAX_ERROR:
        return Annotation(
            path=finding.path,
            start_line=finding.line,
            end_line=finding.line,
            level=Level.warning,
            title="Syntax error",
            message=f"Python cannot parse this file here: {finding.message}.",
            rank=10,
        )
    warning = finding.code.startswith(_WARNING_PREFIXES)
    return Annotation(
        path=finding.path,
        start_line=finding.line,
        end_line=finding.line,
        level=Level.warning if warning else Level.notice,
        title=_label(finding.code),
        message=f"{finding.message}.\nWhy and how to fix: {_rule_url(finding.code)}",
        rank=20 if warning else 60,
    )


def _rule_url(code: str) -> str:
    return f"{RULES_URL}{rule_names().get(code, code)}/"


def _rules_table(by_rule: Counter[str]) -> str:
    rows = [
        f"| {_label(code)} | {count} |"
        if code == SYNTAX_ERROR
        else f"| [{_label(code)}]({_rule_url(code)}) | {count} |"
        for code, count in by_rule.most_common(20)
    ]
    more = len(by_rule) - len(rows)
    tail = [f"\nand {more} more rules."] if more > 0 else []
    return "\n".join(["| Rule | Findings |", "| --- | ---: |", *rows, *tail])


def _config_sentence(run: RuffRun) -> str:
    if run.config is not None:
        return f"with your ruff configuration in `{run.config}`"
    rules = f"the course's default rules ({DEFAULT_SELECT}, lines up to {DEFAULT_LINE_LENGTH})"
    if run.config_problems:
        where = ", ".join(sorted({a.path for a in run.config_problems}))
        return f"with {rules}, because your ruff configuration could not be used (see {where})"
    return f"with {rules}, as the repository has no ruff configuration at its root"


def plural(count: int, word: str) -> str:
    """`1 file`, `2 files`."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@criterion(
    "lint",
    title="Linting (ruff)",
    module="M7",
    fix="""
        Run `ruff check .` locally and let `ruff check --fix .` repair what it can; each
        annotation names the rule and links to an explanation of how to fix the rest. Adding
        ruff to pre-commit or to a GitHub Actions workflow keeps the code clean from then on.
    """,
    thresholds={"max_findings": 0, "timeout_s": 60},
    rank=40,
    prefetch=start_ruff,
)
def lint(snapshot: Snapshot, context: Context) -> Outcome:
    """Runs ruff, the linter taught in the course, over the repository's Python files.

    Your own ruff configuration (`[tool.ruff]` in pyproject.toml, `ruff.toml` or
    `.ruff.toml` at the root) decides the rules; without one, the course checks PEP 8
    style, sorted imports and common bugs. Linting catches mistakes such as unused imports
    and undefined names before they cost you a failed training run, and keeps code that
    several people edit readable.
    """
    run = ruff_run(snapshot, context.thresholds["timeout_s"])
    skipped = (
        f" {plural(len(run.skipped), 'file')} over {snapshot.read_cap // 2**20} MB "
        f"left out: {', '.join(run.skipped[:5])}."
        if run.skipped
        else ""
    )
    if not run.files:
        return info(f"No Python files to lint.{skipped}", metrics={"files_checked": 0})
    # Findings of the rules added for docs-typing count here only if the group chose them.
    added = {code for code in DOCS_TYPING_CODES if not run.repo_selects(code)}
    findings = [f for f in run.findings if f.code not in added]
    by_rule = Counter(f.code for f in findings)
    files_with = len({f.path for f in findings})
    metrics = {
        "findings": len(findings),
        "files_checked": len(run.files),
        "files_with_findings": files_with,
        "by_rule": dict(by_rule.most_common()),
        "config": run.config or "course default",
        "ruff_version": ruff_version(),
    }
    checked = plural(len(run.files), "Python file")
    details = f"ruff {ruff_version()} checked {checked} {_config_sentence(run)}.{skipped}"
    annotations = run.config_problems + [_annotation(f) for f in findings]
    if not findings:
        return passed(
            f"ruff found no problems in {checked}.",
            details=details,
            metrics=metrics,
            annotations=annotations,
        )
    listed = ", ".join(f"{count}× {_label(code)}" for code, count in by_rule.most_common(3))
    if len(by_rule) > 3:
        listed += f" and {plural(len(by_rule) - 3, 'other rule')}"
    summary = (
        f"ruff found {plural(len(findings), 'problem')} in {files_with} of {checked}: {listed}."
    )
    details += "\n\n" + _rules_table(by_rule)
    limit = context.thresholds["max_findings"]
    if len(findings) <= limit:
        return passed(
            f"{summary} (up to {limit} allowed)",
            details=details,
            metrics=metrics,
            annotations=annotations,
        )
    return failed(summary, details=details, metrics=metrics, annotations=annotations)
