"""What a judge reads: the relevant files of a snapshot, numbered, within a token budget.

The files a judge needs most come first (sources for code quality, tests for testing,
workflows and Dockerfiles for CI/CD), then the project files, until the budget is spent.
Every line sent carries its number in the file, so the model can point at it.

Never sent:
- a file holding a credential that `checks.criteria.secrets` detected — the whole file,
  not only the flagged lines: a scanner's line range can miss the line a value continues
  on, and the main check run already fails until the credential is gone. Its path is
  listed as withheld, so the model knows it exists;
- data, models, images and anything else but code and configuration (only the kinds of
  files below are read at all), binary files and files over the snapshot's read cap;
- committed environments, caches and run outputs (`checks.criteria.hygiene`), and
  symlinks (their target is read under its own name, where the secret scan looked);
- notebooks' outputs and markdown: only their code cells are sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from checks.criteria.hygiene import committed_junk
from checks.criteria.secrets import secret_findings
from checks.snapshot import THIRD_PARTY_DIRS, Snapshot

Reads = Literal["sources", "tests", "ci"]
# Token estimate used for every budget: ~4 characters per token for code and English.
CHARS_PER_TOKEN = 4
# One file may take at most this share of a judge's budget, so a huge generated module
# cannot crowd out everything else.
FILE_SHARE = 0.5
# Below this many characters left, another file would only show its first lines.
MIN_BLOCK = 400
# A line longer than this (minified, generated, embedded data) is cut.
LINE_LIMIT = 300
# Paths listed by name in the overview; the rest are counted.
LISTED_PATHS = 300

_TEST_DIRS = frozenset({"tests", "test"})
# Top-level folders of experiment configuration (Hydra's `configs/`, `conf/`).
_CONFIG_DIRS = frozenset({"configs", "config", "conf"})
_CI_NAME = re.compile(
    r"(?:dockerfile.*|.*\.dockerfile|(?:docker-)?compose.*\.ya?ml|cloudbuild.*\.ya?ml"
    r"|\.pre-commit-config\.ya?ml|\.dockerignore|makefile|tasks\.py)\Z"
)
_PROJECT_NAME = re.compile(
    r"(?:pyproject\.toml|setup\.cfg|setup\.py|tox\.ini|noxfile\.py|requirements.*\.txt)\Z"
)
# The order in which each judge reads the kinds of files.
READING_ORDER: dict[str, tuple[str, ...]] = {
    "sources": ("source", "notebook", "config", "project"),
    "tests": ("test", "project", "source"),
    "ci": ("ci", "project"),
}


@dataclass(frozen=True)
class SentFile:
    """A file as the model saw it: how many numbered lines, and whether it was cut short."""

    path: str
    lines: int
    # Notebooks are sent as their code cells, numbered on their own (not the file's lines).
    notebook: bool = False
    truncated: bool = False


@dataclass
class JudgeContext:
    """The user message for one judge, and what went into it."""

    text: str
    sent: dict[str, SentFile] = field(default_factory=dict)
    # Relevant files holding a detected credential: named, never shown.
    withheld: list[str] = field(default_factory=list)
    # Relevant files that did not fit in the budget.
    left_out: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return len(self.text) // CHARS_PER_TOKEN

    def digest(self) -> str:
        """A hash of exactly what is sent: the paths and contents the judge reads."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Catalog:
    """The snapshot's files by kind (one pass), and the ones that must never be sent."""

    kinds: dict[str, list[str]]
    secret_paths: frozenset[str]
    others: Counter[str]  # files of no kind we read, by top-level folder
    total: int


def kind_of(path: str) -> str | None:
    """Which kind of file a judge may read this as, or None for anything else."""
    folders, _, name = path.rpartition("/")
    lower = name.lower()
    parts = folders.split("/") if folders else []
    if path.startswith(".github/workflows/") and lower.endswith((".yml", ".yaml")):
        return "ci"
    if _CI_NAME.match(lower) or path == ".github/dependabot.yml":
        return "ci"
    if _PROJECT_NAME.match(lower):
        return "project"
    if lower.endswith(".py"):
        is_test = (
            _TEST_DIRS.intersection(parts)
            or lower.startswith("test_")
            or lower.endswith("_test.py")
            or lower == "conftest.py"
        )
        return "test" if is_test else "source"
    if lower.endswith(".ipynb"):
        return "notebook"
    if parts and parts[0] in _CONFIG_DIRS and lower.endswith((".yaml", ".yml")):
        return "config"
    return None


def catalog(snapshot: Snapshot, full: Snapshot | None = None) -> Catalog:
    """Classify `snapshot`'s files once; `full` (the unfiltered snapshot) is where the
    secret scan and the hygiene findings are shared with the main evaluation."""
    full = full or snapshot
    junk = committed_junk(full)
    skipped = tuple(f"{folder.path}/" for folder in junk.folders.values())
    junk_files = {path for path, _ in junk.files}
    secret_paths = frozenset(finding.path for finding in secret_findings(full))
    kinds: dict[str, list[str]] = {kind: [] for order in READING_ORDER.values() for kind in order}
    others: Counter[str] = Counter()
    for path in snapshot.paths:
        entry = snapshot.files[path]
        folders = path.split("/")[:-1]
        kind = kind_of(path)
        if (
            kind is None
            or entry.is_symlink
            or path in junk_files
            or path.startswith(skipped)
            or not THIRD_PARTY_DIRS.isdisjoint(folders)
        ):
            others[folders[0] + "/" if folders else "./"] += 1
            continue
        kinds[kind].append(path)
    # Sources in the package folder first: that is where the group's own code lives.
    kinds["source"].sort(key=lambda p: (not p.startswith("src/"), p.count("/"), p))
    kinds["ci"].sort(key=lambda p: (not p.startswith(".github/workflows/"), p))
    return Catalog(kinds, secret_paths, others, len(snapshot.paths))


def notebook_code(text: str) -> list[str] | None:
    """A notebook's code cells as lines, each cell headed by a marker; None if unreadable."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        return None
    lines: list[str] = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(part for part in source if isinstance(part, str))
        if not isinstance(source, str):
            continue
        lines.append(f"# %% cell {number}")
        lines.extend(source.split("\n"))
    return lines


def file_lines(text: str) -> list[str]:
    """Lines split on "\\n" only, as git, GitHub and the secret scan number them."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _block(path: str, lines: list[str], limit: int, notebook: bool) -> tuple[str, SentFile]:
    """The file as a numbered block of at most `limit` characters (whole lines)."""
    note = " (code cells only; numbered on their own)" if notebook else ""
    header = f"===== {path} ({len(lines)} line{'s' if len(lines) != 1 else ''}){note} =====\n"
    out = [header]
    used = len(header)
    shown = 0
    for number, line in enumerate(lines, 1):
        if len(line) > LINE_LIMIT:
            line = line[:LINE_LIMIT] + " …"
        numbered = f"{number:>4}| {line}\n"
        # Room for the "more lines" marker below.
        if used + len(numbered) > limit - 60:
            break
        out.append(numbered)
        used += len(numbered)
        shown = number
    if shown < len(lines):
        out.append(f"     … ({len(lines) - shown} more lines not shown)\n")
    return "".join(out) + "\n", SentFile(path, shown, notebook, shown < len(lines))


def _overview(cat: Catalog, limit: int) -> str:
    """The repository's layout: the files judges may read, and the rest counted by folder."""
    listed = sorted(p for paths in cat.kinds.values() for p in paths)
    held = cat.secret_paths
    out = [f"Repository layout ({cat.total} files; code and configuration listed):\n"]
    for path in listed[:LISTED_PATHS]:
        out.append(f"- {path}{' (not shown: holds a credential)' if path in held else ''}\n")
    if len(listed) > LISTED_PATHS:
        out.append(f"- … and {len(listed) - LISTED_PATHS} more\n")
    if cat.others:
        counted = ", ".join(f"{folder} {n}" for folder, n in sorted(cat.others.items()))
        out.append(f"Other files (data, docs, assets) by folder: {counted}\n")
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 2] + "…\n"


def build_context(
    snapshot: Snapshot, reads: Reads, budget_tokens: int, full: Snapshot | None = None
) -> JudgeContext:
    """The numbered files a judge of `reads` ("sources", "tests", "ci") is shown."""
    cat = snapshot.memo("review.catalog", lambda s: catalog(s, full))
    budget = budget_tokens * CHARS_PER_TOKEN
    order = [p for kind in READING_ORDER[reads] for p in cat.kinds[kind]]
    withheld = [p for p in order if p in cat.secret_paths]
    parts = [_overview(cat, budget // 8), "\n"]
    used = len(parts[0]) + 1
    context = JudgeContext(text="", withheld=withheld)
    for path in order:
        if path in cat.secret_paths:
            continue
        left = budget - used
        if left < MIN_BLOCK:
            context.left_out.append(path)
            continue
        text = snapshot.text(path)
        if text is None:
            continue
        notebook = path.lower().endswith(".ipynb")
        lines = notebook_code(text) if notebook else file_lines(text)
        if not lines:
            continue
        block, sent = _block(path, lines, min(left, int(budget * FILE_SHARE)), notebook)
        if sent.lines == 0:
            context.left_out.append(path)
            continue
        parts.append(block)
        used += len(block)
        context.sent[path] = sent
    context.text = "".join(parts)
    return context
