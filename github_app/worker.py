"""The job: one queued evaluation in, exactly one completed check run out.

take the evaluation up in the store (once, whatever the queue delivers twice) → a newer
push to the same branch supersedes it (its run completes `skipped`) → find the run an
earlier attempt made, or create it (in progress) → stream the commit's tarball to a
temporary file (capped) → extract it safely → run the pure engine, with what changed
since the branch's previous evaluation on top → post the result in batches of
annotations → store the report → queue the AI review, if any.

GitHub's 5xx, timeouts and rate limits reschedule the job with exponential backoff and
jitter (never sleeping in a worker for long); the last attempt, or any other failure,
still completes the run as `neutral` with the reason, so a student never looks at a check
spinning forever. A worker killed midway leaves an evaluation whose lease runs out: a
recovery sweep queues it again, and the next attempt reuses the run, skipping the
annotations it already carries (or, when the run was already completed, only stores the
report again for the dashboard). An evaluation whose every attempt died that way is not
run again after `job_attempts` of them: its run completes saying it could not finish.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from githubkit import GitHub
from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)

from checks import Profile, Report, evaluate
from checks.models import clip
from checks.profile import CourseConfig
from checks.render.changes import changes_markdown, changes_since
from checks.render.markdown import details_markdown, summary_markdown, title_line
from checks.snapshot import Snapshot
from github_app.checkrun import TEXT_LIMIT, CheckAnnotation, Completion
from github_app.client import GitHubApp, jittered
from github_app.course import ORG_CONFIG_FILE, CourseConfigs, CourseFileCheck, CourseState
from github_app.extract import ArchiveRefused, Extracted, extract_tarball
from github_app.jobs import HueyJobQueue, Job
from github_app.logs import LOGGER, REDACTOR, event
from github_app.metrics import instruments
from github_app.progress_issue import ProgressIssues, ProgressTarget
from github_app.review.cache import ReviewCache
from github_app.review.checkrun import post_ai_review, should_review
from github_app.review.settings import ReviewSettings
from github_app.settings import Settings
from github_app.starter_pr import (
    StarterRefused,
    StarterRequest,
    check_actions,
    offer_note,
    offered,
    open_starter_pr,
)
from github_app.store import ClaimedEvaluation, EvaluationStatus, Store
from github_app.store.course import CourseRecords, is_config_repository

logger = logging.getLogger(LOGGER)
CHUNK = 1024 * 1024
COULD_NOT_FINISH = "The evaluation could not finish"
# Skipped archive entries listed by name in the summary; the rest are counted.
SKIPPED_LISTED = 10
SHORT_SHA = 7
# Class context ("64% of groups pass this") only from this many evaluated groups: fewer
# would let a student work out how a named group did.
CLASS_CONTEXT_MIN_GROUPS = 5
# Class pass rates are reused this long while no new group is evaluated: at a deadline,
# a burst of pushes would otherwise each read every group's latest report.
CLASS_CONTEXT_SECONDS = 60.0


class TarballTooLarge(Exception):
    """The commit's archive is over the download cap; `str()` is a sentence for students."""

    def __init__(self, size: int, cap: int) -> None:
        super().__init__(
            f"The repository's archive is over {_mb(cap)} (at least {_mb(size)}), more than "
            "this app evaluates. Large files such as data sets and model weights belong in "
            "DVC or cloud storage rather than in git; remove them from the repository "
            "(and its history) and push again."
        )


class LeaseLost(Exception):
    """Another worker took this evaluation over (ours stopped renewing in time): stop
    without touching its check run."""


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


class Leases:
    """The evaluations this process runs ({id: attempt}); the warden renews their leases
    and marks the ones another worker took over."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, int] = {}
        self._lost: set[int] = set()

    def hold(self, evaluation_id: int, attempts: int) -> None:
        with self._lock:
            self._held[evaluation_id] = attempts
            self._lost.discard(evaluation_id)

    def release(self, evaluation_id: int) -> None:
        with self._lock:
            self._held.pop(evaluation_id, None)
            self._lost.discard(evaluation_id)

    def held(self) -> dict[int, int]:
        with self._lock:
            return dict(self._held)

    def mark_lost(self, evaluation_ids: set[int]) -> None:
        with self._lock:
            self._lost |= evaluation_ids & self._held.keys()

    def check(self, evaluation_id: int) -> None:
        with self._lock:
            if evaluation_id in self._lost:
                raise LeaseLost(f"evaluation {evaluation_id} was taken over")


@dataclass
class FoundRun:
    """A check run an earlier attempt of the same evaluation created."""

    id: int
    completed: bool
    conclusion: str | None
    annotations: int


@dataclass
class Attempt:
    """What one attempt did, for its log line and its failure handling."""

    claimed: ClaimedEvaluation
    requests: list[str] = field(default_factory=list)
    run_id: int | None = None
    posted: int = 0
    completion: Completion | None = None
    error: str | None = None
    # The run is complete on GitHub: whatever fails afterwards must not post over it.
    finished: bool = False


class Evaluator:
    """Runs jobs: everything a job needs, built once per process."""

    def __init__(
        self,
        settings: Settings,
        github: GitHubApp,
        profile: Profile,
        store: Store,
        queue: HueyJobQueue,
        review: ReviewSettings | None = None,
        *,
        courses: CourseConfigs | None = None,
    ) -> None:
        self.settings = settings
        self.github = github
        self.profile = profile
        self.store = store
        self.queue = queue
        self.courses = courses or CourseConfigs(
            CourseRecords(store), CourseState(CourseConfig(), profile)
        )
        self.records = self.courses.records
        self._class_rates: dict[int, tuple[float, int, dict[str, float]]] = {}
        self._class_rates_lock = threading.Lock()
        self.review_settings = review
        self.workspace = settings.data_dir / "work"
        self.leases = Leases()
        self._review_cache: ReviewCache | None = None
        self._review_cache_lock = threading.Lock()
        self.progress_issues = ProgressIssues(store, self.courses)

    # --- One attempt ----------------------------------------------------------------------

    def run(self, evaluation_id: int, attempt: int) -> str:
        """Run `attempt` of an evaluation; how it ended (a conclusion, "retrying",
        "dropped" when another task had it already, or "error")."""
        claimed = self.store.claim_evaluation(
            evaluation_id, attempt, self.settings.job_lease_seconds
        )
        if claimed is None:
            event(logger, "job", evaluation=evaluation_id, attempt=attempt + 1, outcome="dropped")
            return "dropped"
        self.leases.hold(claimed.id, claimed.attempts)
        try:
            return self._attempt(claimed)
        finally:
            self.leases.release(claimed.id)

    def _attempt(self, claimed: ClaimedEvaluation) -> str:
        job = Job.of(claimed)
        started = time.perf_counter()
        attempt = Attempt(claimed)
        gh = self.github.installation(
            job.installation, on_request=lambda r: attempt.requests.append(r.method)
        )
        with gh:
            try:
                outcome = self._steps(gh, job, attempt, started)
            except LeaseLost:
                outcome = "taken_over"
            except Exception as exc:
                outcome = self._failed(gh, job, attempt, exc)
        duration = time.perf_counter() - started
        instruments().job_duration.labels(outcome).observe(duration)
        completion = attempt.completion
        event(
            logger,
            "job",
            level=logging.ERROR if outcome == "error" else logging.INFO,
            evaluation=claimed.id,
            attempt=claimed.attempts,
            delivery=job.delivery_id,
            repo=job.full_name,
            sha=job.sha,
            branch=job.branch,
            trigger=job.trigger,
            check_run=attempt.run_id,
            conclusion=completion.conclusion if completion else "error",
            outcome=outcome,
            annotations=len(completion.annotations) if completion else 0,
            api_calls=len(attempt.requests),
            duration_ms=round(duration * 1000),
            problem=completion.problem if completion else None,
            error=attempt.error,
        )
        return outcome

    def _steps(self, gh: GitHub, job: Job, attempt: Attempt, started: float) -> str:
        claimed = attempt.claimed
        newer = self.store.newer_push(claimed.id) if job.trigger == "push" else None
        with self.github.one_at_a_time(job.installation):
            # A resumed attempt first looks for the run an earlier one created.
            found = self._find_run(gh, job, claimed) if claimed.attempts > 1 else None
            if found is not None:
                attempt.run_id, attempt.posted = found.id, found.annotations
                if found.completed:
                    return self._record_completed(gh, job, attempt, found, started)
            if newer is not None:
                return self._supersede(gh, job, attempt, newer)
            if claimed.attempts > self.settings.job_attempts:
                return self._give_up(gh, job, attempt)
            course = None
            if not is_config_repository(job.full_name):
                course = self.courses.current(gh, job.installation, job.owner)
                if job.trigger == "push" and not course.evaluates(job.branch):
                    # The course file changed since the delivery was taken: no run at all.
                    self.store.mark_evaluation(
                        claimed.id,
                        EvaluationStatus.skipped,
                        error=f"branch {job.branch} is not evaluated by the course configuration",
                    )
                    return "ignored"
            if attempt.run_id is None:
                self._still_held(claimed)
                attempt.run_id = self._create_run(gh, job, claimed.id)
                if not self.store.record_check_run(claimed.id, claimed.attempts, attempt.run_id):
                    raise LeaseLost(f"evaluation {claimed.id} was taken over")
        if course is None:
            completion, report = self._check_course_file(gh, job), None
        else:
            completion, report = self._evaluate(
                gh, job, course, job.pushed_at or claimed.created_at
            )
        attempt.completion = completion
        self._post(gh, job, attempt, completion)
        attempt.finished = True
        duration_ms = (time.perf_counter() - started) * 1000
        if report is None:
            self.store.mark_evaluation(
                claimed.id,
                EvaluationStatus.completed,
                conclusion=completion.conclusion,
                error=completion.problem,
            )
        else:
            self.store.finish_evaluation(
                claimed.id,
                report,
                attempt.run_id,
                duration_ms=duration_ms,
                conclusion=completion.conclusion,
            )
            self._queue_review(job)
            self._queue_progress(job, course)
        return completion.conclusion

    def _record_completed(
        self, gh: GitHub, job: Job, attempt: Attempt, found: FoundRun, started: float
    ) -> str:
        """An earlier attempt completed the run and stopped before storing the result: the
        report is made again for the dashboard (the engine gives the same one) and stored,
        and nothing is posted; the run on GitHub stays as students saw it."""
        claimed = attempt.claimed
        # Whatever fails now must not post over the completed run.
        attempt.finished = True
        # A superseded commit's run has no report to go with it.
        if found.conclusion != "skipped" and not is_config_repository(job.full_name):
            course = self.courses.current(gh, job.installation, job.owner)
            _, report = self._evaluate(gh, job, course, job.pushed_at or claimed.created_at)
            if report is not None:
                self.store.finish_evaluation(
                    claimed.id,
                    report,
                    found.id,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    conclusion=found.conclusion,
                )
                # What the stopped attempt would have queued after storing the report.
                self._queue_review(job)
                self._queue_progress(job, course)
                return "already_completed"
        self.store.mark_evaluation(
            claimed.id,
            EvaluationStatus.completed,
            check_run_id=found.id,
            conclusion=found.conclusion,
        )
        return "already_completed"

    # --- Failures -------------------------------------------------------------------------

    def _give_up(self, gh: GitHub, job: Job, attempt: Attempt) -> str:
        """Every attempt so far stopped with its process (a job that kills its worker, e.g.
        by running out of memory, would otherwise be taken up again forever): complete the
        run saying so, without evaluating, and end the evaluation as failed."""
        claimed = attempt.claimed
        tried = claimed.attempts - 1
        attempt.error = (
            f"It was tried {tried} times without finishing, the process running it stopping "
            "midway, so it is not tried again."
        )
        attempt.completion = could_not_finish(attempt.error)
        self._complete_without_report(gh, job, attempt, attempt.completion)
        attempt.finished = True
        self._mark_failed(attempt, attempt.completion.conclusion)
        return "gave_up"

    def _mark_failed(self, attempt: Attempt, conclusion: str | None) -> None:
        """End the evaluation as failed, with why and its run's conclusion (None: not shown)."""
        self.store.mark_evaluation(
            attempt.claimed.id,
            EvaluationStatus.failed,
            check_run_id=attempt.run_id,
            error=attempt.error,
            conclusion=conclusion,
        )

    def _failed(self, gh: GitHub, job: Job, attempt: Attempt, exc: Exception) -> str:
        """Reschedule after a transient GitHub failure, else complete the run `neutral`."""
        claimed = attempt.claimed
        attempt.error = describe_failure(exc)
        if attempt.finished:
            # Storing the result failed after the run was completed: leave the evaluation
            # to its lease, so a sweep's next attempt finds the run complete and records it.
            logger.exception("recording %s@%s failed", job.full_name, job.sha)
            return "unrecorded"
        if not isinstance(exc, GitHubException):
            logger.exception("evaluating %s@%s failed", job.full_name, job.sha)
        delay = self.retry_delay(exc, claimed.attempts)
        if delay is not None:
            until = datetime.now(UTC) + timedelta(seconds=delay + self.settings.job_lease_seconds)
            if not self.store.postpone(claimed.id, claimed.attempts, until):
                return "taken_over"
            self.queue.enqueue(claimed.id, claimed.attempts, delay=delay)
            event(
                logger,
                "job_retry",
                evaluation=claimed.id,
                attempt=claimed.attempts,
                delay_s=round(delay, 1),
                error=attempt.error,
            )
            return "retrying"
        attempt.completion = could_not_finish(attempt.error)
        posted = False
        if attempt.run_id is not None:
            try:
                self._post(gh, job, attempt, attempt.completion)
                posted = True
            except LeaseLost:
                # A later attempt runs the evaluation now (this one stalled past its lease):
                # marking it failed would end that attempt's work, its run left spinning.
                return "taken_over"
            except Exception as final:
                # Nothing more can be shown on GitHub; the store and the log keep why.
                if not isinstance(final, GitHubException):
                    logger.exception("completing the run of %s@%s failed", job.full_name, job.sha)
        elif not self.store.holds(claimed.id, claimed.attempts):
            return "taken_over"
        if not posted:
            attempt.completion = None
        self._mark_failed(attempt, "neutral" if posted else None)
        return "neutral" if posted else "error"

    def retry_delay(self, exc: BaseException, attempts: int) -> float | None:
        """Seconds until the next attempt, or None when `exc` is final (not transient, or
        the attempts are used up): exponential backoff with jitter, and never sooner than
        GitHub's `Retry-After` / `X-RateLimit-Reset` say."""
        if attempts >= self.settings.job_attempts:
            return None
        wait = transient_wait(exc)
        if wait is None:
            return None
        backoff = min(
            self.settings.job_retry_max, self.settings.job_retry_delay * 2 ** (attempts - 1)
        )
        return max(wait, jittered(backoff))

    # --- GitHub ---------------------------------------------------------------------------

    def _find_run(self, gh: GitHub, job: Job, claimed: ClaimedEvaluation) -> FoundRun | None:
        """Our run on this commit with this evaluation's external id, if an earlier attempt
        created it (GitHub lists runs by commit and check name)."""
        response = gh.rest.checks.list_for_ref(
            job.owner,
            job.repo,
            job.sha,
            check_name=self.settings.check_name,
            filter_="all",
            per_page=100,
        )
        for run in response.json().get("check_runs", []):
            if run.get("id") == claimed.check_run_id or run.get("external_id") == job.delivery_id:
                output = run.get("output") or {}
                return FoundRun(
                    id=int(run["id"]),
                    completed=run.get("status") == "completed",
                    conclusion=run.get("conclusion"),
                    annotations=int(output.get("annotations_count") or 0),
                )
        return None

    def _create_run(self, gh: GitHub, job: Job, evaluation_id: int) -> int:
        body: dict[str, object] = {
            "name": self.settings.check_name,
            "head_sha": job.sha,
            "status": "in_progress",
            "external_id": job.delivery_id,
        }
        if self.settings.public_url:
            # "Details" opens the full report (instructor-only criteria need a staff login).
            body["details_url"] = f"{self.settings.public_url}/dashboard/runs/{evaluation_id}"
        response = gh.rest.checks.create(job.owner, job.repo, data=body)  # type: ignore[arg-type]
        return int(response.json()["id"])

    def _supersede(self, gh: GitHub, job: Job, attempt: Attempt, newer: str) -> str:
        """Complete this evaluation's run (creating it if it has none) as `skipped`."""
        completion = superseded(job, newer)
        attempt.completion = completion
        self._complete_without_report(gh, job, attempt, completion)
        self.store.mark_evaluation(
            attempt.claimed.id,
            EvaluationStatus.skipped,
            check_run_id=attempt.run_id,
            error=f"superseded by {newer}",
            conclusion="skipped",
        )
        return "skipped"

    def _complete_without_report(
        self, gh: GitHub, job: Job, attempt: Attempt, completion: Completion
    ) -> None:
        """Complete the attempt's run with `completion`, creating it completed if it has none."""
        if attempt.run_id is None:
            self._still_held(attempt.claimed)
            body = completion.create_body(self.settings.check_name, job.sha, job.delivery_id)
            response = gh.rest.checks.create(job.owner, job.repo, data=body)  # type: ignore[arg-type]
            attempt.run_id = int(response.json()["id"])
        else:
            self._post(gh, job, attempt, completion)

    def _post(self, gh: GitHub, job: Job, attempt: Attempt, completion: Completion) -> None:
        """Post `completion` on the attempt's run, while the attempt still holds it."""
        if attempt.run_id is None:
            raise RuntimeError("posting a result needs the check run")
        for body in completion.requests(attempt.posted):
            self._still_held(attempt.claimed)
            gh.rest.checks.update(job.owner, job.repo, attempt.run_id, data=body)  # type: ignore[arg-type]

    def _still_held(self, claimed: ClaimedEvaluation) -> None:
        """Raise `LeaseLost` unless this attempt still runs the evaluation: checked in the
        store before every write to GitHub, since this process may have stalled past its
        lease (the warden's mark comes only at its next renewal) while a later attempt
        took over and made or completed the run itself."""
        self.leases.check(claimed.id)
        if not self.store.holds(claimed.id, claimed.attempts):
            raise LeaseLost(f"evaluation {claimed.id} was taken over")

    def _download(self, gh: GitHub, job: Job, target: Path) -> None:
        """Stream the commit's tarball (following GitHub's redirect) into `target`, capped."""
        cap = self.settings.max_tarball_bytes
        response = gh.rest.repos.download_tarball_archive(job.owner, job.repo, job.sha, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise TarballTooLarge(int(declared), cap)
            size = 0
            with target.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    size += len(chunk)
                    if size > cap:
                        raise TarballTooLarge(size, cap)
                    out.write(chunk)
        finally:
            response.raw_response.close()

    # --- The evaluation -------------------------------------------------------------------

    def _check_course_file(self, gh: GitHub, job: Job) -> Completion:
        """A push to the organisation's `.github`: read the course file at the pushed
        commit, record it (or its problems) and say so in the run on that commit."""
        checked = self.courses.refresh(gh, job.installation, job.owner, ref=job.sha)
        return course_file_completion(checked)

    def _evaluate(
        self, gh: GitHub, job: Job, course: CourseState, at: datetime
    ) -> tuple[Completion, Report | None]:
        self.workspace.mkdir(parents=True, exist_ok=True)
        # Always removed, even when extraction left read-only folders behind.
        with tempfile.TemporaryDirectory(
            prefix="job-", dir=self.workspace, ignore_cleanup_errors=True
        ) as tmp:
            archive = Path(tmp) / "commit.tar.gz"
            try:
                self._download(gh, job, archive)
                extracted = extract_tarball(
                    archive, Path(tmp) / "tree", self.settings.extract_limits()
                )
            except (TarballTooLarge, ArchiveRefused) as refused:
                return refused_completion(refused), None
            archive.unlink()
            return self._report(job, extracted, course, at)

    def _report(
        self, job: Job, extracted: Extracted, course: CourseState, at: datetime
    ) -> tuple[Completion, Report]:
        """The full report (stored, shown on the dashboard) and the run showing only what
        students may see, with the class context and their own CI's last failures."""
        snapshot = Snapshot(extracted.root)
        report = evaluate(
            snapshot,
            course.profile,
            at=at,
            approved_exemptions=self.records.approved_exemptions(job.repository_id),
        )
        students = report.for_students()
        fixes = offered(snapshot, students, course)
        note = skipped_note(extracted) + offer_note(fixes)
        preamble = "\n\n".join(
            part for part in (self._changes(job, students), self._ci_failures(job)) if part
        )
        annotations = [CheckAnnotation.of(a) for a in students.annotations()]
        completion = Completion(
            conclusion=students.conclusion.value,
            title=title_line(students),
            summary=summary_markdown(
                students,
                limit=TEXT_LIMIT - len(note),
                preamble=preamble,
                class_pass_rates=self._class_context(job.installation),
            )
            + note,
            text=details_markdown(students),
            annotations=annotations[: self.settings.annotation_cap],
            actions=check_actions(fixes),
        )
        return completion, report

    def _changes(self, job: Job, students: Report) -> str:
        """ "Since a1b2c3d: 2 fixed, 1 new problem" against the branch's previous evaluation."""
        if job.branch is None:
            return ""
        previous = self.store.last_evaluation(job.full_name, job.branch, before_sha=job.sha)
        if previous is None or previous.report is None:
            return ""
        return changes_markdown(
            changes_since(previous.report.for_students(), students), previous.sha
        )

    def _class_context(self, installation_id: int) -> dict[str, float]:
        """Share of the installation's groups passing each criterion (see the constants)."""
        groups = self.records.evaluated_groups(installation_id)
        if groups < CLASS_CONTEXT_MIN_GROUPS:
            return {}
        now = time.monotonic()
        with self._class_rates_lock:
            cached = self._class_rates.get(installation_id)
        if cached is not None and cached[1] == groups and now - cached[0] < CLASS_CONTEXT_SECONDS:
            return cached[2]
        rates = self.records.class_pass_rates(installation_id, CLASS_CONTEXT_MIN_GROUPS)
        with self._class_rates_lock:
            self._class_rates[installation_id] = (now, groups, rates)
        return rates

    def _ci_failures(self, job: Job) -> str:
        """ "Your `tests` workflow failed on a1b2c3d" for the branch's previous commit."""
        if job.branch is None:
            return ""
        failed = self.records.failed_workflows_before(job.repository_id, job.branch, job.sha)
        if not failed:
            return ""
        names = ", ".join(f"`{_code(f.workflow)}`" for f in failed)
        plural = "workflows" if len(failed) > 1 else "workflow"
        return (
            f"⚠️ Your {names} {plural} failed on {failed[0].head_sha[:SHORT_SHA]}: "
            "open the Actions tab to see why, and fix it before adding more."
        )

    # --- The AI review --------------------------------------------------------------------

    def _queue_review(self, job: Job) -> None:
        settings = self.review_settings
        if settings is None or not should_review(
            settings, self.courses.known(job.installation).profile, job.branch, job.default_branch
        ):
            return
        try:
            self.queue.enqueue_review(job)
        except Exception:
            # The review is optional advice: the main run, already complete, stands.
            logger.exception("queueing the AI review of %s@%s failed", job.full_name, job.sha)

    def review(self, job_json: str) -> None:
        """The AI review of a commit whose main run is complete: its own task, so it never
        delays or changes the main run. `post_ai_review` reports its own failures."""
        settings = self.review_settings
        if settings is None:
            return
        job = Job.model_validate_json(job_json)
        self.workspace.mkdir(parents=True, exist_ok=True)
        gh = self.github.installation(job.installation)
        with (
            gh,
            tempfile.TemporaryDirectory(
                prefix="review-", dir=self.workspace, ignore_cleanup_errors=True
            ) as tmp,
        ):
            archive = Path(tmp) / "commit.tar.gz"
            try:
                self._download(gh, job, archive)
                extracted = extract_tarball(
                    archive, Path(tmp) / "tree", self.settings.extract_limits()
                )
            except (TarballTooLarge, ArchiveRefused, GitHubException) as exc:
                event(
                    logger,
                    "ai_review",
                    level=logging.WARNING,
                    repo=job.full_name,
                    sha=job.sha,
                    error=describe_failure(exc),
                )
                return
            post_ai_review(
                gh,
                job.owner,
                job.repo,
                job.sha,
                Snapshot(extracted.root),
                settings,
                self._cache(settings),
                profile=self.courses.known(job.installation).profile,
                installation=job.installation,
                check_name=self.settings.check_name,
                branch=job.branch,
                default_branch=job.default_branch,
            )

    # --- Starter pull requests --------------------------------------------------------------

    def starter_pr(self, request_json: str) -> None:
        """A pressed fix button: its pull request, or why not, on the check run."""
        request = StarterRequest.model_validate_json(request_json)
        self.workspace.mkdir(parents=True, exist_ok=True)
        gh = self.github.installation(request.installation)
        with (
            gh,
            tempfile.TemporaryDirectory(
                prefix="fix-", dir=self.workspace, ignore_cleanup_errors=True
            ) as tmp,
        ):

            def snapshot() -> Snapshot:
                archive = Path(tmp) / "commit.tar.gz"
                limits = self.settings.extract_limits()
                try:
                    self._download(gh, request.job(), archive)
                    return Snapshot(extract_tarball(archive, Path(tmp) / "tree", limits).root)
                except (TarballTooLarge, ArchiveRefused) as refused:
                    raise StarterRefused(f"Could not read the commit: {refused}") from None

            try:
                state = self.courses.current(gh, request.installation, request.owner)
            except GitHubException:
                state = self.courses.known(request.installation)  # the last one read
            open_starter_pr(gh, request, state, snapshot)

    # --- The progress issue ---------------------------------------------------------------

    def _queue_progress(self, job: Job, course: CourseState) -> None:
        target = self.progress_issues.target(job, course)
        if target is None:
            return
        try:
            self.queue.enqueue_progress(target.model_dump_json())
        except Exception:
            # Like the review: the run is complete and stays as it is.
            logger.exception("queueing the progress issue of %s failed", job.full_name)

    def progress(self, target_json: str) -> None:
        """Update a group's progress issue: its own task, after the run is complete.
        `ProgressIssues.update` logs GitHub's refusals; anything else is logged here."""
        try:
            target = ProgressTarget.model_validate_json(target_json)
            gh = self.github.installation(target.installation)
            with gh:
                self.progress_issues.update(gh, target)
        except Exception:
            logger.exception("updating a progress issue failed")

    def _cache(self, settings: ReviewSettings) -> ReviewCache:
        with self._review_cache_lock:
            if self._review_cache is None:
                self._review_cache = ReviewCache(settings.cache_path)
            return self._review_cache


def transient_wait(exc: BaseException) -> float | None:
    """Seconds GitHub asked us to wait (0 without a hint) when `exc` is worth another
    attempt later: a 5xx, a timeout, a connection failure, a rate limit. None otherwise."""
    if isinstance(exc, RateLimitExceeded):
        return exc.retry_after.total_seconds()
    if isinstance(exc, RequestFailed):
        return 0.0 if exc.response.status_code >= 500 else None
    if isinstance(exc, RequestTimeout):
        return 0.0
    if isinstance(exc, RequestError):
        # Minting the token wraps GitHub's own answer; anything else is the network.
        inner = exc.exc
        return transient_wait(inner) if isinstance(inner, GitHubException) else 0.0
    return None


def skipped_note(extracted: Extracted) -> str:
    """A paragraph naming archive entries that were not extracted, or ""."""
    if not extracted.skipped:
        return ""
    listed = ", ".join(
        f"`{_code(s.name)}` ({s.reason})" for s in extracted.skipped[:SKIPPED_LISTED]
    )
    more = len(extracted.skipped) - SKIPPED_LISTED
    rest = f" and {more} more" if more > 0 else ""
    return (
        f"\n\n**Not evaluated:** {len(extracted.skipped)} entries of this commit were left "
        f"out for safety or size: {listed}{rest}."
    )


def _code(name: str) -> str:
    # A backtick in a file name would end the markdown code span early.
    return clip(name, 120).replace("`", "'")


def refused_completion(refused: TarballTooLarge | ArchiveRefused) -> Completion:
    too_large = isinstance(refused, TarballTooLarge) or refused.kind == "too_large"
    title = "Repository too large to evaluate" if too_large else "The commit could not be read"
    return Completion(
        conclusion="neutral",
        title=title,
        summary=f"### {title}\n\n{refused}",
        problem=f"refused: {refused}",
    )


def course_file_completion(checked: CourseFileCheck) -> Completion:
    """The run on a `.github` commit: is the course file valid, and what is in force."""
    if not checked.found:
        title = f"No {ORG_CONFIG_FILE}: the default course configuration applies"
        return Completion(
            conclusion="neutral",
            title=title,
            summary=f"### {title}\n\nAdd `{ORG_CONFIG_FILE}` at the top of this repository "
            "to configure the course for every group.",
        )
    if checked.state is None:
        first = checked.problems[0]
        title = "The course configuration is invalid: the previous one stays in force"
        listed = "\n".join(f"- line {p.line}: {p.message}" for p in checked.problems)
        return Completion(
            conclusion="neutral",
            title=title,
            summary=f"### {title}\n\n`{ORG_CONFIG_FILE}` was refused ({first.message}, line "
            f"{first.line}). Groups are evaluated with the last valid version until it is "
            f"fixed.\n\n{listed}",
            annotations=[
                CheckAnnotation(
                    path=ORG_CONFIG_FILE,
                    start_line=p.line,
                    end_line=p.line,
                    annotation_level="failure",
                    title="Invalid course configuration",
                    message=p.message,
                )
                for p in checked.problems
            ],
            problem=f"invalid course configuration: {first.message} (line {first.line})",
        )
    config = checked.state.config
    facts = [
        f"- profile `{config.profile}`",
        f"- branches: {', '.join(f'`{b}`' for b in config.branches) or 'all'}",
        f"- course start: {config.start or 'not set'}; deadline: {config.deadline or 'not set'}",
        f"- {len(config.criteria)} criteria adjusted",
    ]
    title = "The course configuration is valid and in force"
    return Completion(
        conclusion="success", title=title, summary=f"### {title}\n\n" + "\n".join(facts)
    )


def could_not_finish(reason: str) -> Completion:
    return Completion(
        conclusion="neutral",
        title=COULD_NOT_FINISH,
        summary=(
            f"### {COULD_NOT_FINISH}\n\n{reason}\n\n"
            "This is a problem on our side, not in your repository. Press **Re-run** or push "
            "again to try once more; if it keeps happening, tell the course staff."
        ),
        problem=reason,
    )


def superseded(job: Job, newer: str) -> Completion:
    """The run of a commit that a newer push to its branch overtook while it waited."""
    short = newer[:SHORT_SHA]
    return Completion(
        conclusion="skipped",
        title=f"Skipped: {short} was pushed after this commit",
        summary=(
            f"### Skipped: a newer push\n\nA newer commit, `{short}`, was pushed to "
            f"`{job.branch}` before this one was evaluated, so only the newest is checked. "
            f"See the check on `{short}` for feedback on your latest work."
        ),
        problem=f"superseded by {newer}",
    )


def describe_failure(exc: BaseException) -> str:
    """Why a job failed, in one sentence that holds no token, secret or signed URL."""
    if isinstance(exc, RateLimitExceeded):
        return (
            f"GitHub's rate limit was reached ({exc.request.method} {_api_path(exc.request)}; "
            f"it resets in {exc.retry_after.total_seconds():.0f} s)."
        )
    if isinstance(exc, RequestFailed):
        request = exc.request
        return (
            f"GitHub answered {exc.response.status_code} to {request.method} {_api_path(request)}."
        )
    if isinstance(exc, RequestTimeout):
        return f"GitHub did not answer in time ({exc.request.method} {_api_path(exc.request)})."
    if isinstance(exc, RequestError):
        if isinstance(exc.exc, GitHubException):
            # Minting the installation token wraps GitHub's answer.
            return describe_failure(exc.exc)
        return f"GitHub could not be reached ({type(exc.exc).__name__})."
    return REDACTOR(f"{type(exc).__name__}: {exc}")[:500]


def _api_path(request: httpx.Request) -> str:
    # The path only: a download redirect's query string carries a temporary token.
    return request.url.path
