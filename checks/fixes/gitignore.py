"""`gitignore`: the `.gitignore` entries a course repository needs, appended when missing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from checks.criteria.hygiene import committed_junk
from checks.fixes.registry import Proposal, Results, appended, fix, utf8_text
from checks.snapshot import Snapshot

GITIGNORE = ".gitignore"
HEADER = "# Added by mlops-mentor: caches, environments, secrets and data stay out of git"


@dataclass(frozen=True)
class Entry:
    """A line to have in `.gitignore`, and a path it must ignore (how coverage is tested)."""

    pattern: str
    sample: str
    is_dir: bool


# What every course repository should ignore: caches, environments, secrets.
STANDARD = (
    Entry("__pycache__/", "src/__pycache__", True),
    Entry("*.py[cod]", "src/module.pyc", False),
    Entry("*.egg-info/", "src/project.egg-info", True),
    Entry(".pytest_cache/", ".pytest_cache", True),
    Entry(".ruff_cache/", ".ruff_cache", True),
    Entry(".mypy_cache/", ".mypy_cache", True),
    Entry(".ipynb_checkpoints/", "notebooks/.ipynb_checkpoints", True),
    Entry(".coverage", ".coverage", False),
    Entry(".venv/", ".venv", True),
    Entry("venv/", "venv", True),
    Entry(".env", ".env", False),
    Entry(".DS_Store", ".DS_Store", False),
)
# Data and models live in DVC or the cloud; anchored at the root, so that a package named
# `data` or `models` inside `src/` stays tracked.
DATA = (Entry("/data/", "data", True), Entry("/models/", "models", True))


def _glob(pattern: str) -> str:
    """A gitignore glob as a regex: `*` and `?` within a name, `**` across, `[...]` sets."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def ignored(lines: list[str], path: str, is_dir: bool) -> bool:
    """Whether git would ignore `path` under these `.gitignore` lines (last match wins)."""
    parts = path.split("/")
    # The path and each folder above it, outermost first: an ignored folder hides its files.
    for i in range(len(parts)):
        candidate = "/".join(parts[: i + 1])
        candidate_is_dir = i < len(parts) - 1 or is_dir
        state = False
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = line[1:] if negate else line
            dir_only = pattern.endswith("/")
            pattern = pattern.rstrip("/")
            anchored = "/" in pattern
            pattern = pattern.lstrip("/")
            if not pattern or (dir_only and not candidate_is_dir):
                continue
            target = candidate if anchored else candidate.rsplit("/", 1)[-1]
            if re.fullmatch(_glob(pattern), target, re.S):
                state = not negate
        if state:
            return True
    return False


def _found_entries(snapshot: Snapshot) -> list[Entry]:
    """Entries for what the hygiene check found committed, named as its annotations say."""
    junk = committed_junk(snapshot)
    entries = []
    for folder in junk.folders.values():
        name = folder.path.rpartition("/")[2]
        pattern = "*.egg-info/" if name.endswith(".egg-info") else f"{name}/"
        entries.append(Entry(pattern, folder.path, True))
    for path, _label in junk.files:
        name = path.rpartition("/")[2]
        pattern = "*.py[cod]" if name.endswith((".pyc", ".pyo")) else name
        entries.append(Entry(pattern, path, False))
    return entries


def _data_entries(snapshot: Snapshot) -> list[Entry]:
    """`/data/` and `/models/`, unless the group keeps files of its own there in git (then
    ignoring the folder would hide their next ones)."""
    junk = committed_junk(snapshot)
    kept = set(junk.rest)
    wanted = []
    for entry in DATA:
        tracked = [p for p in snapshot.under(entry.sample) if p in kept]
        heavy = [p for p in tracked if p.rsplit(".", 1)[-1].lower() in _DATA_SUFFIXES]
        if len(heavy) == len(tracked):
            wanted.append(entry)
    return wanted


_DATA_SUFFIXES = frozenset(
    {"csv", "tsv", "parquet", "npy", "npz", "pt", "pth", "ckpt", "onnx", "h5", "hdf5"}
    | {"safetensors", "pkl", "pickle", "joblib", "zip", "gz", "tar", "png", "jpg", "jpeg"}
)


@fix(
    "gitignore",
    label="Fix .gitignore",
    description="Ignore caches, envs, .env and data",
    title="Ignore caches, environments, secrets and data in .gitignore",
    criteria=("hygiene",),
    rank=10,
)
def gitignore(snapshot: Snapshot, results: Results) -> Proposal | None:
    """The missing lines appended to `.gitignore` (or a new one), the rest left as it is."""
    exists = GITIGNORE in snapshot.files
    text = utf8_text(snapshot, GITIGNORE) if exists else ""
    if text is None:
        return None  # a symlink, binary or not UTF-8: not ours to rewrite
    lines = text.splitlines()
    missing: list[str] = []
    for entry in [*STANDARD, *_found_entries(snapshot), *_data_entries(snapshot)]:
        if entry.pattern not in missing and not ignored(
            [*lines, *missing], entry.sample, entry.is_dir
        ):
            missing.append(entry.pattern)
    if not missing:
        return None
    junk = committed_junk(snapshot)
    tracked = [f"{f.path}/" for f in junk.folders.values()] + [p for p, _ in junk.files]
    untrack = ""
    if tracked:
        listed = " ".join(tracked[:20]) + (" …" if len(tracked) > 20 else "")
        untrack = (
            "\n\nIgnoring does not remove what is already committed. After merging, stop "
            f"tracking it (the files stay on your disk):\n\n```\ngit rm -r --cached {listed}\n"
            'git commit -m "Stop tracking generated files"\n```\n\nIf a committed `.env` '
            "held a real key or password, revoke it: it stays in the git history."
        )
    verb = "Adds these lines to" if exists else "Creates"
    added = "\n".join(f"    {line}" for line in missing)
    explanation = (
        f"{verb} `.gitignore`{' with' if not exists else ''}:\n\n{added}\n\n"
        "so that `git add .` no longer commits caches, virtual environments, `.env` files "
        "or data. The existing lines are kept as they are. Data and models belong in DVC "
        f"(`dvc add data/`), which keeps `/data/` out of git the same way.{untrack}"
    )
    return Proposal({GITIGNORE: appended(text, [HEADER, *missing])}, explanation)
