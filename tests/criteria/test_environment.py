"""Environment criteria: dependencies, lockfile, configs, dvc — what a student sees."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from checks import CriterionResult, Level, Status
from checks.snapshot import DEFAULT_READ_CAP

Run = Callable[..., CriterionResult]

PYPROJECT = """\
[project]
name = "mnist"
version = "0.1.0"
dependencies = [
    "torch>=2.3",
    "typer",
]
"""


# -- dependencies ---------------------------------------------------------------------------


def test_dependencies_in_pyproject(run_criterion: Run) -> None:
    result = run_criterion("dependencies", {"pyproject.toml": PYPROJECT})
    assert result.status == Status.passed
    assert result.summary == "2 dependencies declared: pyproject.toml (2)."
    assert result.metrics == {"count": 2, "files": {"pyproject.toml": 2}}


def test_dependencies_in_requirements_and_poetry(run_criterion: Run) -> None:
    result = run_criterion(
        "dependencies",
        {
            "pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.11"\nnumpy = "^1.26"\n',
            "requirements.txt": "# runtime\ntorch==2.3.1\n\n-r base.txt\n-e .\nhydra-core>=1.3\n",
            "requirements_dev.txt": "",
        },
    )
    assert result.status == Status.passed
    # Poetry's `python` is not a package; options and comments are not requirements.
    assert result.metrics["files"] == {"pyproject.toml": 1, "requirements.txt": 2}
    assert "3 dependencies declared" in result.summary


def test_dependencies_missing(run_criterion: Run) -> None:
    result = run_criterion("dependencies", {"pyproject.toml": '[project]\nname = "x"\n'})
    assert result.status == Status.warn
    assert "no `[project].dependencies`" in result.summary
    assert result.fix
    assert run_criterion("dependencies", {}).summary == (
        "No dependencies declared: there is no pyproject.toml and no requirements*.txt."
    )


def test_dependencies_template_dynamic_file_missing(run_criterion: Run) -> None:
    pyproject = (
        '[project]\nname = "x"\ndynamic = ["dependencies"]\n'
        '[tool.setuptools.dynamic]\ndependencies = {file = ["requirements.txt"]}\n'
    )
    result = run_criterion("dependencies", {"pyproject.toml": pyproject})
    assert result.status == Status.warn
    assert result.summary == (
        "pyproject.toml says the dependencies are read from requirements.txt, "
        "but requirements.txt is missing."
    )
    result = run_criterion(
        "dependencies", {"pyproject.toml": pyproject, "requirements.txt": "torch\n"}
    )
    assert result.status == Status.passed
    assert result.summary == "1 dependency declared: requirements.txt (1)."


def test_dependencies_invalid_pyproject(run_criterion: Run) -> None:
    result = run_criterion(
        "dependencies",
        {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["torch",\n[oops\n'},
    )
    assert result.status == Status.warn
    assert result.summary.startswith("pyproject.toml does not parse (line ")
    [note] = result.annotations
    assert (note.path, note.level) == ("pyproject.toml", Level.failure)
    assert note.start_line == 4
    assert note.message.startswith("pyproject.toml does not parse: ")
    assert note.rank == 5


def test_dependencies_odd_pyproject_types(run_criterion: Run) -> None:
    # Wrong types are student input too: no crash, just nothing counted.
    result = run_criterion(
        "dependencies",
        {"pyproject.toml": 'project = 3\ntool = "x"\n', "requirements.txt": b"\x00\x01torch"},
    )
    assert result.status == Status.warn


def test_dependencies_binary_and_oversized_pyproject(run_criterion: Run) -> None:
    result = run_criterion("dependencies", {"pyproject.toml": b"\x00\xff\xfe[project]"})
    assert result.status == Status.warn
    assert result.annotations[0].message.startswith("pyproject.toml does not parse: file is")
    huge = "[project]\n" + "# padding\n" * (DEFAULT_READ_CAP // 10 + 1)
    result = run_criterion("dependencies", {"pyproject.toml": huge})
    assert result.status == Status.warn
    assert "binary or too large" in result.summary


# -- lockfile -------------------------------------------------------------------------------


def test_lockfile_committed(run_criterion: Run) -> None:
    result = run_criterion("lockfile", {"pyproject.toml": PYPROJECT, "uv.lock": "version = 1\n"})
    assert result.status == Status.passed
    assert result.summary == "Lock file committed: uv.lock."


def test_lockfile_empty_lock_does_not_count(run_criterion: Run) -> None:
    result = run_criterion("lockfile", {"pyproject.toml": PYPROJECT, "poetry.lock": ""})
    assert result.status == Status.warn
    assert result.summary == (
        "No lock file (uv.lock, poetry.lock, pdm.lock or pylock.toml): the 2 dependencies "
        "in pyproject.toml can resolve to new versions on every install."
    )


def test_lockfile_all_requirements_pinned(run_criterion: Run) -> None:
    result = run_criterion(
        "lockfile",
        {
            "requirements.txt": (
                "torch==2.3.1 \\\n    --hash=sha256:abc\n"
                "numpy===1.26.4; python_version >= '3.10'\n"
                "mylib @ https://example.org/mylib-1.0-py3-none-any.whl\n"
                "-e .\ngit+https://github.com/x/y.git\n"
            ),
            # pip-tools inputs are ranges on purpose.
            "requirements.in": "torch\nnumpy\n",
        },
    )
    assert result.status == Status.passed
    assert result.summary == (
        "No lock file, but all 3 requirements in requirements.txt are pinned with `==`."
    )


def test_lockfile_unpinned_requirements_annotated(run_criterion: Run) -> None:
    result = run_criterion(
        "lockfile",
        {
            "requirements.txt": (
                "torch==2.3.1\nnumpy>=1.26  # any\nhydra-core==1.*\n"
                "uvicorn[standard] \\\n  ~=0.30\n"
            ),
            "requirements_dev.txt": "pytest\n",
        },
    )
    assert result.status == Status.warn
    assert result.summary == (
        "No lock file, and 4 of 5 requirements are not pinned with `==` "
        "(requirements.txt: 3, requirements_dev.txt: 1)."
    )
    where = [(a.path, a.start_line, a.end_line, a.level) for a in result.annotations]
    assert where == [
        ("requirements.txt", 2, 2, Level.warning),
        ("requirements.txt", 3, 3, Level.warning),
        ("requirements.txt", 4, 5, Level.warning),
        ("requirements_dev.txt", 1, 1, Level.warning),
    ]
    assert result.annotations[0].message.startswith("`numpy>=1.26` is not pinned")
    assert result.metrics == {"lock_files": [], "requirements": 5, "unpinned": 4}


def test_lockfile_caps_annotations(run_criterion: Run) -> None:
    lines = "".join(f"package{i}>=1\n" for i in range(45))
    result = run_criterion("lockfile", {"requirements.txt": lines})
    assert len(result.annotations) == 20
    assert "45 of 45 requirements" in result.summary
    assert "(the first 20 are marked)" in result.summary
    assert result.details.count("\n") == 44


def test_lockfile_skipped_without_dependencies(run_criterion: Run) -> None:
    result = run_criterion("lockfile", {"README.md": "hi"})
    assert result.status == Status.skip
    assert "dependencies" in result.summary


# -- configs --------------------------------------------------------------------------------


def test_configs_with_hydra(run_criterion: Run) -> None:
    result = run_criterion(
        "configs",
        {
            "configs/train.yaml": "lr: 0.001\nepochs: 10\n",
            "configs/model/small.yml": "hidden: 64\n",
            "src/proj/train.py": "import torch\nimport hydra\n",
        },
    )
    assert result.status == Status.passed
    assert result.summary == (
        "2 YAML config files in configs/, configs/model/. "
        "Hydra/OmegaConf is used (src/proj/train.py:2), well done."
    )
    assert result.metrics == {"files": 2, "valid": 2, "invalid": 0, "hydra": True}


def test_configs_without_hydra_is_met_with_a_hint(run_criterion: Run) -> None:
    result = run_criterion("configs", {"src/proj/conf/exp.yaml": "seed: 1\n"})
    assert result.status == Status.passed
    assert "1 YAML config file in src/proj/conf/." in result.summary
    assert "Hydra would be a bonus" in result.summary


def test_configs_invalid_yaml_annotated(run_criterion: Run) -> None:
    result = run_criterion(
        "configs",
        {
            "configs/good.yaml": "lr: 0.1\n",
            "configs/bad.yaml": "model:\n  lr: 0.1\n   dropout: [0.2\n",
        },
    )
    assert result.status == Status.passed
    assert "1 does not parse: configs/bad.yaml." in result.summary
    [note] = result.annotations
    assert (note.path, note.level, note.title) == (
        "configs/bad.yaml",
        Level.warning,
        "Config file does not parse",
    )
    assert note.start_line == 3


def test_configs_only_invalid_or_unreadable(run_criterion: Run) -> None:
    result = run_criterion(
        "configs", {"config/a.yaml": "a: [1\n", "configs/blob.yaml": b"\x00\x01\x02"}
    )
    assert result.status == Status.warn
    assert result.summary.startswith("None of your 2 YAML config files parses: ")
    assert {a.path for a in result.annotations} == {"config/a.yaml", "configs/blob.yaml"}


def test_configs_yaml_bomb_is_refused(run_criterion: Run) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    result = run_criterion("configs", {"configs/bomb.yaml": bomb})
    assert result.status == Status.warn
    assert "refused" in result.annotations[0].message


def test_configs_missing(run_criterion: Run) -> None:
    result = run_criterion(
        "configs",
        {"src/proj/train.py": "from omegaconf import OmegaConf\n", ".github/config/x.yaml": "a: 1"},
    )
    assert result.status == Status.warn
    assert result.summary == (
        "Hydra/OmegaConf is imported (src/proj/train.py:1) but there is no YAML config file "
        "in configs/, conf/ or config/."
    )
    assert run_criterion("configs", {}).summary == (
        "No YAML config files in configs/, conf/ or config/."
    )


# -- dvc ------------------------------------------------------------------------------------

DVC_CONFIG = """\
[core]
    remote = storage
    autostage = true
['remote "storage"']
    url = gs://my-bucket/data
    version_aware = true
"""


def test_dvc_with_gcs_remote(run_criterion: Run) -> None:
    result = run_criterion(
        "dvc",
        {".dvc/config": DVC_CONFIG, ".dvc/.gitignore": "/tmp\n", "data.dvc": "outs:\n- path: data"},
    )
    assert result.status == Status.passed
    assert result.summary == (
        "DVC tracks data.dvc; default remote `storage` on Google Cloud Storage (gs)."
    )
    assert result.metrics["remotes"] == {"storage": "gs"}
    assert result.metrics["dvc_files"] == 1


def test_dvc_remote_kinds_and_pipeline(run_criterion: Run) -> None:
    config = (
        '[remote "backup"]\nurl = s3://bucket/path\n'
        "['remote \"here\"']\nurl = /mnt/storage\n"
        "['remote \"win\"']\nurl = C:\\data\\dvc\n"
    )
    result = run_criterion("dvc", {".dvc/config": config, "pipelines/dvc.yaml": "stages: {}\n"})
    assert result.status == Status.passed
    assert result.metrics["remotes"] == {"backup": "s3", "here": "local", "win": "local"}
    assert "remote `backup` on Amazon S3 (s3), `here` on a local folder" in result.summary
    assert "pipelines/dvc.yaml" in result.summary


def test_dvc_never_prints_the_remote_url_or_credentials(run_criterion: Run) -> None:
    config = (
        "['remote \"private\"']\n"
        "url = https://alice:hunter2-secret@dav.example.org/dvc\n"
        "password = hunter2-secret\n"
    )
    result = run_criterion("dvc", {".dvc/config": config, "data.dvc": "outs: []"})
    assert result.status == Status.passed
    assert "hunter2" not in result.model_dump_json()
    assert result.metrics["remotes"] == {"private": "https"}


def test_dvc_initialised_but_tracking_nothing(run_criterion: Run) -> None:
    result = run_criterion("dvc", {".dvc/config": ""})
    assert result.status == Status.warn
    assert result.summary == (
        "DVC is initialised but tracks nothing (no `*.dvc` file or dvc.yaml); no remote "
        "configured yet: add one with `dvc remote add -d storage gs://<bucket>`."
    )


def test_dvc_files_without_init(run_criterion: Run) -> None:
    result = run_criterion("dvc", {"data/raw.dvc": "outs: []", ".dvcignore": ""})
    assert result.status == Status.warn
    assert "no .dvc/ folder" in result.summary
    assert run_criterion("dvc", {}).summary == (
        "No DVC: no .dvc/ folder, no `*.dvc` files and no dvc.yaml."
    )


def test_dvc_broken_config_does_not_leak_the_line(run_criterion: Run) -> None:
    result = run_criterion(
        "dvc",
        {".dvc/config": "secret_access_key = AKIAEXAMPLE123\n[core]\n", "data.dvc": "outs: []"},
    )
    assert result.status == Status.passed
    [note] = result.annotations
    assert (note.path, note.start_line, note.level) == (".dvc/config", 1, Level.warning)
    assert "AKIAEXAMPLE" not in result.model_dump_json()
    result = run_criterion(
        "dvc", {".dvc/config": "[core]\nremote = x\nthis line is nonsense\n", "a.dvc": ""}
    )
    assert result.annotations[0].start_line == 3
    assert "nonsense" not in result.model_dump_json()


def test_dvc_binary_config_and_symlink_outside(
    run_criterion: Run, make_repo: Callable[[dict[str, str]], Path], tmp_path: Path
) -> None:
    result = run_criterion("dvc", {".dvc/config": b"\x00\xff\x00", "data.dvc": "outs: []"})
    assert result.status == Status.passed
    assert result.metrics["remotes"] == {}
    outside = tmp_path / "outside-config"
    outside.write_text("['remote \"s\"']\nurl = gs://leaked\n")
    root: Path = make_repo({"data.dvc": "outs: []", ".dvc/.gitignore": ""})
    os.symlink(outside, root / ".dvc" / "config")
    result = run_criterion("dvc", root)
    assert result.status == Status.passed
    assert result.metrics["remotes"] == {}
    assert "no remote configured yet" in result.summary
