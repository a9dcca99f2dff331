"""One progress issue per group repository (the course file's `progress_issue: true`).

After an evaluation of the default branch completes, its own queued task (never the
evaluation's: the check run is complete already and nothing here can change it) edits the
group's issue with the checklist of the newest evaluation, or creates the issue the first
time. The store remembers the issue's number; the row is claimed before creating, so two
workers evaluating one repository create one issue, and a store that lost the number
finds the issue again by its hidden marker among the issues the app's bot opened.

A closed issue (by a student or the staff) is never edited, reopened or replaced. A
repository with issues switched off (410) or an installation without the Issues
permission (403) is skipped with one log line. Within a week, and again within a day, of
the course's deadline one comment lists what is still open, once per repository: at the
group's next evaluation, or at the warden's hourly reminder pass for groups that do not
push (`github_app.consumer`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from githubkit import GitHub
from githubkit.auth import AppInstallationAuthStrategy
from githubkit.exception import GitHubException, RequestFailed
from pydantic import BaseModel, ConfigDict

from checks.models import Report
from checks.render.progress import (
    PROGRESS_MARKER,
    PROGRESS_TITLE,
    REMINDERS,
    due_reminder,
    progress_body,
    reminder_comment,
)
from github_app.course import CourseConfigs, CourseState
from github_app.jobs import Job
from github_app.logs import LOGGER, event
from github_app.store import Store
from github_app.store.progress import ProgressRecords

logger = logging.getLogger(LOGGER)
# A claim to create the issue older than this belongs to a worker that died meanwhile.
STALE_CLAIM = timedelta(minutes=5)
PER_PAGE = 100
# The app's bot opens few issues per repository; a longer listing is not ours to page.
MAX_PAGES = 10


class ProgressTarget(BaseModel):
    """What the progress task needs: which repository, and its default branch."""

    model_config = ConfigDict(frozen=True)

    installation: int
    repository_id: int
    owner: str
    repo: str
    default_branch: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"


class ProgressIssues:
    """Finds, creates and edits the progress issues, and posts the reminders."""

    def __init__(
        self,
        store: Store,
        courses: CourseConfigs,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.records = ProgressRecords(store)
        self.courses = courses
        self._now = clock or (lambda: datetime.now(UTC))
        self._bot_login: str | None = None
        self._bot_lock = threading.Lock()

    @staticmethod
    def target(job: Job, course: CourseState) -> ProgressTarget | None:
        """The task for a completed evaluation, or None: the course has no progress issues,
        or the commit is not on the group's default branch (a branch is not its progress)."""
        if not course.config.progress_issue or job.default_branch is None:
            return None
        if job.branch != job.default_branch:
            return None
        return ProgressTarget(
            installation=job.installation,
            repository_id=job.repository_id,
            owner=job.owner,
            repo=job.repo,
            default_branch=job.default_branch,
        )

    def update(self, gh: GitHub, target: ProgressTarget) -> str:
        """Bring the repository's issue up to date; how it ended, also logged as one line."""
        facts: dict[str, object] = {}
        level = logging.INFO
        try:
            outcome = self._update(gh, target, facts)
        except RequestFailed as exc:
            outcome = _refusal(exc)
            level = logging.WARNING
            facts["error"] = _failure(exc)
        except GitHubException as exc:
            outcome, level = "error", logging.WARNING
            facts["error"] = _failure(exc)
        event(
            logger, "progress_issue", level=level, repo=target.full_name, outcome=outcome, **facts
        )
        return outcome

    def due_targets(self) -> list[ProgressTarget]:
        """Open issues whose deadline reminder is due and not posted (the warden's pass)."""
        now = self._now()
        due: list[ProgressTarget] = []
        for issue in self.records.open_issues():
            course = self.courses.known(issue.installation_id)
            deadline = course.profile.schedule.deadline
            reminder = due_reminder(deadline, now)
            if not course.config.progress_issue or reminder is None or deadline is None:
                continue
            if issue.default_branch is None or self.records.reminder_sent(
                issue.repository_id, deadline, reminder.key
            ):
                continue
            owner, _, repo = issue.full_name.partition("/")
            due.append(
                ProgressTarget(
                    installation=issue.installation_id,
                    repository_id=issue.repository_id,
                    owner=owner,
                    repo=repo,
                    default_branch=issue.default_branch,
                )
            )
        return due

    # --- The steps ------------------------------------------------------------------------

    def _update(self, gh: GitHub, target: ProgressTarget, facts: dict[str, object]) -> str:
        course = self.courses.known(target.installation)
        if not course.config.progress_issue:
            return "off"
        latest = self.store.last_evaluation(target.full_name, target.default_branch)
        if latest is None or latest.report is None:
            return "no_report"
        report = latest.report.for_students()
        now = self._now()
        deadline = course.profile.schedule.deadline
        body = progress_body(
            report,
            course.profile,
            sha=latest.sha,
            branch=target.default_branch,
            now=now,
            deadline=deadline,
        )
        claim = self.records.claim_issue(target.repository_id, STALE_CLAIM)
        number = claim.record.number
        facts["issue"] = number
        if claim.record.state == "closed":
            return "closed"
        if number is None:
            if not claim.mine:
                # Another worker is creating it now, with a report at least as new.
                return "busy"
            number, outcome = self._find_or_create(gh, target, body)
            facts["issue"] = number
            if outcome == "closed":
                return outcome
        else:
            outcome = self._edit(gh, target, number, body)
            if outcome != "updated":
                return outcome
        reminder = self._remind(gh, target, number, report, course, now)
        if reminder:
            facts["reminder"] = reminder
        return outcome

    def _find_or_create(self, gh: GitHub, target: ProgressTarget, body: str) -> tuple[int, str]:
        """The issue's number and "created", "found" (edited) or "closed" (left alone)."""
        try:
            found = self._find(gh, target)
            if found is None:
                response = gh.rest.issues.create(
                    target.owner, target.repo, title=PROGRESS_TITLE, body=body
                )
                number, state, outcome = int(response.json()["number"]), "open", "created"
            else:
                number, state = found
                outcome = "closed" if state == "closed" else "found"
                if state == "open":
                    gh.rest.issues.update(target.owner, target.repo, number, body=body)
        except BaseException:
            self.records.release_issue(target.repository_id)
            raise
        self.records.record_issue(
            target.repository_id, number, "closed" if state == "closed" else "open"
        )
        return number, outcome

    def _find(self, gh: GitHub, target: ProgressTarget) -> tuple[int, str] | None:
        """The oldest issue the app's bot opened with the marker (its number and state)."""
        creator = self._bot(gh)
        found: list[tuple[int, str]] = []
        for page in range(1, MAX_PAGES + 1):
            items = gh.rest.issues.list_for_repo(
                target.owner,
                target.repo,
                state="all",
                creator=creator,
                per_page=PER_PAGE,
                page=page,
            ).json()
            found += [
                (int(item["number"]), str(item["state"]))
                for item in items
                # The listing includes pull requests.
                if "pull_request" not in item and PROGRESS_MARKER in (item.get("body") or "")
            ]
            if len(items) < PER_PAGE:
                break
        return min(found) if found else None

    def _edit(self, gh: GitHub, target: ProgressTarget, number: int, body: str) -> str:
        """Edit the known issue unless it was closed (or deleted) since: "updated", or why not."""
        try:
            issue = gh.rest.issues.get(target.owner, target.repo, number).json()
        except RequestFailed as exc:
            gone = exc.response.status_code == 404 or (
                exc.response.status_code == 410 and "disabled" not in _message(exc)
            )
            if not gone:
                raise
            # Deleted by the staff: as final as closing it.
            self.records.record_issue(target.repository_id, number, "closed")
            return "deleted"
        if issue.get("state") == "closed":
            self.records.record_issue(target.repository_id, number, "closed")
            return "closed"
        gh.rest.issues.update(target.owner, target.repo, number, body=body)
        return "updated"

    def _remind(
        self,
        gh: GitHub,
        target: ProgressTarget,
        number: int,
        report: Report,
        course: CourseState,
        now: datetime,
    ) -> str | None:
        """Post the deadline reminder that is due, once; its key, or None."""
        deadline = course.profile.schedule.deadline
        reminder = due_reminder(deadline, now)
        if reminder is None or deadline is None:
            return None
        if not self.records.claim_reminder(target.repository_id, deadline, reminder.key):
            return None
        # Inside the last day, the week's reminder would only repeat this one.
        for earlier in REMINDERS[REMINDERS.index(reminder) + 1 :]:
            self.records.claim_reminder(target.repository_id, deadline, earlier.key)
        text = reminder_comment(report, course.profile, reminder, deadline=deadline, now=now)
        try:
            gh.rest.issues.create_comment(target.owner, target.repo, number, body=text)
        except BaseException:
            self.records.release_reminder(target.repository_id, deadline, reminder.key)
            raise
        return reminder.key

    def _bot(self, gh: GitHub) -> str:
        """The login of the app's bot (`{slug}[bot]`), who opens the issues; asked once."""
        with self._bot_lock:
            if self._bot_login is None:
                auth = gh.auth
                if not isinstance(auth, AppInstallationAuthStrategy):
                    raise TypeError("the progress issue needs an installation client")
                app = gh.with_auth(auth.as_app())
                slug = app.rest.apps.get_authenticated().json()["slug"]
                self._bot_login = f"{slug}[bot]"
            return self._bot_login


def _message(exc: RequestFailed) -> str:
    try:
        return str(exc.response.json().get("message", ""))
    except ValueError:
        return ""


def _refusal(exc: RequestFailed) -> str:
    """The outcome of a refusal: issues switched off, no permission, or another error."""
    status = exc.response.status_code
    if status == 410:
        return "issues_disabled"
    if status == 403 and "not accessible by integration" in _message(exc):
        return "forbidden"
    return "error"


def _failure(exc: GitHubException) -> str:
    """What GitHub answered, without a token or a signed URL (the path only)."""
    if isinstance(exc, RequestFailed):
        request = exc.request
        return f"GitHub answered {exc.response.status_code} to {request.method} {request.url.path}."
    return f"GitHub could not be reached ({type(exc).__name__})."
