"""The README stays true: its quick start, its criteria table and its test command."""

from __future__ import annotations

import re
from pathlib import Path

from checks.registry import all_criteria

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_criterion_is_in_the_readme_table() -> None:
    table = README.split("## The criteria", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z-]+)` \|", table, re.M))
    assert listed == set(all_criteria())


def test_the_quick_start_is_two_commands_and_ci_runs_the_same_test_command() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", quick, re.S)
    assert len(commands) == 2
    assert "mlops-mentor check examples/sample-project" in commands[0]
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith(commands[1])
