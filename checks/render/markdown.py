"""The check run's markdown: exactly what the app posts and `--format markdown` prints."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from checks.models import CriterionResult, Level, Report, Status
from checks.render import STATUS_MARK, by_week, module_label, needs_work, title_line, week_name

# GitHub refuses a check-run summary or text over 65,535 characters.
GITHUB_TEXT_LIMIT = 65_535
CONCLUSION_LINE = {
    "success": "Every practice the course checks is in place. Great work!",
    "neutral": "Your project is on its way: the items below are what to work on next.",
    "failure": "Something must be fixed before anything else: see the ❌ items first.",
}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _link(result: CriterionResult) -> str:
    label = module_label(result) or "course page"
    return f"[{label}]({result.docs_url})" if result.docs_url else label


def _needs_work_entry(result: CriterionResult) -> str:
    lines = [f"- {STATUS_MARK[result.status]} **{result.title}** — {_one_line(result.summary)}"]
    if result.fix:
        lines.append(f"  - **How to fix:** {_one_line(result.fix)}")
    annotated = len(result.annotations)
    if annotated:
        lines.append(f"  - {annotated} line{'s' if annotated != 1 else ''} marked in the files.")
    lines.append(f"  - Learn more: {_link(result)}")
    return "\n".join(lines)


def _table(results: list[CriterionResult]) -> str:
    rows = ["| | Practice | Module | Finding |", "|---|---|---|---|"]
    for r in results:
        finding = _one_line(r.summary).replace("|", "\\|")
        rows.append(f"| {STATUS_MARK[r.status]} | {r.title} | {_link(r)} | {finding} |")
    return "\n".join(rows)


def _annotation_totals(report: Report) -> str:
    counts = Counter(a.level for r in report.results for a in r.annotations)
    if not counts:
        return ""
    per_criterion = ", ".join(
        f"`{r.id}` {len(r.annotations)}" for r in report.results if r.annotations
    )
    levels = ", ".join(f"{counts[level]} {level.value}" for level in Level if counts[level])
    return (
        f"**Marked lines:** {sum(counts.values())} ({levels}) — by criterion: {per_criterion}. "
        "If a cap hides some, run `mlops-mentor check .` to see every one."
    )


def _fit(sections: list[str], tail: list[str], limit: int) -> str:
    """Join sections, dropping items from the longest ones first so the text fits GitHub."""
    text = "\n\n".join(s for s in [*sections, *tail] if s)
    if len(text) <= limit:
        return text
    note = "\n\n_…shortened to fit GitHub's limit; run `mlops-mentor check .` for everything._"
    budget = limit - len(note) - sum(len(t) + 2 for t in tail)
    kept: list[str] = []
    for section in sections:
        if len(section) + 2 <= budget:
            kept.append(section)
            budget -= len(section) + 2
        elif budget > 200:
            cut = section[: budget - 1]
            kept.append(cut[: cut.rfind("\n")] if "\n" in cut else cut)
            budget = 0
    return ("\n\n".join([*kept, *tail]) + note)[:limit]


def summary_markdown(
    report: Report,
    limit: int = GITHUB_TEXT_LIMIT,
    *,
    preamble: str = "",
    class_pass_rates: Mapping[str, float] | None = None,
) -> str:
    """The check run's summary: what needs work first, passing items folded, a score line.

    `preamble` (e.g. what changed since the last evaluation) goes first, within `limit`.
    `class_pass_rates` (criterion id → share of the course's groups passing it, anonymous)
    adds "64% of groups pass this" to each item that needs work.
    """
    rates = class_pass_rates or {}
    todo = needs_work(report)
    passing = [r for r in report.results if r.status == Status.passed]
    others = [r for r in report.results if r.status in (Status.info, Status.skip)]
    when = f"Course week {report.course_week}. " if report.course_week else ""
    if report.late:
        when += "⏰ Pushed after the deadline: evaluated as usual and marked late. "
    sections = [
        f"### {title_line(report)}\n\n{when}{CONCLUSION_LINE[report.conclusion.value]}",
    ]
    if preamble:
        sections.insert(0, preamble)
    if todo:
        sections.append(
            "#### What to work on first\n\n"
            + "\n".join(
                _needs_work_entry(r)
                + (
                    f"\n  - {round(rates[r.id] * 100)}% of groups pass this."
                    if r.id in rates
                    else ""
                )
                for r in todo
            )
        )
    exempt = [r for r in report.results if r.exemption]
    if exempt:
        sections.append(
            "#### Exemptions\n\n"
            + "\n".join(
                f"- **{r.title}**: {_one_line(r.exempt_reason)}"
                + ("" if r.exemption == "approved" else " _(requested: waiting for approval)_")
                for r in exempt
            )
        )
    if passing:
        sections.append(
            f"<details><summary>✅ {len(passing)} practices in place</summary>\n\n"
            f"{_table(passing)}\n\n</details>"
        )
    others = [r for r in others if r.exemption != "approved"]
    if others:
        sections.append(
            f"<details><summary>🔎 {len(others)} for information or waiting on others</summary>"
            f"\n\n{_table(others)}\n\n</details>"
        )
    score = (
        f"**Score:** {report.passed}/{report.total} practices · profile `{report.profile}` · "
        f"evaluated in {report.duration_ms / 1000:.1f} s"
    )
    return _fit(sections, [_annotation_totals(report), score], limit)


def details_markdown(report: Report, limit: int = GITHUB_TEXT_LIMIT) -> str:
    """Every criterion's details, grouped by course week and module (the check run's text)."""
    sections = []
    for week, results in by_week(report.results):
        parts = [f"## {week_name(week)}"]
        for r in results:
            parts.append(f"### {STATUS_MARK[r.status]} {r.title} · {_link(r)}")
            parts.append(f"**{_one_line(r.summary)}**")
            if r.description:
                parts.append(f"_{_one_line(r.description)}_")
            if r.details:
                parts.append(r.details)
            if r.fix:
                parts.append(f"**How to fix:** {r.fix}")
        sections.append("\n\n".join(p for p in parts if p))
    return _fit(sections, [], limit)
