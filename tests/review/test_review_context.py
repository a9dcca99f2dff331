"""What each judge is shown: relevant files first, numbered, within budget, never a secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from checks.profile import load_profile
from checks.snapshot import Snapshot
from github_app.review.context import CHARS_PER_TOKEN, build_context, file_lines, kind_of

# Shaped like a GitHub token, so the `secrets` criterion detects it.
TOKEN = "ghp_" + "Zq8xW2vN5mK9jH4gF7dS1aP3oI6uY0tR8eLc"

SnapshotOf = Callable[[dict[str, str | bytes]], Snapshot]


def test_sources_are_read_first_numbered_and_data_is_left_out(
    snapshot_of: SnapshotOf, project: dict[str, str | bytes]
) -> None:
    context = build_context(snapshot_of(project), "sources", 12_000)

    # The empty `__init__.py` has nothing to show.
    assert list(context.sent) == [
        "src/mnist/data.py",
        "src/mnist/model.py",
        "configs/train.yaml",
        "pyproject.toml",
    ]
    assert "===== src/mnist/model.py (8 lines) =====\n   1| import torch\n" in context.text
    assert '   5|     """A small CNN."""\n' in context.text
    # Tests and CI are listed in the layout, not shown to the code-quality judge.
    assert "- tests/test_model.py\n" in context.text
    assert "===== tests/" not in context.text
    # The data file is only counted, never read.
    assert "3,0 0 0" not in context.text
    assert "data/ 1" in context.text


def test_each_judge_reads_its_own_files_first(
    snapshot_of: SnapshotOf, project: dict[str, str | bytes]
) -> None:
    snapshot = snapshot_of(project)

    tests = build_context(snapshot, "tests", 12_000)
    ci = build_context(snapshot, "ci", 12_000)

    assert list(tests.sent)[:2] == ["tests/test_model.py", "pyproject.toml"]
    assert "src/mnist/model.py" in tests.sent  # to see what is left untested
    assert list(ci.sent) == [
        ".github/workflows/tests.yaml",
        "dockerfiles/train.dockerfile",
        "pyproject.toml",
    ]


def test_a_file_holding_a_secret_is_never_sent_but_named_as_withheld(
    snapshot_of: SnapshotOf, project: dict[str, str | bytes], tmp_path: Path
) -> None:
    files = {
        **project,
        "src/mnist/config.py": f'GITHUB_TOKEN = "{TOKEN}"\nEPOCHS = 10\n',
        ".github/workflows/deploy.yaml": f"env:\n  TOKEN: {TOKEN}\n",
    }
    snapshot = snapshot_of(files)
    # A symlink to the secret file: its target is scanned under its own name only.
    (snapshot.root / "src/mnist/settings.py").symlink_to("config.py")
    snapshot = Snapshot(snapshot.root)

    for reads in ("sources", "tests", "ci"):
        context = build_context(snapshot, reads, 12_000)
        assert TOKEN not in context.text
        assert TOKEN[:12] not in context.text
        assert "src/mnist/settings.py" not in context.sent
    sources = build_context(snapshot, "sources", 12_000)
    assert sources.withheld == ["src/mnist/config.py"]
    assert "EPOCHS" not in sources.text  # the whole file, not only the flagged line
    assert "- src/mnist/config.py (not shown: holds a credential)" in sources.text
    assert build_context(snapshot, "ci", 12_000).withheld == [".github/workflows/deploy.yaml"]


def test_notebooks_are_sent_as_code_cells_without_outputs(snapshot_of: SnapshotOf) -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Exploration notes\n"]},
            {
                "cell_type": "code",
                "source": ["import pandas as pd\n", "df = pd.read_csv('x.csv')"],
                "outputs": [{"output_type": "stream", "text": ["OUTPUT-MARKER 12345\n"]}],
            },
            {"cell_type": "code", "source": "df.describe()", "outputs": []},
        ],
        "metadata": {},
    }
    snapshot = snapshot_of({"notebooks/explore.ipynb": json.dumps(notebook, indent=1)})

    context = build_context(snapshot, "sources", 12_000)

    assert "OUTPUT-MARKER" not in context.text
    assert "Exploration notes" not in context.text
    assert "(code cells only; numbered on their own)" in context.text
    assert "   1| # %% cell 2\n   2| import pandas as pd\n" in context.text
    assert "   5| df.describe()\n" in context.text
    assert context.sent["notebooks/explore.ipynb"].notebook


def test_the_budget_bounds_what_is_sent_and_names_what_was_left_out(
    snapshot_of: SnapshotOf,
) -> None:
    files: dict[str, str | bytes] = {
        "src/pkg/big.py": "".join(f"value_{i} = {i}\n" for i in range(5000)),
        **{f"src/pkg/m{i}.py": "x = 1\n" * 200 for i in range(10)},
    }
    budget = 1000

    context = build_context(snapshot_of(files), "sources", budget)

    assert len(context.text) <= budget * CHARS_PER_TOKEN
    big = context.sent["src/pkg/big.py"]
    assert big.truncated and 0 < big.lines < 5000
    assert "more lines not shown" in context.text
    assert context.left_out, "some modules cannot fit in 1000 tokens"
    assert set(context.left_out).isdisjoint(context.sent)


def test_odd_files_do_not_break_the_context(snapshot_of: SnapshotOf) -> None:
    files: dict[str, str | bytes] = {
        "src/pkg/binary.py": b"\x00\x01\x02 not text",
        "src/pkg/latin.py": "name = 'Søren'\n".encode("latin-1"),
        "src/pkg/crlf.py": "a = 1\r\nb = 2\rc = 3\n",
        "notebooks/broken.ipynb": "{not json",
        "notebooks/odd.ipynb": json.dumps({"cells": [{"cell_type": "code", "source": 5}, 3]}),
        ".venv/lib/python3.11/site-packages/lib.py": "VENDORED = True\n",
        "src/pkg/huge.py": "x = 1\n" * 10,
    }
    snapshot = Snapshot(snapshot_of(files).root, read_cap=40)

    context = build_context(snapshot, "sources", 12_000)

    assert "src/pkg/binary.py" not in context.sent
    assert "src/pkg/huge.py" not in context.sent  # over the read cap
    assert "VENDORED" not in context.text
    assert "Søren" in context.text
    # Numbered as git and GitHub count lines: a lone \r does not start one.
    assert "   2| b = 2\rc = 3\n" in context.text
    assert "notebooks/broken.ipynb" not in context.sent


def test_an_empty_repository_gives_an_overview_only(tmp_path: Path) -> None:
    context = build_context(Snapshot(tmp_path), "tests", 12_000)

    assert context.sent == {}
    assert context.text.startswith("Repository layout (0 files")


def test_file_kinds_and_line_splitting() -> None:
    assert kind_of("tests/unit/test_data.py") == "test"
    assert kind_of("src/pkg/conftest.py") == "test"
    assert kind_of("src/pkg/train.py") == "source"
    assert kind_of("Dockerfile") == "ci"
    assert kind_of("dockerfiles/api.Dockerfile") == "ci"
    assert kind_of(".github/workflows/ci.yml") == "ci"
    assert kind_of("requirements_dev.txt") == "project"
    assert kind_of("data/processed/train.pt") is None
    assert kind_of("configs/experiment/exp1.yaml") == "config"
    assert kind_of("src/pkg/defaults.yaml") is None
    assert file_lines("a\r\nb\n\nc") == ["a", "b", "", "c"]


def test_the_default_profile_defines_three_judges_with_a_full_scale() -> None:
    review = load_profile().review

    assert {judge_id: judge.reads for judge_id, judge in review.items()} == {
        "code-quality": "sources",
        "testing": "tests",
        "ci-cd": "ci",
    }
    for judge in review.values():
        assert sorted(judge.scale) == [1, 2, 3, 4, 5]
        assert all(sentence.strip() for sentence in judge.scale.values())
