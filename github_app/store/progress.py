"""The progress issues' records: which issue is each group's, and which deadline reminders
were posted. Inserting a row is the claim: whichever worker inserts it creates the issue or
posts the reminder, the others see it taken, in every process."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from github_app.store.models import ProgressIssue, ProgressReminder, Repository
from github_app.store.store import Store

IssueState = Literal["open", "closed"]


class ProgressIssueRecord(BaseModel):
    """What the store knows of a group's progress issue."""

    model_config = ConfigDict(frozen=True)

    repository_id: int
    # None while a worker looks for the issue or creates it.
    number: int | None
    state: IssueState
    claimed_at: datetime
    updated_at: datetime


class IssueClaim(BaseModel):
    """`claim_issue`'s answer: `mine` means this worker finds or creates the issue now."""

    model_config = ConfigDict(frozen=True)

    mine: bool
    record: ProgressIssueRecord


class OpenProgressIssue(BaseModel):
    """A progress issue still updated, with what a reminder pass needs to queue its task."""

    model_config = ConfigDict(frozen=True)

    installation_id: int
    repository_id: int
    full_name: str
    default_branch: str | None
    number: int


class ProgressRecords:
    """Progress issues and reminders, in the same database as `store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def issue(self, repository_id: int) -> ProgressIssueRecord | None:
        with Session(self.store.engine) as session:
            row = session.get(ProgressIssue, repository_id)
            return None if row is None else _record(row)

    def claim_issue(self, repository_id: int, stale_after: timedelta) -> IssueClaim:
        """Take up finding or creating the repository's issue, unless it is known or
        another worker took it up less than `stale_after` ago (then it may have died)."""
        now = self.store._now()
        with self.store._session(write=True) as session:
            inserted = session.execute(
                self.store._insert(ProgressIssue)
                .values(repository_id=repository_id, state="open", claimed_at=now, updated_at=now)
                .on_conflict_do_nothing(index_elements=[ProgressIssue.repository_id])
                .returning(ProgressIssue.repository_id)
            ).scalar_one_or_none()
            if inserted is None:
                # Taken over only if nobody renewed it since we read it.
                taken = session.execute(
                    update(ProgressIssue)
                    .where(
                        ProgressIssue.repository_id == repository_id,
                        ProgressIssue.number.is_(None),
                        ProgressIssue.claimed_at < now - stale_after,
                    )
                    .values(claimed_at=now, updated_at=now)
                ).rowcount
                mine = taken == 1
            else:
                mine = True
            row = session.get_one(ProgressIssue, repository_id)
            return IssueClaim(mine=mine, record=_record(row))

    def release_issue(self, repository_id: int) -> None:
        """Finding or creating the issue failed: the next evaluation tries again."""
        with self.store._session(write=True) as session:
            session.execute(
                delete(ProgressIssue).where(
                    ProgressIssue.repository_id == repository_id, ProgressIssue.number.is_(None)
                )
            )

    def record_issue(self, repository_id: int, number: int, state: IssueState) -> None:
        """The repository's issue is `number`, now `state`."""
        with self.store._session(write=True) as session:
            session.execute(
                update(ProgressIssue)
                .where(ProgressIssue.repository_id == repository_id)
                .values(number=number, state=state, updated_at=self.store._now())
            )

    def open_issues(self) -> list[OpenProgressIssue]:
        """Every progress issue still updated (for the reminder pass)."""
        with Session(self.store.engine) as session:
            rows = session.execute(
                select(ProgressIssue, Repository)
                .join(Repository, Repository.id == ProgressIssue.repository_id)
                .where(ProgressIssue.state == "open", ProgressIssue.number.is_not(None))
                .order_by(ProgressIssue.repository_id)
            ).all()
        return [
            OpenProgressIssue(
                installation_id=repository.installation_id,
                repository_id=repository.id,
                full_name=repository.full_name,
                default_branch=repository.default_branch,
                number=issue.number,
            )
            for issue, repository in rows
        ]

    def claim_reminder(self, repository_id: int, deadline: datetime, threshold: str) -> bool:
        """True only for the first caller, in any process, per repository, deadline and
        threshold: that one posts the reminder."""
        try:
            with self.store._session(write=True) as session:
                session.add(
                    ProgressReminder(
                        repository_id=repository_id,
                        deadline=deadline,
                        threshold=threshold,
                        sent_at=self.store._now(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def release_reminder(self, repository_id: int, deadline: datetime, threshold: str) -> None:
        """Posting the reminder failed: a later evaluation in its window posts it."""
        with self.store._session(write=True) as session:
            session.execute(
                delete(ProgressReminder).where(
                    ProgressReminder.repository_id == repository_id,
                    ProgressReminder.deadline == deadline,
                    ProgressReminder.threshold == threshold,
                )
            )

    def reminder_sent(self, repository_id: int, deadline: datetime, threshold: str) -> bool:
        with Session(self.store.engine) as session:
            found = session.execute(
                select(ProgressReminder.id).where(
                    ProgressReminder.repository_id == repository_id,
                    ProgressReminder.deadline == deadline,
                    ProgressReminder.threshold == threshold,
                )
            ).first()
        return found is not None


def _record(row: ProgressIssue) -> ProgressIssueRecord:
    return ProgressIssueRecord.model_validate(row, from_attributes=True)
