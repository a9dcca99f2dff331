"""`hygiene`: what should not be in git — caches, environments, `.env` files, data and models.

A snapshot is a commit's tarball, so every file in it was committed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from checks.models import Annotation, Level
from checks.registry import Context, Outcome, criterion, failed, passed
from checks.snapshot import THIRD_PARTY_DIRS, Snapshot, glob_regex

DVC_URL = "https://skaftenicki.github.io/dtu_mlops/s2_organisation_and_version_control/dvc/"
MB = 1024 * 1024

# Folders generated on a machine, never written by hand: name -> what it is.
_GENERATED_FOLDERS = {
    "__pycache__": "Python bytecode cache",
    ".pytest_cache": "pytest cache",
    ".mypy_cache": "mypy cache",
    ".ruff_cache": "ruff cache",
    ".ipynb_checkpoints": "Jupyter checkpoints folder",
    "lightning_logs": "Lightning logs folder",
    "mlruns": "MLflow runs folder",
}
# Installed third-party code (the snapshot's own list, so criteria agree on what is not the
# group's code). `env` is also a common name for a folder of settings, so it counts only
# when it holds `pyvenv.cfg`, like any folder holding that file.
_THIRD_PARTY_LABELS = {
    ".venv": "virtual environment",
    "venv": "virtual environment",
    "site-packages": "folder of installed Python packages",
    "__pypackages__": "folder of installed Python packages",
    "node_modules": "folder of installed Node packages",
    ".tox": "tox environments folder",
    ".nox": "nox environments folder",
    ".eggs": "folder of downloaded eggs",
}
# `.env.example` and friends are the good practice: placeholders committed instead of values.
_ENV_TEMPLATES = frozenset({"example", "sample", "template", "dist", "default", "defaults", "tpl"})

_MODEL = "model file"
_DATA = "data file"
_PICKLE = "pickled object (usually a model or data)"
_ARTIFACTS = {
    **dict.fromkeys((".pt", ".pth", ".ckpt", ".onnx", ".h5", ".hdf5", ".safetensors"), _MODEL),
    **dict.fromkeys((".parquet", ".npy", ".npz"), _DATA),
    **dict.fromkeys((".pkl", ".pickle", ".joblib"), _PICKLE),
}
_TABLES = frozenset({".csv", ".tsv"})
# What Git LFS commits in place of the file when the archive does not include LFS objects.
_LFS_POINTER = b"version https://git-lfs.github.com/spec/"


@dataclass
class JunkFolder:
    """A committed folder that should not be in git, with how many files it holds."""

    path: str
    label: str
    third_party: bool
    first_file: str
    files: int = 0


@dataclass
class Junk:
    """Everything committed that is generated, machine-specific or private."""

    folders: dict[str, JunkFolder] = field(default_factory=dict)
    files: list[tuple[str, str]] = field(default_factory=list)  # (path, what it is)
    # Paths that are none of the above, for the size and artifact checks.
    rest: list[str] = field(default_factory=list)

    @property
    def third_party_prefixes(self) -> tuple[str, ...]:
        """Folder prefixes ("venv/") of installed third-party code, for `str.startswith`."""
        return tuple(f"{f.path}/" for f in self.folders.values() if f.third_party)


def _marked_roots(paths: list[str]) -> dict[str, tuple[str, bool]]:
    """Folders recognised by what they contain: environments, W&B and Hydra run outputs."""
    roots: dict[str, tuple[str, bool]] = {}
    for path in paths:
        if path == "pyvenv.cfg" or path.endswith("/pyvenv.cfg"):
            roots[path.rpartition("/")[0]] = ("virtual environment", True)
        if "wandb/" in path:
            parts = path.split("/")
            for i, name in enumerate(parts[:-2]):
                if name == "wandb" and parts[i + 1].startswith(("run-", "offline-run-")):
                    roots["/".join(parts[: i + 1])] = ("W&B runs folder", False)
        if ".hydra/" in path:
            parts = path.split("/")
            if ".hydra" in parts[:-1]:
                at = parts.index(".hydra")
                # Hydra writes outputs/<date>/<time>/.hydra: report `outputs/` once.
                top = next((i for i in range(at) if parts[i] in ("outputs", "multirun")), at)
                roots["/".join(parts[: top + 1])] = ("Hydra outputs folder", False)
    roots.pop("", None)  # a snapshot that is itself an environment is not "committed" junk
    return roots


def _junk_folder(path: str, roots: dict[str, tuple[str, bool]]) -> tuple[str, str, bool] | None:
    """The outermost junk folder holding `path`: (folder, what it is, third-party?)."""
    if "/" not in path:
        return None
    prefix = ""
    for name in path.split("/")[:-1]:
        prefix = f"{prefix}/{name}" if prefix else name
        if prefix in roots:
            label, third_party = roots[prefix]
            return prefix, label, third_party
        if name in THIRD_PARTY_DIRS:
            return prefix, _THIRD_PARTY_LABELS.get(name, "folder of third-party code"), True
        if name in _GENERATED_FOLDERS:
            return prefix, _GENERATED_FOLDERS[name], False
        if name.endswith(".egg-info"):
            return prefix, "packaging metadata folder", False
    return None


def _junk_file(name: str) -> str | None:
    if name == ".DS_Store":
        return "macOS Finder metadata"
    if name.endswith((".pyc", ".pyo")):
        return "compiled Python bytecode"
    if name == ".env" or (name.startswith(".env.") and name[5:].lower() not in _ENV_TEMPLATES):
        return "environment file"
    return None


def _find_junk(snapshot: Snapshot) -> Junk:
    paths = snapshot.paths
    roots = _marked_roots(paths)
    junk = Junk()
    for path in paths:
        found = _junk_folder(path, roots)
        if found is not None:
            folder, label, third_party = found
            entry = junk.folders.get(folder)
            if entry is None:
                entry = junk.folders[folder] = JunkFolder(folder, label, third_party, path)
            entry.files += 1
        elif (label := _junk_file(path.rpartition("/")[2])) is not None:
            junk.files.append((path, label))
        else:
            junk.rest.append(path)
    return junk


def committed_junk(snapshot: Snapshot) -> Junk:
    """Committed caches, environments and private files, found in one pass and shared."""
    return snapshot.memo("hygiene.junk", _find_junk)


def _lfs_patterns(snapshot: Snapshot) -> re.Pattern[str] | None:
    """The root `.gitattributes` patterns stored with Git LFS (`filter=lfs`)."""
    parts = []
    for line in snapshot.lines(".gitattributes"):
        fields = line.split()
        if len(fields) < 2 or fields[0].startswith("#") or "filter=lfs" not in fields[1:]:
            continue
        pattern = fields[0]
        anchored = "/" in pattern.rstrip("/")
        regex = glob_regex(pattern.strip("/"))
        parts.append(regex if anchored else f"(?:.*/)?{regex}")
    return re.compile(r"(?:" + "|".join(parts) + r")(?:/.*)?\Z", re.S) if parts else None


def _size(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB / 10 else f"{size / 1024:.0f} KB"


@dataclass
class _Finding:
    path: str  # where the annotation goes
    name: str  # how the summary names it
    listing: str  # its line in the details
    title: str
    message: str


def _examples(found: list[_Finding], limit: int = 3) -> str:
    names = ", ".join(f.name for f in found[:limit])
    return names + (", …" if len(found) > limit else "")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _folder_finding(folder: JunkFolder) -> _Finding:
    name = folder.path.rpartition("/")[2]
    ignore = "*.egg-info" if name.endswith(".egg-info") else name
    recreate = " Everyone recreates it from the dependency files (`pip install -e .`)."
    return _Finding(
        folder.first_file,
        f"{folder.path}/",
        f"{folder.path}/ ({folder.label}, {_plural(folder.files, 'file')})",
        f"Committed {folder.label}: {folder.path}/",
        f"`{folder.path}/` is a {folder.label} ({_plural(folder.files, 'file')}, this one "
        "among them). Tools write it on one machine; it does not belong in git. Remove it "
        f"with `git rm -r --cached {folder.path}` and add `{ignore}/` to .gitignore."
        + (recreate if folder.third_party else ""),
    )


def _file_finding(path: str, label: str) -> _Finding:
    name = path.rpartition("/")[2]
    ignore = "*.pyc" if name.endswith((".pyc", ".pyo")) else name
    article = "an" if label[0] in "aeiou" else "a"
    env = (
        " Commit a `.env.example` with placeholder values instead, and if the file held a "
        "real key or password, revoke it: it stays in the git history."
    )
    return _Finding(
        path,
        path,
        path,
        f"Committed {label}: {path}",
        f"`{path}` is {article} {label}; it does not belong in git. Stop tracking it with "
        f"`git rm --cached {path}` and add `{ignore}` to .gitignore."
        + (env if label == "environment file" else ""),
    )


def _heavy_files(
    snapshot: Snapshot, paths: list[str], max_file: float, max_table: float
) -> tuple[list[_Finding], list[_Finding], int]:
    """Model and data files, and other files over the size limit, except Git LFS ones."""
    lfs = _lfs_patterns(snapshot) if snapshot.is_file(".gitattributes") else None
    artifacts: list[_Finding] = []
    large: list[_Finding] = []
    in_lfs = 0
    for path in paths:
        size = snapshot.files[path].size
        name = path.rpartition("/")[2]
        suffix = name[name.rfind(".") :].lower() if "." in name else ""
        kind = _ARTIFACTS.get(suffix) or (_DATA if suffix in _TABLES and size > max_table else None)
        if kind is None and size <= max_file:
            continue
        if (lfs is not None and lfs.match(path)) or (
            size < 1024 and snapshot.raw(path, len(_LFS_POINTER)) == _LFS_POINTER
        ):
            in_lfs += 1
            continue
        dvc = f"`git rm --cached {path}`, then `dvc add {path}` and `dvc push` (M8: {DVC_URL})"
        if kind is not None:
            artifacts.append(
                _Finding(
                    path,
                    path,
                    f"{path} ({_size(size)})",
                    f"{kind.split(' (')[0].capitalize()} committed to git: {path} ({_size(size)})",
                    f"`{path}` ({_size(size)}) is a {kind} committed to git. Git keeps every "
                    "version forever, so the repository grows with each new one. Version it "
                    f"with DVC instead: {dvc}.",
                )
            )
        else:
            large.append(
                _Finding(
                    path,
                    path,
                    f"{path} ({_size(size)})",
                    f"Large file committed: {path} ({_size(size)})",
                    f"`{path}` is {_size(size)}; git keeps every version of it forever, so "
                    "every clone downloads all of them. If it is data or a model, version it "
                    f"with DVC: {dvc}. Otherwise consider Git LFS.",
                )
            )
    return artifacts, large, in_lfs


@criterion(
    "hygiene",
    title="Repository hygiene",
    module="M5",
    fix=f"""
    Add a `.gitignore` at the root (the course template's one already covers caches,
    virtual environments and `.env`). For everything listed, stop tracking it with
    `git rm -r --cached <path>`, add it to `.gitignore`, and commit. Keep datasets and model
    files out of git with DVC (`dvc add data/`, then `dvc push`): {DVC_URL}
    """,
    thresholds={"max_file_mb": 5, "max_csv_mb": 1, "max_annotations": 50},
)
def hygiene(snapshot: Snapshot, context: Context) -> Outcome:
    """Keeps the repository to source code and small text files.

    Looks for a `.gitignore` at the root and for what should never be committed: caches
    (`__pycache__/`, `*.pyc`, `.pytest_cache/`, `.ruff_cache/`, `.mypy_cache/`,
    `.ipynb_checkpoints/`), virtual environments and installed packages, `*.egg-info/`,
    `.DS_Store`, `.env` files, experiment logs (W&B, Hydra, Lightning, MLflow), files over a
    few megabytes, and model or data files (`*.pt`, `*.ckpt`, `*.onnx`, `*.pkl`, `*.npy`,
    `*.parquet`, large CSVs…). Git keeps every version of every file forever, so these make
    the repository slow to clone, leak private settings, and break on other machines. Data
    and models belong in DVC (module M8). Files stored with Git LFS are accepted.
    """
    max_file = context.thresholds["max_file_mb"] * MB
    max_table = context.thresholds["max_csv_mb"] * MB
    cap = int(context.thresholds["max_annotations"])
    junk = committed_junk(snapshot)
    folders = [_folder_finding(f) for f in junk.folders.values()]
    files = [_file_finding(path, label) for path, label in junk.files]
    artifacts, large, in_lfs = _heavy_files(snapshot, junk.rest, max_file, max_table)

    has_gitignore = snapshot.is_file(".gitignore")
    metrics = {
        "gitignore": has_gitignore,
        "junk_folders": len(folders),
        "junk_folder_files": sum(f.files for f in junk.folders.values()),
        "junk_files": len(files),
        "artifacts": len(artifacts),
        "large_files": len(large),
        "lfs_files": in_lfs,
    }
    if not (folders or files or artifacts or large) and has_gitignore:
        lfs_note = f" ({_plural(in_lfs, 'file')} stored with Git LFS)" if in_lfs else ""
        return passed(
            "A .gitignore at the root, and no caches, environments, private files, large "
            f"files or model/data files committed{lfs_note}.",
            metrics=metrics,
        )

    groups = [
        (folders, "folder", "folders", "that should not be committed"),
        (files, "file", "files", "that should not be committed"),
        (artifacts, "model/data file", "model/data files", "to move to DVC"),
        (large, "file", "files", f"over {_size(int(max_file))}"),
    ]
    found = [
        f"{len(items):,} {one if len(items) == 1 else many} {what} ({_examples(items)})"
        for items, one, many, what in groups
        if items
    ]
    summary = "Found " + "; ".join(found) + "." if found else "Nothing committed by mistake."
    if not has_gitignore:
        summary += " There is no .gitignore at the root."
    annotations = [
        Annotation(path=f.path, level=Level.warning, title=f.title, message=f.message)
        for items, *_ in groups
        for f in items[:cap]
    ]
    details = []
    if not has_gitignore:
        details.append(
            "**No `.gitignore` at the root.** Without it, `git add .` commits caches, "
            "environments and secrets files."
        )
    for items, _, many, what in groups:
        if items:
            listing = [f"- `{f.listing}`" for f in items[:100]]
            if len(items) > 100:
                listing.append(f"- … and {len(items) - 100:,} more")
            details.append(
                f"**{many.capitalize()} {what}** ({len(items):,}):\n" + "\n".join(listing)
            )
    return failed(summary, details="\n\n".join(details), metrics=metrics, annotations=annotations)
