"""`dockerfile`: unpinned `python` base images pinned, `--no-cache-dir` added to pip."""

from __future__ import annotations

import re

from checks.criteria.containers import dockerfile_findings, dockerfiles
from checks.fixes.registry import Proposal, Results, fix, utf8_text
from checks.fixes.workflow import python_version
from checks.parsing import split_lines
from checks.snapshot import Snapshot

_FROM = re.compile(r"\A(\s*FROM\s+(?:--\S+\s+)*)(\S+)", re.IGNORECASE)
_PIP_INSTALL = re.compile(r"(?<![\w.-])(?:pip[\d.]*|python[\d.]*\s+-m\s+pip)\s+install\b")
# Commands end at shell separators and at line ends that are not continued.
_SEPARATOR = re.compile(r"&&|\|\||[;|]|(?<!\\)(?<!\\\r)\n")
_HAS_NO_CACHE = re.compile(r"--no-cache-dir|PIP_NO_CACHE_DIR|\buv\s+pip\b")


def _pinned(image: str, tag: str) -> str | None:
    """`python` / `python:latest` (with any registry prefix) at `tag`; None for others."""
    name, _, current = image.rpartition("/")[2].partition(":")
    if name != "python" or current not in ("", "latest") or "$" in image or "@" in image:
        return None
    base = image.removesuffix(f":{current}") if current else image
    return f"{base}:{tag}"


def _no_cache(region: str) -> str:
    """Every `pip install` command of a RUN region with `--no-cache-dir` added."""
    inserts = []
    start = 0
    for end in [m.start() for m in _SEPARATOR.finditer(region)] + [len(region)]:
        command = region[start:end]
        if not _HAS_NO_CACHE.search(command):
            inserts += [start + m.end() for m in _PIP_INSTALL.finditer(command)]
        start = end
    for at in reversed(inserts):
        region = region[:at] + " --no-cache-dir" + region[at:]
    return region


def fixed_dockerfile(text: str, path: str, tag: str) -> tuple[str, list[str], list[str]]:
    """The Dockerfile with what can be fixed fixed, what changed, and what is left."""
    # Numbered as `dockerfile_findings` numbers them, or a fix lands on the wrong line.
    lines = split_lines(text, keepends=True)
    changed, left = [], []
    for finding in reversed(dockerfile_findings(path, text)):
        first = finding.start - 1
        if finding.kind == "unpinned_base":
            match = _FROM.match(lines[first])
            pinned = _pinned(match.group(2), tag) if match else None
            if match is None or pinned is None:
                left.append(f"`{path}` line {finding.start}: {finding.title.lower()}")
                continue
            lines[first] = match.group(1) + pinned + lines[first][match.end() :]
            changed.append(f"`{path}` line {finding.start}: `{match.group(2)}` → `{pinned}`")
        elif finding.kind == "pip_cache":
            region = "".join(lines[first : finding.end])
            updated = _no_cache(region)
            if updated == region:
                left.append(f"`{path}` line {finding.start}: {finding.title}")
                continue
            lines[first : finding.end] = split_lines(updated, keepends=True)
            changed.append(f"`{path}` line {finding.start}: `pip install --no-cache-dir`")
        else:
            left.append(f"`{path}` line {finding.start}: {finding.title.lower()}")
    return "".join(lines), changed[::-1], left[::-1]


@fix(
    "dockerfile",
    label="Fix Dockerfiles",
    description="Pin python images, pip no-cache",
    title="Pin the Python base images and install with pip --no-cache-dir",
    criteria=("dockerfile-lint",),
    rank=40,
)
def dockerfile(snapshot: Snapshot, results: Results) -> Proposal | None:
    """Only the lines the Dockerfile check marks, and only what has one right answer."""
    tag = f"{python_version(snapshot)}-slim"
    changes: dict[str, str] = {}
    changed: list[str] = []
    left: list[str] = []
    for path in dockerfiles(snapshot):
        text = utf8_text(snapshot, path)
        if text is None:
            continue
        new, done, remaining = fixed_dockerfile(text, path, tag)
        left += remaining
        if new != text:
            changes[path] = new
            changed += done
    if not changes:
        return None
    explanation = (
        "Changes only the lines the Dockerfile check marked:\n\n"
        + "\n".join(f"- {line}" for line in changed)
        + f"\n\nThe base image is pinned to `python:{tag}`: Python {tag.split('-')[0]} (the "
        "course's version, or the newer minimum in `requires-python`) on the slim Debian "
        "image, so the same Dockerfile builds the same image next month. Slim images have "
        "no compiler: if a package must be built from source, use `python:"
        f"{tag.split('-')[0]}` instead. `--no-cache-dir` keeps pip's download cache out of "
        "the image layer."
    )
    if left:
        explanation += "\n\nLeft for you (no single right answer):\n\n" + "\n".join(
            f"- {line}" for line in left
        )
    return Proposal(changes, explanation)
