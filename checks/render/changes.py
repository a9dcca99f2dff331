"""What changed since the branch's previous evaluation: the line at the top of a summary.

Pure: two stored `Report`s in, a `Changes` value and one short markdown block out.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from checks.models import Report, Status

# A criterion that is "a problem" for the student: not met, recommended or required.
# Errors are our own bugs and `info`/`skip` are not verdicts, so none of those counts as
# a new problem; leaving any non-passing state for `pass` counts as fixed (a criterion
# skipped because its requirement failed, now passing, is progress too).
PROBLEM = frozenset({Status.warn, Status.fail})
SHORT_SHA = 7


class ChangedCriterion(BaseModel):
    """One criterion whose verdict moved between two evaluations."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    before: Status
    after: Status


class Changes(BaseModel):
    """Criteria fixed and newly failing since the previous evaluation, in report order."""

    model_config = ConfigDict(frozen=True)

    fixed: tuple[ChangedCriterion, ...] = ()
    new_problems: tuple[ChangedCriterion, ...] = ()

    @property
    def fixed_count(self) -> int:
        return len(self.fixed)

    @property
    def new_count(self) -> int:
        return len(self.new_problems)

    @property
    def changed(self) -> bool:
        return bool(self.fixed or self.new_problems)


def changes_since(previous: Report, current: Report) -> Changes:
    """Compare two reports criterion by criterion (by id; criteria in only one are ignored,
    since a profile change is not something the group did)."""
    before = {r.id: r.status for r in previous.results}
    fixed: list[ChangedCriterion] = []
    new: list[ChangedCriterion] = []
    for result in current.results:
        old = before.get(result.id)
        if old is None or old == result.status:
            continue
        change = ChangedCriterion(id=result.id, title=result.title, before=old, after=result.status)
        if result.status == Status.passed:
            fixed.append(change)
        elif old == Status.passed and result.status in PROBLEM:
            new.append(change)
    return Changes(fixed=tuple(fixed), new_problems=tuple(new))


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def changes_markdown(changes: Changes, previous_sha: str) -> str:
    """The summary's opening lines, e.g. "**Since a1b2c3d:** 2 fixed, 1 new problem." and
    the lists; a plain "no change" line when no verdict moved."""
    since = f"**Since {previous_sha[:SHORT_SHA]}:**"
    if not changes.changed:
        return f"{since} no change in the checked practices."
    counts = []
    if changes.fixed:
        counts.append(f"{changes.fixed_count} fixed")
    if changes.new_problems:
        counts.append(_plural(changes.new_count, "new problem", "new problems"))
    lines = [f"{since} {', '.join(counts)}.", ""]
    if changes.fixed:
        titles = ", ".join(c.title for c in changes.fixed)
        lines.append(f"- Fixed: {titles}. Nice work!")
    if changes.new_problems:
        titles = ", ".join(c.title for c in changes.new_problems)
        lines.append(f"- New: {titles} (see below for what to do).")
    return "\n".join(lines)
