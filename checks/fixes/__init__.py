"""Starter fixes: what mlops-mentor can change for a group when a criterion's fix is
mechanical, offered as buttons on the check run and opened as a pull request."""

from checks.fixes.registry import (
    ACTIONS_PER_RUN,
    Fix,
    all_fixes,
    branch_of,
    make_fix,
    offered_fixes,
)

__all__ = ["ACTIONS_PER_RUN", "Fix", "all_fixes", "branch_of", "make_fix", "offered_fixes"]
