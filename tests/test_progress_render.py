"""The progress issue's markdown: checklist by week, what to do next, the deadline, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from checks.models import CriterionResult, Report, Severity, Status
from checks.profile import course_profile
from checks.render.progress import (
    ISSUE_BODY_LIMIT,
    NEXT_ITEMS,
    PROGRESS_MARKER,
    due_reminder,
    progress_body,
    quiet,
    reminder_comment,
)

PROFILE = course_profile()
NOW = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)
DEADLINE = datetime(2027, 1, 22, 23, 59, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"


def result(cid: str, status: Status, module: str, week: int, **fields: object) -> CriterionResult:
    values: dict[str, object] = {
        "id": cid,
        "title": cid.title(),
        "module": module,
        "module_title": PROFILE.modules[module].title,
        "week": week,
        "status": status,
        "summary": f"{cid} summary",
        "fix": f"do {cid}",
        "docs_url": f"https://guide.example/{cid}",
        **fields,
    }
    return CriterionResult.model_validate(values)


def report(*results: CriterionResult, week: int | None = 2) -> Report:
    return Report.of("dtu-mlops", list(results), duration_ms=5, course_week=week)


def body(rep: Report, **kwargs: object) -> str:
    values: dict[str, object] = {"sha": SHA, "branch": "main", "now": NOW, "deadline": DEADLINE}
    return progress_body(rep, PROFILE, **{**values, **kwargs})  # type: ignore[arg-type]


MIXED = report(
    result("layout", Status.passed, "M6", 1),
    result("readme", Status.warn, "M6", 1),
    result("secrets", Status.fail, "M5", 1, severity=Severity.required),
    result("tests", Status.warn, "M16", 2),
    result("coverage", Status.skip, "M16", 2, summary="Skipped until tests passes"),
    result("docker", Status.warn, "M10", 1, exemption="approved", exempt_reason="shared server"),
    result("code-size", Status.info, "M7", 1, severity=Severity.info),
    result("drift", Status.warn, "M27", 3, visibility="instructors"),
)


def test_checklist_is_grouped_by_week_with_passing_items_ticked() -> None:
    text = body(MIXED)
    assert text.startswith(PROGRESS_MARKER)
    week1 = text.index("### Week 1 — 2/4")
    week2 = text.index("### Week 2 — 0/2 · this week")
    assert week1 < week2
    layout = next(line for line in text.splitlines() if "**Layout**" in line and "- [" in line)
    assert layout.startswith("- [x] **Layout** · [M6 Code structure](https://skaftenicki")
    assert "- [ ] **Readme** · [M6 Code structure]" in text
    assert "- [x] **Docker** · [M10 Docker](" in text and "exempt (approved by the staff)" in text
    # Facts that are not verdicts and instructor-only criteria stay out.
    assert "Code-Size" not in text and "Drift" not in text
    assert "**2/6 practices in place (33%)** on `main` at `0123456`" in text
    assert "course week 2" in text


def test_what_to_do_next_puts_must_fix_first_in_course_order_and_skips_blocked_items() -> None:
    text = body(MIXED)
    section = text[text.index("### What to do next") : text.index("### Week 1")]
    entries = [line for line in section.splitlines() if line[:1].isdigit()]
    assert [e.split("**")[1] for e in entries] == ["Secrets", "Readme", "Tests"]
    assert entries[0].startswith("1. ❌ **Secrets** (must fix) — do secrets")
    assert "[M16 Unit testing](https://skaftenicki.github.io/dtu_mlops/" in entries[2]
    assert "[how to](https://guide.example/tests)" in entries[2]
    # Coverage waits on tests: counted as open, not offered as the next step.
    assert "Coverage" not in section.split("…")[0]
    assert "…and 1 more open items" in section


def test_next_steps_stop_at_a_few_and_a_complete_project_is_congratulated() -> None:
    many = report(*(result(f"c{i}", Status.warn, "M7", 1) for i in range(12)))
    section = body(many).split("### What to do next")[1].split("### Week")[0]
    assert sum(line[:1].isdigit() for line in section.splitlines()) == NEXT_ITEMS
    assert f"…and {12 - NEXT_ITEMS} more open items" in section
    done = body(report(result("layout", Status.passed, "M6", 1)))
    assert "Everything the course checks is in place" in done


def test_deadline_says_days_then_hours_left_then_passed() -> None:
    assert "**Deadline:** Fri 22 Jan 2027, 23:59 UTC — 10 days left." in body(MIXED)
    assert "— 1 day left." in body(MIXED, now=DEADLINE - timedelta(days=1, hours=2))
    assert "— 5 hours left." in body(MIXED, now=DEADLINE - timedelta(hours=5, minutes=3))
    assert "less than an hour left" in body(MIXED, now=DEADLINE - timedelta(minutes=20))
    assert "passed; later pushes are still evaluated" in body(MIXED, now=DEADLINE)
    assert "**Deadline:**" not in body(MIXED, deadline=None)


def test_same_evaluation_renders_the_same_body() -> None:
    assert body(MIXED) == body(MIXED.model_copy(deep=True))
    assert body(MIXED, now=NOW + timedelta(hours=1)) == body(MIXED)


def test_students_text_cannot_ping_people_or_link_other_issues() -> None:
    assert quiet("ask @teacher about org/repo#12 and #3") == (
        "ask @<!-- -->teacher about org/repo#<!-- -->12 and #<!-- -->3"
    )
    # Code spans render literally (and GitHub mentions nobody in them); e-mails are not mentions.
    assert quiet("use `@pytest.fixture` or s@dtu.dk") == "use `@pytest.fixture` or s@dtu.dk"
    text = body(report(result("lint", Status.warn, "M7", 1, summary="file @alice/x.py #7")))
    assert "@alice" not in text and "@<!-- -->alice" in text


def test_a_huge_report_fits_githubs_issue_limit_with_its_header_and_footer() -> None:
    long = "word " * 400
    huge = report(
        *(result(f"c{i}", Status.warn, "M7", 1, summary=long, title="T" * 200) for i in range(900))
    )
    text = body(huge)
    assert len(text) <= ISSUE_BODY_LIMIT
    assert text.startswith(PROGRESS_MARKER)
    assert "shortened to fit GitHub's limit" in text
    assert text.rstrip().endswith("Close the issue to stop the updates._")
    comment = reminder_comment(
        huge, PROFILE, due_reminder(DEADLINE, DEADLINE - timedelta(hours=3)), deadline=DEADLINE,
        now=DEADLINE - timedelta(hours=3),
    )  # fmt: skip
    assert len(comment) <= ISSUE_BODY_LIMIT


def test_reminders_are_due_a_week_and_a_day_before_the_deadline() -> None:
    assert due_reminder(DEADLINE, DEADLINE - timedelta(days=7, seconds=1)) is None
    assert due_reminder(DEADLINE, DEADLINE - timedelta(days=7)).key == "7d"
    assert due_reminder(DEADLINE, DEADLINE - timedelta(days=2)).key == "7d"
    assert due_reminder(DEADLINE, DEADLINE - timedelta(hours=23)).key == "1d"
    assert due_reminder(DEADLINE, DEADLINE) is None
    assert due_reminder(None, NOW) is None


def test_reminder_lists_everything_still_open_with_the_deadline() -> None:
    now = DEADLINE - timedelta(days=3)
    text = reminder_comment(MIXED, PROFILE, due_reminder(DEADLINE, now), deadline=DEADLINE, now=now)
    assert "The deadline is less than a week away" in text
    assert "3 days left" in text
    assert "Still open (4):" in text
    for title in ("Secrets", "Readme", "Tests", "Coverage"):
        assert f"- **{title}**" in text
    assert "Layout" not in text and "Docker" not in text
