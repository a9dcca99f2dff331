"""Small, lenient models of the webhook fields we use, and nothing else.

GitHub adds fields all the time and its documented examples lack some; validating the
whole payload (githubkit's `webhooks.parse`) refuses real deliveries. Names that end up
in API paths are validated strictly, so a payload can never steer a request elsewhere.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ValidationError

from github_app.store import PushedCommit

ZERO_SHA = re.compile(r"\A0+\Z")
_SHA = re.compile(r"\A(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")
# GitHub's own rules for user, organisation and repository names.
_NAME = re.compile(r"\A[A-Za-z0-9_.-]{1,100}\Z")


def is_sha(value: str) -> bool:
    return _SHA.match(value) is not None


def _sha(value: str) -> str:
    if not is_sha(value):
        raise ValueError("is not a commit id (40 or 64 lowercase hex digits)")
    return value


def _name(value: str) -> str:
    if not _NAME.match(value) or value in (".", ".."):
        raise ValueError("is not a valid GitHub name")
    return value


Sha = Annotated[str, AfterValidator(_sha)]
Name = Annotated[str, AfterValidator(_name)]


class Account(BaseModel):
    login: Name


class Repository(BaseModel):
    id: int
    name: Name
    owner: Account
    default_branch: str | None = None
    # In push payloads: when the push happened, in seconds since the epoch.
    pushed_at: int | str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


class Installation(BaseModel):
    id: int


class RepositoryRef(BaseModel):
    id: int
    full_name: str


class InstallationAccount(BaseModel):
    login: str
    type: str | None = None


class Pusher(BaseModel):
    name: str | None = None


class PushEvent(BaseModel):
    ref: str
    # Not `Sha`: a deletion carries 40 zeros, which the handler must see to ignore it.
    after: str
    deleted: bool = False
    repository: Repository
    installation: Installation
    pusher: Pusher | None = None
    sender: InstallationAccount | None = None
    # Kept loosely: each becomes a `PushedCommit` (author and message length only).
    commits: list[dict[str, Any]] = []

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None

    @property
    def pusher_login(self) -> str | None:
        """Who pushed: the sender's login, else the pusher's name (the same for a person)."""
        if self.sender is not None:
            return self.sender.login
        return self.pusher.name if self.pusher else None

    @property
    def pushed_at(self) -> datetime | None:
        stamp = self.repository.pushed_at
        return datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int) else None

    def pushed_commits(self) -> tuple[PushedCommit, ...]:
        """The commits carried, without their messages; entries without an id are dropped."""
        return tuple(
            PushedCommit.from_payload(c) for c in self.commits if isinstance(c.get("id"), str)
        )


class CheckSuite(BaseModel):
    head_sha: Sha
    head_branch: str | None = None


class CheckSuiteEvent(BaseModel):
    check_suite: CheckSuite
    repository: Repository
    installation: Installation


class CheckRun(BaseModel):
    head_sha: Sha
    check_suite: CheckSuite | None = None


class CheckRunEvent(BaseModel):
    check_run: CheckRun
    repository: Repository
    installation: Installation


class InstallationDetails(BaseModel):
    id: int
    account: InstallationAccount | None = None


class InstallationEvent(BaseModel):
    installation: InstallationDetails
    repositories: list[RepositoryRef] | None = None
    repositories_added: list[RepositoryRef] | None = None
    repositories_removed: list[RepositoryRef] | None = None


class User(BaseModel):
    # Lenient: a deleted account ("ghost") may come without a login.
    login: str | None = None


class PullRequest(BaseModel):
    number: int
    user: User | None = None
    merged: bool = False
    created_at: datetime | None = None
    merged_at: datetime | None = None


class PullRequestEvent(BaseModel):
    action: str
    pull_request: PullRequest
    repository: Repository
    installation: Installation


class Review(BaseModel):
    user: User | None = None
    submitted_at: datetime | None = None


class PullRequestReviewEvent(BaseModel):
    review: Review
    pull_request: PullRequest
    repository: Repository
    installation: Installation


class WorkflowRunInfo(BaseModel):
    id: int
    name: str | None = None
    head_sha: Sha
    head_branch: str | None = None
    conclusion: str | None = None
    updated_at: datetime | None = None


class WorkflowRunEvent(BaseModel):
    workflow_run: WorkflowRunInfo
    repository: Repository
    installation: Installation


class App(BaseModel):
    id: int


class ActionCheckRun(BaseModel):
    id: int
    head_sha: Sha
    app: App | None = None
    check_suite: CheckSuite | None = None


class RequestedAction(BaseModel):
    identifier: str


class RequestedActionEvent(BaseModel):
    """A button of a check run pressed (`check_run` `requested_action`)."""

    check_run: ActionCheckRun
    requested_action: RequestedAction | None = None
    repository: Repository
    installation: Installation
    sender: User | None = None


def describe_invalid(exc: ValidationError) -> str:
    """Which fields are missing or wrong, without echoing any of the payload's values."""
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error["loc"])
        reason = "is missing" if error["type"] == "missing" else error["msg"]
        problems.append(f"{where} {reason.removeprefix('Value error, ')}")
    return "; ".join(problems)
