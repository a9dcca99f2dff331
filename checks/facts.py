"""Facts about a snapshot that several criteria share, each computed once per snapshot."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from checks.snapshot import Snapshot

# Top-level import statements, read as text: parsing every file with ast only to list its
# imports would cost as much as a whole ruff run on a large repository. A line is found by
# the "\n" before it (the text gets one in front): `re` skips to a literal, where `^` made
# it try every character (a quarter slower).
_IMPORT = re.compile(
    r"\n[ \t]*(?:from[ \t]+([A-Za-z_][\w.]*)[ \t]+import\b|import[ \t]+([A-Za-z_][\w., \t]*))"
)
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Place:
    """Where something was found: a file and a 1-based line."""

    path: str
    line: int


def _imports(snapshot: Snapshot) -> dict[str, list[Place]]:
    found: dict[str, list[Place]] = defaultdict(list)
    for path in snapshot.python_files:
        text = snapshot.text(path)
        if not text or "import" not in text:
            continue
        text = "\n" + text
        line, counted = 1, 0
        for match in _IMPORT.finditer(text):
            line += text.count("\n", counted, match.start())
            counted = match.start()
            names = [match.group(1)] if match.group(1) else match.group(2).split(",")
            for name in names:
                module = name.strip().split(" ")[0]
                if module:
                    found[module.split(".")[0]].append(Place(path, line))
    return dict(found)


def imports(snapshot: Snapshot) -> dict[str, list[Place]]:
    """Top-level package name → where it is imported, over every Python file."""
    return snapshot.memo("imports", _imports)


def imported(snapshot: Snapshot, *packages: str) -> list[Place]:
    """Where any of `packages` (top-level names, e.g. "fastapi") is imported."""
    table = imports(snapshot)
    return [place for package in packages for place in table.get(package, [])]


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


_REQUIREMENTS_NAME = re.compile(r"requirements[\w.-]*\.(?:txt|in)")


def _requirement_files(snapshot: Snapshot) -> list[str]:
    # The literal test first: of 10,000 paths a handful hold the word.
    return [
        p
        for p in snapshot.paths
        if "requirements" in p and _REQUIREMENTS_NAME.fullmatch(p, p.rfind("/") + 1)
    ]


def requirement_files(snapshot: Snapshot) -> list[str]:
    """`requirements*.txt` and `requirements*.in` files, at any depth."""
    return snapshot.memo("requirement_files", _requirement_files)


def _table(value: object) -> dict:
    # A student's pyproject may hold anything under a key; only tables are read.
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> list[str]:
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


def _declared(snapshot: Snapshot) -> dict[str, str]:
    declared: dict[str, str] = {}
    project = _table(snapshot.pyproject.get("project"))
    specs = _strings(project.get("dependencies"))
    for extra in _table(project.get("optional-dependencies")).values():
        specs.extend(_strings(extra))
    for group in _table(snapshot.pyproject.get("dependency-groups")).values():
        specs.extend(_strings(group))
    for spec in specs:
        if m := _REQUIREMENT_NAME.match(spec):
            declared.setdefault(normalise(m.group(1)), "pyproject.toml")
    poetry = _table(_table(snapshot.pyproject.get("tool")).get("poetry"))
    for key in ("dependencies", "dev-dependencies"):
        for name in _table(poetry.get(key)):
            declared.setdefault(normalise(name), "pyproject.toml")
    for path in requirement_files(snapshot):
        for raw in snapshot.lines(path):
            line = raw.split("#", 1)[0].strip()
            if line and not line.startswith("-") and (m := _REQUIREMENT_NAME.match(line)):
                declared.setdefault(normalise(m.group(1)), path)
    return declared


def declared_dependencies(snapshot: Snapshot) -> dict[str, str]:
    """Normalised distribution name → the file declaring it (pyproject or requirements)."""
    return snapshot.memo("declared_dependencies", _declared)


def uses(snapshot: Snapshot, *packages: str) -> list[Place]:
    """Evidence a package is used: its imports, else the file declaring it as a dependency."""
    places = imported(snapshot, *packages)
    if places:
        return places
    declared = declared_dependencies(snapshot)
    return [Place(declared[normalise(p)], 1) for p in packages if normalise(p) in declared]
