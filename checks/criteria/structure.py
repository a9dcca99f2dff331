"""How the project is organised: the template's layout and README (M6), a command line
interface (M9), logging (M14) and the size of the code base."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from checks.facts import Place, imported
from checks.registry import Context, Outcome, criterion, failed, info, passed
from checks.snapshot import Snapshot


def _plural(count: int, word: str, words: str = "") -> str:
    return f"{count:,} {word if count == 1 else words or word + 's'}"


def is_test_path(path: str) -> bool:
    """Test code: inside a tests/ (or test/) folder, or named like a pytest file."""
    *folders, name = path.split("/")
    return (
        any(folder in ("tests", "test") for folder in folders)
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def _where(places: list[Place], limit: int = 2) -> str:
    shown = ", ".join(f"{p.path}:{p.line}" for p in places[:limit])
    return shown + (f" and {len(places) - limit} more" if len(places) > limit else "")


# -- layout ---------------------------------------------------------------------------------

# The course template's core modules, with the names older templates and groups use for them.
# Part → (what it is, the template's file, module or folder names that count).
CORE_MODULES = {
    "data": ("data code", "data.py", ("data", "dataset", "datasets", "make_dataset")),
    "model": ("model", "model.py", ("model", "models")),
    "train": ("training script", "train.py", ("train", "train_model", "training")),
}
# Folders at the root that hold Python files but are not the project's package.
NOT_PACKAGES = frozenset({"tests", "test", "docs", "scripts", "notebooks", "reports"})


# Every name that counts for some core part: most files of a large package hold none.
_CORE_NAMES = frozenset(name for _, _, names in CORE_MODULES.values() for name in names)


def _packages(snapshot: Snapshot) -> dict[str, list[str]]:
    """Candidate package folder → its Python files, relative to it."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in snapshot.python_files:
        top, _, rest = path.partition("/")
        if not rest or top.startswith("."):
            continue
        if top == "src":
            name, _, inside = rest.partition("/")
            if inside and not name.startswith((".", "_")):
                by_folder[f"src/{name}"].append(inside)
        by_folder[top].append(rest)
    return {
        folder: files
        for folder, files in by_folder.items()
        if folder.startswith("src/") or ("__init__.py" in files and folder not in NOT_PACKAGES)
    }


def _core_modules(package: str, files: list[str]) -> dict[str, str]:
    """Core part → where it is: a module (`data.py`) or a subpackage (`data/`), shallowest first."""
    found: dict[str, str] = {}
    for rel in sorted(files, key=lambda f: (f.count("/"), f)):
        *folders, name = rel.split("/")
        stem = name.removesuffix(".py")
        if stem not in _CORE_NAMES and _CORE_NAMES.isdisjoint(folders):
            continue
        for part, (_, _, names) in CORE_MODULES.items():
            if part in found:
                continue
            if stem in names:
                found[part] = f"{package}/{rel}"
            else:
                for depth, folder in enumerate(folders):
                    if folder in names:
                        found[part] = f"{package}/{'/'.join(folders[: depth + 1])}/"
                        break
        if len(found) == len(CORE_MODULES):
            break
    return found


@criterion(
    "layout",
    title="Project layout",
    module="M6",
    rank=30,
    fix="""
    Follow the course template's layout: your code as a package in `src/<project_name>/`
    (with an `__init__.py`) split into `data.py` (loading and preprocessing), `model.py`
    (the model) and `train.py` (the training loop), and your tests in a `tests/` folder.
    Moving code there is mostly `git mv` plus fixing imports.
    """,
)
def layout(snapshot: Snapshot, context: Context) -> Outcome:
    """Your repository has the course template's shape: a Python package in `src/<name>/`
    (or a package folder at the root) holding the data code (`data.py`), the model
    (`model.py`) and the training script (`train.py`), and a `tests/` folder. A familiar
    layout lets anyone, including the teachers, find their way around your project."""
    packages = _packages(snapshot)
    cores = {folder: _core_modules(folder, files) for folder, files in packages.items()}
    # The package is the candidate holding most core modules; then the template's src/ wins,
    # then the folder with more Python files.
    ranked = sorted(
        ((len(cores[p]), p.startswith("src/"), len(packages[p]), p) for p in packages),
        reverse=True,
    )
    package = ranked[0][3] if ranked else ""
    core = cores.get(package, {})
    tests = next((d for d in ("tests", "test") if snapshot.is_dir(d)), "")
    metrics: dict[str, object] = {"package": package or None, "has_package": bool(package)}
    metrics.update({part: part in core for part in CORE_MODULES})
    metrics["tests"] = bool(tests)

    # "src/proj/data.py" → "data.py"; a subpackage "src/proj/models/" → "models/".
    present = [
        core[part].rstrip("/").rsplit("/", 1)[-1] + ("/" if core[part].endswith("/") else "")
        for part in CORE_MODULES
        if part in core
    ]
    absent = [expected for part, (_, expected, _) in CORE_MODULES.items() if part not in core]
    checklist = [
        (bool(package), "package", f"`{package}/`" if package else "none in `src/` or at the root"),
        *(
            (part in core, label, f"`{core[part]}`" if part in core else f"missing (`{expected}`)")
            for part, (label, expected, _) in CORE_MODULES.items()
        ),
        (bool(tests), "tests folder", f"`{tests}/`" if tests else "missing (`tests/`)"),
    ]
    details = "\n".join(
        f"- [{'x' if ok else ' '}] {label}: {text}" for ok, label, text in checklist
    )
    tests_text = f"{tests}/ is present" if tests else "there is no tests/ folder"
    if not package:
        summary = (
            "No Python package found in src/<name>/ (or a folder with __init__.py at the root)"
            f"; {tests_text}."
        )
        return failed(summary, details=details, metrics=metrics)
    has = ", ".join(present) if present else "none of data.py, model.py, train.py"
    lacks = f", but no {' or '.join(absent)}" if absent and present else ""
    summary = f"Package {package}/ has {has}{lacks}; {tests_text}."
    if tests and len(core) >= 2:
        return passed(summary, details=details, metrics=metrics)
    return failed(summary, details=details, metrics=metrics)


# -- readme ---------------------------------------------------------------------------------

# Markdown that is not prose, removed in this order (code first: it may contain anything).
# Every pattern stays linear on hostile input (a README of 2 MB of "[" or "<a"): classes
# exclude their own opening character, lengths are bounded and runs are possessive.
_NOT_PROSE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^ {0,3}(`{3,}+|~{3,}+).*?(?:^ {0,3}\1[`~]*[ \t]*$|\Z)", re.M | re.S), " "),
    (re.compile(r"<!--.*?(?:-->|\Z)", re.S), " "),
    # Images go with their alt text; links keep their text and lose the URL.
    (re.compile(r"!\[[^\[\]\n]{0,500}\](?:\([^()\[\]\n]{0,2000}\)|\[[^\[\]\n]{0,500}\])"), " "),
    (re.compile(r"\[([^\[\]\n]{0,500})\](?:\([^()\[\]\n]{0,2000}\)|\[[^\[\]\n]{0,500}\])"), r"\1"),
    (re.compile(r"^ {0,3}\[[^\[\]\n]{1,500}\]:[ \t]*\S+.*$", re.M), " "),  # link definitions
    (re.compile(r"</?[A-Za-z][^<>]{0,2000}>"), " "),  # HTML tags and <https://autolinks>
    (re.compile(r"(?<!`)(`++)[^\n]{0,2000}?\1(?!`)"), " "),  # inline code
    (re.compile(r"\b(?:https?://|www\.)\S+"), " "),  # bare URLs
    (re.compile(r"^[ \t>]*(?:#{1,6}[ \t]|\d+[.)][ \t])", re.M), " "),  # heading and list marks
]
# A word starts with a letter or digit; markup characters (| * _ - #) alone are not words,
# which also drops table pipes and emphasis markers.
_WORD = re.compile(r"[^\W_](?:[\w'’-]|\.(?=\w))*")


def prose_words(markdown: str) -> int:
    """Words of prose in a Markdown text, without code, links' URLs, images or markup."""
    for pattern, replacement in _NOT_PROSE:
        markdown = pattern.sub(replacement, markdown)
    return len(_WORD.findall(markdown))


@criterion(
    "readme",
    title="README",
    module="M6",
    rank=80,
    thresholds={"min_words": 300},
    fix="""
    Write a README.md that tells a newcomer what the project does, which data and model it
    uses, and how to install, train and run it (the commands, in code blocks). The template's
    text and directory tree are a start, not the whole story.
    """,
)
def readme(snapshot: Snapshot, context: Context) -> Outcome:
    """The repository has a `README.md` at its root with enough prose (by default at least
    300 words, not counting code blocks, links' URLs, images and markup) to explain what the
    project does and how to use it. It is the first page anyone opening your repository sees."""
    minimum = int(context.thresholds["min_words"])
    root_files = [p for p in snapshot.paths if "/" not in p]
    path = next((p for p in root_files if p.lower() == "readme.md"), "")
    metrics: dict[str, object] = {"words": 0, "min_words": minimum}
    if not path:
        other = next((p for p in root_files if p.lower().startswith("readme")), "")
        hint = f" (there is {other}; the course expects Markdown)" if other else ""
        return failed(f"No README.md at the root of the repository{hint}.", metrics=metrics)
    text = snapshot.text(path)
    if text is None:
        return failed(f"{path} cannot be read as text (binary or too large).", metrics=metrics)
    words = prose_words(text)
    metrics["words"] = words
    if words >= minimum:
        return passed(
            f"{path} has {words:,} words of prose (at least {minimum:,} expected).",
            metrics=metrics,
        )
    return failed(
        f"{path} has {words:,} words of prose; aim for at least {minimum:,}.", metrics=metrics
    )


# -- cli ------------------------------------------------------------------------------------

CLI_LIBRARIES = ("typer", "click", "argparse", "fire")
_SCRIPT_TABLES = (("project", "scripts"), ("tool", "poetry", "scripts"))


def _scripts(snapshot: Snapshot) -> tuple[list[str], int]:
    """Console-script names declared in pyproject.toml, and the line declaring them."""
    names: list[str] = []
    for keys in _SCRIPT_TABLES:
        table: object = snapshot.pyproject
        for key in keys:
            table = table.get(key) if isinstance(table, dict) else None
        if isinstance(table, dict):
            names.extend(str(name) for name in table)
    if not names:
        return [], 0
    text = snapshot.text("pyproject.toml") or ""
    header = re.search(
        r"^[ \t]*(?:\[[ \t]*(?:project|tool\.poetry)\.scripts[ \t]*\]|scripts[ \t]*=)", text, re.M
    )
    return names, text.count("\n", 0, header.start()) + 1 if header else 1


@criterion(
    "cli",
    title="Command line interface",
    module="M9",
    rank=90,
    fix="""
    Give your project a command line: wrap your train/evaluate functions with typer (or
    argparse/click) so they take options like `--lr 0.01`, and register them in
    pyproject.toml under `[project.scripts]` (e.g. `train = "my_project.train:app"`). A
    `tasks.py` with invoke (or a Makefile) for common commands helps too.
    """,
)
def cli(snapshot: Snapshot, context: Context) -> Outcome:
    """Your project can be driven from the command line: console scripts in
    `[project.scripts]`, a CLI built with typer, click or argparse, or a task runner
    (`tasks.py` with invoke, a `Makefile` or a `justfile`). Then training and evaluation are
    one documented command instead of editing code."""
    found: list[str] = []
    scripts, line = _scripts(snapshot)
    if scripts:
        names = ", ".join(f"`{name}`" for name in scripts[:5])
        found.append(f"[project.scripts] {names} (pyproject.toml:{line})")
    libraries = []
    for library in CLI_LIBRARIES:
        places = [p for p in imported(snapshot, library) if not is_test_path(p.path)]
        if places:
            libraries.append(library)
            found.append(f"{library} ({_where(places)})")
    runners = []
    root_files = [p for p in snapshot.paths if "/" not in p]
    for path in root_files:
        name = path.lower()
        if path == "tasks.py":
            invoke = any(p.path == path for p in imported(snapshot, "invoke"))
            runners.append("invoke" if invoke else "tasks.py")
            found.append(f"{'invoke tasks' if invoke else 'tasks'} ({path})")
        elif name in ("makefile", "gnumakefile", "justfile", ".justfile"):
            runners.append("just" if "justfile" in name else "make")
            found.append(f"{runners[-1]} ({path})")
    metrics = {"scripts": scripts, "libraries": libraries, "task_runners": runners}
    if found:
        return passed(f"Command line entry points: {'; '.join(found)}.", metrics=metrics)
    return failed(
        "No command line interface: no [project.scripts] entry, no typer, click or argparse in "
        "your code, and no tasks.py, Makefile or justfile.",
        metrics=metrics,
    )


# -- logging --------------------------------------------------------------------------------

LOGGING_LIBRARIES = {"logging": "the logging module", "loguru": "loguru", "structlog": "structlog"}
TRACKERS = {
    "wandb": "Weights & Biases",
    "mlflow": "MLflow",
    "tensorboard": "TensorBoard",
    "tensorboardX": "TensorBoard",
    "neptune": "Neptune",
    "comet_ml": "Comet",
    "clearml": "ClearML",
    "dvclive": "DVCLive",
}
# Trackers reached through a submodule, which the shared import table (top-level names) hides.
_DOTTED_TRACKERS = re.compile(
    r"^[ \t]*(?:from|import)[ \t]+(torch\.utils\.tensorboard"
    r"|(?:lightning\.pytorch|pytorch_lightning|lightning\.fabric|lightning)\.loggers)\b",
    re.M,
)


@dataclass(frozen=True)
class Tracker:
    name: str
    place: Place


def _trackers(snapshot: Snapshot) -> list[Tracker]:
    found = [Tracker(TRACKERS[m], p) for m in TRACKERS for p in imported(snapshot, m)]
    for path in snapshot.python_files:
        text = snapshot.text(path)
        if not text or ("tensorboard" not in text and ".loggers" not in text):
            continue
        for match in _DOTTED_TRACKERS.finditer(text):
            name = "TensorBoard" if "tensorboard" in match.group(1) else "Lightning loggers"
            found.append(Tracker(name, Place(path, text.count("\n", 0, match.start()) + 1)))
    return found


@criterion(
    "logging",
    title="Logging and experiment tracking",
    module="M14",
    rank=90,
    fix="""
    Replace `print` in your training and data code with a logger: `from loguru import logger`
    then `logger.info(...)` (or `logging.getLogger(__name__)`), so messages have levels and
    timestamps and can go to a file. Track experiments with Weights & Biases (`wandb.init`,
    `wandb.log`) to compare runs.
    """,
)
def logging_use(snapshot: Snapshot, context: Context) -> Outcome:
    """Your own code (not only the tests) logs with `logging` or loguru instead of `print`,
    and experiments are tracked (Weights & Biases, MLflow, TensorBoard, Lightning loggers).
    Logs tell you what happened in a run you did not watch; tracking lets you compare runs."""
    places = imported(snapshot, *LOGGING_LIBRARIES)
    source = [p for p in places if not is_test_path(p.path)]
    libraries = [lib for lib in LOGGING_LIBRARIES if any(imported(snapshot, lib))]
    trackers = _trackers(snapshot)
    tools = list(dict.fromkeys(t.name for t in trackers))
    files = len({p.path for p in source})
    metrics = {
        "logging_files": files,
        "libraries": libraries,
        "tracking": tools,
    }
    if trackers:
        tracking = "experiment tracking with " + ", ".join(
            f"{tool} ({_where([t.place for t in trackers if t.name == tool], 1)})" for tool in tools
        )
    else:
        tracking = "no experiment tracker yet (Weights & Biases, MLflow or TensorBoard)"
    if source:
        used = " and ".join(
            label
            for lib, label in LOGGING_LIBRARIES.items()
            if any(not is_test_path(p.path) for p in imported(snapshot, lib))
        )
        return passed(
            f"Logging with {used} in {_plural(files, 'file')} ({_where(source)}); {tracking}.",
            metrics=metrics,
        )
    if places:
        summary = f"Logging is only used in tests ({_where(places)}), not in your source code"
    else:
        summary = "No logging in your source code: no `logging` or loguru import"
    return failed(f"{summary}; {tracking}.", metrics=metrics)


# -- code-size ------------------------------------------------------------------------------

# A line of code holds something other than blanks and a comment (docstrings count as code);
# counted with one regex over the text, because parsing every file would cost a ruff run.
# Lines are found by their "\n", a literal `re` skips to, rather than by `^` (twice as slow).
_CODE_LINE = re.compile(r"\n[ \t]*[^\s#]")
_CODE_FIRST_LINE = re.compile(r"[ \t]*[^\s#]")


def _code_lines(text: str) -> int:
    return len(_CODE_LINE.findall(text)) + (_CODE_FIRST_LINE.match(text) is not None)


@criterion(
    "code-size",
    title="Code size",
    module="M6",
    rank=100,
    fix="Nothing to fix: these numbers describe the project.",
)
def code_size(snapshot: Snapshot, context: Context) -> Outcome:
    """How big the project is: Python files and their lines of code (not counting blank and
    comment lines), test files and notebooks. Facts only, nothing to pass or fail."""
    code_lines = test_lines = test_files = 0
    for path in snapshot.python_files:
        lines = _code_lines(snapshot.text(path) or "")
        code_lines += lines
        name = path.rsplit("/", 1)[-1]
        if name.startswith("test_") or name.endswith("_test.py"):
            test_files += 1
            test_lines += lines
    notebooks = sum(
        path.endswith(".ipynb") and ".ipynb_checkpoints/" not in path for path in snapshot.paths
    )
    files = len(snapshot.python_files)
    metrics = {
        "python_files": files,
        "code_lines": code_lines,
        "test_files": test_files,
        "test_code_lines": test_lines,
        "notebooks": notebooks,
    }
    return info(
        f"{_plural(files, 'Python file')} with {_plural(code_lines, 'line')} of code "
        f"({_plural(test_files, 'test file')}, {_plural(test_lines, 'line')}); "
        f"{_plural(notebooks, 'notebook') if notebooks else 'no notebooks'}.",
        metrics=metrics,
    )
