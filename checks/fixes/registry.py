"""Starter fixes: small declared units, registered by id, like the criteria.

A fix turns a failing criterion's finding into file changes a pull request can carry. It
is a function of the `Snapshot` (the evaluated commit) and the students' results, returning
a `Proposal` (new file contents and why) or None when there is nothing mechanical to do.
Pure: no network; the app builds the pull request (`github_app.starter_pr`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, Field

from checks.models import CriterionResult, Report, Status
from checks.snapshot import Snapshot

# GitHub's limits on a check run's action button.
LABEL_LIMIT = 20
DESCRIPTION_LIMIT = 40
IDENTIFIER_LIMIT = 20
# A check run shows at most this many buttons.
ACTIONS_PER_RUN = 3
# Results a fix may address: the criterion is not met (required or recommended).
FAILING = frozenset({Status.fail, Status.warn})
# The course's Python, as the lint criterion assumes (python 3.11): CI and images use it.
COURSE_PYTHON = "3.11"


@dataclass(frozen=True)
class Proposal:
    """What a fix changes: {path: whole new text}, and a paragraph saying what and why."""

    changes: dict[str, str]
    explanation: str


Results = Mapping[str, CriterionResult]
Make = Callable[[Snapshot, Results], Proposal | None]


class Fix(BaseModel):
    """A mechanical fix of a commit: the button that offers it and the pull request it opens."""

    id: str = Field(max_length=IDENTIFIER_LIMIT, pattern=r"^[a-z][a-z0-9-]*$")
    label: str = Field(max_length=LABEL_LIMIT)
    description: str = Field(max_length=DESCRIPTION_LIMIT)
    criteria: list[str]
    title: str
    body: str
    changes: dict[str, str] = Field(min_length=1)

    @property
    def branch(self) -> str:
        return branch_of(self.id)


def branch_of(fix_id: str) -> str:
    """The branch a fix's pull request comes from (one per fix, reused on every press)."""
    return f"mlops-mentor/{fix_id}"


@dataclass(frozen=True)
class FixMaker:
    id: str
    label: str
    description: str
    title: str
    criteria: tuple[str, ...]
    make: Make
    # Lower ranks are offered first when more than three fixes apply.
    rank: int

    def __call__(self, snapshot: Snapshot, results: Results) -> Fix | None:
        addressed = [results[c] for c in self.criteria if c in results]
        if not any(r.status in FAILING for r in addressed):
            return None
        proposal = self.make(snapshot, results)
        if proposal is None or not proposal.changes:
            return None
        return Fix(
            id=self.id,
            label=self.label,
            description=self.description,
            criteria=[r.id for r in addressed if r.status in FAILING],
            title=self.title,
            body=_body(proposal, [r for r in addressed if r.status in FAILING]),
            changes=proposal.changes,
        )


def _body(proposal: Proposal, addressed: list[CriterionResult]) -> str:
    files = "\n".join(f"- `{path}`" for path in sorted(proposal.changes))
    criteria = "\n".join(f"- **{r.title}** (`{r.id}`): {r.summary}{_page(r)}" for r in addressed)
    return (
        f"{proposal.explanation}\n\n"
        f"### Files\n{files}\n\n"
        f"### What mlops-mentor found\n{criteria}\n\n"
        "Review the change like any teammate's pull request: edit it on this branch if "
        "something does not fit your project, then merge it. Nothing was pushed to your "
        "branches."
    )


def _page(result: CriterionResult) -> str:
    if not result.docs_url:
        return ""
    return f" — course page: [{result.module_title or 'learn more'}]({result.docs_url})"


REGISTRY: dict[str, FixMaker] = {}


def fix(
    id: str,
    *,
    label: str,
    description: str,
    title: str,
    criteria: tuple[str, ...],
    rank: int,
) -> Callable[[Make], Make]:
    """Register a fix under a stable id (the check run's action identifier)."""

    def register(make: Make) -> Make:
        if id in REGISTRY:
            raise ValueError(f"fix {id!r} is registered twice")
        REGISTRY[id] = FixMaker(id, label, description, title, criteria, make, rank)
        return make

    return register


def all_fixes() -> dict[str, FixMaker]:
    """Every registered fix (importing the catalog registers them)."""
    import checks.fixes.catalog  # noqa: F401 - registers the catalog

    return REGISTRY


def offered_fixes(snapshot: Snapshot, report: Report, limit: int = ACTIONS_PER_RUN) -> list[Fix]:
    """The fixes to offer as buttons on a report's check run, most valuable first."""
    results = {r.id: r for r in report.results}
    found = []
    for maker in sorted(all_fixes().values(), key=lambda m: m.rank):
        try:
            made = maker(snapshot, results)
        except Exception:  # a broken fix is one button less, never a failed check run
            continue
        if made is not None:
            found.append(made)
        if len(found) == limit:
            break
    return found


def make_fix(fix_id: str, snapshot: Snapshot, report: Report) -> Fix | None:
    """One fix of a commit, or None when it does not apply (any more)."""
    maker = all_fixes().get(fix_id)
    if maker is None:
        return None
    return maker(snapshot, {r.id: r for r in report.results})


def utf8_text(snapshot: Snapshot, path: str) -> str | None:
    """A file's exact text when it can be rewritten safely: a regular UTF-8 file under the
    read cap (its BOM kept), else None (a fix never re-encodes what it did not write)."""
    entry = snapshot.files.get(path)
    if entry is None or entry.is_symlink or entry.size > snapshot.read_cap:
        return None
    data = snapshot.raw(path)
    if b"\x00" in data[:8192]:
        return None
    try:
        # A BOM stays in the text as U+FEFF, so writing it back keeps it.
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def newline_of(text: str) -> str:
    """The file's line ending, so appended lines match the rest."""
    return "\r\n" if "\r\n" in text else "\n"


def appended(text: str, lines: list[str]) -> str:
    """`text` with `lines` added at its end, nothing else touched."""
    newline = newline_of(text)
    start = "" if not text or text.endswith(("\n", "\r")) else newline
    return text + start + newline.join(lines) + newline
