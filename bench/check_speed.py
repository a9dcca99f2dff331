"""How fast `mlops-mentor check` is: the sample project, and synthetic repositories of
100, 1,000 and 10,000 files, against ruff alone on the same files with the same rules
(ruff is our floor).

    python bench/check_speed.py [--sizes 100 1000 10000] [--repeat 3]

Every figure is the best wall time of `--repeat` runs of a fresh process (start-up included).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def best_of(command: list[str], repeat: int, cwd: Path | None = None) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    mentor = [sys.executable, "-m", "github_app.cli", "check", "--format", "json"]
    print(
        f"machine: {platform.machine()}, {platform.system()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print("| repository | files | mlops-mentor check | ruff alone | ratio |")
    print("|---|---:|---:|---:|---:|")
    sample_files = sum(1 for p in SAMPLE.rglob("*") if p.is_file())
    ours = best_of([*mentor, str(SAMPLE)], args.repeat)
    floor = best_of(ruff_alone(SAMPLE), args.repeat, cwd=SAMPLE)
    print(
        f"| sample project | {sample_files} | {ours:.2f} s | {floor:.2f} s | {ours / floor:.1f}× |"
    )
    for size in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix=f"mentor-bench-{size}-"))
        try:
            repo = synthetic_repo(folder, size)
            ours = best_of([*mentor, str(repo)], args.repeat)
            floor = best_of(ruff_alone(repo), args.repeat, cwd=repo)
            print(f"| synthetic | {size:,} | {ours:.2f} s | {floor:.2f} s | {ours / floor:.2f}× |")
        finally:
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
