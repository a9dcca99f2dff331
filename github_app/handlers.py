"""What each webhook means for us. Handlers only turn a payload into a job; they do no I/O."""

from __future__ import annotations

import logging

from github_app.jobs import Job, JobQueue, QueueFull
from github_app.logs import LOGGER, event
from github_app.payloads import (
    ZERO_SHA,
    CheckRunEvent,
    CheckSuiteEvent,
    InstallationEvent,
    PushEvent,
    is_sha,
)
from github_app.routing import Delivery, InvalidPayload, Reply, Router

logger = logging.getLogger(LOGGER)
router = Router()


def enqueue(jobs: JobQueue, job: Job) -> Reply:
    extra = {"repository": job.full_name, "sha": job.sha}
    try:
        queued = jobs.submit(job)
    except QueueFull as exc:
        # A failed delivery is visible in the app's settings and can be redelivered.
        return Reply(503, "busy", f"{exc}; redeliver later", extra)
    if not queued:
        return Reply(202, "duplicate", "this commit is already queued or was just evaluated", extra)
    return Reply(202, "queued", "", extra)


@router.on("ping")
def ping(delivery: Delivery, jobs: JobQueue) -> Reply:
    return Reply(200, "pong")


@router.on("push")
def push(delivery: Delivery, jobs: JobQueue) -> Reply:
    """A push to a branch evaluates its new head commit; tags and deletions are ignored."""
    payload = delivery.parse(PushEvent)
    if payload.deleted or ZERO_SHA.match(payload.after):
        return Reply(202, "ignored", f"{payload.ref} was deleted")
    if payload.branch is None:
        return Reply(202, "ignored", f"{payload.ref} is not a branch")
    if not is_sha(payload.after):
        raise InvalidPayload("push payload: after is not a commit id")
    job = Job(
        installation=payload.installation.id,
        owner=payload.repository.owner.login,
        repo=payload.repository.name,
        sha=payload.after,
        delivery_id=delivery.id,
        branch=payload.branch,
    )
    return enqueue(jobs, job)


@router.on("check_suite", "requested")
def suite_requested(delivery: Delivery, jobs: JobQueue) -> Reply:
    # Every push also requests a suite; the push itself already creates the one run.
    return Reply(202, "ignored", "the push delivery evaluates this commit")


@router.on("check_suite", "rerequested")
def suite_rerequested(delivery: Delivery, jobs: JobQueue) -> Reply:
    """ "Re-run all checks": evaluate the suite's commit again, in a new run."""
    payload = delivery.parse(CheckSuiteEvent)
    job = Job(
        installation=payload.installation.id,
        owner=payload.repository.owner.login,
        repo=payload.repository.name,
        sha=payload.check_suite.head_sha,
        delivery_id=delivery.id,
        branch=payload.check_suite.head_branch,
        trigger="rerequested",
    )
    return enqueue(jobs, job)


@router.on("check_run", "rerequested")
def run_rerequested(delivery: Delivery, jobs: JobQueue) -> Reply:
    """ "Re-run" on our check run: evaluate its commit again, in a new run."""
    payload = delivery.parse(CheckRunEvent)
    suite = payload.check_run.check_suite
    job = Job(
        installation=payload.installation.id,
        owner=payload.repository.owner.login,
        repo=payload.repository.name,
        sha=payload.check_run.head_sha,
        delivery_id=delivery.id,
        branch=suite.head_branch if suite else None,
        trigger="rerequested",
    )
    return enqueue(jobs, job)


@router.on("installation")
@router.on("installation_repositories")
def installation(delivery: Delivery, jobs: JobQueue) -> Reply:
    """Installations are recorded in the log (which repositories the app may now see)."""
    payload = delivery.parse(InstallationEvent)
    account = payload.installation.account
    event(
        logger,
        "installation",
        delivery=delivery.id,
        action=delivery.name,
        installation=payload.installation.id,
        account=account.login if account else None,
        repositories=[r.full_name for r in payload.repositories or []],
        added=[r.full_name for r in payload.repositories_added or []],
        removed=[r.full_name for r in payload.repositories_removed or []],
    )
    return Reply(200, "recorded")
