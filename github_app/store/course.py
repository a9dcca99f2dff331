"""The course's records beside the evaluations: the organisation's course file, approved
exemptions, and the team activity GitHub reports by webhook (pull requests, the group's
own CI runs). One short transaction per call, plain values out, like `Store`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from github_app.store.models import (
    CourseConfigRecord,
    Evaluation,
    EvaluationStatus,
    ExemptionApproval,
    Installation,
    PullRequestActivity,
    Repository,
    WorkflowRun,
)
from github_app.store.store import RepositoryInfo, Store

# The organisation's own configuration repository: not a group.
CONFIG_REPOSITORY = ".github"
PullRequestKind = Literal["opened", "merged", "reviewed"]
_COURSE_FILE = CourseConfigRecord.__table__


class CourseFile(BaseModel):
    """What the store knows of an installation's course file."""

    model_config = ConfigDict(frozen=True)

    installation_id: int
    # The last valid text (None: no course file, the deployment's configuration applies).
    text: str | None
    # Why the newest file was refused ({"message", "line"} each), None when it is valid.
    problems: list[dict[str, Any]] | None
    problems_sha: str | None
    fetched_at: datetime | None
    updated_at: datetime

    @property
    def stale(self) -> bool:
        return self.fetched_at is None


class Approval(BaseModel):
    model_config = ConfigDict(frozen=True)

    criterion: str
    approved_by: str
    approved_at: datetime


class PullRequestCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    opened: int = 0
    merged: int = 0
    reviewed: int = 0


class FailedWorkflow(BaseModel):
    model_config = ConfigDict(frozen=True)

    workflow: str
    head_sha: str


class CiHealth(BaseModel):
    """A group's own CI: completed workflow runs and the share that succeeded."""

    model_config = ConfigDict(frozen=True)

    runs: int
    passed: int

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.runs if self.runs else None


def is_config_repository(full_name: str) -> bool:
    return full_name.rpartition("/")[2] == CONFIG_REPOSITORY


class CourseRecords:
    """Course files, approvals and team activity, in the same database as `store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- The course file ------------------------------------------------------------------

    def course_file(self, installation_id: int) -> CourseFile | None:
        with self.store._connection() as conn:
            row = conn.execute(
                select(_COURSE_FILE).where(_COURSE_FILE.c.installation_id == installation_id)
            ).first()
        return None if row is None else CourseFile.model_validate(row, from_attributes=True)

    def course_text(self, installation_id: int) -> tuple[str | None, object] | None:
        """The text in force (None: no course file) and a token that changes whenever the
        record does; None when nothing is recorded. Read on every push, so through the
        driver (see `github_app.store.intake`)."""
        return self.store._driver_row(
            self.store._intake.course_text, {"installation_id": installation_id}
        )

    def save_course_file(self, installation_id: int, text: str | None) -> None:
        """A valid course file (or None: the organisation has none) is now in force."""
        self._upsert(
            installation_id,
            {"text": text, "problems": None, "problems_sha": None, "fetched_at": self.store._now()},
        )

    def refuse_course_file(
        self, installation_id: int, problems: list[dict[str, Any]], sha: str | None
    ) -> None:
        """The newest course file is invalid: keep the last valid text in force."""
        self._upsert(
            installation_id,
            {"problems": problems, "problems_sha": sha, "fetched_at": self.store._now()},
        )

    def invalidate_course_file(self, installation_id: int) -> None:
        """The `.github` repository changed: read the file again before the next evaluation."""
        with self.store._session(write=True) as session:
            session.execute(
                update(CourseConfigRecord)
                .where(CourseConfigRecord.installation_id == installation_id)
                .values(fetched_at=None)
            )

    def refused_course_files(self) -> list[tuple[str | None, CourseFile]]:
        """Installations whose newest course file was refused (for the dashboard's banner)."""
        with Session(self.store.engine) as session:
            rows = session.execute(
                select(CourseConfigRecord, Installation.account_login)
                .join(Installation, Installation.id == CourseConfigRecord.installation_id)
                .where(CourseConfigRecord.problems.is_not(None), Installation.deleted_at.is_(None))
            ).all()
        return [
            (login, CourseFile.model_validate(row, from_attributes=True))
            for row, login in rows
            # JSON null is stored for a cleared list on some backends.
            if row.problems
        ]

    def _upsert(self, installation_id: int, values: dict[str, Any]) -> None:
        now = self.store._now()
        with self.store._session(write=True) as session:
            session.execute(
                self.store._insert(CourseConfigRecord)
                .values(installation_id=installation_id, updated_at=now, **values)
                .on_conflict_do_update(
                    index_elements=[CourseConfigRecord.installation_id],
                    set_={**values, "updated_at": now},
                )
            )

    # --- Exemptions -----------------------------------------------------------------------

    def approve_exemption(self, repository_id: int, criterion: str, login: str) -> bool:
        """Record an instructor's approval; False when it was approved already."""
        with self.store._session(write=True) as session:
            inserted = session.execute(
                self.store._insert(ExemptionApproval)
                .values(
                    repository_id=repository_id,
                    criterion=criterion,
                    approved_by=login,
                    approved_at=self.store._now(),
                )
                .on_conflict_do_nothing(index_elements=["repository_id", "criterion"])
                .returning(ExemptionApproval.id)
            ).scalar_one_or_none()
        return inserted is not None

    def revoke_exemption(self, repository_id: int, criterion: str) -> bool:
        with self.store._session(write=True) as session:
            result = session.execute(
                delete(ExemptionApproval).where(
                    ExemptionApproval.repository_id == repository_id,
                    ExemptionApproval.criterion == criterion,
                )
            )
            return result.rowcount == 1

    def approvals(self, repository_id: int) -> list[Approval]:
        with Session(self.store.engine) as session:
            rows = session.scalars(
                select(ExemptionApproval)
                .where(ExemptionApproval.repository_id == repository_id)
                .order_by(ExemptionApproval.criterion)
            ).all()
            return [Approval.model_validate(r, from_attributes=True) for r in rows]

    def approved_exemptions(self, repository_id: int) -> set[str]:
        return {a.criterion for a in self.approvals(repository_id)}

    # --- Team activity --------------------------------------------------------------------

    def record_pull_request(
        self,
        installation_id: int,
        repository: RepositoryInfo,
        number: int,
        kind: PullRequestKind,
        login: str | None,
        at: datetime,
    ) -> bool:
        """Count a member opening, merging or reviewing a pull request (each once)."""
        with self.store._session(write=True) as session:
            self._ensure(session, installation_id, repository, at)
            inserted = session.execute(
                self.store._insert(PullRequestActivity)
                .values(
                    repository_id=repository.id, number=number, kind=kind, login=login or "", at=at
                )
                .on_conflict_do_nothing(index_elements=["repository_id", "number", "kind", "login"])
                .returning(PullRequestActivity.id)
            ).scalar_one_or_none()
        return inserted is not None

    def record_workflow_run(
        self,
        installation_id: int,
        repository: RepositoryInfo,
        *,
        run_id: int,
        workflow: str,
        head_sha: str,
        head_branch: str | None,
        conclusion: str | None,
        completed_at: datetime,
    ) -> None:
        """A completed run of the group's own workflow (a re-run updates its conclusion)."""
        values = {
            "repository_id": repository.id,
            "workflow": workflow,
            "head_sha": head_sha,
            "head_branch": head_branch,
            "conclusion": conclusion,
            "completed_at": completed_at,
        }
        with self.store._session(write=True) as session:
            self._ensure(session, installation_id, repository, completed_at)
            session.execute(
                self.store._insert(WorkflowRun)
                .values(run_id=run_id, **values)
                .on_conflict_do_update(index_elements=[WorkflowRun.run_id], set_=values)
            )

    def pull_request_counts(self, repository_id: int) -> dict[str, PullRequestCounts]:
        """Pull requests opened, merged and reviewed, by member login."""
        with Session(self.store.engine) as session:
            rows = session.execute(
                select(PullRequestActivity.login, PullRequestActivity.kind, func.count())
                .where(PullRequestActivity.repository_id == repository_id)
                .group_by(PullRequestActivity.login, PullRequestActivity.kind)
            ).all()
        counts: dict[str, dict[str, int]] = {}
        for login, kind, count in rows:
            counts.setdefault(login, {})[kind] = count
        return {login: PullRequestCounts(**kinds) for login, kinds in counts.items()}

    def ci_health(self, repository_ids: list[int] | None = None) -> dict[int, CiHealth]:
        """Completed workflow runs per repository and how many succeeded."""
        statement = select(
            WorkflowRun.repository_id,
            func.count(),
            func.sum(case((WorkflowRun.conclusion == "success", 1), else_=0)),
        ).group_by(WorkflowRun.repository_id)
        if repository_ids is not None:
            statement = statement.where(WorkflowRun.repository_id.in_(repository_ids))
        with Session(self.store.engine) as session:
            rows = session.execute(statement).all()
        return {rid: CiHealth(runs=runs, passed=int(ok or 0)) for rid, runs, ok in rows}

    def failed_workflows_before(
        self, repository_id: int, branch: str, sha: str
    ) -> list[FailedWorkflow]:
        """The group's workflows that failed on the latest other commit of `branch` whose
        runs completed (the commit before the one now evaluated)."""
        with Session(self.store.engine) as session:
            previous = session.scalar(
                select(WorkflowRun.head_sha)
                .where(
                    WorkflowRun.repository_id == repository_id,
                    WorkflowRun.head_branch == branch,
                    WorkflowRun.head_sha != sha,
                )
                .order_by(WorkflowRun.completed_at.desc(), WorkflowRun.id.desc())
                .limit(1)
            )
            if previous is None:
                return []
            names = session.scalars(
                select(WorkflowRun.workflow)
                .where(
                    WorkflowRun.repository_id == repository_id,
                    WorkflowRun.head_sha == previous,
                    WorkflowRun.conclusion.in_(("failure", "timed_out", "startup_failure")),
                )
                .order_by(WorkflowRun.workflow)
            ).all()
        return [FailedWorkflow(workflow=name, head_sha=previous) for name in dict.fromkeys(names)]

    # --- Class context --------------------------------------------------------------------

    def evaluated_groups(self, installation_id: int) -> int:
        """Groups of this installation with a completed default-branch evaluation (cheap:
        no report is read)."""
        with Session(self.store.engine) as session:
            return (
                session.scalar(
                    select(func.count(func.distinct(Evaluation.repository_id)))
                    .join(Repository)
                    .where(*_default_branch_reports(installation_id))
                )
                or 0
            )

    def class_pass_rates(self, installation_id: int, minimum_groups: int) -> dict[str, float]:
        """Per criterion, the share of groups passing it in their latest default-branch
        evaluation (this installation's groups; no group named). Empty below
        `minimum_groups` evaluated groups: a share of a handful would identify them."""
        ranked = (
            select(
                Evaluation.id,
                func.row_number()
                .over(
                    partition_by=Evaluation.repository_id,
                    order_by=(Evaluation.created_at.desc(), Evaluation.id.desc()),
                )
                .label("rank"),
            )
            .join(Repository)
            .where(*_default_branch_reports(installation_id))
            .subquery()
        )
        with Session(self.store.engine) as session:
            reports = session.scalars(
                select(Evaluation.report).where(
                    Evaluation.id.in_(select(ranked.c.id).where(ranked.c.rank == 1))
                )
            ).all()
        if len(reports) < minimum_groups:
            return {}
        seen: Counter[str] = Counter()
        passing: Counter[str] = Counter()
        for report in reports:
            for cid, status in _statuses(report).items():
                seen[cid] += 1
                passing[cid] += status == "pass"
        return {cid: passing[cid] / count for cid, count in seen.items()}

    def _ensure(
        self, session: Session, installation_id: int, repository: RepositoryInfo, now: datetime
    ) -> None:
        # Raises `InstallationRemoved` for an uninstalled account: nothing is re-created.
        self.store._ensure_repository(session.connection(), installation_id, repository, now)


def _default_branch_reports(installation_id: int) -> tuple[Any, ...]:
    """Completed evaluations with a report, on a group's default branch, of one installation."""
    return (
        Repository.installation_id == installation_id,
        Evaluation.status == EvaluationStatus.completed.value,
        Evaluation.report.is_not(None),
        Evaluation.branch == Repository.default_branch,
        Repository.full_name.not_like(f"%/{CONFIG_REPOSITORY}"),
    )


def _statuses(report: Mapping[str, Any] | None) -> dict[str, str]:
    results = report.get("results") if isinstance(report, Mapping) else None
    if not isinstance(results, list):
        return {}
    return {
        r["id"]: str(r.get("status"))
        for r in results
        if isinstance(r, Mapping) and isinstance(r.get("id"), str)
    }
