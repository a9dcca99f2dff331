"""Parsing repository files as data, with the line of any problem.

Nothing here imports or runs repository code: YAML is read with the safe loader,
TOML with tomllib, Python with ast.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass
from typing import Any

import yaml

try:  # libyaml is several times faster on big workflow files
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader  # type: ignore[assignment]

# A YAML file built with anchors to explode ("billion laughs") is refused by size of the
# node graph, not by the size of its text.
MAX_YAML_NODES = 200_000
MAX_NESTING = 200


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_WITH_BREAK = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str, *, keepends: bool = False) -> list[str]:
    """The lines of a file as editors and GitHub number them (with their breaks if `keepends`).

    Unlike `str.splitlines`, a form feed, U+2028 or a latin-1 NEL (byte 0x85, the "…" of a
    cp1252 file) does not end a line, so line numbers match the ones GitHub shows.
    """
    if keepends:
        return _LINE_WITH_BREAK.findall(text)
    lines = _LINE_BREAK.split(text)
    return lines[:-1] if lines[-1] == "" else lines


@dataclass(frozen=True)
class ParseError:
    """Why a file could not be parsed, and on which 1-based line."""

    message: str
    line: int = 1


@dataclass(frozen=True)
class Parsed:
    """A parsed file: `data` when it parsed, `error` when it did not."""

    data: Any = None
    error: ParseError | None = None
    # For YAML: the composed node tree, to map a key path back to its line.
    node: Any = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _check_yaml_graph(node: yaml.Node) -> None:
    seen = 0
    stack: list[tuple[yaml.Node, int]] = [(node, 0)]
    while stack:
        current, depth = stack.pop()
        seen += 1
        if seen > MAX_YAML_NODES:
            raise ValueError(f"more than {MAX_YAML_NODES:,} values once aliases are expanded")
        if depth > MAX_NESTING:
            raise ValueError(f"nested deeper than {MAX_NESTING} levels")
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in current.value)


def parse_yaml(text: str) -> Parsed:
    """Safe-load one YAML document, refusing alias bombs and absurd nesting."""
    loader = SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Parsed(data=None)
        _check_yaml_graph(node)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return Parsed(error=ParseError(f"{exc.problem or exc.context or 'invalid YAML'}", line))
    except yaml.YAMLError as exc:
        return Parsed(error=ParseError(str(exc).splitlines()[0] if str(exc) else "invalid YAML"))
    except (ValueError, RecursionError) as exc:
        return Parsed(error=ParseError(f"refused: {exc}" if str(exc) else "refused"))
    finally:
        loader.dispose()
    return Parsed(data=data, node=node)


def yaml_line(node: Any, path: tuple[Any, ...]) -> int:
    """The 1-based line of the value at `path` (keys and list indexes) in a composed YAML tree.

    Stops at the deepest part of the path that exists, so a wrong key still points near it.
    """
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part) or key.value == part:
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def parse_toml(text: str) -> Parsed:
    try:
        return Parsed(data=tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        # Python 3.14 numbers the end of a document one past its last line.
        line = min(getattr(exc, "lineno", None) or _toml_line(str(exc), text), _last_line(text))
        return Parsed(error=ParseError(str(exc).split(" (at")[0], line))


def _toml_line(message: str, text: str) -> int:
    # Python 3.11 puts the position only in the message: "... (at line 3, column 5)", or
    # "(at end of document)" for an unclosed array or table, marked on the last line.
    found = re.search(r"\(at line (\d+)", message)
    if found:
        return int(found.group(1))
    return _last_line(text) if "end of document" in message else 1


def _last_line(text: str) -> int:
    return max(len(split_lines(text)), 1)


def parse_python(text: str, filename: str) -> Parsed:
    try:
        return Parsed(data=ast.parse(text, filename=filename))
    except SyntaxError as exc:
        return Parsed(error=ParseError(exc.msg or "syntax error", exc.lineno or 1))
    except (ValueError, RecursionError, MemoryError) as exc:
        return Parsed(error=ParseError(f"could not parse: {type(exc).__name__}"))
