"""How fast `mlops-mentor check` is: the sample project, course-style group repositories
grown from it, and synthetic repositories of 100, 1,000 and 10,000 files, against ruff
alone on the same files with the same rules (ruff is our floor).

    python bench/check_speed.py [--sizes 100 1000 10000] [--repeat 3]

Every figure is the best wall time of `--repeat` runs of a fresh process (start-up included),
with our modules' bytecode compiled first, as `pip install` leaves them, and that run's
CPU time (its children's included). Beside them, a process that only starts as the check
does and reads every file: what the criteria run on top of.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from ruff.__main__ import find_ruff_bin

from checks.criteria.lint import (
    CONFIG_NAMES,
    DEFAULT_LINE_LENGTH,
    DEFAULT_SELECT,
    DEFAULT_TARGET,
    DOCS_TYPING_CODES,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample-project"

MODULE = '''"""Module {i}: data handling for experiment {i}."""

import logging
from pathlib import Path

import torch

logger = logging.getLogger(__name__)


def load_{i}(path: Path, scale: float = 1.0) -> torch.Tensor:
    """Load tensor {i} and scale it."""
    data = torch.load(path)
    logger.info("loaded %s", path)
    return data * scale


def summarise_{i}(values, limit=10):
    total = 0
    for index, value in enumerate(values):
        if index > limit:
            break
        total += value
    return total
'''
TEST = """from project.module_{i} import summarise_{i}


def test_summarise_{i}():
    assert summarise_{i}([1, 2, 3]) == 6


def test_limit_{i}():
    summarise_{i}(range(100), limit=2)
"""
OTHER = {
    ".yaml": "train:\n  lr: 0.001\n  epochs: {i}\n",
    ".md": "# Notes {i}\n\nSome words about experiment {i}.\n",
    ".csv": "a,b,c\n1,2,{i}\n",
}


def synthetic_repo(root: Path, files: int) -> Path:
    """A project-shaped tree: ~70% Python (sources and tests), the rest configs, notes, data."""
    rng = random.Random(files)
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - run: pytest\n      - run: ruff check .\n"
    )
    (root / "pyproject.toml").write_text('[project]\nname = "project"\ndependencies = ["torch"]\n')
    (root / "Dockerfile").write_text("FROM python:3.11-slim\nRUN pip install --no-cache-dir .\n")
    for i in range(files - 3):
        kind = rng.random()
        if kind < 0.5:
            path = root / "src" / "project" / f"pkg{i % 50}" / f"module_{i}.py"
            text = MODULE.format(i=i)
        elif kind < 0.7:
            path = root / "tests" / f"group{i % 20}" / f"test_module_{i}.py"
            text = TEST.format(i=i)
        else:
            suffix = rng.choice(list(OTHER))
            path = root / "configs" / f"set{i % 30}" / f"file_{i}{suffix}"
            text = OTHER[suffix].format(i=i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# What a group adds to the course template as the weeks go by, `{i}` numbering each copy.
FEATURES = '''"""Feature extraction, variant {i}."""

import torch
from loguru import logger

from leaf_classifier.data import normalize


def colour_histogram_{i}(images: torch.Tensor, bins: int = 16) -> torch.Tensor:
    """Per-channel histograms of normalised images."""
    logger.debug(f"histograms of {{len(images)}} images")
    flat = normalize(images).flatten(2)
    return torch.stack([torch.histc(channel, bins=bins) for channel in flat.unbind(1)], dim=1)


def augment_{i}(images, flip=True):
    if flip:
        images = images.flip(-1)
    return images
'''
FEATURES_TEST = """import torch

from leaf_classifier.features_{i} import augment_{i}, colour_histogram_{i}


def test_histogram_shape_{i}():
    assert colour_histogram_{i}(torch.rand(2, 3, 8, 8), bins=4).shape == (2, 3, 4)


def test_augment_flips_{i}():
    images = torch.arange(4.0).reshape(1, 1, 1, 4)
    assert augment_{i}(images)[0, 0, 0, 0] == 3
"""
EXPERIMENT = "# @package _global_\nmodel:\n  dropout: 0.{i}\ntrain:\n  lr: 0.00{i}\n"
RUN_LOG = "[{i}][INFO] - epoch {i}: loss 0.{i}\n" * 20


def notebook(i: int) -> str:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": [f"# Exploration {i}"]},
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "outputs": [],
            "source": ["import torch\n", f"images = torch.load('data/raw/batch_{i}.pt')"],
        },
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def group_repo(root: Path, grown: int) -> Path:
    """The sample project as a group leaves it after some weeks: `grown` feature modules
    with their tests, experiment configs, notebooks, and Hydra run folders left committed."""
    shutil.copytree(SAMPLE, root, dirs_exist_ok=True)
    package = root / "src" / "leaf_classifier"
    for folder in ("configs/experiment", "notebooks", "outputs"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for i in range(1, grown + 1):
        (package / f"features_{i}.py").write_text(FEATURES.format(i=i))
        (root / "tests" / f"test_features_{i}.py").write_text(FEATURES_TEST.format(i=i))
        (root / "configs" / "experiment" / f"exp_{i}.yaml").write_text(EXPERIMENT.format(i=i))
        (root / "notebooks" / f"explore_{i}.ipynb").write_text(notebook(i))
        run = root / "outputs" / "2026-03-01" / f"10-{i:02d}-00"
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "config.yaml").write_text(EXPERIMENT.format(i=i))
        (run / "train.log").write_text(RUN_LOG.format(i=i))
    return root


def ruff_alone(repo: Path) -> list[str]:
    """ruff with the rules `lint` gives it on `repo`, so that the floor does the same work:
    the repository's own configuration, else the course's default rules, and in both cases
    the rules docs-typing adds."""
    command = [
        find_ruff_bin(),
        "check",
        "--no-cache",
        "--exit-zero",
        "--output-format=concise",
        f"--extend-select={','.join(DOCS_TYPING_CODES)}",
    ]
    pyproject = repo / "pyproject.toml"
    configured = any((repo / name).is_file() for name in CONFIG_NAMES[:2]) or (
        pyproject.is_file() and "[tool.ruff" in pyproject.read_text()
    )
    if not configured:
        command += [
            "--isolated",
            f"--select={DEFAULT_SELECT}",
            f"--line-length={DEFAULT_LINE_LENGTH}",
            f"--target-version=py3{DEFAULT_TARGET}",
        ]
    return [*command, "."]


class Timing(NamedTuple):
    """One run's wall time and the CPU time it used, its child processes (ruff) included:
    on a machine of `os.cpu_count()` cores no run can take less wall time than
    `cpu / cores`."""

    wall: float
    cpu: float


def _children_cpu() -> float:
    # Children's usage counts each waited-for process with the children it waited for.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# What the engine pays before its first criterion: the interpreter and our imports,
# the walk, and one read of every file the criteria may read.
_READING = """
import sys
import checks.criteria
from checks.engine import evaluate
from checks.snapshot import Snapshot
snapshot = Snapshot(sys.argv[1])
for path in snapshot.paths:
    snapshot.text(path)
"""


def reading_alone(repo: Path) -> list[str]:
    """A fresh process that starts as `mlops-mentor check` does and reads `repo`, nothing more."""
    return [sys.executable, "-c", _READING, str(repo)]


def best_of(command: list[str], repeat: int, cwd: Path | None = None) -> Timing:
    """The fastest of `repeat` runs (by wall time)."""
    runs = []
    for _ in range(repeat):
        before = _children_cpu()
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        runs.append(Timing(time.perf_counter() - started, _children_cpu() - before))
    return min(runs)


class Measured(NamedTuple):
    """One repository's figures: our check, starting and reading alone, and ruff alone."""

    check: Timing
    reading: Timing
    ruff: Timing


def measure(repo: Path, repeat: int) -> Measured:
    check = [sys.executable, "-m", "github_app.cli", "check", "--format", "json", str(repo)]
    return Measured(
        best_of(check, repeat),
        best_of(reading_alone(repo), repeat),
        best_of(ruff_alone(repo), repeat, cwd=repo),
    )


def file_count(repo: Path) -> int:
    return sum(1 for p in repo.rglob("*") if p.is_file())


def compile_bytecode() -> None:
    """Compile our modules as `pip install` does: a checkout run with
    PYTHONDONTWRITEBYTECODE would otherwise compile every module on every start."""
    for package in ("checks", "github_app"):
        compileall.compile_dir(ROOT / package, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.system()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        "| repository | files | mlops-mentor check | its CPU (ruff's included) "
        "| start-up + reading alone | ruff alone | its CPU | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="mentor-bench-") as work:
        for label, repo in targets(Path(work), args.sizes):
            ours, reading, floor = measure(repo, args.repeat)
            print(
                f"| {label} | {file_count(repo):,} | {ours.wall:.2f} s | {ours.cpu:.2f} s "
                f"| {reading.wall:.2f} s | {floor.wall:.2f} s | {floor.cpu:.2f} s "
                f"| {ours.wall / floor.wall:.2f}× |"
            )


# A group early in the course, mid-course, and one that commits every experiment.
GROUPS = {"group, week 2": 3, "group, week 6": 20, "group, week 12": 120}


def targets(work: Path, sizes: list[int]) -> list[tuple[str, Path]]:
    """The repositories to time, built under `work`."""
    built = [("sample project", SAMPLE)]
    for label, grown in GROUPS.items():
        built.append((label, group_repo(work / f"group-{grown}", grown)))
    for size in sizes:
        folder = work / f"synthetic-{size}"
        folder.mkdir()
        built.append(("synthetic", synthetic_repo(folder, size)))
    return built


if __name__ == "__main__":
    main()
