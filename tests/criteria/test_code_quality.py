"""lint, docs-typing and test-quality: what a student sees for code, docstrings and tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import checks
from checks import CriterionResult, Level, Status
from checks.snapshot import DEFAULT_READ_CAP

Run = Callable[..., CriterionResult]

CLEAN = '''"""Training code."""


def train(epochs: int) -> int:
    """Train for a number of epochs."""
    return epochs * 2
'''

UNUSED_IMPORTS = '''"""Training code."""

import os
import sys


def train(epochs: int) -> int:
    """Train for a number of epochs."""
    return epochs
'''

PRINTS = '''"""Training code."""


def train(epochs: int) -> int:
    """Train for a number of epochs."""
    print(epochs)
    return epochs
'''


def titles(result: CriterionResult) -> list[str]:
    return [a.title for a in result.annotations]


# -- lint -------------------------------------------------------------------------------------


def test_lint_passes_clean_code_with_the_course_default(run_criterion: Run) -> None:
    # No docstrings nor hints on `helper`: that is docs-typing's business, not the lint's.
    code = CLEAN + "\n\ndef helper(x):\n    return x\n"
    result = run_criterion("lint", {"src/pkg/train.py": code})

    assert result.status == Status.passed
    assert result.summary == "ruff found no problems in 1 Python file."
    assert result.metrics["config"] == "course default"
    assert result.metrics["files_checked"] == 1
    assert "course's default rules (E,W,F,I,B" in result.details
    assert result.annotations == []


def test_lint_reports_unused_imports_on_their_lines_with_a_link(run_criterion: Run) -> None:
    result = run_criterion("lint", {"src/pkg/train.py": UNUSED_IMPORTS})

    assert result.status == Status.warn
    assert result.summary == "ruff found 2 problems in 1 of 1 Python file: 2× F401 unused-import."
    assert result.metrics["by_rule"] == {"F401": 2}
    first, second = result.annotations
    assert (first.path, first.start_line, first.end_line) == ("src/pkg/train.py", 3, 3)
    assert second.start_line == 4
    assert first.level == Level.warning
    assert first.title == "F401 unused-import"
    assert "`os` imported but unused" in first.message
    assert "https://docs.astral.sh/ruff/rules/unused-import/" in first.message
    assert "[F401 unused-import](https://docs.astral.sh/ruff/rules/unused-import/) | 2" in (
        result.details
    )


def test_lint_style_findings_are_notices(run_criterion: Run) -> None:
    code = CLEAN + "\n\nx = 1; y = 2\n"
    result = run_criterion("lint", {"train.py": code})

    assert titles(result) == ["E702 multiple-statements-on-one-line-semicolon"]
    assert result.annotations[0].level == Level.notice
    assert result.annotations[0].start_line == 9


def test_lint_honours_the_repository_ruff_configuration(run_criterion: Run) -> None:
    config = '[project]\nname = "x"\n\n[tool.ruff.lint]\nselect = ["F", "T20", "D103"]\n'
    code = PRINTS + "\n\ndef undocumented() -> None:\n    pass\n"
    result = run_criterion("lint", {"pyproject.toml": config, "train.py": code})

    assert result.metrics["config"] == "pyproject.toml"
    assert "with your ruff configuration in `pyproject.toml`" in result.details
    # T201 is not in the course default; D103 counts here because the group selected it.
    assert titles(result) == ["T201 print", "D103 undocumented-public-function"]
    assert [a.start_line for a in result.annotations] == [6, 10]


def test_lint_honours_an_extended_configuration_inside_the_repository(run_criterion: Run) -> None:
    files = {
        "ruff.toml": 'extend = "configs/ruff-base.toml"\nline-length = 100\n',
        "configs/ruff-base.toml": '[lint]\nselect = ["T20"]\n',
        "train.py": PRINTS,
    }
    result = run_criterion("lint", files)

    assert result.metrics["config"] == "ruff.toml"
    assert titles(result) == ["T201 print"]


def test_lint_honours_ruff_exclude_and_the_repository_exclusions(run_criterion: Run) -> None:
    files = {
        "ruff.toml": 'extend-exclude = ["generated"]\n',
        ".github/mlops-mentor.yml": "exclude: [legacy/]\n",
        "generated/out.py": UNUSED_IMPORTS,
        "legacy/old.py": UNUSED_IMPORTS,
        ".venv/lib/site.py": UNUSED_IMPORTS,  # excluded by ruff's defaults
        "train.py": UNUSED_IMPORTS,
    }
    result = run_criterion("lint", files)

    assert {a.path for a in result.annotations} == {"train.py"}
    assert result.metrics["files_checked"] == 1


def test_docs_typing_leaves_out_what_ruff_leaves_out(run_criterion: Run) -> None:
    files = {
        ".venv/lib/site.py": "def vendored(x):\n    return x\n",
        "build/lib/copy.py": "def copied(x):\n    return x\n",
        "pyproject.toml": '[tool.ruff]\nextend-exclude = ["build"]\n',
        "train.py": CLEAN,
    }
    result = run_criterion("docs-typing", files)

    assert result.metrics["functions"] == 1
    assert result.status == Status.passed


@pytest.mark.parametrize(
    ("config_path", "config", "line"),
    [
        ("ruff.toml", 'line-length = 90\nextend = "../../x.toml"\n', 2),
        ("ruff.toml", 'extend = "/etc/ruff/shared.toml"\n', 1),
        ("ruff.toml", 'extend = "~/ruff.toml"\n', 1),
        ("ruff.toml", 'extend = "$HOME/ruff.toml"\n', 1),
        (".ruff.toml", 'cache-dir = "/tmp/elsewhere"\n', 1),
        (
            "pyproject.toml",
            '[tool.other]\nsrc = 1\n\n[tool.ruff]\nsrc = ["src", "../../outside"]\n',
            5,
        ),
    ],
)
def test_lint_refuses_a_configuration_pointing_outside_the_repository(
    run_criterion: Run, tmp_path: Path, config_path: str, config: str, line: int
) -> None:
    # What the configuration points at really exists, and would switch on print checks.
    (tmp_path.parent / "x.toml").write_text('[lint]\nselect = ["T20"]\n')
    result = run_criterion("lint", {config_path: config, "train.py": PRINTS})

    assert result.metrics["config"] == "course default"
    warning = result.annotations[0]
    assert (warning.path, warning.start_line, warning.level) == (config_path, line, Level.warning)
    assert warning.title == "ruff configuration not used"
    assert "outside the repository" in warning.message
    assert "course's default rules" in warning.message
    assert "T201 print" not in titles(result)
    assert result.status == Status.passed
    assert f"could not be used (see {config_path})" in result.details


def test_lint_reads_only_the_root_configuration(
    run_criterion: Run, make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    outside = tmp_path / "shared-ruff.toml"
    outside.write_text('[lint]\nselect = ["T20"]\n')
    root = make_repo(
        {
            "pyproject.toml": '[project]\nname = "x"\n\n[tool.ruff.lint]\nselect = ["F"]\n',
            "sub/ruff.toml": 'extend = "../../../shared-ruff.toml"\n',
            "sub/train.py": PRINTS,
        }
    )
    # A configuration linked from outside the repository is not the repository's either.
    (root / ".ruff.toml").symlink_to(outside)
    result = run_criterion("lint", root)

    assert result.metrics["config"] == "pyproject.toml"
    assert result.status == Status.passed
    assert result.annotations == []


def test_lint_refuses_an_extend_naming_a_missing_file(run_criterion: Run) -> None:
    result = run_criterion("lint", {"ruff.toml": 'extend = "base.toml"\n', "a.py": CLEAN})

    assert result.metrics["config"] == "course default"
    assert result.annotations[0].path == "ruff.toml"
    assert "base.toml, which is not in the repository" in result.annotations[0].message


def test_lint_reports_invalid_toml_in_the_configuration(run_criterion: Run) -> None:
    files = {"ruff.toml": "line-length = 100\n[lint\nselect = 3\n", "a.py": UNUSED_IMPORTS}
    result = run_criterion("lint", files)

    warning = result.annotations[0]
    assert (warning.path, warning.start_line, warning.level) == ("ruff.toml", 2, Level.warning)
    assert "ruff.toml is not valid TOML" in warning.message
    # The code is still linted, with the course's rules.
    assert titles(result)[1:] == ["F401 unused-import", "F401 unused-import"]


def test_lint_falls_back_when_ruff_refuses_the_configuration(run_criterion: Run) -> None:
    files = {"ruff.toml": '[lint]\nselect = ["F"]\nno-such-setting = 1\n', "a.py": UNUSED_IMPORTS}
    result = run_criterion("lint", files)

    warning = result.annotations[0]
    assert (warning.path, warning.start_line) == ("ruff.toml", 3)
    assert "ruff cannot use it" in warning.message
    assert "no-such-setting" in warning.message
    assert str(Path("/tmp")) not in warning.message  # never the server's folders
    assert result.metrics["config"] == "course default"
    assert titles(result)[1:] == ["F401 unused-import", "F401 unused-import"]


def test_lint_annotates_a_file_python_cannot_parse(run_criterion: Run) -> None:
    files = {"ok.py": CLEAN, "broken.py": "def broken(:\n    pass\n"}
    result = run_criterion("lint", files)

    assert result.status == Status.warn
    assert "syntax error" in result.summary
    first = result.annotations[0]
    assert (first.path, first.start_line, first.level) == ("broken.py", 1, Level.warning)
    assert first.title == "Syntax error"
    assert first.message.startswith("Python cannot parse this file here:")
    assert first.rank == 10


def test_lint_survives_binary_non_utf8_huge_and_outside_files(
    run_criterion: Run, make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text(UNUSED_IMPORTS)
    root = make_repo(
        {
            "latin1.py": "# caf\xe9\nx = 1\n".encode("latin-1"),
            "blob.py": b"\x00\x01\x02\xff" * 10,
            "huge.py": "x = 1\n" * (DEFAULT_READ_CAP // 6 + 10),
            "ok.py": CLEAN,
        }
    )
    (root / "linked.py").symlink_to(outside)
    result = run_criterion("lint", root)

    assert result.status == Status.warn
    assert {a.path for a in result.annotations} <= {"latin1.py", "blob.py"}
    assert all(a.path != "linked.py" for a in result.annotations)
    assert "huge.py" in result.details and "left out" in result.details
    assert result.metrics["files_checked"] == 3


def test_lint_on_an_empty_repository_is_informational(run_criterion: Run) -> None:
    result = run_criterion("lint", {"README.md": "# Nothing yet\n"})

    assert result.status == Status.info
    assert result.summary == "No Python files to lint."


def test_lint_allows_findings_up_to_the_threshold(run_criterion: Run) -> None:
    result = run_criterion("lint", {"a.py": UNUSED_IMPORTS}, thresholds={"max_findings": 5})

    assert result.status == Status.passed
    assert result.summary.endswith("(up to 5 allowed)")


def test_lint_timeout_is_an_error_of_ours_not_a_crash(run_criterion: Run) -> None:
    result = run_criterion("lint", {"a.py": CLEAN}, thresholds={"timeout_s": 0})

    assert result.status == Status.error
    assert "ruff did not finish in time on 1 file" in result.summary


def test_lint_checks_thousands_of_files_in_batches(
    run_criterion: Run, make_repo: Callable[..., Path]
) -> None:
    # About 700 KB of paths: more than one command line takes, so ruff runs twice.
    folder = "/".join(["a_rather_long_folder_name_for_the_batch_test"] * 5)
    files = {f"{folder}/module_{i:04}.py": "import os\n" for i in range(2500)}
    result = run_criterion("lint", make_repo(files), thresholds={"max_findings": 10_000})

    assert result.metrics["files_checked"] == 2500
    assert result.metrics["by_rule"] == {"F401": 2500}
    assert result.status == Status.passed


# -- docs-typing ------------------------------------------------------------------------------

MODULE = '''"""Models."""


def train(lr, epochs: int):
    """Train the model."""
    total = 0
    for _ in range(epochs):
        total += lr
    return total


def evaluate(
    model: str,
    data,
) -> float:
    return 0.0


def _helper(x):
    return x


class Model:
    """A model."""

    def __init__(self, size):
        self.size = size

    def forward(self, x: int) -> int:
        """Run the model."""

        def inner(y):
            return y

        return inner(x)

    async def predict(self, x: int) -> int:
        return x


class _Hidden:
    def visible_name(self, x):
        return x
'''


def test_docs_typing_counts_public_functions_and_methods_exactly(run_criterion: Run) -> None:
    files = {
        "src/pkg/model.py": MODULE,
        "src/pkg/_internal.py": "def hidden(x):\n    return x\n",
        "tests/test_model.py": "def test_train():\n    assert True\n",
    }
    result = run_criterion("docs-typing", files)

    # train, evaluate, Model.forward, Model.predict: 2 documented, 2 fully typed.
    assert result.metrics == {
        "functions": 4,
        "documented": 2,
        "typed": 2,
        "documented_share": 0.5,
        "typed_share": 0.5,
    }
    assert result.status == Status.passed
    assert result.summary == (
        "Of 4 public functions and methods, 2 have a docstring (50%) "
        "and 2 complete type hints (50%)."
    )
    by_line = {a.start_line: a for a in result.annotations}
    assert sorted(by_line) == [4, 12, 37]
    assert all(a.path == "src/pkg/model.py" and a.level == Level.notice for a in by_line.values())
    assert by_line[4].title == "Missing type hints"
    assert (
        "`train` (6 lines) has no type hints for `lr` and the return value." in by_line[4].message
    )
    # The argument on the signature's third line still belongs to `evaluate`.
    assert by_line[12].title == "Missing docstring and type hints"
    assert "has no docstring and no type hints for `data`." in by_line[12].message
    assert by_line[37].title == "Missing docstring"
    assert "`Model.predict`" in by_line[37].message
    # Longer functions come first.
    assert by_line[4].rank < by_line[37].rank
    assert result.annotations[0].start_line == 4


def test_docs_typing_reads_definitions_as_statements_only(run_criterion: Run) -> None:
    code = (
        '"""Text that mentions class Foo and,\n'
        'mid-line, def fake(x) is prose."""\n'
        "# def commented(x):\n"
        "undef = 1  # def inline(x)\n"
        "\n"
        "\n"
        "async def fetch(url):\n"
        "    return url\n"
        "\n"
        "\n"
        "class Service:\n"
        "\tdef run(self):\n"
        '\t\t"""Run."""\n'
    )
    result = run_criterion("docs-typing", {"service.py": code})

    assert result.metrics["functions"] == 2
    assert [(a.start_line, a.title) for a in result.annotations] == [
        (7, "Missing docstring and type hints"),
        (12, "Missing type hints"),
    ]
    assert "`Service.run` (2 lines)" in result.annotations[1].message


def test_docs_typing_fails_below_the_thresholds(run_criterion: Run) -> None:
    result = run_criterion(
        "docs-typing", {"src/pkg/model.py": MODULE}, thresholds={"min_documented": 0.75}
    )

    assert result.status == Status.warn
    assert result.summary.endswith("aim for at least 75% documented and 50% typed.")


def test_docs_typing_fully_documented_code_passes(run_criterion: Run) -> None:
    result = run_criterion("docs-typing", {"train.py": CLEAN})

    assert result.status == Status.passed
    assert result.metrics["documented_share"] == 1.0
    assert result.annotations == []


def test_docs_typing_without_public_functions_is_informational(run_criterion: Run) -> None:
    empty = run_criterion("docs-typing", {})
    only_tests = run_criterion("docs-typing", {"tests/test_a.py": "def test_a():\n    assert 1\n"})

    assert empty.status == Status.info
    assert empty.summary == "No public functions or methods (there are no Python files) to measure."
    assert only_tests.status == Status.info
    assert only_tests.summary == "No public functions or methods outside the tests to measure."


# -- test-quality -----------------------------------------------------------------------------

TESTS = """import unittest

import pytest

from pkg.model import train


def test_train_runs():
    train(1)


@pytest.mark.parametrize("n", [1, 2])
def test_train_placeholder(n):
    pass


def test_train_rejects_strings():
    with pytest.raises(TypeError):
        train("x")


def test_train_value():
    assert train(1) == 2


def test_uses_helper():
    check_shapes(train(1))


class TestModel:
    def test_forward(self):
        result = train(2)
        np.testing.assert_allclose(result, 4)

    async def test_async_silent(self):
        await train(1)


class TestModelCase(unittest.TestCase):
    def test_equal(self):
        self.assertEqual(train(1), 2)


def helper_without_test_name():
    train(1)
"""


def test_test_quality_points_at_tests_that_assert_nothing(run_criterion: Run) -> None:
    result = run_criterion("test-quality", {"tests/test_model.py": TESTS})

    assert result.status == Status.warn
    assert result.metrics == {"test_files": 1, "tests": 8, "tests_without_assertions": 3}
    assert [(a.path, a.start_line, a.level) for a in result.annotations] == [
        ("tests/test_model.py", 8, Level.warning),
        ("tests/test_model.py", 13, Level.warning),  # the `def` line, not the decorator's
        ("tests/test_model.py", 35, Level.warning),
    ]
    assert result.annotations[0].message.startswith(
        "test_train_runs never asserts anything: it cannot fail because of a wrong result"
    )
    assert "TestModel.test_async_silent" in result.annotations[2].message
    assert result.summary == (
        "3 of 8 tests never assert anything: test_train_runs (tests/test_model.py:8), "
        "test_train_placeholder (tests/test_model.py:13) and "
        "TestModel.test_async_silent (tests/test_model.py:35)."
    )


def test_test_quality_counts_pytest_raises_as_asserting(run_criterion: Run) -> None:
    code = (
        "import pytest\n\n\ndef test_rejects():\n"
        "    with pytest.raises(ValueError):\n        int('x')\n"
    )
    other = (
        "import unittest\n\n\nclass TestCase(unittest.TestCase):\n"
        "    def test_x(self):\n        self.fail()\n"
    )
    result = run_criterion("test-quality", {"tests/test_a.py": code, "b_test.py": other})

    assert result.status == Status.passed
    assert result.summary == "Every test asserts something (2 tests in 2 files)."
    assert result.annotations == []


def test_test_quality_without_tests_is_informational(run_criterion: Run) -> None:
    none = run_criterion("test-quality", {"src/a.py": CLEAN})
    broken = run_criterion(
        "test-quality", {"tests/test_a.py": "def test_(:\n", "tests/test_b.py": b"\x00\xff"}
    )

    assert none.status == Status.info
    assert none.summary == "No tests found (no test_*.py or *_test.py files)."
    assert broken.status == Status.info
    assert broken.summary == "No tests found in 2 test files."
    assert "tests/test_a.py, tests/test_b.py" in broken.details


# -- safety -----------------------------------------------------------------------------------


def test_evaluating_the_whole_profile_executes_nothing_from_the_repository(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    marker = tmp_path / "executed"
    payload = f"open({str(marker)!r}, 'a').write(__file__)\n"
    root = make_repo(
        {
            "conftest.py": payload,
            "setup.py": payload,
            "sitecustomize.py": payload,
            "usercustomize.py": payload,
            "src/pkg/__init__.py": payload,
            "src/pkg/train.py": payload,
            "tests/__init__.py": payload,
            "tests/test_train.py": payload + "def test_x():\n    assert True\n",
            "tasks.py": payload,
            "noxfile.py": payload,
            "pyproject.toml": '[project]\nname = "pkg"\n\n[tool.ruff]\nline-length = 100\n',
        }
    )
    report = checks.evaluate(root, checks.load_profile())

    assert not marker.exists()
    assert report.result("lint").status != Status.error
    assert report.result("test-quality").status == Status.passed
