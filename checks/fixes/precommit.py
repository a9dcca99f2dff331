"""`pre-commit`: a `.pre-commit-config.yaml` with the standard hooks and ruff."""

from __future__ import annotations

from checks.criteria.ci import PRE_COMMIT_CONFIG
from checks.criteria.lint import ruff_version
from checks.fixes.registry import Proposal, Results, fix
from checks.snapshot import Snapshot

PRE_COMMIT_HOOKS_REV = "v5.0.0"
# ruff-pre-commit renamed its `ruff` hook `ruff-check` in 0.12 (the old id is an alias).
RUFF_CHECK_SINCE = (0, 12)


def _ruff_hook(version: str) -> str:
    release = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    return "ruff-check" if release >= RUFF_CHECK_SINCE else "ruff"


@fix(
    "pre-commit",
    label="Add pre-commit",
    description="Hooks: whitespace, YAML, ruff",
    title="Add pre-commit hooks with ruff",
    criteria=("pre-commit",),
    rank=30,
)
def pre_commit_config(snapshot: Snapshot, results: Results) -> Proposal | None:
    """A new configuration, only when the root has none (an invalid one is the group's)."""
    if snapshot.exists(PRE_COMMIT_CONFIG) or snapshot.exists(".pre-commit-config.yml"):
        return None
    version = ruff_version()
    text = "\n".join(
        [
            "# Added by mlops-mentor. Run `pre-commit install` once; the hooks then check every",
            "# commit. `pre-commit autoupdate` moves the versions forward.",
            "repos:",
            "  - repo: https://github.com/pre-commit/pre-commit-hooks",
            f"    rev: {PRE_COMMIT_HOOKS_REV}",
            "    hooks:",
            "      - id: trailing-whitespace",
            "      - id: end-of-file-fixer",
            "      - id: check-yaml",
            "      - id: check-added-large-files",
            "  - repo: https://github.com/astral-sh/ruff-pre-commit",
            f"    rev: v{version}",
            "    hooks:",
            f"      - id: {_ruff_hook(version)}",
            "        args: [--fix]",
            "      - id: ruff-format",
            "",
        ]
    )
    explanation = (
        f"Adds `{PRE_COMMIT_CONFIG}` with the hooks taught in the course: trailing "
        "whitespace and end-of-file fixes, a YAML check, a guard against committing large "
        f"files, and ruff (version {version}, the one mlops-mentor checks with) to lint "
        "and format your code before each commit.\n\nAfter merging, each of you runs once:"
        "\n\n```\npip install pre-commit\npre-commit install\npre-commit run --all-files\n```"
    )
    return Proposal({PRE_COMMIT_CONFIG: text}, explanation)
