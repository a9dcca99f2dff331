"""Docker (M10): which Dockerfiles the project has, and the habits that keep their images small,
reproducible and quick to rebuild."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass

from checks.models import Annotation, Level
from checks.parsing import split_lines
from checks.registry import Context, Outcome, criterion, failed, passed
from checks.snapshot import Snapshot

# Folders where a file without the usual name may still be a Dockerfile ("dockerfiles/train").
DOCKER_FOLDERS = frozenset({"dockerfiles", "docker"})
NOT_DOCKERFILES = (".dockerignore", ".md", ".rst")
# Enough to show every habit to fix; the summary counts all of them.
MAX_ANNOTATIONS = 50


def _plural(count: int, word: str, words: str = "") -> str:
    return f"{count:,} {word if count == 1 else words or word + 's'}"


# -- finding Dockerfiles --------------------------------------------------------------------


def _named_like_dockerfile(name: str) -> bool:
    name = name.lower()
    # BuildKit reads "<dockerfile>.dockerignore" next to a Dockerfile, and "Dockerfile.md"
    # documents one; neither is a Dockerfile itself.
    if name.endswith(NOT_DOCKERFILES):
        return False
    return name == "dockerfile" or name.startswith("dockerfile.") or name.endswith(".dockerfile")


_FIRST_INSTRUCTION = re.compile(r"\A(?:[ \t\r]*(?:#[^\n]*)?\n)*[ \t]*(?:FROM|ARG)[ \t]", re.I)


def _dockerfiles(snapshot: Snapshot) -> list[str]:
    found = []
    for path in snapshot.paths:
        *folders, name = path.split("/")
        # In a docker folder, "dockerfiles/train" is one if it starts like one (ARG, then FROM).
        if _named_like_dockerfile(name) or (
            folders
            and folders[-1].lower() in DOCKER_FOLDERS
            and "." not in name
            and _FIRST_INSTRUCTION.match(snapshot.raw(path, 4096).decode("latin-1"))
        ):
            found.append(path)
    return found


def dockerfiles(snapshot: Snapshot) -> list[str]:
    """Every Dockerfile in the repository: `Dockerfile`, `Dockerfile.*`, `*.dockerfile`."""
    return snapshot.memo("containers.dockerfiles", _dockerfiles)


@criterion(
    "docker",
    title="Dockerfiles",
    module="M10",
    rank=60,
    thresholds={"min": 1},
    fix="""
    Add a Dockerfile so your training (and later your API) runs the same everywhere: the
    template puts them in `dockerfiles/`, e.g. `dockerfiles/train.dockerfile` starting
    `FROM python:3.11-slim`, copying your requirements and code, and ending with an
    `ENTRYPOINT` that starts training. Build it with
    `docker build -f dockerfiles/train.dockerfile . -t train:latest`.
    """,
)
def docker(snapshot: Snapshot, context: Context) -> Outcome:
    """The project has Dockerfiles (`Dockerfile`, `Dockerfile.*` or `*.dockerfile`, for
    example in a `dockerfiles/` folder), so training and serving run in a container that
    anyone can rebuild, on a laptop, in CI or in the cloud."""
    minimum = int(context.thresholds["min"])
    found = dockerfiles(snapshot)
    metrics = {"count": len(found), "files": found}
    listing = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
    if found and len(found) >= minimum:
        return passed(f"{_plural(len(found), 'Dockerfile')}: {listing}.", metrics=metrics)
    if found:
        return failed(
            f"{_plural(len(found), 'Dockerfile')} ({listing}); the course expects at least "
            f"{minimum} (for example one to train and one to serve the model).",
            metrics=metrics,
        )
    return failed("No Dockerfile found.", metrics=metrics)


# -- reading a Dockerfile -------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    """One instruction, its continuation lines joined and heredoc bodies appended."""

    keyword: str  # upper case: FROM, RUN, COPY…
    args: str
    start: int  # 1-based, first line
    end: int  # 1-based, last line (continuations and heredocs included)


_DIRECTIVE = re.compile(r"[ \t]*#[ \t]*(\w+)[ \t]*=[ \t]*(\S+)[ \t]*\Z")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_]\w*)\2")


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile, as Docker reads them (continuations, comments, heredocs)."""
    lines = split_lines(text)
    escape = "\\"
    # Parser directives come first; `# escape=`` ` switches the continuation character.
    for line in lines:
        directive = _DIRECTIVE.match(line)
        if directive is None:
            break
        if directive.group(1).lower() == "escape" and directive.group(2) in ("`", "\\"):
            escape = directive.group(2)
    instructions = []
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        start = index
        parts = []
        line = lines[index].rstrip()
        while line.endswith(escape) and index + 1 < len(lines):
            parts.append(line[:-1])
            index += 1
            # Comment and blank lines inside a continued instruction are dropped by Docker.
            while index + 1 < len(lines) and (
                not lines[index].strip() or lines[index].lstrip().startswith("#")
            ):
                index += 1
            line = lines[index].rstrip()
        parts.append(line.removesuffix(escape))
        joined = " ".join(part.strip() for part in parts)
        keyword, _, args = joined.partition(" ")
        keyword = keyword.upper()
        if keyword in ("RUN", "COPY", "ADD"):
            # A heredoc body ("RUN <<EOF … EOF") belongs to the instruction, not to the file.
            for heredoc in _HEREDOC.finditer(args):
                body = []
                while index + 1 < len(lines):
                    index += 1
                    current = lines[index].lstrip("\t") if heredoc.group(1) else lines[index]
                    if current.rstrip() == heredoc.group(3):
                        break
                    body.append(lines[index])
                args += "\n" + "\n".join(body)
        instructions.append(Instruction(keyword, args.strip(), start + 1, index + 1))
        index += 1
    return instructions


# -- dockerfile-lint ------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    kind: str
    path: str
    start: int
    end: int
    title: str
    message: str


_VARIABLE = re.compile(r"\$\{(\w+)(?::?([-+])([^}]*))?\}|\$(\w+)")
# Commands that install the project's dependencies (pip, uv, poetry, pdm, pipenv, conda).
_INSTALL = re.compile(
    r"\b(?:pip[\d.]*|python[\d.]*\s+-m\s+pip)\s+install\b"
    r"|\buv\s+(?:sync|pip\s+(?:install|sync))\b"
    r"|\b(?:poetry|pdm|pipenv)\s+(?:install|sync)\b"
    r"|\b(?:conda|mamba|micromamba)\s+(?:env\s+(?:create|update)|install)\b"
)
_PIP_INSTALL = re.compile(r"(?<![\w.-])(?:pip[\d.]*|python[\d.]*\s+-m\s+pip)\s+install\b")
_UV_PIP = re.compile(r"\buv\s+pip\b")  # uv keeps its cache outside the image layer
_SHELL_SEPARATOR = re.compile(r"&&|\|\||[;|\n]")
_CACHE_MOUNT = re.compile(r"--mount=\S*type=cache")
_WHOLE_TREE = frozenset({".", "./", "./.", "*", "./*"})


def _expand(value: str, variables: dict[str, str]) -> str | None:
    """`${VAR}`/`$VAR` replaced by ARG defaults; None when one has no known value."""
    unknown = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal unknown
        value = variables.get(match.group(1) or match.group(4), "")
        operator = match.group(2)
        if value and operator != "+":
            return value
        if operator == "-":
            return match.group(3)
        # `${VAR:+alt}` and variables without a default depend on the build command.
        unknown = True
        return ""

    expanded = _VARIABLE.sub(substitute, value)
    return None if unknown else expanded


def _image_tag(image: str) -> str:
    """The tag of an image reference ("" for none); registry ports are not tags."""
    return image.rsplit("/", 1)[-1].partition(":")[2]


def _pin_example(image: str) -> str:
    tag = _image_tag(image)
    name = image.removesuffix(f":{tag}") if tag else image
    return "python:3.11-slim" if name.rsplit("/", 1)[-1] == "python" else f"{name}:<version>"


def _copy_sources(args: str) -> tuple[list[str], bool]:
    """Sources of a COPY/ADD, and whether it copies from another stage or image."""
    tokens: list[str]
    if args.lstrip().startswith("["):
        try:
            parsed = json.loads(args)
        except json.JSONDecodeError:
            parsed = []
        tokens = [str(t) for t in parsed] if isinstance(parsed, list) else []
        flags: list[str] = []
    else:
        words = args.split()
        flags = [w for w in words if w.startswith("--")]
        tokens = [w for w in words if not w.startswith("--")]
    from_elsewhere = any(flag.startswith("--from") for flag in flags)
    return tokens[:-1], from_elsewhere


def _lint(path: str, instructions: list[Instruction]) -> list[Finding]:
    findings: list[Finding] = []
    global_args: dict[str, str] = {}
    stages: set[str] = set()
    stage: list[Instruction] = []
    stage_no_cache = False
    seen_from = False

    def close_stage() -> None:
        # `COPY . .` only busts the cache when dependencies are installed after it.
        installs = [i for i in stage if i.keyword == "RUN" and _INSTALL.search(i.args)]
        if not installs:
            return
        first_install = installs[0]
        for copy in stage:
            if copy.start >= first_install.start or copy.keyword not in ("COPY", "ADD"):
                continue
            sources, from_elsewhere = _copy_sources(copy.args)
            if from_elsewhere or not any(s in _WHOLE_TREE for s in sources):
                continue
            findings.append(
                Finding(
                    "copy_before_install",
                    path,
                    copy.start,
                    copy.end,
                    "Whole project copied before installing dependencies",
                    f"`{copy.keyword} {copy.args}` copies every file before the dependencies "
                    f"are installed (line {first_install.start}), so any change to any file "
                    "makes Docker reinstall every package on the next build. Copy only the "
                    "dependency files first (`COPY requirements.txt pyproject.toml ./`), "
                    f"install, then `{copy.keyword} {copy.args}`.",
                )
            )

    for instruction in instructions:
        keyword, args = instruction.keyword, instruction.args
        if keyword == "FROM":
            close_stage()
            stage, stage_no_cache, seen_from = [], False, True
            words = [w for w in args.split() if not w.startswith("--")]
            if not words:
                continue
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
            image = _expand(words[0], global_args)
            if image is None or image.lower() in stages or image.lower() == "scratch":
                continue
            if "@" in image:  # pinned by digest
                continue
            tag = _image_tag(image)
            if tag and tag != "latest":
                continue
            problem = "has no tag, so it means `:latest`" if not tag else "uses `:latest`"
            findings.append(
                Finding(
                    "unpinned_base",
                    path,
                    instruction.start,
                    instruction.end,
                    "Unpinned base image",
                    f"`FROM {words[0]}` {problem}: the base image changes whenever a new "
                    "version is published, so the same Dockerfile can build something else "
                    "tomorrow, or fail. Pin the base image, e.g. "
                    f"`{_pin_example(image)}`.",
                )
            )
            continue
        if keyword == "ARG" and not seen_from:
            # ARGs before the first FROM give defaults to the FROM lines.
            for declaration in args.split():
                name, _, default = declaration.partition("=")
                global_args[name] = default.strip("\"'")
        if keyword in ("ENV", "ARG") and "PIP_NO_CACHE_DIR" in args:
            stage_no_cache = True
        stage.append(instruction)
        if keyword != "RUN" or stage_no_cache or _CACHE_MOUNT.search(args):
            continue
        cached = [
            command
            for command in _SHELL_SEPARATOR.split(args)
            if _PIP_INSTALL.search(command)
            and not _UV_PIP.search(command)
            and "--no-cache-dir" not in command
            and "PIP_NO_CACHE_DIR" not in command
        ]
        if cached:
            several = f"{len(cached)} `pip install` commands here" if len(cached) > 1 else ""
            findings.append(
                Finding(
                    "pip_cache",
                    path,
                    instruction.start,
                    instruction.end,
                    "pip keeps its download cache in the image",
                    f"{several or '`pip install`'} without `--no-cache-dir` "
                    f"{'keep' if several else 'keeps'} pip's download cache inside the image "
                    "layer: a bigger image for nothing. Add `--no-cache-dir` "
                    "(`pip install --no-cache-dir -r requirements.txt`), or use a cache "
                    "mount: `RUN --mount=type=cache,target=/root/.cache/pip pip install …`.",
                )
            )
    close_stage()
    return sorted(findings, key=lambda f: f.start)


def dockerfile_findings(path: str, text: str) -> list[Finding]:
    """The habits `dockerfile-lint` marks in one Dockerfile, in line order."""
    return _lint(path, parse_dockerfile(text))


KINDS = {
    "unpinned_base": ("unpinned base image", "unpinned base images"),
    "pip_cache": (
        "RUN with `pip install` but no `--no-cache-dir`",
        "RUNs with `pip install` but no `--no-cache-dir`",
    ),
    "copy_before_install": (
        "whole-project copy before installing dependencies",
        "whole-project copies before installing dependencies",
    ),
}


@criterion(
    "dockerfile-lint",
    title="Dockerfile habits",
    module="M10",
    requires=("docker",),
    rank=65,
    fix="""
    Pin base images to a version (`FROM python:3.11-slim`, not `python` or `python:latest`),
    install with `pip install --no-cache-dir` (or a `--mount=type=cache` cache mount), and copy
    your dependency files and install them before `COPY . .`, so code changes reuse the
    cached dependency layer. Each marked line says what to change.
    """,
)
def dockerfile_lint(snapshot: Snapshot, context: Context) -> Outcome:
    """Your Dockerfiles follow the habits taught in the course: base images pinned to a
    version (not `:latest`), `pip install --no-cache-dir` so pip's cache does not bloat the
    image, and dependencies installed before the whole project is copied in, so that a code
    change does not reinstall every package."""
    files = dockerfiles(snapshot)
    findings: list[Finding] = []
    unreadable = []
    for path in files:
        text = snapshot.text(path)
        if text is None:
            unreadable.append(path)
            continue
        findings.extend(_lint(path, parse_dockerfile(text)))
    counts = Counter(f.kind for f in findings)
    metrics: dict[str, object] = {"files": len(files), "findings": len(findings)}
    metrics.update({kind: counts[kind] for kind in KINDS})
    skipped = (
        f" ({', '.join(unreadable)} could not be read: binary or too large)" if unreadable else ""
    )
    if not findings:
        return passed(
            f"No problems in {_plural(len(files) - len(unreadable), 'Dockerfile')}: pinned base "
            "images, no pip cache left in the image, dependencies installed before the code is "
            f"copied{skipped}.",
            metrics=metrics,
        )
    annotations = [
        Annotation(
            path=f.path,
            start_line=f.start,
            end_line=f.end,
            level=Level.warning,
            title=f.title,
            message=f.message,
        )
        for f in findings[:MAX_ANNOTATIONS]
    ]
    parts = ", ".join(
        f"{counts[kind]} {KINDS[kind][0] if counts[kind] == 1 else KINDS[kind][1]}"
        for kind in KINDS
        if counts[kind]
    )
    where = len({f.path for f in findings})
    shown = "" if len(findings) <= MAX_ANNOTATIONS else f"; the first {MAX_ANNOTATIONS} are marked"
    return failed(
        f"{_plural(len(findings), 'problem')} in {_plural(where, 'Dockerfile')}: {parts}"
        f"{shown}{skipped}.",
        details="\n".join(f"- {f.path}:{f.start} {f.title}" for f in findings),
        metrics=metrics,
        annotations=annotations,
    )
