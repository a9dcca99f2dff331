"""Read-only queries over the store's tables for the instructor dashboard and its exports.

Nothing here writes. Listings never load a report they do not show: the overview loads
one report per group (its latest evaluation), a group page the reports of its recent
history only, and the exports stream rows in batches so memory stays flat whatever the
history's size.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Row, case, func, or_, select
from sqlalchemy.orm import Session

from checks.models import Report
from github_app.store.course import CONFIG_REPOSITORY
from github_app.store.models import (
    Evaluation,
    EvaluationStatus,
    Installation,
    PushCommit,
    Repository,
)
from github_app.store.store import Store

# Rows fetched per round trip when streaming an export.
BATCH = 200
# A criterion without a course module sorts after every numbered one.
_NO_MODULE = 999


class CriterionInfo(BaseModel):
    """A criterion as the stored reports describe it: a column of the matrix."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    module: str = ""
    module_title: str = ""
    week: int | None = None


class Cell(BaseModel):
    """One criterion's verdict in one evaluation (status values as in `checks.Status`)."""

    model_config = ConfigDict(frozen=True)

    status: str
    summary: str = ""


class EvaluationRow(BaseModel):
    """An evaluation's own columns (never its report)."""

    model_config = ConfigDict(frozen=True)

    id: int
    repository_id: int
    repository: str
    sha: str
    branch: str | None
    status: str
    conclusion: str | None
    passed: int | None
    total: int | None
    pushed_at: datetime | None
    pusher_login: str | None
    check_run_id: int | None
    duration_ms: float | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def score(self) -> float | None:
        """Share of practices in place, 0–1; None before the evaluation completed."""
        if self.passed is None or not self.total:
            return None
        return self.passed / self.total


class GroupRow(BaseModel):
    """A group (repository) on the overview: its latest evaluation and its activity."""

    model_config = ConfigDict(frozen=True)

    repository_id: int
    repository: str
    default_branch: str | None
    latest: EvaluationRow | None
    cells: dict[str, Cell]
    last_push_at: datetime | None
    commits: int
    authors: int
    # The most active author's share of the commits: near 1.0 is a one-person group.
    top_author_share: float | None


class Overview(BaseModel):
    model_config = ConfigDict(frozen=True)

    groups: list[GroupRow]
    criteria: list[CriterionInfo]


class Contributor(BaseModel):
    """Commits of one author in a repository (each commit once, whatever its branches)."""

    model_config = ConfigDict(frozen=True)

    login: str | None
    name: str | None
    commits: int
    share: float
    first_at: datetime | None
    last_at: datetime | None
    active_days: int
    mean_message_length: float

    @property
    def label(self) -> str:
        return self.login or self.name or "unknown author"


class HistoryColumn(BaseModel):
    """One completed evaluation in a group's criteria history."""

    model_config = ConfigDict(frozen=True)

    evaluation: EvaluationRow
    cells: dict[str, Cell]


class ScorePoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    evaluation_id: int
    at: datetime
    score: float
    branch: str | None
    on_default_branch: bool


class GroupDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    repository_id: int
    repository: str
    default_branch: str | None
    account: str | None
    # The run the overview shows for the group (see `_latest_ids`).
    latest: EvaluationRow | None
    evaluations: list[EvaluationRow]
    evaluation_count: int
    scores: list[ScorePoint]
    history: list[HistoryColumn]
    criteria: list[CriterionInfo]
    contributors: list[Contributor]
    # When each commit was made (its author's timestamp, else when it was pushed).
    commit_times: list[datetime]


class RunDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    evaluation: EvaluationRow
    default_branch: str | None
    # None before completion, or for a report stored by an older, incompatible version.
    report: Report | None


class ExportRow(BaseModel):
    """An evaluation for the exports, with its criteria's statuses when asked for."""

    model_config = ConfigDict(frozen=True)

    evaluation: EvaluationRow
    statuses: dict[str, str]


# --- Queries -----------------------------------------------------------------------------


def overview(store: Store) -> Overview:
    """Every group with its latest run (its default branch's, else any branch's; see
    `_latest_ids`), last push time and commit authorship, plus the criteria seen in
    those runs."""
    with Session(store.engine) as session:
        repos = session.execute(_live_repositories()).all()
        latest_rows = session.execute(
            _evaluation_columns()
            .add_columns(Evaluation.report)
            .where(Evaluation.id.in_(_latest_ids()))
        ).all()
        last_push = dict(
            session.execute(
                select(PushCommit.repository_id, func.max(PushCommit.pushed_at)).group_by(
                    PushCommit.repository_id
                )
            ).all()
        )
        last_evaluated = dict(
            session.execute(
                select(
                    Evaluation.repository_id,
                    func.max(func.coalesce(Evaluation.pushed_at, Evaluation.created_at)),
                ).group_by(Evaluation.repository_id)
            ).all()
        )
        per_author = session.execute(
            select(
                PushCommit.repository_id,
                PushCommit.author_login,
                PushCommit.author_name,
                func.count(func.distinct(PushCommit.sha)),
            ).group_by(PushCommit.repository_id, PushCommit.author_login, PushCommit.author_name)
        ).all()
    latest: dict[int, tuple[EvaluationRow, dict[str, Any] | None]] = {}
    for row in latest_rows:
        evaluation = _evaluation_row(row)
        latest[evaluation.repository_id] = (evaluation, row.report)
    # Commits by an e-mail tied to no GitHub account carry only a name: one author each.
    authors: dict[int, Counter[str]] = defaultdict(Counter)
    for repository_id, login, name, count in per_author:
        authors[repository_id][login or name or ""] += count
    criteria = _criteria(report for _, report in latest.values())
    groups = []
    for repository_id, full_name, default_branch in repos:
        evaluation, report = latest.get(repository_id, (None, None))
        counts = authors[repository_id].values()
        commits = sum(counts)
        groups.append(
            GroupRow(
                repository_id=repository_id,
                repository=full_name,
                default_branch=default_branch,
                latest=evaluation,
                cells=_cells(report),
                last_push_at=_latest(
                    last_push.get(repository_id), last_evaluated.get(repository_id)
                ),
                commits=commits,
                authors=len(counts),
                top_author_share=max(counts) / commits if commits else None,
            )
        )
    return Overview(groups=groups, criteria=criteria)


def group(
    store: Store, repository_id: int, *, history: int = 30, limit: int = 200
) -> GroupDetail | None:
    """A group's page: scores over time, its latest `history` completed evaluations with
    their criteria, its `limit` latest evaluations, contributors and commit times."""
    with Session(store.engine) as session:
        found = session.execute(
            select(Repository.full_name, Repository.default_branch, Installation.account_login)
            .join(Installation)
            .where(Repository.id == repository_id, Installation.deleted_at.is_(None))
        ).first()
        if found is None:
            return None
        full_name, default_branch, account = found
        newest_first = (Evaluation.created_at.desc(), Evaluation.id.desc())
        mine = _evaluation_columns().where(Evaluation.repository_id == repository_id)
        evaluations = [
            _evaluation_row(row)
            for row in session.execute(mine.order_by(*newest_first).limit(limit))
        ]
        latest = session.execute(
            _evaluation_columns().where(Evaluation.id.in_(_latest_ids(repository_id)))
        ).first()
        count = session.scalar(
            select(func.count(Evaluation.id)).where(Evaluation.repository_id == repository_id)
        )
        completed = Evaluation.status == EvaluationStatus.completed.value
        score_rows = session.execute(
            select(
                Evaluation.id,
                Evaluation.created_at,
                Evaluation.passed,
                Evaluation.total,
                Evaluation.branch,
            )
            .where(Evaluation.repository_id == repository_id, completed, Evaluation.total > 0)
            .order_by(Evaluation.created_at, Evaluation.id)
        ).all()
        history_rows = session.execute(
            mine.add_columns(Evaluation.report)
            .where(completed)
            .order_by(*newest_first)
            .limit(history)
        ).all()
        commits = session.execute(
            select(
                PushCommit.sha,
                PushCommit.author_login,
                PushCommit.author_name,
                PushCommit.message_length,
                PushCommit.committed_at,
                PushCommit.pushed_at,
            ).where(PushCommit.repository_id == repository_id)
        ).all()
    columns = [
        HistoryColumn(evaluation=_evaluation_row(row), cells=_cells(row.report))
        for row in history_rows
    ]
    scores = [
        ScorePoint(
            evaluation_id=row.id,
            at=row.created_at,
            score=row.passed / row.total,
            branch=row.branch,
            on_default_branch=row.branch is not None and row.branch == default_branch,
        )
        for row in score_rows
        if row.passed is not None
    ]
    unique = _unique_commits(commits)
    return GroupDetail(
        repository_id=repository_id,
        repository=full_name,
        default_branch=default_branch,
        account=account,
        latest=_evaluation_row(latest) if latest else None,
        evaluations=evaluations,
        evaluation_count=count or 0,
        scores=scores,
        history=columns,
        criteria=_criteria(row.report for row in history_rows),
        contributors=_contributors(unique),
        commit_times=[when for _sha, _login, _name, _length, when in unique],
    )


def run(store: Store, evaluation_id: int) -> RunDetail | None:
    """One evaluation with its full report (what a check run's "details" link shows)."""
    with Session(store.engine) as session:
        row = session.execute(
            _evaluation_columns()
            .add_columns(Evaluation.report, Repository.default_branch)
            .join(Installation, Installation.id == Repository.installation_id)
            .where(Evaluation.id == evaluation_id, Installation.deleted_at.is_(None))
        ).first()
    if row is None:
        return None
    report = None
    if row.report is not None:
        # A report stored by an older version may no longer validate; the row still shows.
        with suppress(ValidationError):
            report = Report.model_validate(row.report)
    return RunDetail(
        evaluation=_evaluation_row(row), default_branch=row.default_branch, report=report
    )


def export_rows(store: Store, *, with_statuses: bool) -> Iterator[ExportRow]:
    """Every evaluation, oldest first, streamed in batches (reports read only if asked)."""
    statement = _evaluation_columns().order_by(Evaluation.created_at, Evaluation.id)
    if with_statuses:
        statement = statement.add_columns(Evaluation.report)
    with store.engine.connect() as conn:
        for row in conn.execution_options(yield_per=BATCH).execute(statement):
            cells = _cells(row.report) if with_statuses else {}
            yield ExportRow(
                evaluation=_evaluation_row(row),
                statuses={cid: cell.status for cid, cell in cells.items()},
            )


# --- Helpers -----------------------------------------------------------------------------


def _live_repositories() -> Any:
    """Groups' repositories of installations that were not removed, by name (not the
    organisation's `.github`, which holds the course file)."""
    return (
        select(Repository.id, Repository.full_name, Repository.default_branch)
        .join(Installation)
        .where(
            Installation.deleted_at.is_(None),
            Repository.full_name.not_like(f"%/{CONFIG_REPOSITORY}"),
        )
        .order_by(func.lower(Repository.full_name), Repository.id)
    )


def _latest_ids(repository_id: int | None = None) -> Any:
    """Per repository (or for one), the id of its latest run: the completed evaluation of
    the commit pushed last, preferring the default branch. Pushed last by GitHub's time
    of the push, else when the delivery was taken: deliveries arrive in any order, and
    pushes to two branches evaluate in either order. One window function, so the
    overview is one query whatever the group count.

    A commit evaluated on a branch and then pushed to the default branch as it is (a
    fast-forward merge) is not evaluated again, but it is the default branch's state:
    its run counts as the default branch's."""
    reached_default = (
        select(PushCommit.id)
        .where(
            PushCommit.repository_id == Evaluation.repository_id,
            PushCommit.branch == Repository.default_branch,
            PushCommit.sha == Evaluation.sha,
        )
        .exists()
    )
    off_default = case(
        (or_(Evaluation.branch == Repository.default_branch, reached_default), 0), else_=1
    )
    pushed = func.coalesce(Evaluation.pushed_at, Evaluation.created_at)
    ranked = (
        select(
            Evaluation.id,
            func.row_number()
            .over(
                partition_by=Evaluation.repository_id,
                order_by=(off_default, pushed.desc(), Evaluation.id.desc()),
            )
            .label("rank"),
        )
        .join(Repository)
        .where(Evaluation.status == EvaluationStatus.completed.value)
    )
    if repository_id is not None:
        ranked = ranked.where(Evaluation.repository_id == repository_id)
    ranked = ranked.subquery()
    return select(ranked.c.id).where(ranked.c.rank == 1)


def _evaluation_columns() -> Any:
    return select(
        Evaluation.id,
        Evaluation.repository_id,
        Repository.full_name,
        Evaluation.sha,
        Evaluation.branch,
        Evaluation.status,
        Evaluation.conclusion,
        Evaluation.passed,
        Evaluation.total,
        Evaluation.pushed_at,
        Evaluation.pusher_login,
        Evaluation.check_run_id,
        Evaluation.duration_ms,
        Evaluation.error,
        Evaluation.created_at,
        Evaluation.finished_at,
    ).join(Repository, Repository.id == Evaluation.repository_id)


def _evaluation_row(row: Row[Any]) -> EvaluationRow:
    return EvaluationRow(
        id=row.id,
        repository_id=row.repository_id,
        repository=row.full_name,
        sha=row.sha,
        branch=row.branch,
        status=row.status,
        conclusion=row.conclusion,
        passed=row.passed,
        total=row.total,
        pushed_at=row.pushed_at,
        pusher_login=row.pusher_login,
        check_run_id=row.check_run_id,
        duration_ms=row.duration_ms,
        error=row.error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _results(report: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """A stored report's results, tolerating reports of older versions (read as data)."""
    results = report.get("results") if isinstance(report, Mapping) else None
    if not isinstance(results, list):
        return []
    return [r for r in results if isinstance(r, Mapping) and isinstance(r.get("id"), str)]


def _cells(report: Mapping[str, Any] | None) -> dict[str, Cell]:
    return {
        r["id"]: Cell(status=str(r.get("status", "")), summary=str(r.get("summary", "")))
        for r in _results(report)
    }


def _criteria(reports: Iterable[Mapping[str, Any] | None]) -> list[CriterionInfo]:
    """The criteria of these reports in course order: by week, then module, then as the
    reports list them (newer reports' titles win)."""
    seen: dict[str, CriterionInfo] = {}
    order: dict[str, int] = {}
    for report in reports:
        for result in _results(report):
            cid = result["id"]
            order.setdefault(cid, len(order))
            if cid in seen:
                continue
            week = result.get("week")
            seen[cid] = CriterionInfo(
                id=cid,
                title=str(result.get("title") or cid),
                module=str(result.get("module") or ""),
                module_title=str(result.get("module_title") or ""),
                week=week if isinstance(week, int) else None,
            )

    def position(info: CriterionInfo) -> tuple[int, int, int]:
        digits = info.module[1:]
        module = int(digits) if info.module.startswith("M") and digits.isdigit() else _NO_MODULE
        return (info.week or 0, module, order[info.id])

    return sorted(seen.values(), key=position)


def _latest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return max(present) if present else None


CommitFacts = tuple[str, str | None, str | None, int, datetime]


def _unique_commits(rows: Iterable[Row[Any]]) -> list[CommitFacts]:
    """Each commit once (a commit pushed to two branches has two rows), at the time it was
    made: its author's timestamp, else when it was first pushed."""
    found: dict[str, CommitFacts] = {}
    for sha, login, name, length, committed_at, pushed_at in rows:
        when = committed_at or pushed_at
        known = found.get(sha)
        if known is None or when < known[4]:
            found[sha] = (sha, login, name, length, when)
    return sorted(found.values(), key=lambda commit: commit[4])


def _contributors(commits: list[CommitFacts]) -> list[Contributor]:
    """Authors by commit count, most active first."""
    by_author: dict[str, list[CommitFacts]] = defaultdict(list)
    names: dict[str, Counter[str]] = defaultdict(Counter)
    for commit in commits:
        _sha, login, name, _length, _when = commit
        key = login or name or ""
        by_author[key].append(commit)
        if name:
            names[key][name] += 1
    total = len(commits)
    contributors = [
        Contributor(
            login=mine[0][1],
            name=names[key].most_common(1)[0][0] if names[key] else None,
            commits=len(mine),
            share=len(mine) / total,
            first_at=mine[0][4],
            last_at=mine[-1][4],
            active_days=len({when.date() for *_, when in mine}),
            mean_message_length=sum(length for _s, _l, _n, length, _w in mine) / len(mine),
        )
        for key, mine in by_author.items()
    ]
    return sorted(contributors, key=lambda c: (-c.commits, c.label.lower()))
