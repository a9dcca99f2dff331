"""Structure criteria: layout, readme, cli, logging, code-size — what a student sees."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from checks import CriterionResult, Status
from checks.criteria.structure import prose_words
from checks.snapshot import DEFAULT_READ_CAP

Run = Callable[..., CriterionResult]
MakeRepo = Callable[[dict[str, str | bytes]], Path]

TEMPLATE = {
    "src/mnist/__init__.py": "",
    "src/mnist/data.py": "def load():\n    pass\n",
    "src/mnist/model.py": "class Net:\n    pass\n",
    "src/mnist/train.py": "def train():\n    pass\n",
    "tests/test_data.py": "def test_x():\n    assert True\n",
}


# -- layout ---------------------------------------------------------------------------------


def test_layout_cookiecutter(run_criterion: Run) -> None:
    result = run_criterion("layout", TEMPLATE)
    assert result.status == Status.passed
    assert (
        result.summary == "Package src/mnist/ has data.py, model.py, train.py; tests/ is present."
    )
    assert result.metrics == {
        "package": "src/mnist",
        "has_package": True,
        "data": True,
        "model": True,
        "train": True,
        "tests": True,
    }
    assert "- [x] training script: `src/mnist/train.py`" in result.details


def test_layout_missing_tests_and_modules(run_criterion: Run) -> None:
    result = run_criterion(
        "layout", {"src/mnist/__init__.py": "", "src/mnist/model.py": "", "notes.md": ""}
    )
    assert result.status == Status.warn
    assert result.summary == (
        "Package src/mnist/ has model.py, but no data.py or train.py; there is no tests/ folder."
    )
    assert result.metrics["data"] is False and result.metrics["tests"] is False
    assert "- [ ] data code: missing (`data.py`)" in result.details
    assert "- [ ] tests folder: missing (`tests/`)" in result.details


def test_layout_two_of_three_is_enough(run_criterion: Run) -> None:
    files = {k: v for k, v in TEMPLATE.items() if not k.endswith("model.py")}
    result = run_criterion("layout", files)
    assert result.status == Status.passed
    assert "but no model.py" in result.summary


def test_layout_root_package_with_older_template_names(run_criterion: Run) -> None:
    result = run_criterion(
        "layout",
        {
            "leafs/__init__.py": "",
            "leafs/data/make_dataset.py": "",
            "leafs/models/model.py": "",
            "leafs/train_model.py": "",
            "scripts/__init__.py": "",
            "scripts/data.py": "",
            "test/test_it.py": "",
        },
    )
    assert result.status == Status.passed
    assert result.metrics["package"] == "leafs"
    assert result.summary == (
        "Package leafs/ has make_dataset.py, model.py, train_model.py; test/ is present."
    )


def test_layout_no_package(run_criterion: Run) -> None:
    result = run_criterion("layout", {"train.py": "", "tests/test_a.py": ""})
    assert result.status == Status.warn
    assert result.summary.startswith("No Python package found in src/<name>/")
    assert result.metrics["has_package"] is False
    assert run_criterion("layout", {}).status == Status.warn


# -- readme ---------------------------------------------------------------------------------

MARKDOWN = """\
# My *project*

Some words here: see [the docs](https://example.org/very/long/url) and `inline code`.

![architecture diagram](figures/arch.png)

<p align="center"><img src="x.png"/>Centered text</p>

```bash
pip install -e . && python train.py --lots --of --flags
```

| Model | Accuracy |
|-------|---------:|
| CNN   | high     |

1. First step
- second_step
<!-- a hidden comment with many words in it -->
[ref]: https://example.org
"""


def test_prose_words_strips_markdown() -> None:
    # My project | Some words here see the docs and | Centered text |
    # Model Accuracy CNN high | First step | second_step
    assert prose_words(MARKDOWN) == 2 + 7 + 2 + 4 + 2 + 1


def test_prose_words_stays_linear_on_hostile_markdown() -> None:
    # Unclosed brackets, tags and backtick runs once made these patterns quadratic:
    # 200 KB of "[" took minutes. Each of these must now take well under a second.
    size = 500_000
    for hostile in ("[" * size, "![" * size, "<a" * size, "`" * size, "[a](" * size, "<!--" * size):
        started = time.perf_counter()
        prose_words(hostile)
        assert time.perf_counter() - started < 2, hostile[:8]


def test_readme_long_enough(run_criterion: Run) -> None:
    result = run_criterion("readme", {"README.md": "word " * 320})
    assert result.status == Status.passed
    assert result.summary == "README.md has 320 words of prose (at least 300 expected)."
    assert result.metrics == {"words": 320, "min_words": 300}


def test_readme_too_short(run_criterion: Run) -> None:
    text = "# Title\n\n" + "prose " * 118 + "\n```\n" + "code " * 500 + "\n```\n"
    result = run_criterion("readme", {"README.md": text})
    assert result.status == Status.warn
    assert result.summary == "README.md has 119 words of prose; aim for at least 300."
    assert result.fix


def test_readme_threshold_and_case(run_criterion: Run) -> None:
    result = run_criterion("readme", {"readme.md": "a b c d e"}, thresholds={"min_words": 5})
    assert result.status == Status.passed
    assert result.summary.startswith("readme.md has 5 words")


def test_readme_missing_or_unreadable(run_criterion: Run) -> None:
    result = run_criterion("readme", {"README.rst": "Title\n=====\n", "docs/README.md": "x"})
    assert result.status == Status.warn
    assert result.summary == (
        "No README.md at the root of the repository (there is README.rst; the course "
        "expects Markdown)."
    )
    result = run_criterion("readme", {"README.md": b"\x89PNG\x00\x00binary"})
    assert result.summary == "README.md cannot be read as text (binary or too large)."
    result = run_criterion("readme", {"README.md": "word " * (DEFAULT_READ_CAP // 5 + 1)})
    assert result.status == Status.warn
    assert "binary or too large" in result.summary


def test_readme_non_utf8_is_still_read(run_criterion: Run) -> None:
    result = run_criterion(
        "readme", {"README.md": "Caf\xe9 na\xefve r\xe9sum\xe9 ".encode("cp1252") * 100}
    )
    assert result.status == Status.passed
    assert result.metrics["words"] == 300


def test_readme_symlink_outside_root(
    run_criterion: Run, make_repo: MakeRepo, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.md"
    outside.write_text("word " * 400)
    root = make_repo({"src/x.py": ""})
    os.symlink(outside, root / "README.md")
    result = run_criterion("readme", root)
    assert result.status == Status.warn
    assert result.summary.startswith("No README.md")


# -- cli ------------------------------------------------------------------------------------


def test_cli_scripts_and_typer(run_criterion: Run) -> None:
    pyproject = '[project]\nname = "x"\n\n[project.scripts]\ntrain = "x.train:app"\n'
    result = run_criterion(
        "cli",
        {
            "pyproject.toml": pyproject,
            "src/x/train.py": '"""Train."""\nimport typer\n\napp = typer.Typer()\n',
            "tests/test_cli.py": "import click\n",
        },
    )
    assert result.status == Status.passed
    assert result.summary == (
        "Command line entry points: [project.scripts] `train` (pyproject.toml:4); "
        "typer (src/x/train.py:2)."
    )
    assert result.metrics == {"scripts": ["train"], "libraries": ["typer"], "task_runners": []}


def test_cli_task_runners(run_criterion: Run) -> None:
    result = run_criterion(
        "cli",
        {
            "tasks.py": "from invoke import task\n",
            "Makefile": "train:\n\tpython train.py\n",
            "justfile": "test:\n  pytest\n",
        },
    )
    assert result.status == Status.passed
    assert result.metrics["task_runners"] == ["make", "just", "invoke"]
    assert "invoke tasks (tasks.py)" in result.summary
    assert "make (Makefile)" in result.summary


def test_cli_argparse_and_poetry_scripts(run_criterion: Run) -> None:
    result = run_criterion(
        "cli",
        {
            "pyproject.toml": '[tool.poetry.scripts]\nserve = "x.api:main"\n',
            "scripts/run.py": "import os\nimport argparse\n",
        },
    )
    assert result.status == Status.passed
    assert "`serve` (pyproject.toml:1)" in result.summary
    assert "argparse (scripts/run.py:2)" in result.summary


def test_cli_missing(run_criterion: Run) -> None:
    result = run_criterion(
        "cli", {"pyproject.toml": "[project\nbroken", "src/x/train.py": "print('hi')\n"}
    )
    assert result.status == Status.warn
    assert result.summary.startswith("No command line interface: no [project.scripts] entry")


# -- logging --------------------------------------------------------------------------------


def test_logging_loguru_and_wandb(run_criterion: Run) -> None:
    result = run_criterion(
        "logging",
        {
            "src/x/train.py": "import torch\nimport wandb\nfrom loguru import logger\n",
            "src/x/data.py": "import logging\n",
        },
    )
    assert result.status == Status.passed
    assert result.summary == (
        "Logging with the logging module and loguru in 2 files (src/x/data.py:1, "
        "src/x/train.py:3); experiment tracking with Weights & Biases (src/x/train.py:2)."
    )
    assert result.metrics == {
        "logging_files": 2,
        "libraries": ["logging", "loguru"],
        "tracking": ["Weights & Biases"],
    }


def test_logging_tensorboard_and_lightning_loggers(run_criterion: Run) -> None:
    result = run_criterion(
        "logging",
        {
            "src/x/train.py": (
                "import logging\n"
                "from torch.utils.tensorboard import SummaryWriter\n"
                "from lightning.pytorch.loggers import WandbLogger\n"
            )
        },
    )
    assert result.status == Status.passed
    assert result.metrics["tracking"] == ["TensorBoard", "Lightning loggers"]
    assert "TensorBoard (src/x/train.py:2)" in result.summary


def test_logging_only_in_tests(run_criterion: Run) -> None:
    result = run_criterion(
        "logging",
        {"tests/test_train.py": "import logging\n", "src/x/train.py": "print('epoch 1')\n"},
    )
    assert result.status == Status.warn
    assert result.summary == (
        "Logging is only used in tests (tests/test_train.py:1), not in your source code; "
        "no experiment tracker yet (Weights & Biases, MLflow or TensorBoard)."
    )


def test_logging_missing(run_criterion: Run) -> None:
    result = run_criterion("logging", {"src/x/train.py": "import mlflow\nprint('hi')\n"})
    assert result.status == Status.warn
    assert result.summary == (
        "No logging in your source code: no `logging` or loguru import; "
        "experiment tracking with MLflow (src/x/train.py:1)."
    )
    assert run_criterion("logging", {}).status == Status.warn


# -- code-size ------------------------------------------------------------------------------


def test_code_size_counts(run_criterion: Run) -> None:
    result = run_criterion(
        "code-size",
        {
            "src/x/a.py": '"""Doc."""\n\n# comment\nimport os\n\n\ndef f():\n    return 1  # why\n',
            "tests/test_a.py": "def test_f():\n    assert True\n",
            "notebooks/explore.ipynb": "{}",
            "notebooks/.ipynb_checkpoints/explore-checkpoint.ipynb": "{}",
            "src/x/blob.py": b"\x00\x01binary",
        },
    )
    assert result.status == Status.info
    assert result.summary == (
        "3 Python files with 6 lines of code (1 test file, 2 lines); 1 notebook."
    )
    assert result.metrics == {
        "python_files": 3,
        "code_lines": 6,
        "test_files": 1,
        "test_code_lines": 2,
        "notebooks": 1,
    }


def test_code_size_empty_repo(run_criterion: Run) -> None:
    result = run_criterion("code-size", {})
    assert result.status == Status.info
    assert result.summary == (
        "0 Python files with 0 lines of code (0 test files, 0 lines); no notebooks."
    )
