"""The speed-ups keep every verdict: ruff started ahead, shared reads, text before syntax trees."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from pathlib import Path

from checks import Status, evaluate, load_profile
from checks.criteria.lint import ruff_run, start_ruff
from checks.facts import Place, imported
from checks.snapshot import Snapshot


def test_ruff_started_ahead_is_collected_by_the_criterion(
    make_repo: Callable[[dict], Path],
) -> None:
    snapshot = Snapshot(make_repo({"src/pkg/a.py": "import os\n", "src/pkg/b.py": "x = 1\n"}))
    start_ruff(snapshot)
    start_ruff(snapshot)  # a second criterion asking does not start a second ruff
    run = ruff_run(snapshot, 60)
    assert run.files == ["src/pkg/a.py", "src/pkg/b.py"]
    assert [(f.path, f.line, f.code) for f in run.findings] == [("src/pkg/a.py", 1, "F401")]
    assert ruff_run(snapshot, 60) is run


def test_a_ruff_run_nobody_collects_is_stopped_with_its_snapshot(
    make_repo: Callable[[dict], Path],
) -> None:
    files = {f"src/pkg/m{i}.py": f"def f{i}(x):\n    return x\n" for i in range(50)}
    snapshot = Snapshot(make_repo(files))
    start_ruff(snapshot)
    launch = snapshot.memo("ruff:launch", lambda snap: None)
    running = list(launch.ruff._running)
    del snapshot, launch
    gc.collect()
    for process, out, err in running:
        assert process.returncode is not None  # stopped (or finished) and waited for
        assert out.closed and err.closed


def test_test_quality_reads_text_first_and_keeps_the_syntax_tree_verdict(run_criterion) -> None:
    code = (
        "import pytest\n\n\n"
        "def test_asserts():\n    assert 1 + 1 == 2\n\n\n"
        "def test_nested_check():\n    for x in [1]:\n        with open('f') as f:\n"
        "            pytest.approx(x)\n\n\n"
        "def test_silent():\n    run(1)\n\n\n"
        'def test_only_says_assert():\n    """We should assert here."""\n'
        "    run(2)  # TODO: assert the result\n\n\n"
        "@verify_shapes()\ndef test_decorated():\n    run(3)\n\n\n"
        "def test_fullwidth():\n    \uff41ssert_equal(1, 1)\n"
    )
    result = run_criterion("test-quality", {"tests/test_a.py": code})
    silent = [(a.path, a.start_line) for a in result.annotations]
    # Words in comments and docstrings do not check anything; a `verify…` decorator call
    # and a name the parser normalises (fullwidth letters) do.
    assert silent == [("tests/test_a.py", 14), ("tests/test_a.py", 18)]
    assert result.metrics["tests"] == 6


def test_test_quality_numbers_lines_as_the_parser_does(run_criterion) -> None:
    code = "def test_a():\r    run(1)\r\r\rdef test_b():\r    if run(2):\r        assert x\r"
    result = run_criterion("test-quality", {"tests/test_mac.py": code.encode()})
    assert [(a.start_line, a.message.split(" ")[0]) for a in result.annotations] == [(1, "test_a")]


def test_an_evaluation_leaves_no_cycle_keeping_the_files_alive(
    make_repo: Callable[[dict], Path],
) -> None:
    files = {f"src/pkg/m{i}.py": f"def f{i}(x):\n    return x\n" for i in range(5)}
    snapshot = Snapshot(make_repo({**files, "tests/test_m.py": "def test_f():\n    assert 1\n"}))
    alive = weakref.ref(snapshot)
    gc.disable()  # only reference counting may free it, as it must for big repositories
    try:
        report = evaluate(snapshot, load_profile())
        del snapshot
        assert alive() is None
    finally:
        gc.enable()
    assert report.result("lint").status == Status.passed


def test_lines_are_found_from_the_first_one_on(
    make_repo: Callable[[dict], Path], run_criterion
) -> None:
    code = "import torch\n# a comment\n\n\t\ndef f():\n    from torch import nn\n    return nn\n"
    snapshot = Snapshot(make_repo({"src/pkg/model.py": code}))
    assert imported(snapshot, "torch") == [
        Place("src/pkg/model.py", 1),
        Place("src/pkg/model.py", 6),
    ]
    size = run_criterion("code-size", {"src/pkg/model.py": code, "src/pkg/empty.py": ""})
    assert size.metrics["code_lines"] == 4  # not the comment, nor the blank lines
    tests = run_criterion(
        "tests",
        {
            "src/pkg/data.py": "X = 1\n",
            "tests/test_x.py": "from pkg.data import X\n\n\ndef test_x():\n    assert X\n",
        },
    )
    assert tests.metrics["tests_data"] == 1  # the import on the first line names the data
