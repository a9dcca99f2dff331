"""Starter fixes (checks.fixes): computed from the commit alone, minimal, and idempotent —
a fix applied and evaluated again passes its criteria and is not offered a second time."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import yaml

from checks import Report, Snapshot, evaluate
from checks.fixes import Fix, make_fix, offered_fixes
from checks.fixes.gitignore import ignored
from checks.profile import CourseConfig, course_profile, validate_yaml_model
from tests.conftest import RepoFiles

PROJECT = {
    "README.md": "# MNIST\n",
    "pyproject.toml": '[project]\nname = "mnist"\nrequires-python = ">=3.11"\n',
    "src/mnist/__init__.py": '"""MNIST."""\n',
    "tests/test_model.py": "def test_shape():\n    assert True\n",
}


def report_of(root: Path) -> tuple[Snapshot, Report]:
    snapshot = Snapshot(root)
    return snapshot, evaluate(snapshot, course_profile()).for_students()


def fix_for(root: Path, fix_id: str) -> Fix | None:
    snapshot, report = report_of(root)
    return make_fix(fix_id, snapshot, report)


def apply(root: Path, fix: Fix) -> None:
    for path, text in fix.changes.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode())


# -- gitignore ---------------------------------------------------------------------------------


def test_gitignore_appends_only_missing_lines_and_keeps_the_file(
    make_repo: Callable[[RepoFiles], Path],
) -> None:
    original = "# ours\n__pycache__\n*.pyc\n.venv\n"
    root = make_repo({**PROJECT, ".gitignore": original, ".env": "KEY=1\n"})
    fix = fix_for(root, "gitignore")
    assert fix is not None
    assert fix.criteria == ["hygiene"]
    new = fix.changes[".gitignore"]
    assert new.startswith(original), "existing lines are never rewritten"
    added = new[len(original) :].splitlines()
    assert ".env" in added and ".pytest_cache/" in added and "/data/" in added
    # Already covered, in another spelling: not added again.
    assert not {"__pycache__/", "*.py[cod]", ".venv/"} & set(added)
    assert "git rm -r --cached .env" in fix.body
    assert "skaftenicki.github.io/dtu_mlops/s2_organisation_and_version_control/git" in fix.body


def test_gitignore_fix_applied_is_not_offered_again(make_repo: Callable[..., Path]) -> None:
    root = make_repo({**PROJECT, ".DS_Store": b"\0"})
    fix = fix_for(root, "gitignore")
    assert fix is not None and ".gitignore" in fix.changes
    apply(root, fix)
    (root / ".DS_Store").unlink()
    _, report = report_of(root)
    assert report.result("hygiene").status.value == "pass"
    assert fix_for(root, "gitignore") is None


def test_gitignore_keeps_crlf_and_leaves_files_it_cannot_read_alone(
    make_repo: Callable[..., Path],
) -> None:
    root = make_repo({**PROJECT, ".gitignore": "venv/\r\n*.pyc", ".env": "A=1\n"})
    fix = fix_for(root, "gitignore")
    assert fix is not None
    new = fix.changes[".gitignore"]
    assert new.startswith("venv/\r\n*.pyc\r\n") and "\n" not in new.replace("\r\n", "")
    latin1 = make_repo({**PROJECT, ".gitignore": "# caf\xe9\n".encode("latin-1"), ".env": "A"})
    assert fix_for(latin1, "gitignore") is None


def test_gitignore_leaves_data_folders_the_group_keeps_in_git(
    make_repo: Callable[..., Path],
) -> None:
    root = make_repo({**PROJECT, "data/README.md": "How to get the data\n"})
    fix = fix_for(root, "gitignore")
    assert fix is not None
    assert "/data/" not in fix.changes[".gitignore"].splitlines()
    assert "/models/" in fix.changes[".gitignore"].splitlines()


def test_gitignore_matching_follows_git() -> None:
    lines = ["__pycache__", "*.py[cod]", "/data", "!keep.pyc", "build/"]
    assert ignored(lines, "src/pkg/__pycache__", True)
    assert ignored(lines, "src/module.pyo", False)
    assert not ignored(lines, "keep.pyc", False)
    assert ignored(lines, "data", True) and not ignored(lines, "src/data", True)
    assert not ignored(lines, "build", False)  # a file named build is not the folder


def test_no_fix_when_the_criterion_passes(make_repo: Callable[..., Path]) -> None:
    root = make_repo({**PROJECT, ".gitignore": "__pycache__/\n"})
    _, report = report_of(root)
    assert report.result("hygiene").status.value == "pass"
    # Lines are missing (.env, caches), but nothing fails: no button, no pull request.
    assert fix_for(root, "gitignore") is None


# -- CI workflow -------------------------------------------------------------------------------


def test_workflow_makes_the_ci_criteria_pass(make_repo: Callable[..., Path]) -> None:
    root = make_repo({**PROJECT, "requirements.txt": "torch==2.3.0\n"})
    fix = fix_for(root, "ci-workflow")
    assert fix is not None
    workflow = yaml.safe_load(fix.changes[".github/workflows/tests.yaml"])
    tests = workflow["jobs"]["tests"]
    assert tests["strategy"]["matrix"]["os"] == ["ubuntu-latest", "windows-latest", "macos-latest"]
    setup = tests["steps"][1]["with"]
    assert setup["cache"] == "pip" and "requirements.txt" in setup["cache-dependency-path"]
    apply(root, fix)
    _, report = report_of(root)
    for cid in ("ci", "ci-tests", "ci-lint", "ci-matrix-cache", "workflow-syntax"):
        assert report.result(cid).status.value == "pass", (cid, report.result(cid).summary)
    assert fix_for(root, "ci-workflow") is None


def test_workflow_adds_only_the_missing_job(make_repo: Callable[..., Path]) -> None:
    lint_only = (
        "name: Lint\non: [push]\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - run: ruff check .\n"
    )
    root = make_repo({**PROJECT, ".github/workflows/tests.yaml": lint_only})
    fix = fix_for(root, "ci-workflow")
    assert fix is not None
    assert list(fix.changes) == [".github/workflows/mlops-mentor-ci.yaml"]
    assert list(yaml.safe_load(fix.changes[".github/workflows/mlops-mentor-ci.yaml"])["jobs"]) == [
        "tests"
    ]


def test_workflow_uses_uv_for_a_uv_project(make_repo: Callable[..., Path]) -> None:
    root = make_repo({**PROJECT, "uv.lock": "version = 1\n"})
    fix = fix_for(root, "ci-workflow")
    assert fix is not None
    text = fix.changes[".github/workflows/tests.yaml"]
    assert (
        "astral-sh/setup-uv" in text and "enable-cache: true" in text and "pip install" not in text
    )


# -- pre-commit, ruff --------------------------------------------------------------------------


def test_pre_commit_config_is_valid_and_only_for_a_repository_without_one(
    make_repo: Callable[..., Path],
) -> None:
    root = make_repo(PROJECT)
    fix = fix_for(root, "pre-commit")
    assert fix is not None
    config = yaml.safe_load(fix.changes[".pre-commit-config.yaml"])
    hooks = [h["id"] for r in config["repos"] for h in r["hooks"]]
    assert "ruff-format" in hooks and ({"ruff", "ruff-check"} & set(hooks))
    apply(root, fix)
    _, report = report_of(root)
    assert report.result("pre-commit").status.value == "pass"
    broken = make_repo({**PROJECT, ".pre-commit-config.yaml": "repos: 3\n"})
    assert fix_for(broken, "pre-commit") is None, "an invalid file is the group's to repair"


def test_ruff_config_is_appended_to_pyproject_and_used(make_repo: Callable[..., Path]) -> None:
    root = make_repo({**PROJECT, "src/mnist/model.py": "import os, sys\n"})
    _, report = report_of(root)
    assert report.result("lint").status.value == "warn"
    fix = fix_for(root, "ruff-config")
    assert fix is not None
    new = fix.changes["pyproject.toml"]
    assert new.startswith(PROJECT["pyproject.toml"])
    assert tomllib.loads(new)["tool"]["ruff"]["lint"]["select"] == ["E", "W", "F", "I", "B"]
    apply(root, fix)
    _, report = report_of(root)
    assert report.result("lint").metrics["config"] == "pyproject.toml"
    assert fix_for(root, "ruff-config") is None


# -- Dockerfiles -------------------------------------------------------------------------------

DOCKERFILE = (
    "FROM python AS base\n"
    "RUN pip install -r requirements.txt && \\\n"
    "    pip install \\\n"
    "      --no-cache-dir torch\n"
    "FROM ubuntu:latest\n"
    "RUN python -m pip install fastapi; uv pip install x\n"
)


def test_dockerfile_pins_python_and_adds_no_cache_dir_only_where_marked(
    make_repo: Callable[..., Path],
) -> None:
    root = make_repo({**PROJECT, "dockerfiles/train.dockerfile": DOCKERFILE})
    fix = fix_for(root, "dockerfile")
    assert fix is not None
    assert fix.changes["dockerfiles/train.dockerfile"] == (
        "FROM python:3.11-slim AS base\n"
        "RUN pip install --no-cache-dir -r requirements.txt && \\\n"
        "    pip install \\\n"
        "      --no-cache-dir torch\n"
        "FROM ubuntu:latest\n"
        "RUN python -m pip install --no-cache-dir fastapi; uv pip install x\n"
    )
    assert "python:3.11-slim" in fix.body and "ubuntu" not in fix.changes  # left for the group
    assert "line 5: unpinned base image" in fix.body
    apply(root, fix)
    findings = report_of(root)[1].result("dockerfile-lint").metrics
    assert findings["pip_cache"] == 0 and findings["unpinned_base"] == 1
    again = fix_for(root, "dockerfile")
    assert again is None


def test_dockerfile_fix_lands_on_the_lines_the_check_marked(make_repo: Callable[..., Path]) -> None:
    # A form feed ends a line for `str.splitlines`, not for Docker or GitHub.
    dockerfile = "# image\x0c\nFROM python:latest\nRUN pip install x\n"
    root = make_repo({**PROJECT, "Dockerfile": dockerfile})
    fix = fix_for(root, "dockerfile")
    assert fix is not None
    assert fix.changes["Dockerfile"] == (
        "# image\x0c\nFROM python:3.11-slim\nRUN pip install --no-cache-dir x\n"
    )


def test_at_most_three_fixes_are_offered_most_valuable_first(
    make_repo: Callable[..., Path],
) -> None:
    root = make_repo({**PROJECT, "Dockerfile": "FROM python\n", "src/mnist/m.py": "import os\n"})
    snapshot, report = report_of(root)
    offered = offered_fixes(snapshot, report)
    assert [f.id for f in offered] == ["gitignore", "ci-workflow", "pre-commit"]
    assert all(len(f.label) <= 20 and len(f.description) <= 40 for f in offered)
    assert len(offered_fixes(snapshot, report, limit=5)) == 5


def test_a_fix_reads_the_commit_without_changing_it(make_repo: Callable[..., Path]) -> None:
    root = make_repo({**PROJECT, "Dockerfile": "FROM python\n"})
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    report_of(root)
    offered_fixes(*report_of(root), limit=5)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_the_course_file_switches_fixes_on_and_refuses_anything_but_a_boolean() -> None:
    assert CourseConfig().fixes is False
    config, problems = validate_yaml_model(CourseConfig, "profile: dtu-mlops\nfixes: true\n")
    assert config is not None and config.fixes is True and problems == []
    config, problems = validate_yaml_model(CourseConfig, "profile: dtu-mlops\nfixes: often\n")
    assert config is None and problems[0].line == 2 and problems[0].message.startswith("fixes")
