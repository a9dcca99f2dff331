"""The snapshot reads a repository as data, safely, and only once."""

from __future__ import annotations

import os
from pathlib import Path

from checks.snapshot import Snapshot


def test_walk_lists_files_and_skips_git(make_repo) -> None:
    repo = make_repo({"src/pkg/model.py": "x = 1\n", ".git/config": "[core]\n", "README.md": "hi"})
    snapshot = Snapshot(repo)
    assert snapshot.paths == ["README.md", "src/pkg/model.py"]
    assert snapshot.is_dir("src/pkg") and not snapshot.exists(".git")
    assert snapshot.glob("**/*.py") == ["src/pkg/model.py"]
    assert snapshot.glob("*.py") == []  # `*` stays in one folder
    assert snapshot.named("MODEL.PY", case_sensitive=False) == []
    assert snapshot.named("model.py") == ["src/pkg/model.py"]


def test_symlinks_outside_the_root_are_never_followed(make_repo, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("host secret")
    repo = make_repo({"inside.txt": "ok"})
    os.symlink(secret, repo / "leak.txt")
    os.symlink(tmp_path, repo / "leakdir")
    os.symlink(repo / "inside.txt", repo / "alias.txt")
    snapshot = Snapshot(repo)
    assert "leak.txt" not in snapshot.files
    assert not snapshot.exists("leakdir")
    assert snapshot.text("leak.txt") is None
    assert snapshot.text("alias.txt") == "ok"  # a link inside the tree is fine


def test_binary_non_utf8_and_oversized_files_are_read_safely(make_repo) -> None:
    repo = make_repo(
        {
            "weights.bin": b"\x00\x01\x02" * 100,
            "latin.py": "name = 'Søren'\n".encode("latin-1"),
            "bom.txt": "\ufeffhello".encode(),
            "big.csv": "a,b\n" * 10,
        }
    )
    snapshot = Snapshot(repo, read_cap=20)
    assert snapshot.text("weights.bin") is None
    assert snapshot.text("big.csv") is None  # over the cap
    assert Snapshot(repo).text("latin.py") == "name = 'Søren'\n"
    assert Snapshot(repo).text("bom.txt") == "hello"
    assert snapshot.text("missing.txt") is None


def test_parse_errors_name_the_line(make_repo) -> None:
    repo = make_repo(
        {
            "bad.yaml": "a: 1\nb: [\n",
            "bad.toml": "[project]\nname = \n",
            "bad.py": "def f(:\n    pass\n",
            "good.yaml": "on: push\n",
        }
    )
    snapshot = Snapshot(repo)
    assert snapshot.yaml("bad.yaml").error.line >= 2
    assert snapshot.toml("bad.toml").error.line == 2
    assert snapshot.python("bad.py").error.line == 1
    assert snapshot.yaml("good.yaml").data == {True: "push"}  # YAML 1.1: `on` is a boolean
    assert snapshot.yaml("good.yaml") is snapshot.yaml("good.yaml")  # parsed once


def test_yaml_alias_bombs_are_refused_quickly(make_repo) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    repo = make_repo({"bomb.yaml": "\n".join(lines) + "\n"})
    parsed = Snapshot(repo).yaml("bomb.yaml")
    assert not parsed.ok and "refused" in parsed.error.message


def test_exclusions_hide_paths_and_keep_caches(make_repo) -> None:
    repo = make_repo({"vendor/lib.py": "x", "src/a.py": "y", "notebooks/a.ipynb": "{}"})
    snapshot = Snapshot(repo)
    view = snapshot.excluding(["vendor/", "*.ipynb"])
    assert view.paths == ["src/a.py"]
    assert view.python_files == ["src/a.py"]
    assert snapshot.paths == ["notebooks/a.ipynb", "src/a.py", "vendor/lib.py"]


def test_a_committed_virtualenv_is_not_taken_for_the_groups_code(make_repo) -> None:
    from checks.facts import imported

    repo = make_repo(
        {
            ".venv/lib/python3.11/site-packages/fastapi/app.py": "import fastapi\n",
            "src/app.py": "import torch\n",
        }
    )
    snapshot = Snapshot(repo)
    assert snapshot.python_files == ["src/app.py"]
    assert imported(snapshot, "fastapi") == []


def test_a_pyproject_of_the_wrong_shape_declares_nothing_instead_of_crashing(make_repo) -> None:
    from checks.facts import declared_dependencies

    repo = make_repo({"pyproject.toml": 'project = 3\ntool = "x"\n', "requirements.txt": "torch\n"})
    assert declared_dependencies(Snapshot(repo)) == {"torch": "requirements.txt"}


def test_toml_errors_point_at_their_line_on_every_python(make_repo) -> None:
    repo = make_repo({"pyproject.toml": "[project]\nname = 'x'\nversion = 1 2\n"})
    assert Snapshot(repo).toml("pyproject.toml").error.line == 3


def test_reads_are_sized_by_the_walk_but_see_a_file_that_grew(make_repo) -> None:
    repo = make_repo({"notes.md": "short\n", "data.bin": b"\x01" * 100})
    snapshot = Snapshot(repo, read_cap=50)
    (repo / "notes.md").write_text("short\n" + "more\n" * 5)  # changed after the walk
    assert snapshot.text("notes.md") == "short\n" + "more\n" * 5
    assert snapshot.raw("data.bin", 10) == b"\x01" * 10
    assert snapshot.raw("data.bin") == b"\x01" * 50  # the read cap bounds a raw read
    assert snapshot.raw("data.bin", 0) == b""
    (repo / "notes.md").write_text("x" * 60)  # grew past the cap
    assert Snapshot(repo, read_cap=50).text("notes.md") is None
    assert snapshot.raw("missing.txt") == b""


def test_named_matches_base_names_with_one_pattern_set(make_repo) -> None:
    repo = make_repo({"tests/test_a.py": "", "b_test.py": "", "src/Dockerfile.api": "", "c.py": ""})
    snapshot = Snapshot(repo)
    assert snapshot.named("test_*.py", "*_test.py") == ["b_test.py", "tests/test_a.py"]
    assert snapshot.named("dockerfile*", case_sensitive=False) == ["src/Dockerfile.api"]
    assert snapshot.named() == []
