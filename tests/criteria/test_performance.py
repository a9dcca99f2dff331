"""The speed-ups keep every verdict: ruff started ahead, shared reads, text before syntax trees."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

from checks.criteria.lint import ruff_run, start_ruff
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
