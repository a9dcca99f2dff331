"""Hostile repository content pushed through the whole app (webhook → queue → worker →
check run): code built to run on import or install never runs, hostile archives end in
a completed run that says what happened, and hostile configuration files give a clear
error with an annotation in bounded time and memory.

Extraction itself is covered entry by entry in `tests/test_extract.py`, and the engine
alone in `tests/criteria/test_code_quality.py`; these prove the app path."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

import checks
from checks.profile import ProfileError, load_course_config
from github_app.settings import SettingsError
from github_app.web import create_app
from tests.github.fake_github import CheckRunState, FakeGitHub
from tests.github.github_helpers import INSTALLATION, OWNER, REPO, deliver, drain, push_payload

SHA = "feedfacefeedfacefeedfacefeedfacefeedface"
CONFIG = ".github/mlops-mentor.yml"
LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    + ["exclude: *i"]
)
HOSTILE_CONFIGS = {
    "billion laughs": LAUGHS,
    "deeply nested": "exclude: " + "[" * 50_000 + "]" * 50_000 + "\n",
    "deep mapping": "".join(" " * i + f"k{i}:\n" for i in range(3000)),
    "huge": "exclude:\n" + "".join(f"  - path/{i:07d}/**\n" for i in range(40_000)),
    "wrong types": "exclude: 5\nexemptions:\n  - criterion: [docker]\n    reason: {a: 1}\n",
    "unknown key": "exclude: []\nthresholds:\n  coverage: 0\n",
    "binary": "\x00\x01\x02 not yaml \xff",
    "not a mapping": "- exclude\n- exemptions\n",
}


def only_run(fake: FakeGitHub) -> CheckRunState:
    [run] = fake.check_runs.values()
    return run


def push(app: Flask, sha: str) -> None:
    response = deliver(app, "push", push_payload(sha))
    assert response.status_code == 202, response.json
    drain(app)


def test_code_built_to_run_on_import_or_install_never_runs_through_the_app(
    app: Flask, fake_github: FakeGitHub, publish, tmp_path: Path
) -> None:
    marker = tmp_path / "executed"
    payload = f"open({str(marker)!r}, 'a').write(__file__ + '\\n')\n"
    outside = tmp_path / "outside-ruff.toml"
    # Read as configuration, this would switch print checks on for the whole repository.
    outside.write_text('[lint]\nselect = ["T20"]\n')
    commit = publish(
        {
            "conftest.py": payload,
            "setup.py": payload + "from setuptools import setup\nsetup()\n",
            "sitecustomize.py": payload,
            "usercustomize.py": payload,
            "evil.pth": f"import os; {payload}",
            "src/pkg/__init__.py": payload,
            "src/pkg/__main__.py": payload,
            "src/pkg/train.py": payload + "print('training')\n",
            "tests/__init__.py": payload,
            "tests/conftest.py": payload,
            "tests/test_train.py": payload + "def test_x():\n    assert True\n",
            "noxfile.py": payload,
            "tasks.py": payload,
            "docs/conf.py": payload,
            "pyproject.toml": (
                '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
                '[project]\nname = "pkg"\n\n[tool.ruff]\n'
                f'extend = "{os.path.relpath(outside, tmp_path / "data" / "work")}"\n'
            ),
            "backend.py": payload,
            "ruff.toml": f'extend = "{outside}"\n',
            ".ruff.toml": 'extend = "../../../../../../outside-ruff.toml"\n',
        }
    )
    push(app, commit.sha)

    run = only_run(fake_github)
    assert run.status == "completed" and run.conclusion in {"success", "failure", "neutral"}
    assert not marker.exists(), marker.read_text()
    # The outside configuration was not applied: no print check on train.py's print().
    assert not any("T201" in (a.get("title") or "") for a in run.annotations)
    # And the student is told why their configuration was not used.
    assert any(
        a["path"] in {".ruff.toml", "ruff.toml", "pyproject.toml"}
        and a.get("title") == "ruff configuration not used"
        for a in run.annotations
    ), [(a["path"], a.get("title")) for a in run.annotations]


def hostile_tarball(top: str) -> bytes:
    """Entries that try to escape or to make special files, beside one ordinary file."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:

        def add(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **extra) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mode = kind, len(data), 0o644
            for key, value in extra.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if data else None)

        add(f"{top}/", tarfile.DIRTYPE)
        add(f"{top}/README.md", data=b"# Project\n")
        add(f"{top}/../../escaped.py", data=b"x = 1\n")
        add("/tmp/absolute-escape.py", data=b"x = 1\n")
        add(f"{top}/link-out", tarfile.SYMTYPE, linkname="/etc/passwd")
        add(f"{top}/up", tarfile.SYMTYPE, linkname="../../..")
        add(f"{top}/hard-out", tarfile.LNKTYPE, linkname="/etc/shadow")
        add(f"{top}/device", tarfile.CHRTYPE, devmajor=1, devminor=3)
        add(f"{top}/fifo", tarfile.FIFOTYPE)
        add(f"{top}/up/through-link.py", data=b"x = 1\n")
    return buffer.getvalue()


def test_a_hostile_tarball_ends_in_a_completed_run_that_says_what_was_left_out(
    app: Flask, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.add_commit(
        OWNER, REPO, SHA, hostile_tarball(f"{OWNER}-{REPO}-{SHA[:7]}"), installation=INSTALLATION
    )
    push(app, SHA)

    run = only_run(fake_github)
    assert run.status == "completed"
    summary = run.output["summary"]
    assert "Not evaluated" in summary
    for name in ("escaped.py", "absolute-escape.py", "link-out", "hard-out", "device", "fifo"):
        assert name in summary, name
    # Nothing landed outside the job's folder, and the job's folder is gone.
    assert not (tmp_path / "escaped.py").exists()
    assert not Path("/tmp/absolute-escape.py").exists()
    assert [p for p in (tmp_path / "data" / "work").rglob("*") if not p.is_dir()] == []


def test_a_decompression_bomb_ends_in_a_completed_neutral_run(
    make_app: Callable[..., Flask], fake_github: FakeGitHub
) -> None:
    app = make_app(max_extract_bytes=20 * 1024 * 1024)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"{OWNER}-{REPO}-{SHA[:7]}/zeros.bin")
        info.size = 200 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    assert len(buffer.getvalue()) < 1024 * 1024  # 200 MB of zeros compress to ~200 KB
    fake_github.add_commit(OWNER, REPO, SHA, buffer.getvalue(), installation=INSTALLATION)
    push(app, SHA)

    run = only_run(fake_github)
    assert (run.status, run.conclusion) == ("completed", "neutral")
    assert run.output["title"] == "Repository too large to evaluate"


@pytest.mark.parametrize("kind", sorted(HOSTILE_CONFIGS))
def test_a_hostile_group_configuration_is_a_clear_error_in_bounded_time_and_memory(
    make_repo: Callable[..., Path], kind: str
) -> None:
    root = make_repo({CONFIG: HOSTILE_CONFIGS[kind], "README.md": "# Project\n"})
    tracemalloc.start()
    started = time.perf_counter()
    report = checks.evaluate(root, checks.load_profile())
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    [config] = [r for r in report.results if r.id == "config"]
    assert config.status.value == "fail", config.summary
    assert config.summary.startswith(f"{CONFIG} is invalid:")
    [first, *_] = config.annotations
    assert (first.path, first.level.value) == (CONFIG, "failure")
    assert first.title == "Invalid mlops-mentor configuration"
    assert elapsed < 10
    assert peak < 100 * 1024 * 1024, f"{peak / 2**20:.0f} MB"


def test_a_hostile_group_configuration_is_annotated_on_the_check_run(
    app: Flask, fake_github: FakeGitHub, publish
) -> None:
    commit = publish({CONFIG: HOSTILE_CONFIGS["billion laughs"], "README.md": "# Project\n"})
    push(app, commit.sha)

    run = only_run(fake_github)
    assert run.status == "completed"
    [annotation] = [a for a in run.annotations if a["path"] == CONFIG]
    assert annotation["annotation_level"] == "failure"
    assert f"{CONFIG} is invalid" in run.output["summary"]


@pytest.mark.parametrize("kind", sorted(set(HOSTILE_CONFIGS) - {"unknown key"}))
def test_a_hostile_course_file_is_refused_in_one_clear_sentence(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "mlops-mentor.yml"
    path.write_text(HOSTILE_CONFIGS[kind].replace("exclude", "profile"), encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(ProfileError) as refused:
        load_course_config(path)
    assert time.perf_counter() - started < 10
    message = str(refused.value)
    assert message.startswith(str(path))
    assert "\n" not in message and len(message) < 400


def test_the_app_refuses_to_start_with_a_hostile_course_file(make_settings, tmp_path: Path) -> None:
    path = tmp_path / "course.yml"
    path.write_text(LAUGHS.replace("exclude", "profile"), encoding="utf-8")
    with pytest.raises(SettingsError, match="MLOPS_MENTOR_CONFIG"):
        create_app(make_settings(course_config=path), immediate=True)


def test_a_course_file_that_is_a_fifo_is_not_waited_on(tmp_path: Path) -> None:
    path = tmp_path / "course.yml"
    os.mkfifo(path)
    assert stat.S_ISFIFO(path.stat().st_mode)
    with pytest.raises(ProfileError):
        load_course_config(path)
