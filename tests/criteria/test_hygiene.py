"""`hygiene`: caches, environments, private files, data and models that were committed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from checks import CriterionResult, Level, Status

GITIGNORE = {".gitignore": "__pycache__/\n.venv/\n.env\n"}
SOURCE = {"src/leafs/__init__.py": "", "src/leafs/train.py": "print('training')\n"}
LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 12345\n"
)


def test_a_clean_repository_passes(run_criterion: Callable[..., CriterionResult]):
    result = run_criterion(
        "hygiene",
        {
            **GITIGNORE,
            **SOURCE,
            ".env.example": "WANDB_API_KEY=\n",
            "data/labels.csv": "a,b\n1,2\n",
        },
    )
    assert result.status == Status.passed
    assert result.summary.startswith("A .gitignore at the root, and no caches, environments")
    assert result.annotations == []
    assert result.metrics["gitignore"] is True


def test_an_empty_repository_needs_a_gitignore(run_criterion: Callable[..., CriterionResult]):
    result = run_criterion("hygiene", {})
    assert result.status == Status.warn
    assert result.summary == ("Nothing committed by mistake. There is no .gitignore at the root.")
    assert result.annotations == []
    assert "**No `.gitignore` at the root.**" in result.details
    assert "git rm -r --cached" in result.fix


def test_each_junk_folder_gets_one_annotation_on_its_first_file(
    run_criterion: Callable[..., CriterionResult],
):
    result = run_criterion(
        "hygiene",
        {
            **GITIGNORE,
            **SOURCE,
            "src/leafs/__pycache__/train.cpython-311.pyc": b"\x00\x01",
            "src/leafs/__pycache__/data.cpython-311.pyc": b"\x00\x01",
            "tests/__pycache__/test_data.cpython-311.pyc": b"\x00\x01",
            ".pytest_cache/v/cache/lastfailed": "{}",
            "notebooks/.ipynb_checkpoints/explore-checkpoint.ipynb": "{}",
        },
    )
    assert result.status == Status.warn
    assert result.metrics["junk_folders"] == 4
    assert result.metrics["junk_folder_files"] == 5
    notes = {a.path: a for a in result.annotations}
    assert sorted(notes) == [
        ".pytest_cache/v/cache/lastfailed",
        "notebooks/.ipynb_checkpoints/explore-checkpoint.ipynb",
        "src/leafs/__pycache__/data.cpython-311.pyc",
        "tests/__pycache__/test_data.cpython-311.pyc",
    ]
    cache = notes["src/leafs/__pycache__/data.cpython-311.pyc"]
    assert (cache.start_line, cache.level) == (1, Level.warning)
    assert cache.title == "Committed Python bytecode cache: src/leafs/__pycache__/"
    assert "(2 files, this one among them)" in cache.message
    assert "`git rm -r --cached src/leafs/__pycache__`" in cache.message
    assert "add `__pycache__/` to .gitignore" in cache.message
    assert result.summary == (
        "Found 4 folders that should not be committed (.pytest_cache/, "
        "notebooks/.ipynb_checkpoints/, src/leafs/__pycache__/, …)."
    )
    assert "- `src/leafs/__pycache__/ (Python bytecode cache, 2 files)`" in result.details


def test_virtual_environments_are_reported_once_at_their_top(
    run_criterion: Callable[..., CriterionResult],
):
    files = {
        **GITIGNORE,
        ".venv/lib/python3.11/site-packages/torch/__init__.py": "",
        ".venv/lib/python3.11/site-packages/torch/__pycache__/x.pyc": b"\x00",
        ".venv/bin/activate": "",
        "env/pyvenv.cfg": "home = /usr/bin\n",
        "env/lib/python3.11/site-packages/six.py": "",
        "vendor/lib/site-packages/numpy/__init__.py": "",
        "leafs.egg-info/PKG-INFO": "Name: leafs\n",
        ".tox/py311/lib/python3.11/site-packages/pytest.py": "",
        # A folder of settings named `env` is not an environment without `pyvenv.cfg`.
        "deploy/env/production.yaml": "replicas: 2\n",
    }
    result = run_criterion("hygiene", files)
    titles = sorted(a.title for a in result.annotations)
    assert titles == [
        "Committed folder of installed Python packages: vendor/lib/site-packages/",
        "Committed packaging metadata folder: leafs.egg-info/",
        "Committed tox environments folder: .tox/",
        "Committed virtual environment: .venv/",
        "Committed virtual environment: env/",
    ]
    venv = next(a for a in result.annotations if a.title.endswith(".venv/"))
    assert "(3 files, this one among them)" in venv.message
    assert "`pip install -e .`" in venv.message


def test_private_and_os_files_are_reported_but_env_templates_are_fine(
    run_criterion: Callable[..., CriterionResult],
):
    result = run_criterion(
        "hygiene",
        {
            **GITIGNORE,
            ".env": "WANDB_API_KEY=\n",
            "deploy/.env.production": "DEBUG=0\n",
            ".env.example": "WANDB_API_KEY=\n",
            ".env.template": "WANDB_API_KEY=\n",
            "data/.DS_Store": b"\x00\x00\x00\x01Bud1",
            "src/stray.pyc": b"\x00",
        },
    )
    notes = {a.path: a for a in result.annotations}
    assert sorted(notes) == [".env", "data/.DS_Store", "deploy/.env.production", "src/stray.pyc"]
    assert notes[".env"].title == "Committed environment file: .env"
    assert ".env.example" in notes[".env"].message
    assert "revoke it" in notes[".env"].message
    assert "add `*.pyc` to .gitignore" in notes["src/stray.pyc"].message
    assert result.metrics["junk_files"] == 4


def test_experiment_logs_are_junk_folders(run_criterion: Callable[..., CriterionResult]):
    result = run_criterion(
        "hygiene",
        {
            **GITIGNORE,
            "outputs/2025-01-10/10-31-00/.hydra/config.yaml": "lr: 0.1\n",
            "outputs/2025-01-10/10-31-00/train.log": "loss 0.3\n",
            "outputs/2025-01-11/09-00-00/.hydra/config.yaml": "lr: 0.2\n",
            "wandb/run-20250110_103100-abc123/files/config.yaml": "lr: 0.1\n",
            "wandb/debug.log": "",
            "lightning_logs/version_0/hparams.yaml": "lr: 0.1\n",
            # A package of the group's own that happens to be called `outputs`.
            "src/leafs/outputs/__init__.py": "",
        },
    )
    titles = sorted(a.title for a in result.annotations)
    assert titles == [
        "Committed Hydra outputs folder: outputs/",
        "Committed Lightning logs folder: lightning_logs/",
        "Committed W&B runs folder: wandb/",
    ]
    assert result.metrics["junk_folder_files"] == 6


def test_models_and_data_files_point_to_dvc(run_criterion: Callable[..., CriterionResult]):
    result = run_criterion(
        "hygiene",
        {
            **GITIGNORE,
            "models/model.pt": b"\x80\x02" + b"\x00" * 3000,
            "data/processed/train.npy": b"\x93NUMPY" + b"\x00" * 100,
            "data/raw/leaves.csv": "a,b\n" * 400,  # 1.6 KB
            "data/raw/small.csv": "a,b\n1,2\n",
        },
        thresholds={"max_csv_mb": 0.001},
    )
    notes = {a.path: a for a in result.annotations}
    assert sorted(notes) == ["data/processed/train.npy", "data/raw/leaves.csv", "models/model.pt"]
    model = notes["models/model.pt"]
    assert model.title == "Model file committed to git: models/model.pt (3 KB)"
    assert "`dvc add models/model.pt`" in model.message
    assert (
        "https://skaftenicki.github.io/dtu_mlops/s2_organisation_and_version_control/dvc/"
        in model.message
    )
    assert notes["data/raw/leaves.csv"].title.startswith("Data file committed to git")
    assert result.metrics["artifacts"] == 3
    assert "3 model/data files to move to DVC" in result.summary


def test_large_files_are_reported_over_the_threshold(
    run_criterion: Callable[..., CriterionResult],
):
    files = {**GITIGNORE, "docs/video.mov": b"\x00" * (6 * 1024 * 1024), "docs/small.mov": b"\0"}
    result = run_criterion("hygiene", files)
    [note] = result.annotations
    assert note.path == "docs/video.mov"
    assert note.title == "Large file committed: docs/video.mov (6.0 MB)"
    assert "Git LFS" in note.message
    assert result.summary == "Found 1 file over 5.0 MB (docs/video.mov)."

    assert run_criterion("hygiene", files, thresholds={"max_file_mb": 10}).status == Status.passed


def test_files_stored_with_git_lfs_are_accepted(run_criterion: Callable[..., CriterionResult]):
    result = run_criterion(
        "hygiene",
        {
            **GITIGNORE,
            ".gitattributes": "# models\n*.ckpt filter=lfs diff=lfs merge=lfs -text\n"
            "data/** filter=lfs diff=lfs merge=lfs -text\n",
            "models/best.ckpt": b"\x00" * 2048,  # archives may include LFS objects
            "data/train.parquet": b"PAR1" + b"\x00" * 2048,
            "models/final.pt": LFS_POINTER,  # or only the pointer
            "src/leafs/model.onnx": b"\x08\x07" * 1000,
        },
    )
    assert [a.path for a in result.annotations] == ["src/leafs/model.onnx"]
    assert result.metrics["lfs_files"] == 3


def test_annotations_are_capped_per_kind_but_all_are_counted(
    run_criterion: Callable[..., CriterionResult],
):
    files: dict[str, str | bytes] = {**GITIGNORE}
    files.update({f"src/pkg{i}/__pycache__/m.cpython-311.pyc": b"\x00" for i in range(60)})
    files.update({f"models/epoch{i}.ckpt": b"\x00" for i in range(3)})
    result = run_criterion("hygiene", files)
    assert len(result.annotations) == 50 + 3
    assert result.metrics["junk_folders"] == 60
    assert result.summary.startswith("Found 60 folders that should not be committed")
    assert "- … and" not in result.details  # 60 fit in the details listing
    assert result.details.count("src/pkg") == 60

    capped = run_criterion("hygiene", files, thresholds={"max_annotations": 5})
    assert len(capped.annotations) == 5 + 3


def test_unreadable_gitattributes_and_outside_symlinks_do_not_break_it(
    make_repo: Callable[..., Path], tmp_path: Path, run_criterion: Callable[..., CriterionResult]
):
    outside = tmp_path / "secret.env"
    outside.write_text("TOKEN=1\n")
    root = make_repo(
        {**GITIGNORE, ".gitattributes": b"\xff\xfe*.pt\x00 filter=lfs\n", "model.pt": b"\x00"}
    )
    os.symlink(outside, root / ".env")
    result = run_criterion("hygiene", root)
    assert [a.path for a in result.annotations] == ["model.pt"]
