"""GitHub Actions workflow commands, so a course can run the checks as a workflow step."""

from __future__ import annotations

from checks.models import Level, Report, Status
from checks.render import title_line

_COMMAND = {Level.failure: "error", Level.warning: "warning", Level.notice: "notice"}
_STATUS_COMMAND = {Status.fail: "error", Status.warn: "warning", Status.error: "warning"}


def _data(text: str) -> str:
    # Escaping as the Actions runner expects (toolkit's escapeData / escapeProperty).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render_workflow_commands(report: Report) -> str:
    lines = []
    for a in report.annotations():
        props = f"file={_property(a.path)},line={a.start_line},endLine={a.end_line}"
        if a.title:
            props += f",title={_property(a.title)}"
        lines.append(f"::{_COMMAND[a.level]} {props}::{_data(a.message)}")
    for r in report.results:
        if r.status in _STATUS_COMMAND and not r.annotations:
            message = r.summary + (f" Fix: {r.fix}" if r.fix else "")
            lines.append(
                f"::{_STATUS_COMMAND[r.status]} title={_property(r.title)}::{_data(message)}"
            )
    lines.append(f"mlops-mentor: {title_line(report)} · conclusion {report.conclusion.value}")
    return "\n".join(lines) + "\n"
