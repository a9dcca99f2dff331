"""A repository snapshot on disk: one walk of the tree, then cached reads and parses."""

from __future__ import annotations

import ast
import codecs
import fnmatch
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from checks.parsing import (
    Parsed,
    ParseError,
    parse_python,
    parse_toml,
    parse_yaml,
    split_lines,
)

# Reading more than this of one file tells a criterion nothing a student wrote by hand.
DEFAULT_READ_CAP = 2 * 1024 * 1024
SKIPPED_DIRS = frozenset({".git"})
# Folders of installed third-party code: a committed virtual environment is a hygiene
# problem (reported as such), never evidence of what the group wrote.
THIRD_PARTY_DIRS = frozenset(
    {".venv", "venv", "site-packages", "node_modules", ".tox", ".nox", "__pypackages__", ".eggs"}
)
T = TypeVar("T")


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative, "/"-separated
    size: int
    is_symlink: bool = False

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix.lower()


def glob_regex(pattern: str) -> str:
    """A glob as a regex over "/"-separated paths: `*` stays in one folder, `**` crosses them."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def _compile_globs(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for gitignore-like globs ("vendor/", "*.ipynb", "src/gen/**").

    A pattern without an inner "/" matches a name at any depth; everything under a matched
    folder is matched too.
    """
    anchored, anywhere = [], []
    for raw in patterns:
        pattern = raw.strip()
        at_root = "/" in pattern.rstrip("/")
        pattern = pattern.strip("/")
        if pattern:
            (anchored if at_root else anywhere).append(glob_regex(pattern))
    if anywhere:
        # One shared "any folders" prefix: one per pattern made `re` backtrack through
        # each of them, five times slower on ruff's default excludes.
        anchored.append(r"(?:.*/)?(?:" + "|".join(anywhere) + ")")
    if not anchored:
        return None
    return re.compile(r"(?:" + "|".join(anchored) + r")(?:/.*)?\Z", re.S)


class Snapshot:
    """The files of one commit, read-only.

    Criteria ask the snapshot for files; none walks the disk itself. Every read is cached,
    symlinks are never followed outside the root, and nothing is ever executed.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        read_cap: int = DEFAULT_READ_CAP,
        exclude: Iterable[str] = (),
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(f"not a directory: {root}")
        # Files are opened by plain strings: a `Path` per read costs more than the read.
        self._prefix = os.path.join(str(self.root), "")
        self.read_cap = read_cap
        self._exclude = _compile_globs(exclude)
        self._files: dict[str, FileEntry] = {}
        self._dirs: set[str] = set()
        self._walk()
        self._text: dict[str, str | None] = {}
        self._parsed: dict[tuple[str, str], Parsed] = {}
        self._memo: dict[str, Any] = {}

    # -- the tree ---------------------------------------------------------------------------

    def _excluded(self, rel: str) -> bool:
        return self._exclude is not None and self._exclude.match(rel) is not None

    def _walk(self) -> None:
        stack = [("", str(self.root))]
        while stack:
            prefix, directory = stack.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue
            for entry in entries:
                rel = f"{prefix}{entry.name}"
                if self._excluded(rel):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    if entry.name not in SKIPPED_DIRS:
                        self._dirs.add(rel)
                        stack.append((rel + "/", entry.path))
                elif stat.S_ISREG(info.st_mode):
                    self._files[rel] = FileEntry(rel, info.st_size)
                elif stat.S_ISLNK(info.st_mode):
                    target = self._inside_target(Path(entry.path))
                    if target is not None and target.is_file():
                        self._files[rel] = FileEntry(rel, target.stat().st_size, is_symlink=True)

    def _inside_target(self, path: Path) -> Path | None:
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        return target if target.is_relative_to(self.root) else None

    def excluding(self, patterns: Iterable[str]) -> Snapshot:
        """The same snapshot without the paths the repository asked to exclude (caches shared)."""
        patterns = list(patterns)
        regex = _compile_globs(patterns)
        if regex is None:
            return self
        view = object.__new__(Snapshot)
        view.__dict__.update(self.__dict__)
        view._exclude = regex
        view._memo = {}
        view._files = {p: e for p, e in self._files.items() if not regex.match(p)}
        view._dirs = {d for d in self._dirs if not regex.match(d)}
        # Every view's criteria list the paths: filtered from ours, not sorted and split again.
        view.paths = [p for p in self.paths if p in view._files]
        view.python_files = [p for p in self.python_files if p in view._files]
        return view

    def memo(self, key: str, compute: Callable[[Snapshot], T]) -> T:
        """A fact derived from the snapshot, computed once and shared by every criterion."""
        if key not in self._memo:
            self._memo[key] = compute(self)
        return self._memo[key]

    @property
    def files(self) -> dict[str, FileEntry]:
        return self._files

    @cached_property
    def paths(self) -> list[str]:
        return sorted(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __iter__(self) -> Iterator[FileEntry]:
        return iter(self._files.values())

    def exists(self, rel: str) -> bool:
        rel = rel.strip("/")
        return rel in self._files or rel in self._dirs

    def is_file(self, rel: str) -> bool:
        return rel in self._files

    def is_dir(self, rel: str) -> bool:
        return rel.strip("/") in self._dirs

    def glob(self, pattern: str) -> list[str]:
        """Files whose relative path matches a glob; `**/` also matches the root."""
        regex = re.compile(glob_regex(pattern) + r"\Z", re.S)
        return [p for p in self.paths if regex.match(p)]

    def named(self, *patterns: str, case_sensitive: bool = True) -> list[str]:
        """Files whose base name matches one of the patterns, at any depth."""
        if not patterns:
            return []
        # One regex for all the patterns, tried once per name.
        regex = re.compile("|".join(fnmatch.translate(p) for p in patterns))
        match = regex.match
        if case_sensitive:
            return [p for p in self.paths if match(p[p.rfind("/") + 1 :])]
        return [p for p in self.paths if match(p[p.rfind("/") + 1 :].lower())]

    def under(self, directory: str) -> list[str]:
        prefix = directory.strip("/") + "/"
        return [p for p in self.paths if p.startswith(prefix)]

    @cached_property
    def python_files(self) -> list[str]:
        """The group's own Python files (installed third-party code left out)."""
        return [
            p
            for p in self.paths
            if p.endswith(".py") and THIRD_PARTY_DIRS.isdisjoint(p.split("/")[:-1])
        ]

    # -- reading ----------------------------------------------------------------------------

    def text(self, rel: str) -> str | None:
        """The file's text, or None when it is missing, binary or over the read cap."""
        if rel in self._text:
            return self._text[rel]
        text = self._read_text(rel)
        self._text[rel] = text
        return text

    def _read_text(self, rel: str) -> str | None:
        entry = self._files.get(rel)
        if entry is None or entry.size > self.read_cap:
            return None
        data = self._read(entry, self.read_cap + 1)
        if data is None or len(data) > self.read_cap or b"\x00" in data[:8192]:
            return None
        try:
            # As "utf-8-sig" would, without its codec written in Python (three times slower).
            return (data[3:] if data.startswith(codecs.BOM_UTF8) else data).decode()
        except UnicodeDecodeError:
            # Windows editors still save cp1252; latin-1 never fails and keeps line numbers.
            return data.decode("latin-1")

    def _read(self, entry: FileEntry, limit: int) -> bytes | None:
        """Up to `limit` bytes of a file, or None when it cannot be read."""
        path = self._prefix + entry.path
        if entry.is_symlink and self._inside_target(Path(path)) is None:
            return None
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            # Sized by the walk: asking for `limit` would allocate a buffer of the read cap
            # for every file, which made reading 10,000 small files four times slower.
            wanted = min(limit, entry.size + 1)
            data = os.read(fd, wanted)
            if len(data) < wanted or len(data) == limit:
                return data  # the end of the file (the usual case), or all that may be read
            # The file grew since the walk: read on, up to the limit.
            parts = [data]
            size = len(data)
            while size < limit and (chunk := os.read(fd, limit - size)):
                parts.append(chunk)
                size += len(chunk)
            return b"".join(parts)
        except OSError:
            return None
        finally:
            os.close(fd)

    def raw(self, rel: str, limit: int | None = None) -> bytes:
        """Up to `limit` bytes of a file (binary or not); empty when it cannot be read."""
        entry = self._files.get(rel)
        if entry is None:
            return b""
        return self._read(entry, self.read_cap if limit is None else limit) or b""

    def lines(self, rel: str) -> list[str]:
        text = self.text(rel)
        return split_lines(text) if text is not None else []

    def _parse(self, rel: str, kind: str) -> Parsed:
        key = (rel, kind)
        if key not in self._parsed:
            text = self.text(rel)
            if text is None:
                reason = (
                    "file is missing" if rel not in self._files else "file is binary or too large"
                )
                parsed = Parsed(error=ParseError(reason))
            elif kind == "yaml":
                parsed = parse_yaml(text)
            elif kind == "toml":
                parsed = parse_toml(text)
            else:
                parsed = parse_python(text, rel)
            self._parsed[key] = parsed
        return self._parsed[key]

    def yaml(self, rel: str) -> Parsed:
        return self._parse(rel, "yaml")

    def toml(self, rel: str) -> Parsed:
        return self._parse(rel, "toml")

    def python(self, rel: str) -> Parsed:
        """The file's `ast.Module` in `.data` (parsed, never imported)."""
        return self._parse(rel, "python")

    def modules(self, paths: Iterable[str] | None = None) -> Iterator[tuple[str, ast.Module]]:
        """(path, ast) for every Python file that parses."""
        for rel in self.python_files if paths is None else paths:
            parsed = self.python(rel)
            if parsed.ok:
                yield rel, parsed.data

    @cached_property
    def pyproject(self) -> dict:
        parsed = self.toml("pyproject.toml") if self.is_file("pyproject.toml") else None
        return parsed.data if parsed is not None and parsed.ok else {}
