"""`ci-workflow`: a GitHub Actions workflow that runs the tests and ruff, with caching."""

from __future__ import annotations

import re

from checks.fixes.registry import COURSE_PYTHON, FAILING, Proposal, Results, fix
from checks.snapshot import Snapshot

WORKFLOW_DIR = ".github/workflows"
NAMES = ("tests.yaml", "mlops-mentor-ci.yaml")
REQUIREMENTS = ("requirements.txt", "requirements_dev.txt", "requirements-dev.txt")
_MINIMUM = re.compile(r"(?:>=|~=|==)\s*3\.(\d+)")


def python_version(snapshot: Snapshot) -> str:
    """The course's Python, or the newer minimum that `requires-python` asks for."""
    project = snapshot.pyproject.get("project")
    required = project.get("requires-python") if isinstance(project, dict) else None
    found = _MINIMUM.search(required) if isinstance(required, str) else None
    course_minor = int(COURSE_PYTHON.split(".")[1])
    minor = max(course_minor, int(found.group(1))) if found else course_minor
    return f"3.{minor}"


def _install(snapshot: Snapshot) -> tuple[list[str], list[str]]:
    """The cache key files and the install commands of the project's pip setup."""
    requirements = [r for r in REQUIREMENTS if snapshot.is_file(r)]
    packaged = snapshot.is_file("pyproject.toml") or snapshot.is_file("setup.py")
    commands = ["python -m pip install --upgrade pip"]
    commands += [f"pip install -r {r}" for r in requirements]
    if packaged:
        commands.append("pip install -e .")
    commands.append("pip install pytest ruff")
    keys = requirements + (["pyproject.toml"] if snapshot.is_file("pyproject.toml") else [])
    return keys, commands


def _pip_job(name: str, python: str, keys: list[str], commands: list[str], run: list[str],
             matrix: bool) -> list[str]:  # fmt: skip
    runs_on = "${{ matrix.os }}" if matrix else "ubuntu-latest"
    lines = [f"  {name}:", f"    runs-on: {runs_on}"]
    if matrix:
        lines += [
            "    strategy:",
            "      fail-fast: false",
            "      matrix:",
            "        os: [ubuntu-latest, windows-latest, macos-latest]",
        ]
    lines += [
        "    steps:",
        "      - uses: actions/checkout@v4",
        "      - uses: actions/setup-python@v5",
        "        with:",
        f'          python-version: "{python}"',
    ]
    if keys:
        # Without a dependency file setup-python's pip cache has no key, and fails.
        lines += ['          cache: "pip"', "          cache-dependency-path: |"]
        lines += [f"            {k}" for k in keys]
    lines += ["      - name: Install dependencies", "        run: |"]
    lines += [f"          {c}" for c in commands]
    for command in run:
        lines += [f"      - run: {command}"]
    return lines


def _uv_job(name: str, python: str, run: list[str], matrix: bool) -> list[str]:
    runs_on = "${{ matrix.os }}" if matrix else "ubuntu-latest"
    lines = [f"  {name}:", f"    runs-on: {runs_on}"]
    if matrix:
        lines += [
            "    strategy:",
            "      fail-fast: false",
            "      matrix:",
            "        os: [ubuntu-latest, windows-latest, macos-latest]",
        ]
    lines += [
        "    steps:",
        "      - uses: actions/checkout@v4",
        "      - uses: astral-sh/setup-uv@v6",
        "        with:",
        f'          python-version: "{python}"',
        "          enable-cache: true",
        "      - run: uv sync --all-groups",
    ]
    lines += [f"      - run: {command}" for command in run]
    return lines


def _test_command(snapshot: Snapshot) -> str:
    return "pytest tests/" if snapshot.is_dir("tests") else "pytest"


@fix(
    "ci-workflow",
    label="Add CI workflow",
    description="Run pytest and ruff on every push",
    title="Add a GitHub Actions workflow running the tests and ruff",
    criteria=("ci", "ci-tests", "ci-lint"),
    rank=20,
)
def ci_workflow(snapshot: Snapshot, results: Results) -> Proposal | None:
    """A new workflow with the jobs the existing ones lack: the tests on three systems with
    cached dependencies, and ruff."""
    lacking = {cid for cid, r in results.items() if r.status in FAILING}
    no_ci = "ci" in lacking
    wants_tests = no_ci or "ci-tests" in lacking
    wants_lint = no_ci or "ci-lint" in lacking
    free = [f"{WORKFLOW_DIR}/{n}" for n in NAMES if not snapshot.exists(f"{WORKFLOW_DIR}/{n}")]
    path = free[0] if free else None
    if path is None or not (wants_tests or wants_lint):
        return None
    python = python_version(snapshot)
    uv = snapshot.is_file("uv.lock")
    keys, commands = _install(snapshot)
    lines = [
        "# Added by mlops-mentor: tests and linting on every push and pull request.",
        "name: Tests",
        "",
        "on:",
        "  push:",
        "  pull_request:",
        "",
        "jobs:",
    ]
    if wants_tests:
        test = _test_command(snapshot)
        lines += (
            _uv_job("tests", python, [f"uv run --with pytest {test}"], True)
            if uv
            else _pip_job("tests", python, keys, commands, [test], True)
        )
    if wants_lint:
        if wants_tests:
            lines.append("")
        run = ["ruff check .", "ruff format --check ."]
        lines += (
            _uv_job("lint", python, [f"uvx {c}" for c in run], False)
            if uv
            else _pip_job("lint", python, [], ["pip install ruff"], run, False)
        )
    jobs = " and ".join(
        j for j, wanted in (("`tests`", wants_tests), ("`lint`", wants_lint)) if wanted
    )
    tool = "uv (your `uv.lock`)" if uv else "pip, cached on your dependency files"
    explanation = (
        f"Adds `{path}`, a GitHub Actions workflow with the {jobs} job"
        f"{'s' if wants_tests and wants_lint else ''} your CI does not have yet. It runs on "
        "every push and on every pull request, installs your dependencies with "
        f"{tool}, and uses Python {python} (the course's version, or the newer minimum in "
        "`requires-python`)."
        + (
            " Tests run on Linux, Windows and macOS (`strategy: matrix:`), so "
            '"works on my machine" bugs show up here first; `pytest` must find your tests '
            "for the job to pass."
            if wants_tests
            else ""
        )
        + (
            " The lint job runs `ruff check .` and `ruff format --check .`; run "
            "`ruff check --fix .` and `ruff format .` locally to make it pass."
            if wants_lint
            else ""
        )
    )
    return Proposal({path: "\n".join(lines) + "\n"}, explanation)
