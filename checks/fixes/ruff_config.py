"""`ruff-config`: the course's ruff rules written down, so `ruff check` agrees locally."""

from __future__ import annotations

from checks.criteria.lint import CONFIG_NAMES, DEFAULT_LINE_LENGTH, DEFAULT_SELECT
from checks.fixes.registry import Proposal, Results, appended, fix, utf8_text
from checks.parsing import parse_toml
from checks.snapshot import Snapshot

PYPROJECT = "pyproject.toml"
RUFF_TOML = "ruff.toml"


def _configured(snapshot: Snapshot) -> bool:
    """Whether a configuration file at the root already configures ruff (as ruff reads)."""
    for path in CONFIG_NAMES:
        if not snapshot.is_file(path):
            continue
        if path != PYPROJECT:
            return True
        parsed = snapshot.toml(path)
        tool = parsed.data.get("tool") if parsed.ok else None
        # An unreadable pyproject.toml is the group's to repair, not to append to.
        if not parsed.ok or (isinstance(tool, dict) and "ruff" in tool):
            return True
    return False


def _settings(prefix: str) -> list[str]:
    rules = ", ".join(f'"{code}"' for code in DEFAULT_SELECT.split(","))
    return [
        f"[{prefix}ruff]" if prefix else "",
        f"line-length = {DEFAULT_LINE_LENGTH}",
        "",
        f"[{prefix}ruff.lint]" if prefix else "[lint]",
        "# pycodestyle (E, W), pyflakes (F), sorted imports (I) and bugbear (B).",
        f"select = [{rules}]",
    ]


@fix(
    "ruff-config",
    label="Add ruff config",
    description="Check locally with the course rules",
    title="Configure ruff with the course's rules",
    criteria=("lint",),
    rank=50,
)
def ruff_config(snapshot: Snapshot, results: Results) -> Proposal | None:
    """`[tool.ruff]` appended to pyproject.toml, else a new `ruff.toml`; never over one."""
    if _configured(snapshot):
        return None
    header = "# Added by mlops-mentor: the rules the course checks (module M7)."
    text = utf8_text(snapshot, PYPROJECT) if snapshot.is_file(PYPROJECT) else None
    if text is not None:
        path = PYPROJECT
        new = appended(text, ["", header, *_settings("tool.")])
        if not parse_toml(new).ok:
            return None
    else:
        if snapshot.exists(RUFF_TOML):
            return None
        path = RUFF_TOML
        new = "\n".join([header, *[line for line in _settings("") if line]]) + "\n"
    explanation = (
        f"Writes the rules mlops-mentor checks your code with into `{path}`: PEP 8 "
        f"(pycodestyle E and W, lines up to {DEFAULT_LINE_LENGTH} characters), pyflakes (F: "
        "unused imports, undefined names), sorted imports (I) and bugbear (B: likely bugs). "
        "With it, `ruff check .` on your laptop, in pre-commit and in CI reports exactly "
        "what the check run reports, and `ruff check --fix .` repairs most of it.\n\nThis "
        "does not change your code: run `ruff check --fix .` and `ruff format .` after "
        "merging, and fix what is left by hand. Add rules to `select` as the group agrees "
        "on them."
    )
    return Proposal({path: new}, explanation)
