"""Continuous integration: GitHub Actions workflows, what they run, and pre-commit (M17-M19).

Every workflow file is parsed once per snapshot (`workflows`) into jobs and steps with their
lines, so the `ci-*` criteria, `coverage` and `cloud-build` share one parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from checks.facts import Place
from checks.models import Annotation, Level
from checks.parsing import ParseError, yaml_line
from checks.registry import Context, Outcome, criterion, failed, passed
from checks.snapshot import Snapshot

WORKFLOW_DIR = ".github/workflows/"
PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
# GitHub only reads workflow files directly inside .github/workflows, never in subfolders.
_WORKFLOW_NAME = re.compile(r"[^/]+\.ya?ml\Z", re.IGNORECASE)


def cite(places: Iterable[Place], limit: int = 3) -> str:
    """`a.py:3, b.py:7 (+2 more)`: where something was found, short enough for a summary."""
    unique = list(dict.fromkeys(f"{p.path}:{p.line}" for p in places))
    shown = ", ".join(unique[:limit])
    return shown + (f" (+{len(unique) - limit} more)" if len(unique) > limit else "")


# -- parsed workflows --------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One shell command of a `run:` block (continuations joined, comments dropped)."""

    text: str
    line: int


@dataclass(frozen=True)
class Step:
    workflow: str
    job: str
    index: int
    line: int
    name: str
    uses: str
    with_: Mapping[str, Any]
    commands: tuple[Command, ...]

    @property
    def action(self) -> str:
        """The action without its version: `actions/setup-python@v5` → `actions/setup-python`."""
        return self.uses.split("@", 1)[0].strip().lower()

    @property
    def action_major(self) -> int | None:
        """The major version the action is pinned to (`@v5.1` → 5), None for a branch or sha."""
        match = re.fullmatch(r"v?(\d+)(?:\.\d+)*", self.uses.partition("@")[2].strip())
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Job:
    workflow: str
    id: str
    line: int
    runs_on: str
    # `strategy.matrix` as written (a mapping, or an expression string); None without one.
    matrix: Any
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Workflow:
    path: str
    name: str
    # Event name → its settings (None for a bare `on: push`).
    triggers: Mapping[str, Any]
    jobs: tuple[Job, ...]
    # Why GitHub would refuse the file; empty when it is valid.
    problems: tuple[ParseError, ...] = ()
    # Set when the file could not be read at all (over the read cap): it is not judged.
    unread: str = ""
    node: Any = field(default=None, repr=False, compare=False)

    @property
    def valid(self) -> bool:
        return not self.problems and not self.unread

    def line(self, *path: Any) -> int:
        return yaml_line(self.node, path)


# Installing a tool mentions its name without running it (`pip install pytest ruff`).
_INSTALL = re.compile(
    r"\b(?:pip3?|uv\s+pip|conda|mamba|micromamba|pipx|apt(?:-get)?|brew|npm)\s+install\b"
    r"|\b(?:uv|poetry|pdm)\s+add\b|\buv\s+tool\s+install\b"
)
_SEPARATORS = re.compile(r"&&|\|\||;")


def _commands(run: str, first_line: int, exact: bool) -> tuple[Command, ...]:
    """Split a `run:` script into commands with their lines in the workflow file.

    `exact` is False for folded or quoted scalars, whose text lines do not map to file
    lines: every command then points at the start of the `run:` value.
    """
    found: list[Command] = []
    pending, pending_line = "", first_line
    for offset, raw in enumerate(run.splitlines()):
        line = first_line + offset if exact else first_line
        text = raw.strip()
        if not pending:
            pending_line = line
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text = (pending + text).strip()
        pending = ""
        if not text or text.startswith("#"):
            continue
        for part in _SEPARATORS.split(text):
            command = part.strip()
            if command and not _INSTALL.search(command):
                found.append(Command(command, pending_line))
    if pending.strip():
        found.append(Command(pending.strip(), pending_line))
    return tuple(found)


def _value_node(node: Any, path: tuple[Any, ...]) -> Any:
    """The composed node at `path`, or None."""
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            return None
    return node


def _step(workflow: str, job: str, index: int, raw: Mapping[Any, Any], root_node: Any) -> Step:
    path = ("jobs", job, "steps", index)
    run = raw.get("run")
    commands: tuple[Command, ...] = ()
    if isinstance(run, str | int | float):
        value = _value_node(root_node, (*path, "run"))
        # A literal block (`run: |`) starts on the line after the key; its lines map 1:1.
        literal = isinstance(value, yaml.ScalarNode) and value.style == "|"
        plain = isinstance(value, yaml.ScalarNode) and value.style in (None, "")
        start = value.start_mark.line + 1 + (1 if literal else 0) if value is not None else 1
        commands = _commands(str(run), start, literal or plain)
    with_ = raw.get("with")
    return Step(
        workflow=workflow,
        job=job,
        index=index,
        line=yaml_line(root_node, (*path, "run" if "run" in raw else "uses")),
        name=str(raw.get("name") or ""),
        uses=str(raw.get("uses") or ""),
        with_=with_ if isinstance(with_, dict) else {},
        commands=commands,
    )


def _triggers(on: Any) -> dict[str, Any] | None:
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list) and all(isinstance(event, str) for event in on):
        return dict.fromkeys(on)
    if isinstance(on, dict):
        return {str(event): settings for event, settings in on.items()}
    return None


def _job(workflow: str, job_id: str, raw: Any, node: Any, problems: list[ParseError]) -> Job:
    line = yaml_line(node, ("jobs", job_id))
    if not isinstance(raw, dict):
        problems.append(ParseError(f"job `{job_id}` must be a mapping of settings", line))
        return Job(workflow, job_id, line, "", None, ())
    if "runs-on" not in raw and "uses" not in raw:
        problems.append(
            ParseError(f"job `{job_id}` needs `runs-on` (or `uses` for a reusable workflow)", line)
        )
    raw_steps = raw.get("steps")
    steps: list[Step] = []
    if raw_steps is not None and not isinstance(raw_steps, list):
        where = yaml_line(node, ("jobs", job_id, "steps"))
        problems.append(ParseError(f"`steps` of job `{job_id}` must be a list", where))
    for index, raw_step in enumerate(raw_steps if isinstance(raw_steps, list) else []):
        where = yaml_line(node, ("jobs", job_id, "steps", index))
        if not isinstance(raw_step, dict):
            problems.append(
                ParseError(f"step {index + 1} of job `{job_id}` is not a mapping", where)
            )
            continue
        if ("run" in raw_step) == ("uses" in raw_step):
            problems.append(
                ParseError(
                    f"step {index + 1} of job `{job_id}` must have exactly one of `run` or `uses`",
                    where,
                )
            )
        steps.append(_step(workflow, job_id, index, raw_step, node))
    strategy = raw.get("strategy")
    matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    return Job(workflow, job_id, line, str(raw.get("runs-on") or ""), matrix, tuple(steps))


def _workflow(snapshot: Snapshot, path: str) -> Workflow:
    entry = snapshot.files[path]
    if entry.size > snapshot.read_cap:
        limit = snapshot.read_cap // (1024 * 1024)
        return Workflow(path, path, {}, (), unread=f"larger than the {limit} MB read limit")
    parsed = snapshot.yaml(path)
    if parsed.error is not None:
        error = parsed.error
        if snapshot.text(path) is None:
            error = ParseError("this is not a text file", 1)
        return Workflow(path, path, {}, (), problems=(error,))
    data, node = parsed.data, parsed.node
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}, not a mapping of keys"
        return Workflow(path, path, {}, (), problems=(ParseError(f"the file is {what}", 1),))
    problems: list[ParseError] = []
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True; GitHub reads "on".
    on = data.get("on", data.get(True))
    triggers = _triggers(on)
    if on is None:
        message = "missing `on:` (the events that start this workflow)"
        problems.append(ParseError(message, yaml_line(node, ("on",))))
    elif triggers is None:
        message = "`on:` must be an event name, a list of them or a mapping"
        problems.append(ParseError(message, yaml_line(node, ("on",))))
    raw_jobs = data.get("jobs")
    jobs: list[Job] = []
    if not isinstance(raw_jobs, dict) or not raw_jobs:
        line = yaml_line(node, ("jobs",)) if "jobs" in data else 1
        problems.append(ParseError("missing `jobs:` (a mapping with at least one job)", line))
    else:
        jobs = [_job(path, str(k), v, node, problems) for k, v in raw_jobs.items()]
    name = data.get("name")
    return Workflow(
        path=path,
        name=name if isinstance(name, str) and name.strip() else path.rsplit("/", 1)[-1],
        triggers=triggers or {},
        jobs=tuple(jobs),
        problems=tuple(problems),
        node=node,
    )


def _all_workflows(snapshot: Snapshot) -> tuple[Workflow, ...]:
    paths = [
        p
        for p in snapshot.paths
        if p.startswith(WORKFLOW_DIR) and _WORKFLOW_NAME.fullmatch(p, len(WORKFLOW_DIR))
    ]
    return tuple(_workflow(snapshot, p) for p in paths)


def workflows(snapshot: Snapshot) -> tuple[Workflow, ...]:
    """Every workflow file in `.github/workflows/`, parsed once per snapshot."""
    return snapshot.memo("ci:workflows", _all_workflows)


def valid_workflows(snapshot: Snapshot) -> list[Workflow]:
    return [w for w in workflows(snapshot) if w.valid]


def steps(snapshot: Snapshot) -> Iterator[Step]:
    """Every step of every valid workflow, in file order."""
    for workflow in valid_workflows(snapshot):
        for job in workflow.jobs:
            yield from job.steps


def find_commands(snapshot: Snapshot, pattern: re.Pattern[str]) -> list[tuple[Step, Command]]:
    """Workflow commands matching `pattern` (installing a tool does not count as running it)."""
    return [(s, c) for s in steps(snapshot) for c in s.commands if pattern.search(c.text)]


def _step_place(step: Step, command: Command | None = None) -> Place:
    return Place(step.workflow, command.line if command else step.line)


def _main_job(jobs: Sequence[Job]) -> Job | None:
    """The job that runs the tests, else the first one: where a missing step belongs."""
    return next(
        (j for j in jobs for s in j.steps if any(_TEST_RUNNER.search(c.text) for c in s.commands)),
        jobs[0] if jobs else None,
    )


def _missing_step(snapshot: Snapshot, title: str, message: str) -> list[Annotation]:
    """A warning on the job a missing step belongs in, when there is a job."""
    job = _main_job([j for w in valid_workflows(snapshot) for j in w.jobs])
    if job is None:
        return []
    return [
        Annotation(
            path=job.workflow,
            start_line=job.line,
            end_line=job.line,
            level=Level.warning,
            title=title,
            message=f"Job `{job.id}`: {message}",
        )
    ]


# -- workflow-syntax ---------------------------------------------------------------------------


@criterion(
    "workflow-syntax",
    title="Workflow files are valid",
    module="M17",
    fix="""
    Open the workflow file at the line marked and fix it: GitHub refuses the whole file, so
    none of its jobs run. A workflow is a YAML mapping with `on:` (the events) and `jobs:`;
    each job needs `runs-on:` and a list of `steps`, each step one `run:` or `uses:`. Mind the
    indentation (spaces, never tabs). The Actions tab of your repository shows GitHub's own
    error for the file.
    """,
    rank=5,
)
def workflow_syntax(snapshot: Snapshot, context: Context) -> Outcome:
    """Every file in `.github/workflows/` must be a workflow GitHub accepts.

    A single YAML mistake makes GitHub ignore the whole file, so your tests or deployment
    silently stop running. This reads each workflow (as data, never running it) and points at
    the line GitHub would complain about.
    """
    found = workflows(snapshot)
    if not found:
        return passed("No workflow files to check.", metrics={"workflows": 0, "invalid": 0})
    invalid = [w for w in found if w.problems]
    unread = [w for w in found if w.unread]
    annotations = [
        Annotation(
            path=w.path,
            start_line=problem.line,
            end_line=problem.line,
            level=Level.failure,
            title="GitHub will not run this workflow",
            message=f"{problem.message}.",
        )
        for w in invalid
        for problem in w.problems
    ]
    annotations += [
        Annotation(
            path=w.path,
            level=Level.notice,
            title="Workflow not checked",
            message=f"This file is {w.unread}, so it was not checked.",
        )
        for w in unread
    ]
    metrics = {"workflows": len(found), "invalid": len(invalid)}
    details = "\n".join(
        f"- `{w.path}` line {p.line}: {p.message}" for w in invalid for p in w.problems
    )
    if unread:
        details += "".join(f"\n- `{w.path}`: not checked, {w.unread}" for w in unread)
    if not invalid:
        checked = len(found) - len(unread)
        summary = (
            f"All workflow files are valid ({checked} checked)."
            if checked
            else "No workflow file could be read, so none was checked."
        )
        return passed(
            summary,
            details=details.strip(),
            metrics=metrics,
            annotations=annotations,
        )
    first = invalid[0]
    return failed(
        f"{len(invalid)} of {len(found)} workflow files are invalid: `{first.path}` line "
        f"{first.problems[0].line}: {first.problems[0].message}.",
        details=details.strip(),
        metrics=metrics,
        annotations=annotations,
    )


# -- ci ----------------------------------------------------------------------------------------


@criterion(
    "ci",
    title="Continuous integration",
    module="M17",
    fix="""
    Add a workflow file such as `.github/workflows/tests.yaml` that runs on `push` and
    `pull_request` and runs your tests; the course's GitHub Actions module walks through one.
    """,
)
def ci(snapshot: Snapshot, context: Context) -> Outcome:
    """Your repository has GitHub Actions workflows that GitHub can run.

    Continuous integration runs your checks on every push, so a broken commit is noticed by
    a machine before it reaches your teammates. This lists each workflow, its name and the
    events that start it.
    """
    found = workflows(snapshot)
    if not found:
        return failed(
            "No workflow files in `.github/workflows/`.", metrics={"workflows": 0, "jobs": 0}
        )
    valid = [w for w in found if w.valid]
    triggers = sorted({event for w in valid for event in w.triggers})
    metrics = {
        "workflows": len(valid),
        "jobs": sum(len(w.jobs) for w in valid),
        "triggers": triggers,
        "names": [w.name for w in valid],
    }
    lines = [
        f'- `{w.path}` "{w.name}": on {", ".join(w.triggers) or "nothing"}; '
        f"jobs {', '.join(j.id for j in w.jobs)}"
        for w in valid
    ]
    broken = [w.path for w in found if not w.valid]
    if broken:
        lines.append(f"- not usable (see the workflow check): {', '.join(broken)}")
    if not valid:
        return failed(
            f"{len(found)} workflow file{'s' if len(found) != 1 else ''} but none GitHub can "
            f"run: {', '.join(broken)}.",
            details="\n".join(lines),
            metrics=metrics,
        )
    described = "; ".join(f"{w.name} (on {', '.join(w.triggers) or 'nothing'})" for w in valid[:4])
    more = f" and {len(valid) - 4} more" if len(valid) > 4 else ""
    note = (
        f" GitHub cannot run {', '.join(broken)} (see the workflow syntax check)." if broken else ""
    )
    return passed(
        f"{len(valid)} workflow{'s' if len(valid) != 1 else ''}: {described}{more}.{note}",
        details="\n".join(lines),
        metrics=metrics,
    )


# -- ci-tests ----------------------------------------------------------------------------------

_TEST_RUNNER = re.compile(
    r"(?<![\w./-])(?:pytest|py\.test|tox|nox)(?![\w-])"
    r"|-m\s+unittest\b"
    r"|(?<![\w-])(?:invoke|inv|make|just|task)\s+(?:[\w:.-]+\s+)*?tests?(?![\w-])"
)


@criterion(
    "ci-tests",
    title="CI runs the tests",
    module="M17",
    requires=("ci",),
    fix="""
    Add a step that runs your tests to a workflow, after installing the dependencies, e.g.
    `run: pytest tests/` (or `uv run pytest tests/`, or `coverage run -m pytest tests/` to
    measure coverage at the same time).
    """,
)
def ci_tests(snapshot: Snapshot, context: Context) -> Outcome:
    """A workflow step runs your test suite (pytest, or a task such as `invoke test`).

    Tests only protect you when they run on every push; otherwise they quietly rot. This
    looks for a workflow step that runs them.
    """
    found = find_commands(snapshot, _TEST_RUNNER)
    if not found:
        return failed(
            "No workflow step runs your tests (no `pytest`, `python -m pytest`, "
            "`invoke test` or `make test`).",
            metrics={"steps": 0},
            annotations=_missing_step(
                snapshot,
                "No step runs the tests",
                "no step of any workflow runs your tests. Add one after installing the "
                "dependencies, e.g. `- run: pytest tests/`.",
            ),
        )
    places = [_step_place(s, c) for s, c in found]
    step, command = found[0]
    return passed(
        f"Tests run in CI: `{command.text}` in {cite(places)} (job `{step.job}`).",
        details="\n".join(
            f"- `{c.text}` at {s.workflow}:{c.line} (job `{s.job}`)" for s, c in found
        ),
        metrics={"steps": len({(s.workflow, s.job, s.index) for s, _ in found})},
    )


# -- ci-lint -----------------------------------------------------------------------------------

_LINT_ACTIONS = {
    "astral-sh/ruff-action": "ruff",
    "chartboost/ruff-action": "ruff",
    "pre-commit/action": "pre-commit",
    "psf/black": "black",
}
_LINT_TOOL = re.compile(
    r"(?<![\w./-])(?P<tool>ruff|flake8|pylint|mypy|pre-commit|black)(?![\w-])(?P<rest>.*)"
    r"|(?<![\w-])(?:invoke|inv|make|just|task)\s+(?:[\w:.-]+\s+)*?(?P<task>lint)(?![\w-])"
)


def _linter(command: str) -> str | None:
    """The linter a command runs, if it runs one that can fail the build."""
    match = _LINT_TOOL.search(command)
    if match is None:
        return None
    if match.group("task"):
        return match.group(0).strip()
    tool, rest = match.group("tool"), match.group("rest")
    checking = re.search(r"--(?:check|diff)\b", rest) is not None
    # Formatting in CI changes nothing and fails nothing; only the checking modes gate a push.
    if tool == "black" and not checking:
        return None
    if tool == "ruff" and re.match(r"\s+format\b", rest) and not checking:
        return None
    if tool == "pre-commit" and not re.match(r"\s+run\b", rest):
        return None
    return tool


@criterion(
    "ci-lint",
    title="CI lints the code",
    module="M17",
    requires=("ci",),
    fix="""
    Add a linting step to a workflow, e.g. `run: ruff check .` and `run: ruff format --check .`,
    or the `astral-sh/ruff-action` action, or `pre-commit run --all-files`.
    """,
)
def ci_lint(snapshot: Snapshot, context: Context) -> Outcome:
    """A workflow step checks code style and common mistakes (ruff, flake8, pylint, mypy…).

    A linter in CI keeps the whole group's code in one consistent style and catches bugs
    such as unused or undefined names before review.
    """
    evidence: list[tuple[str, Place, str]] = []
    for step in steps(snapshot):
        if step.action in _LINT_ACTIONS:
            evidence.append((_LINT_ACTIONS[step.action], _step_place(step), step.job))
        for command in step.commands:
            tool = _linter(command.text)
            if tool is not None:
                evidence.append((tool, _step_place(step, command), step.job))
    if not evidence:
        return failed(
            "No workflow step runs a linter (ruff, flake8, pylint, mypy, `black --check` or "
            "pre-commit).",
            metrics={"tools": []},
            annotations=_missing_step(
                snapshot,
                "No step lints the code",
                "no step of any workflow runs a linter. Add one, e.g. `- run: ruff check .` "
                "and `- run: ruff format --check .`.",
            ),
        )
    tools = sorted({tool for tool, _, _ in evidence})
    return passed(
        f"CI lints with {', '.join(tools)}: {cite(p for _, p, _ in evidence)}.",
        details="\n".join(f"- {t} at {p.path}:{p.line} (job `{j}`)" for t, p, j in evidence),
        metrics={"tools": tools},
    )


# -- ci-matrix-cache ---------------------------------------------------------------------------


def _matrix_axes(matrix: Any) -> dict[str, int | None]:
    """Axis → number of values (None when computed by an expression)."""
    if isinstance(matrix, dict):
        return {
            str(axis): len(values) if isinstance(values, list) else None
            for axis, values in matrix.items()
            if axis not in ("include", "exclude")
        } or {"include": len(matrix.get("include") or [])}
    return {"(expression)": None} if isinstance(matrix, str) and matrix.strip() else {}


def _caches(step: Step) -> str | None:
    """How a step caches dependencies, if it does."""
    action, settings = step.action, step.with_
    if action.startswith("actions/cache"):
        return "actions/cache"
    if action == "actions/setup-python" and settings.get("cache"):
        return f"setup-python cache: {settings['cache']}"
    if action == "astral-sh/setup-uv":
        enabled = settings.get("enable-cache")
        if enabled is not None:
            return "setup-uv enable-cache" if str(enabled).lower() != "false" else None
        # setup-uv v5 and later cache by default on GitHub-hosted runners.
        major = step.action_major
        return "setup-uv (caches by default since v5)" if major is not None and major >= 5 else None
    return None


@criterion(
    "ci-matrix-cache",
    title="CI matrix and caching",
    module="M17",
    requires=("ci",),
    fix="""
    Test on several systems with a `strategy: matrix:` in the test job (e.g.
    `os: [ubuntu-latest, windows-latest, macos-latest]` and `python-version: ["3.11", "3.12"]`,
    used by `runs-on: ${{ matrix.os }}`), and cache dependencies: `cache: "pip"` on
    `actions/setup-python`, `enable-cache: true` on `astral-sh/setup-uv`, or `actions/cache`.
    """,
)
def ci_matrix_cache(snapshot: Snapshot, context: Context) -> Outcome:
    """Your CI tests on several operating systems or Python versions, and caches dependencies.

    A matrix catches "works on my machine" bugs (Windows paths, a newer Python); caching
    makes every run start in seconds instead of reinstalling PyTorch each time.
    """
    jobs = [j for w in valid_workflows(snapshot) for j in w.jobs]
    matrices = [(j, _matrix_axes(j.matrix)) for j in jobs if _matrix_axes(j.matrix)]
    caches = [(s, how) for j in jobs for s in j.steps if (how := _caches(s))]
    metrics = {
        "matrix_jobs": len(matrices),
        "matrix_axes": sorted({axis for _, axes in matrices for axis in axes}),
        "cache_steps": len(caches),
    }
    parts = []
    for job, axes in matrices[:3]:
        sizes = ", ".join(f"{a} ({n})" if n is not None else a for a, n in axes.items())
        parts.append(f"matrix over {sizes} in {job.workflow}:{job.line} (job `{job.id}`)")
    parts += [f"{how} at {s.workflow}:{s.line}" for s, how in caches[:3]]
    if matrices and caches:
        summary = "; ".join(parts)
        return passed(f"{summary[0].upper()}{summary[1:]}.", metrics=metrics)
    lacks = [what for what, have in (("matrix", matrices), ("caching", caches)) if not have]
    annotations = []
    # Point at the job that runs the tests (else the first job): that is where both belong.
    target = _main_job(jobs)
    if target is not None:
        wanted = " and ".join("a matrix" if what == "matrix" else what for what in lacks)
        annotations.append(
            Annotation(
                path=target.workflow,
                start_line=target.line,
                end_line=target.line,
                level=Level.notice,
                title=f"Add {wanted}",
                message=f"Job `{target.id}` has no {' and no '.join(lacks)}: a `strategy: matrix:` "
                "tests on several systems, and dependency caching makes runs fast.",
            )
        )
    found = f" Found: {'; '.join(parts)}." if parts else ""
    return failed(
        f"CI has no {' and no '.join(lacks)}.{found}",
        metrics=metrics,
        annotations=annotations,
    )


# -- ci-triggers -------------------------------------------------------------------------------

# Path filters about data or models: DVC pointers and lock files, data/ and models/ folders,
# model weight files. A leading "!" excludes paths, so it never counts.
_DATA_FILTER = re.compile(
    r"^(?!!)(?:.*[/*])?(?:data|models?)(?:/|\Z)"
    r"|^(?!!).*\.dvc(?:/|\Z)|^(?!!)(?:.*/)?dvc\.(?:lock|yaml)\Z"
    r"|^(?!!).*\.(?:pt|pth|ckpt|onnx|pkl|joblib|h5|safetensors)\Z",
    re.IGNORECASE,
)
_EXTERNAL_EVENTS = ("repository_dispatch", "workflow_run")


@criterion(
    "ci-triggers",
    title="CI reacts to data and model changes",
    module="M19",
    fix="""
    Add a workflow that runs when the data or the model changes, e.g. `on: push: paths:
    ["data/**", "*.dvc", "dvc.lock"]` to check the data after `dvc push`, or
    `repository_dispatch` / `workflow_run` to react to a new model in the registry.
    """,
)
def ci_triggers(snapshot: Snapshot, context: Context) -> Outcome:
    """A workflow starts when your data or model changes, not only when code changes.

    Continuous machine learning means re-checking the data and re-evaluating the model when
    they change. This looks for `paths:` filters on data/DVC/model files, or events sent by
    other systems (`repository_dispatch`, `workflow_run`).
    """
    evidence: list[tuple[Place, str]] = []
    for workflow in valid_workflows(snapshot):
        for event, settings in workflow.triggers.items():
            if event in _EXTERNAL_EVENTS:
                evidence.append((Place(workflow.path, workflow.line("on", event)), event))
                continue
            filters = settings.get("paths") if isinstance(settings, dict) else None
            if not isinstance(filters, list):
                continue
            matched = [str(f) for f in filters if _DATA_FILTER.search(str(f))]
            if matched:
                place = Place(workflow.path, workflow.line("on", event, "paths"))
                evidence.append((place, f"{event} on {', '.join(matched)}"))
    if not evidence:
        return failed(
            "No workflow reacts to data or model changes (no `paths:` filter on data, DVC or "
            "model files, no `repository_dispatch` or `workflow_run`).",
            metrics={"triggers": 0},
        )
    return passed(
        "Workflows react to data or model changes: "
        + "; ".join(f"{what} ({p.path}:{p.line})" for p, what in evidence[:3])
        + ("…" if len(evidence) > 3 else "")
        + ".",
        details="\n".join(f"- {what} at {p.path}:{p.line}" for p, what in evidence),
        metrics={"triggers": len(evidence)},
    )


# -- pre-commit --------------------------------------------------------------------------------


def _pre_commit_problems(data: Any, node: Any) -> tuple[list[ParseError], list[str], int]:
    """What is wrong with a parsed pre-commit config, its hook ids and number of repos."""
    if not isinstance(data, dict) or "repos" not in data:
        return [ParseError("missing the top-level `repos:` list", 1)], [], 0
    repos = data["repos"]
    if not isinstance(repos, list):
        return [ParseError("`repos:` must be a list", yaml_line(node, ("repos",)))], [], 0
    problems: list[ParseError] = []
    hooks: list[str] = []
    for index, repo in enumerate(repos):
        line = yaml_line(node, ("repos", index))
        if not isinstance(repo, dict) or "repo" not in repo:
            problems.append(ParseError(f"entry {index + 1} of `repos` needs `repo:`", line))
            continue
        entry_hooks = repo.get("hooks")
        if not isinstance(entry_hooks, list) or not entry_hooks:
            problems.append(ParseError(f"`{repo['repo']}` needs a list of `hooks`", line))
            continue
        for hook_index, hook in enumerate(entry_hooks):
            if isinstance(hook, dict) and hook.get("id"):
                hooks.append(str(hook["id"]))
            else:
                where = yaml_line(node, ("repos", index, "hooks", hook_index))
                problems.append(ParseError("every hook needs an `id:`", where))
    return problems, hooks, len(repos)


@criterion(
    "pre-commit",
    title="Pre-commit hooks",
    module="M18",
    fix="""
    Add a `.pre-commit-config.yaml` at the root of the repository with a `repos:` list (for
    example the `pre-commit-hooks` and `ruff-pre-commit` repositories), then run
    `pre-commit install` once so the hooks check every commit.
    """,
)
def pre_commit(snapshot: Snapshot, context: Context) -> Outcome:
    """A valid `.pre-commit-config.yaml` sets up hooks that check each commit.

    Pre-commit hooks fix trailing whitespace, format and lint your code before it is even
    committed, so review and CI are about the substance.
    """
    if not snapshot.is_file(PRE_COMMIT_CONFIG):
        elsewhere = snapshot.named(".pre-commit-config.yaml", ".pre-commit-config.yml")
        hint = (
            f" Found {', '.join(elsewhere)}, but pre-commit only reads "
            f"`{PRE_COMMIT_CONFIG}` at the repository root."
            if elsewhere
            else ""
        )
        return failed(f"No `{PRE_COMMIT_CONFIG}`.{hint}", metrics={"hooks": 0})
    parsed = snapshot.yaml(PRE_COMMIT_CONFIG)
    if parsed.error is not None:
        problems, hooks, repos = [parsed.error], [], 0
    else:
        problems, hooks, repos = _pre_commit_problems(parsed.data, parsed.node)
    metrics = {"hooks": len(hooks), "repos": repos}
    if problems:
        return failed(
            f"`{PRE_COMMIT_CONFIG}` is invalid: line {problems[0].line}: {problems[0].message}.",
            details="\n".join(f"- line {p.line}: {p.message}" for p in problems),
            metrics=metrics,
            annotations=[
                Annotation(
                    path=PRE_COMMIT_CONFIG,
                    start_line=p.line,
                    end_line=p.line,
                    level=Level.warning,
                    title="Invalid pre-commit configuration",
                    message=f"{p.message}. pre-commit refuses to run with this file.",
                )
                for p in problems
            ],
        )
    if not hooks:
        return failed(f"`{PRE_COMMIT_CONFIG}` lists no hooks.", metrics=metrics)
    shown = ", ".join(hooks[:6]) + (f" and {len(hooks) - 6} more" if len(hooks) > 6 else "")
    return passed(
        f"{len(hooks)} pre-commit hook{'s' if len(hooks) != 1 else ''} from {repos} "
        f"repo{'s' if repos != 1 else ''}: {shown}.",
        metrics=metrics,
    )
