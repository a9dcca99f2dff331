"""Pure functions turning a `Report` into what a person or a tool reads."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from checks.models import CriterionResult, Report, Status

STATUS_MARK = {
    Status.passed: "✅",
    Status.warn: "⚠️",
    Status.fail: "❌",
    Status.info: "🔎",
    Status.skip: "⏭️",
    Status.error: "💥",
}
# What needs work first: failures, then errors (ours), then warnings.
ATTENTION_ORDER = {Status.fail: 0, Status.error: 1, Status.warn: 2}
WEEK_NAMES = {1: "Week 1", 2: "Week 2", 3: "Week 3", 4: "Extra"}


def module_label(result: CriterionResult) -> str:
    if result.module_title and result.module.startswith("M"):
        return f"{result.module} {result.module_title}"
    return result.module_title or result.module


def week_name(week: int) -> str:
    return WEEK_NAMES.get(week, "Course setup" if week == 0 else f"Week {week}")


def by_week(results: Iterable[CriterionResult]) -> list[tuple[int, list[CriterionResult]]]:
    """Results grouped by course week, in course order (setup first, then weeks, then modules)."""

    def module_number(result: CriterionResult) -> int:
        digits = result.module[1:]
        return int(digits) if result.module.startswith("M") and digits.isdigit() else 99

    ordered = sorted(results, key=lambda r: (r.week or 0, module_number(r)))
    return [(w, list(rs)) for w, rs in groupby(ordered, key=lambda r: r.week or 0)]


def needs_work(report: Report) -> list[CriterionResult]:
    """Results a student should act on, most serious first (stable within a status)."""
    found = [r for r in report.results if r.status in ATTENTION_ORDER]
    return sorted(found, key=lambda r: ATTENTION_ORDER[r.status])


def title_line(report: Report) -> str:
    """One line for a check run's title, e.g. `21/32 practices · 1 must fix · 10 to work on`."""
    parts = [f"{report.passed}/{report.total} practices"]
    must = sum(r.status == Status.fail for r in report.results)
    todo = sum(r.status in (Status.warn, Status.error) for r in report.results)
    if must:
        parts.append(f"{must} must fix")
    if todo:
        parts.append(f"{todo} to work on")
    return " · ".join(parts)
