"""Testing criteria: tests and coverage."""

from __future__ import annotations

import os

from checks.models import Level, Status

DATA_TEST = """\
from torch.utils.data import Dataset

from proj.data import MyDataset


def test_my_dataset():
    assert isinstance(MyDataset("data/raw"), Dataset)
"""

MODEL_TEST = """\
import pytest

from proj.model import Model


class TestModel:
    def test_output_shape(self):
        assert Model()

    async def test_async(self):
        assert True

    def helper(self):
        return 1

    class TestNested:
        def test_inner(self):
            pass


def helper():
    pass
"""

SOURCES = {"src/proj/__init__.py": "", "src/proj/data.py": "", "src/proj/model.py": ""}


# -- tests -------------------------------------------------------------------------------------


def test_tests_counts_functions_and_what_they_cover(run_criterion):
    files = {**SOURCES, "tests/test_data.py": DATA_TEST, "tests/test_model.py": MODEL_TEST}
    result = run_criterion("tests", files)
    assert result.status == Status.passed
    assert result.summary == "4 tests in 2 files, for the data (1) and the model (3)."
    assert result.metrics == {"files": 2, "functions": 4, "tests_data": 1, "tests_model": 3}
    assert "- `tests/test_model.py`: 3 tests (model)" in result.details


def test_tests_says_which_code_has_no_tests(run_criterion):
    result = run_criterion("tests", {**SOURCES, "tests/test_data.py": DATA_TEST})
    assert result.status == Status.passed
    assert result.summary == "1 test in 1 file; the model code has none."


def test_tests_reads_topics_from_function_names(run_criterion):
    text = "def test_dataset_length():\n    pass\n\ndef test_train_step():\n    pass\n"
    result = run_criterion("tests", {"tests/unit_test.py": text})
    assert result.summary == "2 tests in 1 file, for the data (1) and the model (1)."


def test_tests_ignores_third_party_imports_for_topics(run_criterion):
    text = "from torch.utils.data import DataLoader\n\ndef test_shapes():\n    pass\n"
    result = run_criterion("tests", {"tests/test_shapes.py": text})
    assert result.summary == "1 test in 1 file; none seem to be for the data or the model code."


def test_tests_fails_without_test_files(run_criterion):
    result = run_criterion("tests", {**SOURCES, "tests/helpers.py": "def test_x(): pass\n"})
    assert result.status == Status.warn
    assert result.summary == "No test files found (pytest looks for `test_*.py` and `*_test.py`)."
    assert "tests/test_data.py" in result.fix


def test_tests_fails_on_an_empty_repository(run_criterion):
    result = run_criterion("tests", {})
    assert result.status == Status.warn
    assert result.metrics["files"] == 0


def test_tests_points_at_test_files_without_tests(run_criterion):
    result = run_criterion("tests", {"tests/test_model.py": "import torch\n\ndef check(): pass\n"})
    assert result.status == Status.warn
    assert result.summary == "Found 1 test file but no test functions pytest would run."
    [annotation] = result.annotations
    assert (annotation.path, annotation.start_line, annotation.level) == (
        "tests/test_model.py",
        1,
        Level.notice,
    )


def test_tests_respects_the_threshold(run_criterion):
    result = run_criterion(
        "tests", {**SOURCES, "tests/test_data.py": DATA_TEST}, thresholds={"min_tests": 5}
    )
    assert result.status == Status.warn
    assert result.summary == "1 test in 1 file; the model code has none. At least 5 expected."


def test_tests_warns_at_the_syntax_error_and_counts_the_rest(run_criterion):
    broken = "def test_ok():\n    pass\n\ndef test_bad(:\n    pass\n"
    files = {**SOURCES, "tests/test_data.py": DATA_TEST, "tests/test_broken.py": broken}
    result = run_criterion("tests", files)
    assert result.status == Status.passed
    assert result.summary.startswith("1 test in 2 files")
    [annotation] = result.annotations
    assert (annotation.path, annotation.start_line, annotation.level) == (
        "tests/test_broken.py",
        4,
        Level.warning,
    )
    assert annotation.title == "Test file does not parse"


def test_tests_survives_binary_and_non_utf8_files(run_criterion):
    files = {
        "tests/test_blob.py": b"\x00\x01\x02\xff",
        "tests/test_latin.py": "# caf\xe9\ndef test_x():\n    pass\n".encode("latin-1"),
    }
    result = run_criterion("tests", files)
    assert result.status == Status.passed
    assert result.metrics["functions"] == 1
    assert any(a.path == "tests/test_blob.py" and "binary" in a.message for a in result.annotations)


def test_tests_ignores_a_symlink_out_of_the_repository(run_criterion, make_repo, tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("def test_secret():\n    pass\n")
    root = make_repo({"tests/test_ok.py": "def test_ok():\n    pass\n"})
    os.symlink(outside, root / "tests" / "test_link.py")
    result = run_criterion("tests", root)
    assert result.metrics["functions"] == 1


# -- coverage ----------------------------------------------------------------------------------

WF = ".github/workflows/tests.yaml"


def ci_running(command: str) -> str:
    return (
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - uses: actions/checkout@v4\n      - run: {command}\n"
    )


def test_coverage_passes_when_measured_in_ci(run_criterion):
    result = run_criterion("coverage", {WF: ci_running("pytest --cov=src tests/")})
    assert result.status == Status.passed
    assert result.summary == f"Coverage is measured in CI: `pytest --cov=src tests/` at {WF}:7."
    assert result.metrics == {"configured": False, "in_ci": True}


def test_coverage_counts_a_codecov_upload(run_criterion):
    text = ci_running("pytest").replace(
        "      - run: pytest", "      - uses: codecov/codecov-action@v5"
    )
    result = run_criterion("coverage", {WF: text})
    assert result.status == Status.passed
    assert "Codecov upload" in result.summary


def test_coverage_configured_but_not_in_ci(run_criterion):
    pyproject = '[project]\nname = "p"\n\n[tool.coverage.run]\nsource = ["src"]\n'
    result = run_criterion("coverage", {"pyproject.toml": pyproject})
    assert result.status == Status.passed
    assert result.summary == (
        "Coverage is set up (coverage settings in pyproject.toml:4) but not measured in CI yet."
    )


def test_coverage_found_in_dependencies_and_task_files(run_criterion):
    files = {
        "requirements_dev.txt": "pytest\npytest-cov>=5\n",
        "tasks.py": 'def test(ctx):\n    ctx.run("coverage run -m pytest tests/")\n',
        ".coveragerc": "[run]\nsource = src\n",
    }
    result = run_criterion("coverage", files)
    assert result.status == Status.passed
    assert "- `coverage run` at tasks.py:2" in result.details
    assert "- `pytest-cov` dependency at requirements_dev.txt:1" in result.details
    assert "- `.coveragerc` at .coveragerc:1" in result.details


def test_coverage_fails_without_any_sign_of_it(run_criterion):
    result = run_criterion("coverage", {WF: ci_running("pytest tests/"), "tests/test_x.py": ""})
    assert result.status == Status.warn
    assert result.summary.startswith("No coverage set up")
    assert "coverage run -m pytest" in result.fix


def test_coverage_survives_an_invalid_pyproject(run_criterion):
    result = run_criterion("coverage", {"pyproject.toml": "[tool.coverage\nbroken = \n"})
    assert result.status == Status.warn
