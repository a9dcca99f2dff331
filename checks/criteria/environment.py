"""How the project's environment is declared: dependencies and their pins (M2), configuration
files (M11) and data version control (M8)."""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from typing import Any

from checks.facts import imported, requirement_files
from checks.models import Annotation, Level
from checks.registry import Context, Outcome, criterion, failed, passed
from checks.snapshot import Snapshot

PYPROJECT = "pyproject.toml"
# Lock files written by the tools the course teaches (uv) and the ones groups bring along.
LOCK_FILES = ("uv.lock", "poetry.lock", "pdm.lock", "pylock.toml", "Pipfile.lock")
# PEP 751 also allows named lock files: pylock.<name>.toml.
_NAMED_PYLOCK = re.compile(r"pylock\.[^/]+\.toml")
# Enough to show the pattern; the summary gives the full count.
MAX_ANNOTATIONS = 20


# -- requirement files --------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """One requirement of a requirements file, continuation lines joined."""

    path: str
    start_line: int
    end_line: int
    spec: str  # comment stripped, e.g. "numpy>=1.26; python_version>'3.10'"

    @property
    def pinned(self) -> bool:
        """True for an exact `==`/`===` version or a direct reference (`name @ url`)."""
        name = _REQUIREMENT.match(self.spec)
        rest = self.spec[name.end() if name else 0 :].lstrip()
        if rest.startswith("@"):
            return True
        versions = _EXACT.findall(rest.split(";", 1)[0])
        return any(not version.endswith("*") for version in versions)


_COMMENT = re.compile(r"(?:^|\s)#.*")
# A distribution name with optional extras: "torch", "hydra-core", "uvicorn[standard]".
_REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?")
_EXACT = re.compile(r"===?\s*([^\s,;]+)")


def _is_named(spec: str) -> bool:
    """A named requirement, not a pip option (`-r`, `-e .`), a path or a bare URL."""
    first = spec.split(None, 1)[0]
    if spec.startswith(("-", ".", "/", "~")) or "://" in first:
        return False
    return _REQUIREMENT.match(spec) is not None


def _parse_requirements(snapshot: Snapshot, path: str) -> list[Requirement]:
    found: list[Requirement] = []
    lines = snapshot.lines(path)
    index = 0
    while index < len(lines):
        start = index
        parts = [lines[index]]
        # pip joins a line ending in a backslash with the next one (often `--hash=` lines).
        while parts[-1].rstrip().endswith("\\") and index + 1 < len(lines):
            parts[-1] = parts[-1].rstrip()[:-1]
            index += 1
            parts.append(lines[index])
        spec = _COMMENT.sub("", " ".join(parts)).strip().rstrip("\\").strip()
        if spec and _is_named(spec):
            found.append(Requirement(path, start + 1, index + 1, spec))
        index += 1
    return found


def requirements(snapshot: Snapshot) -> dict[str, list[Requirement]]:
    """Every requirements file (`requirements*.txt|in`, any folder) → its named requirements."""
    return snapshot.memo(
        "environment.requirements",
        lambda snap: {path: _parse_requirements(snap, path) for path in requirement_files(snap)},
    )


# -- dependencies ---------------------------------------------------------------------------


def _pyproject_dependencies(data: dict[str, Any]) -> tuple[int, list[str]]:
    """How many runtime dependencies pyproject.toml declares, and the files it defers them to."""
    project = data.get("project")
    project = project if isinstance(project, dict) else {}
    declared = project.get("dependencies")
    count = sum(isinstance(d, str) for d in declared) if isinstance(declared, list) else 0
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    poetry_deps = poetry.get("dependencies")
    if isinstance(poetry_deps, dict):
        # Poetry lists the Python version among the dependencies; it is not a package.
        count += sum(name.lower() != "python" for name in poetry_deps)
    # The course template declares `dynamic = ["dependencies"]` and reads requirements.txt.
    deferred: list[str] = []
    setuptools = tool.get("setuptools") if isinstance(tool.get("setuptools"), dict) else {}
    dynamic = setuptools.get("dynamic") if isinstance(setuptools.get("dynamic"), dict) else {}
    source = dynamic.get("dependencies")
    if isinstance(source, dict):
        files = source.get("file")
        files = [files] if isinstance(files, str) else files
        deferred = [f for f in files if isinstance(f, str)] if isinstance(files, list) else []
    return count, deferred


def _plural(count: int, word: str, words: str = "") -> str:
    return f"{count:,} {word if count == 1 else words or word + 's'}"


@criterion(
    "dependencies",
    title="Dependencies declared",
    module="M2",
    rank=20,
    fix="""
    Declare every package your code imports, so anyone (and any Docker build or CI run) can
    recreate your environment: with uv, `uv add torch typer` writes them to
    `[project].dependencies` in `pyproject.toml`; with pip, list them one per line in
    `requirements.txt`.
    """,
)
def dependencies(snapshot: Snapshot, context: Context) -> Outcome:
    """Your project declares its dependencies, in `pyproject.toml` (`[project].dependencies`
    or Poetry's) or in a `requirements*.txt` file. Without that list nobody, including your
    teammates, the Docker build and the CI runner, can install what your code needs."""
    counts: dict[str, int] = {}
    annotations: list[Annotation] = []
    deferred: list[str] = []
    broken = ""
    if snapshot.is_file(PYPROJECT):
        parsed = snapshot.toml(PYPROJECT)
        if parsed.error is not None:
            line = parsed.error.line
            broken = f"{PYPROJECT} does not parse (line {line}: {parsed.error.message})"
            annotations.append(
                Annotation(
                    path=PYPROJECT,
                    start_line=line,
                    end_line=line,
                    level=Level.failure,
                    title="pyproject.toml does not parse",
                    message=(
                        f"pyproject.toml does not parse: {parsed.error.message}. pip and uv "
                        "refuse to install the project until this line is fixed."
                    ),
                    rank=5,
                )
            )
        else:
            count, deferred = _pyproject_dependencies(parsed.data)
            if count:
                counts[PYPROJECT] = count
    for path, found in requirements(snapshot).items():
        if found:
            counts[path] = len(found)
    listing = ", ".join(f"{path} ({count})" for path, count in counts.items())
    metrics = {"count": sum(counts.values()), "files": counts}
    if broken:
        details = f"Other dependency files: {listing}." if counts else ""
        return failed(
            f"{broken}, so its dependencies cannot be read.",
            details=details,
            metrics=metrics,
            annotations=annotations,
        )
    if counts:
        return passed(
            f"{_plural(metrics['count'], 'dependency', 'dependencies')} declared: {listing}.",
            metrics=metrics,
        )
    missing = [f for f in deferred if not snapshot.is_file(f)]
    if deferred:
        summary = f"{PYPROJECT} says the dependencies are read from {', '.join(deferred)}, but " + (
            f"{', '.join(missing)} is missing." if missing else "it lists no packages."
        )
    elif snapshot.is_file(PYPROJECT):
        summary = (
            f"No dependencies declared: {PYPROJECT} has no `[project].dependencies` and there "
            "is no non-empty requirements*.txt."
        )
    else:
        summary = "No dependencies declared: there is no pyproject.toml and no requirements*.txt."
    return failed(summary, metrics=metrics)


# -- lockfile -------------------------------------------------------------------------------


def _lock_files(snapshot: Snapshot) -> list[str]:
    root_files = (p for p in snapshot.paths if "/" not in p)
    return [
        path
        for path in root_files
        if (path in LOCK_FILES or _NAMED_PYLOCK.fullmatch(path)) and snapshot.files[path].size
    ]


@criterion(
    "lockfile",
    title="Pinned environment",
    module="M2",
    requires=("dependencies",),
    rank=70,
    fix="""
    Pin the exact versions you tested with, so the environment can be rebuilt next month:
    commit the lock file your tool writes (`uv lock` → `uv.lock`, `poetry lock`), or pin every
    line of your requirements file with `==` (for example `torch==2.3.1`; `pip freeze` shows
    the versions you have installed).
    """,
)
def lockfile(snapshot: Snapshot, context: Context) -> Outcome:
    """Your environment can be reproduced exactly: a lock file is committed (`uv.lock`,
    `poetry.lock`, `pdm.lock`, `pylock.toml`), or every requirement in your requirements
    files is pinned with `==`. Ranges like `torch>=2.0` install whatever is newest on the day,
    which is how a project that worked last week breaks without anyone changing a line."""
    locks = _lock_files(snapshot)
    if locks:
        return passed(f"Lock file committed: {', '.join(locks)}.", metrics={"lock_files": locks})
    # `.in` files are pip-tools inputs, ranges on purpose; their compiled `.txt` is the lock.
    txt_files = {p: r for p, r in requirements(snapshot).items() if p.endswith(".txt") and r}
    entries = [r for found in txt_files.values() for r in found]
    loose = [r for r in entries if not r.pinned]
    metrics = {"lock_files": [], "requirements": len(entries), "unpinned": len(loose)}
    if not entries:
        declared = context.result("dependencies")
        files = declared.metrics.get("files", {}) if declared is not None else {}
        listing = ", ".join(
            f"{_plural(n, 'dependency', 'dependencies')} in {p}" for p, n in files.items()
        )
        return failed(
            "No lock file (uv.lock, poetry.lock, pdm.lock or pylock.toml)"
            + (
                f": the {listing} can resolve to new versions on every install." if listing else "."
            ),
            metrics=metrics,
        )
    if not loose:
        return passed(
            f"No lock file, but all {_plural(len(entries), 'requirement')} in "
            f"{', '.join(txt_files)} are pinned with `==`.",
            metrics=metrics,
        )
    annotations = [
        Annotation(
            path=r.path,
            start_line=r.start_line,
            end_line=r.end_line,
            level=Level.warning,
            title="Unpinned requirement",
            message=(
                f"`{r.spec}` is not pinned to one version, so a new release can change what "
                "gets installed. Pin it with `==` (the version you tested with), or commit a "
                "lock file such as uv.lock."
            ),
        )
        for r in loose[:MAX_ANNOTATIONS]
    ]
    shown = "" if len(loose) <= MAX_ANNOTATIONS else f" (the first {MAX_ANNOTATIONS} are marked)"
    per_file = ", ".join(
        f"{path}: {n}"
        for path, found in txt_files.items()
        if (n := sum(not r.pinned for r in found))
    )
    return failed(
        f"No lock file, and {len(loose):,} of {_plural(len(entries), 'requirement')} are not "
        f"pinned with `==` ({per_file}){shown}.",
        details="\n".join(f"- {r.path}:{r.start_line} `{r.spec}`" for r in loose),
        metrics=metrics,
        annotations=annotations,
    )


# -- configs --------------------------------------------------------------------------------

CONFIG_DIRS = frozenset({"configs", "config", "conf"})
# Hidden folders (.venv, .github) and installed packages hold YAML nobody in the group wrote.
VENDORED_DIRS = frozenset({"site-packages", "node_modules"})


def _config_files(snapshot: Snapshot) -> list[str]:
    found = []
    for path in snapshot.paths:
        if not path.endswith((".yaml", ".yml")):
            continue
        folders = path.split("/")[:-1]
        if any(folder in CONFIG_DIRS for folder in folders) and not any(
            folder.startswith(".") or folder in VENDORED_DIRS for folder in folders
        ):
            found.append(path)
    return found


@criterion(
    "configs",
    title="Configuration files",
    module="M11",
    rank=40,
    fix="""
    Move hyperparameters and paths out of the code into YAML files under `configs/` (for
    example `configs/train.yaml` with `lr: 0.001` and `epochs: 10`), and load them with Hydra
    (`@hydra.main(config_path="../../configs", config_name="train")`) or OmegaConf. Then every
    experiment is described by a file you can commit and compare.
    """,
)
def configs(snapshot: Snapshot, context: Context) -> Outcome:
    """Experiments are described by YAML configuration files in `configs/` (or `conf/`,
    `config/`) rather than by constants in the code, ideally loaded with Hydra or OmegaConf.
    A config file that does not parse is marked on the line where the parser gave up."""
    files = _config_files(snapshot)
    hydra = imported(snapshot, "hydra", "omegaconf")
    errors = {path: error for path in files if (error := snapshot.yaml(path).error) is not None}
    annotations = [
        Annotation(
            path=path,
            start_line=error.line,
            end_line=error.line,
            level=Level.warning,
            title="Config file does not parse",
            message=(
                f"{path} is not valid YAML: {error.message}. Loading this config (with Hydra, "
                "OmegaConf or yaml.safe_load) will fail."
            ),
        )
        for path, error in list(errors.items())[:MAX_ANNOTATIONS]
    ]
    valid = len(files) - len(errors)
    metrics = {"files": len(files), "valid": valid, "invalid": len(errors), "hydra": bool(hydra)}
    invalid = ", ".join(list(errors)[:5]) + (
        f" and {len(errors) - 5} more" if len(errors) > 5 else ""
    )
    hydra_at = f"{hydra[0].path}:{hydra[0].line}" if hydra else ""
    if valid:
        folders = sorted({path.rsplit("/", 1)[0] + "/" for path in files})
        more = f" and {len(folders) - 3} more folders" if len(folders) > 3 else ""
        broken = (
            f" {len(errors)} {'does' if len(errors) == 1 else 'do'} not parse: {invalid}."
            if errors
            else ""
        )
        bonus = (
            f" Hydra/OmegaConf is used ({hydra_at}), well done."
            if hydra
            else " Loading them with Hydra would be a bonus."
        )
        return passed(
            f"{_plural(len(files), 'YAML config file')} in {', '.join(folders[:3])}{more}."
            f"{broken}{bonus}",
            metrics=metrics,
            annotations=annotations,
        )
    if files:
        summary = f"None of your {_plural(len(files), 'YAML config file')} parses: {invalid}."
    elif hydra:
        summary = (
            f"Hydra/OmegaConf is imported ({hydra_at}) but there is no YAML config file in "
            "configs/, conf/ or config/."
        )
    else:
        summary = "No YAML config files in configs/, conf/ or config/."
    return failed(summary, metrics=metrics, annotations=annotations)


# -- dvc ------------------------------------------------------------------------------------

DVC_CONFIG = ".dvc/config"
# DVC writes remote sections as ['remote "name"'] (older versions without the single quotes).
_REMOTE_SECTION = re.compile(r"""'?\s*remote\s+"([^"]+)"\s*'?""")
REMOTE_KINDS = {
    "gs": "Google Cloud Storage",
    "s3": "Amazon S3",
    "azure": "Azure Blob Storage",
    "gdrive": "Google Drive",
    "ssh": "SSH",
    "hdfs": "HDFS",
    "webhdfs": "WebHDFS",
    "http": "HTTP",
    "https": "HTTPS",
    "webdav": "WebDAV",
    "webdavs": "WebDAV",
    "oss": "Alibaba OSS",
    "local": "a local folder",
}


def _remote_kind(url: str) -> str:
    scheme, separator, _ = url.partition("://")
    # No scheme (or a Windows drive letter, "C:\data") means a path on this machine.
    if not separator or len(scheme) == 1:
        return "local"
    return scheme.lower()


@dataclass(frozen=True)
class DvcConfig:
    remotes: dict[str, str]  # name → kind ("gs", "s3", "local", …); never the URL itself
    default: str
    error_line: int = 0
    error: str = ""


def _dvc_config(text: str) -> DvcConfig:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.MissingSectionHeaderError as exc:
        # Never echo the offending line: DVC configs can hold credentials.
        return DvcConfig({}, "", exc.lineno, "a setting appears before any [section] header")
    except configparser.ParsingError as exc:
        line = exc.errors[0][0] if exc.errors else 1
        return DvcConfig({}, "", line, "this line is not a `key = value` setting")
    remotes = {}
    for section in parser.sections():
        match = _REMOTE_SECTION.fullmatch(section.strip())
        if match:
            remotes[match.group(1)] = _remote_kind(parser.get(section, "url", fallback=""))
    default = (
        parser.get("core", "remote", fallback="").strip() if parser.has_section("core") else ""
    )
    return DvcConfig(remotes, default)


def _describe_remote(name: str, kind: str) -> str:
    label = REMOTE_KINDS.get(kind, kind)
    return f"`{name}` on {label}" + (f" ({kind})" if label != kind and kind != "local" else "")


@criterion(
    "dvc",
    title="Data version control",
    module="M8",
    rank=60,
    fix="""
    Version your data with DVC instead of git: `dvc init`, `dvc remote add -d storage
    gs://<your-bucket>` (or another remote), then `dvc add data/` and commit the small
    `data.dvc` file it writes; `dvc push` uploads the data itself.
    """,
)
def dvc(snapshot: Snapshot, context: Context) -> Outcome:
    """Your data is versioned with DVC: the repository has a `.dvc/` configuration, ideally
    with a remote to push data to, and at least one tracked `*.dvc` file or `dvc.yaml`
    pipeline. Git then holds small pointer files while the data lives in cloud storage."""
    tracked: list[str] = []
    pipelines: list[str] = []
    for path in snapshot.paths:
        name = path.rsplit("/", 1)[-1]
        if path.startswith(".dvc/"):
            continue
        if name.endswith(".dvc") and name != ".dvc":
            tracked.append(path)
        elif name in ("dvc.yaml", "dvc.yml"):
            pipelines.append(path)
    initialised = snapshot.is_dir(".dvc") or snapshot.is_file(DVC_CONFIG)
    text = snapshot.text(DVC_CONFIG) if snapshot.is_file(DVC_CONFIG) else ""
    config = _dvc_config(text or "")
    annotations = []
    if config.error:
        annotations.append(
            Annotation(
                path=DVC_CONFIG,
                start_line=config.error_line,
                end_line=config.error_line,
                level=Level.warning,
                title="DVC config does not parse",
                message=f"DVC cannot read {DVC_CONFIG}: {config.error}.",
            )
        )
    metrics = {
        "initialised": initialised,
        "remotes": config.remotes,
        "default_remote": config.default,
        "dvc_files": len(tracked),
        "pipelines": len(pipelines),
    }
    if config.default in config.remotes:
        remote = (
            f"default remote {_describe_remote(config.default, config.remotes[config.default])}"
        )
    elif config.remotes:
        remote = "remote " + ", ".join(_describe_remote(n, k) for n, k in config.remotes.items())
    else:
        remote = "no remote configured yet: add one with `dvc remote add -d storage gs://<bucket>`"
    listing = ", ".join([*tracked[:3], *pipelines[:2]])
    more = len(tracked) + len(pipelines) - len(tracked[:3]) - len(pipelines[:2])
    listing += f" and {more:,} more" if more > 0 else ""
    if initialised and (tracked or pipelines):
        return passed(f"DVC tracks {listing}; {remote}.", metrics=metrics, annotations=annotations)
    if initialised:
        summary = f"DVC is initialised but tracks nothing (no `*.dvc` file or dvc.yaml); {remote}."
    elif tracked or pipelines:
        summary = f"Found {listing}, but no .dvc/ folder: `dvc init` was never committed."
    else:
        summary = "No DVC: no .dvc/ folder, no `*.dvc` files and no dvc.yaml."
    return failed(summary, metrics=metrics, annotations=annotations)
