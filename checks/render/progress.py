"""The group's progress issue and its deadline reminders: a `Report` and the course's
calendar in, markdown out (pure; `github_app.progress_issue` posts it).

The issue lists the course's checklist by week with what passes, says what to do next and
how long is left; GitHub edits it after every evaluation, so the same inputs always give
the same text. Everything a group's files put into it (a summary quoting a file name, a
fix quoting a decorator) is kept from pinging people: outside code spans, `@name` and
`owner/repo#12` would notify users or link other repositories' issues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from checks.models import CriterionResult, Report, Severity, Status, clip
from checks.profile import Profile
from checks.render import ATTENTION_ORDER, by_week, module_label, week_name

PROGRESS_TITLE = "Course progress: the MLOps checklist"
# Finds the app's own issue again when the store lost its number (never shown).
PROGRESS_MARKER = "<!-- mlops-mentor:progress -->"
# GitHub refuses an issue or comment body over 65,536 characters.
ISSUE_BODY_LIMIT = 65_536
# "What to do next" names this many items; the checklist shows all of them.
NEXT_ITEMS = 5
SUMMARY_CHARS = 160
SHORT_SHA = 7
# Outside code, these would notify a user or link another repository's issue.
_PING = re.compile(r"(?<![\w`])@(?=[\w-])|#(?=\d)")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.DOTALL)


@dataclass(frozen=True)
class Reminder:
    """A deadline reminder: posted once when an evaluation falls within `before` of it."""

    key: str
    before: timedelta
    heading: str


# Most urgent first: inside the last day only the one-day reminder is posted.
REMINDERS = (
    Reminder("1d", timedelta(days=1), "The deadline is less than a day away"),
    Reminder("7d", timedelta(days=7), "The deadline is less than a week away"),
)


def due_reminder(deadline: datetime | None, now: datetime) -> Reminder | None:
    """The most urgent reminder whose window holds `now` (None after the deadline)."""
    if deadline is None or now >= deadline:
        return None
    return next((r for r in REMINDERS if deadline - r.before <= now), None)


def checklist_items(report: Report) -> list[CriterionResult]:
    """What the checklist shows: the scored criteria, and approved exemptions."""
    return [
        r
        for r in report.results
        if r.id != "config"
        and r.visibility == "students"
        and (r.exemption == "approved" or (r.severity != Severity.info and r.status != Status.info))
    ]


def is_done(result: CriterionResult) -> bool:
    return result.status == Status.passed or result.exemption == "approved"


def open_items(report: Report) -> list[CriterionResult]:
    """Checklist items not done, in the order to do them: must-fix, then by course order
    (items waiting on another one last)."""
    todo = [r for r in checklist_items(report) if not is_done(r)]
    ordered = [r for _week, results in by_week(todo) for r in results]
    rank = {id(r): i for i, r in enumerate(ordered)}
    return sorted(todo, key=lambda r: (_urgency(r), rank[id(r)]))


def _urgency(result: CriterionResult) -> int:
    if result.status == Status.fail:
        return 0
    return 1 if result.status in ATTENTION_ORDER else 2


def quiet(text: str) -> str:
    """`text` with mentions and issue references outside code spans made inert."""
    parts: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(text):
        parts.append(_inert(text[last : span.start()]))
        parts.append(span.group(0))
        last = span.end()
    parts.append(_inert(text[last:]))
    return "".join(parts)


def _inert(text: str) -> str:
    # An empty HTML comment splits the token for GitHub and shows nothing.
    return _PING.sub(lambda m: m.group(0) + "<!-- -->", text)


def _one_line(text: str, limit: int = SUMMARY_CHARS) -> str:
    return quiet(clip(" ".join(text.split()), limit))


def _module_url(result: CriterionResult, profile: Profile) -> str:
    module = profile.modules.get(result.module)
    return (module.url if module else "") or result.docs_url


def _module_link(result: CriterionResult, profile: Profile) -> str:
    url = _module_url(result, profile)
    label = module_label(result) or "course page"
    return f"[{label}]({url})" if url else label


def deadline_line(deadline: datetime | None, now: datetime) -> str:
    """ "**Deadline:** Fri 22 Jan 2027, 23:59 UTC+01:00 — 6 days left", or "" without one."""
    if deadline is None:
        return ""
    when = f"{deadline:%a %d %b %Y, %H:%M} {deadline.tzname() or 'UTC'}"
    left = deadline - now
    if left <= timedelta(0):
        return f"**Deadline:** {when} — passed; later pushes are still evaluated, marked late."
    if left < timedelta(days=1):
        hours = int(left.total_seconds() // 3600)
        rest = f"{_plural(hours, 'hour')} left" if hours else "less than an hour left"
    else:
        rest = f"{_plural(left.days, 'day')} left"
    return f"**Deadline:** {when} — {rest}."


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _next_entry(number: int, result: CriterionResult, profile: Profile) -> str:
    advice = result.fix or result.summary
    line = f"{number}. **{result.title}** — {_one_line(advice, 300)}"
    if result.status == Status.fail:
        line = f"{number}. ❌ **{result.title}** (must fix) — {_one_line(advice, 300)}"
    # The criterion's own guide, when it is not the module's page already.
    own = result.docs_url and result.docs_url != _module_url(result, profile)
    learn = f"[how to]({result.docs_url})" if own else ""
    return " ".join(p for p in (line, _module_link(result, profile), learn) if p)


def _check_line(result: CriterionResult, profile: Profile, *, with_summary: bool) -> str:
    box = "x" if is_done(result) else " "
    line = f"- [{box}] **{result.title}** · {_module_link(result, profile)}"
    if result.exemption == "approved":
        return f"{line} — exempt (approved by the staff)"
    if is_done(result) or not with_summary:
        return line
    return f"{line} — {_one_line(result.summary)}"


def _checklist(report: Report, profile: Profile, *, with_summary: bool) -> list[str]:
    lines: list[str] = []
    for week, results in by_week(checklist_items(report)):
        done = sum(is_done(r) for r in results)
        current = " · this week" if report.course_week == week else ""
        lines.append(f"\n### {week_name(week)} — {done}/{len(results)}{current}\n")
        lines.extend(_check_line(r, profile, with_summary=with_summary) for r in results)
    return lines


def _fit(head: str, lines: list[str], tail: str, limit: int) -> str:
    """Head, as many checklist lines as fit, and the tail, within `limit` characters."""
    text = "\n".join([head, *lines, tail])
    if len(text) <= limit:
        return text
    budget = limit - len(head) - len(tail) - 200
    kept: list[str] = []
    for line in lines:
        if budget - len(line) - 1 < 0:
            break
        kept.append(line)
        budget -= len(line) + 1
    cut = f"\n_…and {len(lines) - len(kept)} more lines, shortened to fit GitHub's limit._"
    return "\n".join([head, *kept, cut, tail])[:limit]


def progress_body(
    report: Report,
    profile: Profile,
    *,
    sha: str,
    branch: str,
    now: datetime,
    deadline: datetime | None,
    limit: int = ISSUE_BODY_LIMIT,
) -> str:
    """The progress issue's body for the newest evaluation of the group's default branch."""
    items = checklist_items(report)
    done = sum(is_done(r) for r in items)
    todo = open_items(report)
    # A skipped item waits on another one: that one is what to do next.
    actionable = [r for r in todo if r.status != Status.skip]
    share = f" ({round(100 * done / len(items))}%)" if items else ""
    status = [f"**{done}/{len(items)} practices in place{share}** on `{branch}` at `{sha[:7]}`"]
    if report.course_week:
        status.append(f"course week {report.course_week}")
    head = [
        PROGRESS_MARKER,
        f"## {profile.title or profile.name}: your progress",
        "",
        " · ".join(status) + ".",
    ]
    due = deadline_line(deadline, now)
    if due:
        head += ["", due]
    head += ["", "### What to do next", ""]
    if todo:
        shown = actionable[:NEXT_ITEMS]
        head += [_next_entry(i, r, profile) for i, r in enumerate(shown, 1)]
        if len(todo) > len(shown):
            head += ["", f"…and {len(todo) - len(shown)} more open items in the checklist below."]
    else:
        head.append("Everything the course checks is in place. Great work! 🎉")
    tail = (
        "\n---\n_MLOps Mentor edits this issue after each evaluation of "
        f"`{branch}`; the check run on each commit has the details. Edits here are "
        "overwritten. Close the issue to stop the updates._"
    )
    full = _checklist(report, profile, with_summary=True)
    text = "\n".join(["\n".join(head), *full, tail])
    if len(text) > limit:
        text = _fit("\n".join(head), _checklist(report, profile, with_summary=False), tail, limit)
    return text


def reminder_comment(
    report: Report,
    profile: Profile,
    reminder: Reminder,
    *,
    deadline: datetime,
    now: datetime,
    limit: int = ISSUE_BODY_LIMIT,
) -> str:
    """The comment posted once per reminder: the deadline and everything still open."""
    todo = open_items(report)
    head = [
        f"<!-- mlops-mentor:reminder:{reminder.key} -->",
        f"### ⏰ {reminder.heading}",
        "",
        deadline_line(deadline, now),
        "",
    ]
    if not todo:
        head.append("Everything the course checks is in place. Well done, and good luck! 🎉")
        return "\n".join(head)
    head.append(f"Still open ({len(todo)}):\n")
    lines = [
        f"- **{r.title}** ({week_name(r.week or 0)}) · {_module_link(r, profile)}" for r in todo
    ]
    tail = "\nThe checklist above shows where each one stands after your latest push."
    return _fit("\n".join(head), lines, tail, limit)
