"""A readable table for a person in a terminal, grouped by course week and module."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from checks.models import CriterionResult, Report, Status
from checks.render import by_week, module_label, title_line, week_name

LABEL = {
    Status.passed: "PASS",
    Status.warn: "TODO",
    Status.fail: "FAIL",
    Status.info: "INFO",
    Status.skip: "SKIP",
    Status.error: "ERR ",
}
COLOUR = {
    Status.passed: "32",
    Status.warn: "33",
    Status.fail: "31;1",
    Status.info: "36",
    Status.skip: "2",
    Status.error: "35",
}
# Lines shown per criterion in the terminal; the rest are counted, never hidden silently.
LINES_PER_CRITERION = 5


def wants_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if colour else text


def _criterion_block(result: CriterionResult, width: int, colour: bool) -> list[str]:
    label = _paint(LABEL[result.status], COLOUR[result.status], colour)
    lines = [f"    {label}  {result.id:<{width}}  {result.summary}"]
    indent = " " * (10 + width)
    if result.status not in (Status.passed, Status.info, Status.skip):
        shown = sorted(result.annotations, key=lambda a: (a.rank, a.path, a.start_line))
        for a in shown[:LINES_PER_CRITERION]:
            where = f"{a.path}:{a.start_line}"
            lines.append(f"{indent}{where}  {a.title or a.message}".rstrip())
        if len(shown) > LINES_PER_CRITERION:
            more = len(shown) - LINES_PER_CRITERION
            lines.append(f"{indent}… and {more} more (see --format github or markdown)")
        if result.fix:
            lines.append(f"{indent}fix: {' '.join(result.fix.split())}")
        if result.docs_url:
            lines.append(f"{indent}learn: {result.docs_url}")
    return lines


def render_text(report: Report, colour: bool | None = None) -> str:
    colour = wants_colour(sys.stdout) if colour is None else colour
    width = max((len(r.id) for r in report.results), default=10)
    out = [f"mlops-mentor · profile {report.profile} · {title_line(report)}"]
    for week, results in by_week(report.results):
        out.append("")
        out.append(_paint(week_name(week), "1", colour))
        current = None
        for result in results:
            label = module_label(result)
            if label != current and label != week_name(week):
                out.append(f"  {label}")
                current = label
            out.extend(_criterion_block(result, width, colour))
    out.append("")
    verdict = {"success": "success", "neutral": "neutral (keep going)", "failure": "failure"}
    out.append(
        f"Conclusion: {verdict[report.conclusion.value]} · {report.passed}/{report.total} "
        f"practices · {sum(len(r.annotations) for r in report.results)} marked lines · "
        f"{report.duration_ms / 1000:.2f} s"
    )
    return "\n".join(out) + "\n"
