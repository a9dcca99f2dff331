"""CI criteria: workflow-syntax, ci, ci-tests, ci-lint, ci-matrix-cache, ci-triggers, pre-commit."""

from __future__ import annotations

import pytest

from checks.models import Level, Status

WF = ".github/workflows/tests.yaml"

TESTS_WORKFLOW = """\
name: Unit Tests

on:
  push:
    branches: [main]
  pull_request:
    branches: [main]

jobs:
  test:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: ["ubuntu-latest", "windows-latest", "macos-latest"]
        python-version: ["3.12", "3.11"]
    steps:
      - uses: actions/checkout@v4
      - name: Install uv
        uses: astral-sh/setup-uv@v4
        with:
          enable-cache: true
      - name: Install dependencies
        run: |
          uv sync
          uv pip install pytest ruff
      - name: Run tests
        run: |
          uv run coverage run -m pytest tests/
          uv run coverage report -m
"""


def workflow(steps: str, *, on: str = "on: push", job: str = "build", extra: str = "") -> str:
    """A one-job workflow with the given (already indented) steps."""
    return (
        f"name: CI\n{on}\njobs:\n  {job}:\n    runs-on: ubuntu-latest\n{extra}    steps:\n{steps}"
    )


# -- workflow-syntax ---------------------------------------------------------------------------


def test_workflow_syntax_passes_without_workflows(run_criterion):
    result = run_criterion("workflow-syntax", {"README.md": "# hi"})
    assert result.status == Status.passed
    assert result.summary == "No workflow files to check."


def test_workflow_syntax_passes_on_a_valid_workflow(run_criterion):
    result = run_criterion("workflow-syntax", {WF: TESTS_WORKFLOW})
    assert result.status == Status.passed
    assert "1 checked" in result.summary
    assert result.annotations == []


def test_workflow_syntax_fails_on_invalid_yaml_at_the_exact_line(run_criterion):
    broken = "name: CI\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n   steps: []\n"
    result = run_criterion(
        "workflow-syntax", {WF: broken, ".github/workflows/ok.yml": TESTS_WORKFLOW}
    )
    assert result.status == Status.fail  # required in the profile: fails the check run
    assert result.summary.startswith(
        "1 of 2 workflow files are invalid: `.github/workflows/tests.yaml` line 6"
    )
    [annotation] = result.annotations
    assert (annotation.path, annotation.start_line, annotation.level) == (WF, 6, Level.failure)
    assert "expected" in annotation.message  # the parser's own words
    assert annotation.rank == 5


def test_workflow_syntax_accepts_the_on_key_that_yaml_reads_as_true(run_criterion):
    quoted = TESTS_WORKFLOW.replace("\non:", '\n"on":')
    result = run_criterion(
        "workflow-syntax", {WF: TESTS_WORKFLOW, ".github/workflows/q.yml": quoted}
    )
    assert result.status == Status.passed


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "name: x\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{run: ls}]\n",
            1,
            "missing `on:`",
        ),
        ("name: x\non: push\n", 1, "missing `jobs:`"),
        ("on: push\njobs: {}\n", 2, "missing `jobs:`"),
        ("on: push\njobs:\n  a:\n    steps:\n      - run: ls\n", 3, "needs `runs-on`"),
        (
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"
            "      - run: ls\n        uses: a/b@v1\n",
            6,
            "exactly one of `run` or `uses`",
        ),
        ("on: push\njobs:\n  a:\n    runs-on: x\n    steps: ls\n", 5, "must be a list"),
        ("on: {push: 1}\njobs:\n  a: 3\n", 3, "must be a mapping"),
        ("on: 3\njobs:\n  a:\n    uses: ./.github/workflows/b.yml\n", 1, "`on:` must be"),
        ("- on\n- jobs\n", 1, "a list, not a mapping"),
        ("", 1, "the file is empty"),
    ],
)
def test_workflow_syntax_reports_what_github_refuses(run_criterion, text, line, words):
    result = run_criterion("workflow-syntax", {WF: text})
    assert result.status == Status.fail
    assert any(a.start_line == line and words in a.message for a in result.annotations), [
        (a.start_line, a.message) for a in result.annotations
    ]


def test_workflow_syntax_reports_a_binary_workflow(run_criterion):
    result = run_criterion("workflow-syntax", {WF: b"\x00\x01binary\xff"})
    assert result.status == Status.fail
    assert result.annotations[0].message == "this is not a text file."


def test_workflow_syntax_does_not_judge_a_file_over_the_read_cap(run_criterion):
    huge = "# padding\n" * 220_000  # over the 2 MB read cap
    result = run_criterion("workflow-syntax", {WF: huge})
    assert result.status == Status.passed
    assert result.summary == "No workflow file could be read, so none was checked."
    [annotation] = result.annotations
    assert annotation.level == Level.notice and "read limit" in annotation.message


def test_workflow_syntax_ignores_files_github_does_not_read(run_criterion, make_repo):
    root = make_repo({".github/workflows/sub/x.yml": "::: not yaml", ".github/ISSUE.yml": "["})
    result = run_criterion("workflow-syntax", root)
    assert result.status == Status.passed
    assert result.metrics["workflows"] == 0


def test_workflow_syntax_survives_a_yaml_bomb(run_criterion):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    result = run_criterion("workflow-syntax", {WF: bomb})
    assert result.status == Status.fail
    assert "refused" in result.annotations[0].message


# -- ci ----------------------------------------------------------------------------------------


def test_ci_lists_workflows_with_names_and_triggers(run_criterion):
    lint = workflow("      - run: ruff check .\n", on="on: [push, workflow_dispatch]")
    result = run_criterion("ci", {WF: TESTS_WORKFLOW, ".github/workflows/lint.yml": lint})
    assert result.status == Status.passed
    assert result.summary == (
        "2 workflows: CI (on push, workflow_dispatch); Unit Tests (on push, pull_request)."
    )
    assert result.metrics["triggers"] == ["pull_request", "push", "workflow_dispatch"]
    assert result.metrics["jobs"] == 2


def test_ci_fails_without_workflows(run_criterion):
    result = run_criterion("ci", {"src/app.py": "print(1)\n"})
    assert result.status == Status.warn
    assert result.summary == "No workflow files in `.github/workflows/`."
    assert "tests.yaml" in result.fix


def test_ci_fails_when_no_workflow_can_run(run_criterion):
    result = run_criterion("ci", {WF: "jobs: ["})
    assert result.status == Status.warn
    assert "none GitHub can run" in result.summary and WF in result.summary


def test_ci_passes_but_names_a_broken_workflow(run_criterion):
    result = run_criterion("ci", {WF: TESTS_WORKFLOW, ".github/workflows/bad.yml": "on: ["})
    assert result.status == Status.passed
    assert "GitHub cannot run .github/workflows/bad.yml" in result.summary


# -- ci-tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "pytest tests/",
        "python -m pytest -v",
        "uv run pytest",
        "coverage run -m pytest tests/",
        "invoke test",
        "make test",
        "cd src && pytest",
    ],
)
def test_ci_tests_recognises_test_commands(run_criterion, command):
    steps = f"      - uses: actions/checkout@v4\n      - name: Test\n        run: {command}\n"
    result = run_criterion("ci-tests", {WF: workflow(steps)})
    assert result.status == Status.passed
    assert f"{WF}:9" in result.summary
    assert "(job `build`)" in result.summary


def test_ci_tests_points_at_the_line_inside_a_run_block(run_criterion):
    result = run_criterion("ci-tests", {WF: TESTS_WORKFLOW})
    assert result.summary == (
        "Tests run in CI: `uv run coverage run -m pytest tests/` in "
        ".github/workflows/tests.yaml:28 (job `test`)."
    )


def test_ci_tests_does_not_count_installing_pytest(run_criterion):
    steps = "      - run: |\n          pip install pytest pytest-cov\n          python train.py\n"
    result = run_criterion("ci-tests", {WF: workflow(steps)})
    assert result.status == Status.warn
    assert result.summary.startswith("No workflow step runs your tests")


def test_ci_tests_and_ci_lint_mark_the_job_the_step_belongs_in(run_criterion):
    steps = "      - uses: actions/checkout@v4\n      - run: python train.py\n"
    files = {WF: workflow(steps, job="train")}
    for cid, title in (
        ("ci-tests", "No step runs the tests"),
        ("ci-lint", "No step lints the code"),
    ):
        (annotation,) = run_criterion(cid, files).annotations
        assert (annotation.path, annotation.start_line, annotation.title) == (WF, 4, title)
        assert annotation.message.startswith("Job `train`: no step of any workflow")


def test_ci_tests_ignores_commented_out_tests(run_criterion):
    steps = "      - run: |\n          # pytest tests/\n          echo skipped\n"
    assert run_criterion("ci-tests", {WF: workflow(steps)}).status == Status.warn


def test_ci_tests_joins_continued_lines(run_criterion):
    steps = "      - run: |\n          uv run \\\n            pytest tests/\n"
    result = run_criterion("ci-tests", {WF: workflow(steps)})
    assert result.status == Status.passed
    assert f"{WF}:8" in result.summary


def test_ci_tests_is_skipped_without_ci(run_criterion):
    result = run_criterion("ci-tests", {"tests/test_x.py": "def test_x(): pass\n"})
    assert result.status == Status.skip
    assert "`ci`" in result.summary


# -- ci-lint -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "tool"),
    [
        ("      - run: uv run ruff check .\n", "ruff"),
        ("      - run: ruff format --check .\n", "ruff"),
        ("      - uses: astral-sh/ruff-action@v3\n", "ruff"),
        ("      - uses: chartboost/ruff-action@v1\n", "ruff"),
        ("      - uses: pre-commit/action@v3.0.1\n", "pre-commit"),
        ("      - run: pre-commit run --all-files\n", "pre-commit"),
        ("      - run: flake8 src\n", "flake8"),
        ("      - run: python -m mypy src\n", "mypy"),
        ("      - run: black --check .\n", "black"),
        ("      - run: invoke lint\n", "invoke lint"),
    ],
)
def test_ci_lint_recognises_linters(run_criterion, step, tool):
    result = run_criterion("ci-lint", {WF: workflow(step)})
    assert result.status == Status.passed
    assert result.summary == f"CI lints with {tool}: {WF}:7."


@pytest.mark.parametrize(
    "step",
    [
        "      - run: pip install ruff black\n",
        "      - run: black .\n",
        "      - run: ruff format .\n",
        "      - run: pre-commit install\n",
    ],
)
def test_ci_lint_ignores_steps_that_cannot_fail_on_style(run_criterion, step):
    result = run_criterion("ci-lint", {WF: workflow(step)})
    assert result.status == Status.warn
    assert result.summary.startswith("No workflow step runs a linter")


# -- ci-matrix-cache ---------------------------------------------------------------------------


def test_ci_matrix_cache_passes_with_both(run_criterion):
    result = run_criterion("ci-matrix-cache", {WF: TESTS_WORKFLOW})
    assert result.status == Status.passed
    assert result.summary == (
        "Matrix over os (3), python-version (2) in .github/workflows/tests.yaml:10 (job `test`); "
        "setup-uv enable-cache at .github/workflows/tests.yaml:19."
    )
    assert result.metrics["matrix_axes"] == ["os", "python-version"]


def test_ci_matrix_cache_says_which_is_missing_and_where(run_criterion):
    steps = "      - uses: actions/setup-python@v5\n      - run: pytest\n"
    extra = "    strategy:\n      matrix:\n        python: ['3.11', '3.12']\n"
    result = run_criterion("ci-matrix-cache", {WF: workflow(steps, extra=extra)})
    assert result.status == Status.warn
    assert result.summary.startswith("CI has no caching. Found: matrix over python (2)")
    [annotation] = result.annotations
    assert (annotation.path, annotation.start_line, annotation.level) == (WF, 4, Level.notice)
    assert "caching" in annotation.title


def test_ci_matrix_cache_reports_both_missing(run_criterion):
    result = run_criterion("ci-matrix-cache", {WF: workflow("      - run: pytest\n")})
    assert result.status == Status.warn
    assert result.summary == "CI has no matrix and no caching."
    assert result.annotations[0].title == "Add a matrix and caching"


@pytest.mark.parametrize(
    ("step", "cached"),
    [
        ("      - uses: actions/setup-python@v5\n        with:\n          cache: pip\n", True),
        ("      - uses: actions/cache@v4\n        with:\n          path: ~/.cache\n", True),
        ("      - uses: astral-sh/setup-uv@v6\n", True),  # caches by default since v5
        ("      - uses: astral-sh/setup-uv@v4\n", False),
        (
            "      - uses: astral-sh/setup-uv@v6\n        with:\n          enable-cache: false\n",
            False,
        ),
        (
            "      - uses: actions/setup-python@v5\n"
            "        with:\n          python-version: '3.12'\n",
            False,
        ),
    ],
)
def test_ci_matrix_cache_recognises_caching(run_criterion, step, cached):
    extra = "    strategy:\n      matrix:\n        os: [ubuntu-latest, windows-latest]\n"
    result = run_criterion("ci-matrix-cache", {WF: workflow(step, extra=extra)})
    assert (result.status == Status.passed) is cached
    assert result.metrics["cache_steps"] == int(cached)


# -- ci-triggers -------------------------------------------------------------------------------


def test_ci_triggers_finds_data_path_filters(run_criterion):
    on = 'on:\n  push:\n    paths:\n      - "data/**"\n      - "*.dvc"\n      - "src/**"'
    result = run_criterion("ci-triggers", {WF: workflow("      - run: dvc pull\n", on=on)})
    assert result.status == Status.passed
    assert result.summary == (
        "Workflows react to data or model changes: push on data/**, *.dvc "
        "(.github/workflows/tests.yaml:4)."
    )


@pytest.mark.parametrize("event", ["repository_dispatch", "workflow_run"])
def test_ci_triggers_finds_external_events(run_criterion, event):
    on = f"on:\n  push:\n  {event}:\n    types: [x]"
    result = run_criterion("ci-triggers", {WF: workflow("      - run: echo\n", on=on)})
    assert result.status == Status.passed
    assert f"{event} ({WF}:4)" in result.summary


@pytest.mark.parametrize(
    "on",
    [
        "on: push",
        "on:\n  push:\n    paths: ['src/**', 'tests/**']",
        "on:\n  push:\n    paths: ['src/**', '!data/**']",
        "on:\n  push:\n    paths-ignore: ['data/**']",
    ],
)
def test_ci_triggers_fails_on_code_only_triggers(run_criterion, on):
    result = run_criterion("ci-triggers", {WF: workflow("      - run: echo\n", on=on)})
    assert result.status == Status.warn
    assert result.summary.startswith("No workflow reacts to data or model changes")


# -- pre-commit --------------------------------------------------------------------------------

PRE_COMMIT = """\
repos:
  - repo: https://github.com/pre-commit/pre-commit-hooks
    rev: v5.0.0
    hooks:
      - id: trailing-whitespace
      - id: end-of-file-fixer
  - repo: https://github.com/astral-sh/ruff-pre-commit
    rev: v0.8.0
    hooks:
      - id: ruff
        args: [--fix]
      - id: ruff-format
"""


def test_pre_commit_passes_with_hooks(run_criterion):
    result = run_criterion("pre-commit", {".pre-commit-config.yaml": PRE_COMMIT})
    assert result.status == Status.passed
    assert result.summary == (
        "4 pre-commit hooks from 2 repos: "
        "trailing-whitespace, end-of-file-fixer, ruff, ruff-format."
    )


def test_pre_commit_fails_when_missing(run_criterion):
    result = run_criterion("pre-commit", {"README.md": "hi"})
    assert result.status == Status.warn
    assert result.summary == "No `.pre-commit-config.yaml`."


def test_pre_commit_names_a_config_pre_commit_will_not_read(run_criterion):
    result = run_criterion("pre-commit", {"src/.pre-commit-config.yml": PRE_COMMIT})
    assert result.status == Status.warn
    assert "Found src/.pre-commit-config.yml" in result.summary


def test_pre_commit_annotates_invalid_yaml(run_criterion):
    broken = PRE_COMMIT.replace("      - id: ruff-format", "    - id: ruff-format")
    result = run_criterion("pre-commit", {".pre-commit-config.yaml": broken})
    assert result.status == Status.warn
    [annotation] = result.annotations
    assert annotation.path == ".pre-commit-config.yaml"
    assert annotation.start_line == 12 and annotation.level == Level.warning


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("repos: {}\n", 1, "`repos:` must be a list"),
        ("default_stages: [commit]\n", 1, "missing the top-level `repos:`"),
        ("repos:\n  - rev: v1\n", 2, "needs `repo:`"),
        ("repos:\n  - repo: local\n", 2, "needs a list of `hooks`"),
        ("repos:\n  - repo: local\n    hooks:\n      - name: x\n", 4, "needs an `id:`"),
    ],
)
def test_pre_commit_annotates_invalid_structure(run_criterion, text, line, words):
    result = run_criterion("pre-commit", {".pre-commit-config.yaml": text})
    assert result.status == Status.warn
    assert any(a.start_line == line and words in a.message for a in result.annotations)


def test_pre_commit_survives_a_binary_config(run_criterion):
    result = run_criterion("pre-commit", {".pre-commit-config.yaml": b"\x00\xff\x00"})
    assert result.status == Status.warn
    assert "binary" in result.summary
