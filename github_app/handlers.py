"""What each webhook means for us. Handlers turn a payload into a job for the queue, or into
a record in the store; they never call GitHub."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from checks.fixes import all_fixes
from github_app.jobs import Job, QueueFull
from github_app.logs import LOGGER, event
from github_app.payloads import (
    ZERO_SHA,
    CheckRunEvent,
    CheckSuiteEvent,
    InstallationEvent,
    PullRequestEvent,
    PullRequestReviewEvent,
    PushEvent,
    Repository,
    RequestedActionEvent,
    WorkflowRunEvent,
    is_sha,
)
from github_app.routing import Delivery, InvalidPayload, Reply, Router
from github_app.services import Services
from github_app.starter_pr import StarterRequest
from github_app.store import InstallationRemoved, RepositoryInfo
from github_app.store.course import is_config_repository

logger = logging.getLogger(LOGGER)
router = Router()


def enqueue(services: Services, job: Job) -> Reply:
    extra = {"repository": job.full_name, "sha": job.sha}
    try:
        queued = services.queue.submit(job)
    except QueueFull as exc:
        # A failed delivery is visible in the app's settings and can be redelivered.
        return Reply(503, "busy", f"{exc}; redeliver later", extra)
    except InstallationRemoved:
        return Reply(202, "ignored", "the app was uninstalled from this account", extra)
    if not queued:
        return Reply(
            202,
            "duplicate",
            "this delivery was already taken, or this commit is queued or was just evaluated",
            extra,
        )
    return Reply(202, "queued", "", extra)


def _job(delivery: Delivery, repository: Repository, installation: int, sha: str) -> Job:
    return Job(
        installation=installation,
        owner=repository.owner.login,
        repo=repository.name,
        repository_id=repository.id,
        default_branch=repository.default_branch,
        sha=sha,
        delivery_id=delivery.id,
    )


@router.on("ping")
def ping(delivery: Delivery, services: Services) -> Reply:
    return Reply(200, "pong")


@router.on("push")
def push(delivery: Delivery, services: Services) -> Reply:
    """A push to a branch evaluates its new head commit (and keeps the commits it carried);
    tags and deletions are ignored."""
    payload = delivery.parse(PushEvent)
    if payload.deleted or ZERO_SHA.match(payload.after):
        return Reply(202, "ignored", f"{payload.ref} was deleted")
    if payload.branch is None:
        return Reply(202, "ignored", f"{payload.ref} is not a branch")
    if not is_sha(payload.after):
        raise InvalidPayload("push payload: after is not a commit id")
    installation_id = payload.installation.id
    repository = payload.repository
    if is_config_repository(repository.full_name):
        # The organisation's course file lives here: read it again, and check the new one.
        if payload.branch != repository.default_branch:
            return Reply(202, "ignored", "the course file is read from the default branch")
        services.records.invalidate_course_file(installation_id)
    elif not services.courses.known(installation_id).evaluates(payload.branch):
        return Reply(
            202,
            "ignored",
            f"the course configuration does not evaluate branch {payload.branch}",
        )
    job = _job(delivery, repository, installation_id, payload.after)
    return enqueue(
        services,
        job.model_copy(
            update={
                "branch": payload.branch,
                "pusher": payload.pusher_login,
                "pushed_at": payload.pushed_at,
                "commits": payload.pushed_commits(),
            }
        ),
    )


@router.on("check_suite", "requested")
def suite_requested(delivery: Delivery, services: Services) -> Reply:
    # Every push also requests a suite; the push itself already creates the one run.
    return Reply(202, "ignored", "the push delivery evaluates this commit")


@router.on("check_suite", "rerequested")
def suite_rerequested(delivery: Delivery, services: Services) -> Reply:
    """ "Re-run all checks": evaluate the suite's commit again, in a new run."""
    payload = delivery.parse(CheckSuiteEvent)
    job = _job(delivery, payload.repository, payload.installation.id, payload.check_suite.head_sha)
    return enqueue(
        services,
        job.model_copy(
            update={"branch": payload.check_suite.head_branch, "trigger": "rerequested"}
        ),
    )


@router.on("check_run", "rerequested")
def run_rerequested(delivery: Delivery, services: Services) -> Reply:
    """ "Re-run" on our check run: evaluate its commit again, in a new run."""
    payload = delivery.parse(CheckRunEvent)
    suite = payload.check_run.check_suite
    job = _job(delivery, payload.repository, payload.installation.id, payload.check_run.head_sha)
    return enqueue(
        services,
        job.model_copy(
            update={"branch": suite.head_branch if suite else None, "trigger": "rerequested"}
        ),
    )


@router.on("check_run", "requested_action")
def run_requested_action(delivery: Delivery, services: Services) -> Reply:
    """A fix button pressed on our check run: its starter pull request is opened by a task."""
    payload = delivery.parse(RequestedActionEvent)
    run = payload.check_run
    if run.app is None or run.app.id != services.settings.app_id:
        return Reply(202, "ignored", "not a check run of this app")
    if payload.requested_action is None or payload.requested_action.identifier not in all_fixes():
        return Reply(202, "ignored", "not a button this app offers")
    repository = payload.repository
    request = StarterRequest(
        installation=payload.installation.id,
        owner=repository.owner.login,
        repo=repository.name,
        repository_id=repository.id,
        sha=run.head_sha,
        check_run_id=run.id,
        fix_id=payload.requested_action.identifier,
        base=(run.check_suite.head_branch if run.check_suite else None)
        or repository.default_branch
        or "main",
        requested_by=payload.sender.login if payload.sender else None,
    )
    extra = {"repository": request.full_name, "sha": request.sha, "fix": request.fix_id}
    try:
        services.queue.enqueue_starter_pr(request.model_dump_json())
    except QueueFull as exc:
        return Reply(503, "busy", f"{exc}; redeliver later", extra)
    return Reply(202, "queued", "", extra)


@router.on("installation")
@router.on("installation_repositories")
def installation(delivery: Delivery, services: Services) -> Reply:
    """Installations and the repositories they cover are kept in the store; an uninstall
    purges everything of that installation (student data is personal data)."""
    payload = delivery.parse(InstallationEvent)
    store = services.store
    installation_id = payload.installation.id
    account = payload.installation.account
    event(
        logger,
        "installation",
        delivery=delivery.id,
        action=delivery.name,
        installation=installation_id,
        account=account.login if account else None,
        repositories=[r.full_name for r in payload.repositories or []],
        added=[r.full_name for r in payload.repositories_added or []],
        removed=[r.full_name for r in payload.repositories_removed or []],
    )
    if not store.claim_delivery(delivery.id, delivery.name, installation_id):
        return Reply(200, "duplicate", "this delivery was already taken")
    if delivery.event == "installation" and delivery.action == "deleted":
        purged = store.remove_installation(installation_id)
        event(logger, "purge", installation=installation_id, **purged.model_dump())
        return Reply(200, "purged", f"{purged.total} records of this installation deleted")
    store.record_installation(
        installation_id, account.login if account else None, account.type if account else None
    )
    added = [*(payload.repositories or []), *(payload.repositories_added or [])]
    try:
        store.record_repositories(
            installation_id, [RepositoryInfo(id=r.id, full_name=r.full_name) for r in added]
        )
    except InstallationRemoved:
        return Reply(200, "ignored", "this installation was removed")
    removed = [r.id for r in payload.repositories_removed or []]
    store.remove_repositories(installation_id, removed)
    store.record_delivery_outcome(delivery.id, "recorded")
    return Reply(200, "recorded")


def _repository_info(repository: Repository) -> RepositoryInfo:
    return RepositoryInfo(
        id=repository.id,
        full_name=repository.full_name,
        default_branch=repository.default_branch,
    )


@router.on("pull_request", "opened", "closed")
def pull_request(delivery: Delivery, services: Services) -> Reply:
    """Team activity: who opens pull requests, and whose get merged (each counted once)."""
    payload = delivery.parse(PullRequestEvent)
    pr = payload.pull_request
    if payload.action == "closed" and not pr.merged:
        return Reply(202, "ignored", "closed without merging")
    kind = "opened" if payload.action == "opened" else "merged"
    at = (pr.created_at if kind == "opened" else pr.merged_at) or datetime.now(UTC)
    try:
        services.records.record_pull_request(
            payload.installation.id,
            _repository_info(payload.repository),
            pr.number,
            kind,
            pr.user.login if pr.user else None,
            at,
        )
    except InstallationRemoved:
        return Reply(202, "ignored", "the app was uninstalled from this account")
    return Reply(200, "recorded")


@router.on("pull_request_review", "submitted")
def pull_request_review(delivery: Delivery, services: Services) -> Reply:
    """Team activity: who reviews the others' pull requests (once per pull request)."""
    payload = delivery.parse(PullRequestReviewEvent)
    reviewer = payload.review.user.login if payload.review.user else None
    author = payload.pull_request.user.login if payload.pull_request.user else None
    if reviewer is not None and reviewer == author:
        return Reply(202, "ignored", "a comment on one's own pull request is not a review")
    try:
        services.records.record_pull_request(
            payload.installation.id,
            _repository_info(payload.repository),
            payload.pull_request.number,
            "reviewed",
            reviewer,
            payload.review.submitted_at or datetime.now(UTC),
        )
    except InstallationRemoved:
        return Reply(202, "ignored", "the app was uninstalled from this account")
    return Reply(200, "recorded")


@router.on("workflow_run", "completed")
def workflow_run(delivery: Delivery, services: Services) -> Reply:
    """CI health: the conclusion of each of the group's own workflow runs."""
    payload = delivery.parse(WorkflowRunEvent)
    run = payload.workflow_run
    try:
        services.records.record_workflow_run(
            payload.installation.id,
            _repository_info(payload.repository),
            run_id=run.id,
            workflow=run.name or "workflow",
            head_sha=run.head_sha,
            head_branch=run.head_branch,
            conclusion=run.conclusion,
            completed_at=run.updated_at or datetime.now(UTC),
        )
    except InstallationRemoved:
        return Reply(202, "ignored", "the app was uninstalled from this account")
    return Reply(200, "recorded")
