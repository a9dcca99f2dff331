"""Starter pull requests: a fix button pressed on our check run becomes a pull request.

The course file opts in (`fixes: true`). The check run of an evaluated commit then offers
up to three mechanical fixes (`checks.fixes`) as buttons. Pressing one delivers
`check_run` `requested_action`; the handler queues a `StarterRequest` and the worker runs
`open_starter_pr`: the commit's files are read again, the fix is computed from them, and
the change is built with GitHub's git data API (blobs, a tree on the commit's tree, a
commit whose parent is the evaluated commit) on the branch `mlops-mentor/<fix>`, created
or reused, never on the group's own branches. The pull request goes to the branch the
commit was evaluated on. Pressing again finds the open pull request instead of opening
another. Whatever happens is written on the check run: the pull request's link, or a
sentence saying why not (never a stack trace or a token).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable
from typing import Any

from githubkit import GitHub
from githubkit.exception import GitHubException, RequestError, RequestFailed
from pydantic import BaseModel, ConfigDict

from checks import Report, Snapshot, evaluate
from checks.fixes import Fix, all_fixes, branch_of, make_fix, offered_fixes
from checks.models import clip
from checks.profile import Profile
from checks.registry import all_criteria
from github_app.checkrun import TEXT_LIMIT, CheckAction
from github_app.course import CourseState
from github_app.jobs import Job
from github_app.logs import LOGGER, event

logger = logging.getLogger(LOGGER)
# Written into every commit the app makes: a branch whose head carries it may be moved.
TRAILER = "Created-by: mlops-mentor"
SECTION = "### Starter pull requests"
PERMISSIONS_HELP = (
    "Could not open the pull request: the app needs the **Contents: write** and **Pull "
    "requests: write** permissions on this repository. Ask your instructor to grant them "
    "(README, “Starter pull requests”)."
)


class StarterRequest(BaseModel):
    """A pressed fix button, as queued: plain data, everything the task needs."""

    model_config = ConfigDict(frozen=True)

    installation: int
    owner: str
    repo: str
    repository_id: int
    sha: str
    check_run_id: int
    fix_id: str
    # The branch the commit was evaluated on (the pull request's base), else the default.
    base: str
    requested_by: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def job(self) -> Job:
        """The commit as a job, for the worker's tarball download."""
        return Job(
            installation=self.installation,
            owner=self.owner,
            repo=self.repo,
            sha=self.sha,
            delivery_id=f"fix-{self.check_run_id}-{self.fix_id}",
            repository_id=self.repository_id,
        )


class StarterRefused(Exception):
    """A pull request that cannot be opened; `str()` is the sentence for the check run."""


# --- On the check run ------------------------------------------------------------------------


def check_actions(fixes: list[Fix]) -> list[CheckAction]:
    return [CheckAction(label=f.label, description=f.description, identifier=f.id) for f in fixes]


def offered(snapshot: Snapshot, report: Report, state: CourseState) -> list[Fix]:
    """The fixes a check run offers: none unless the course file switches them on."""
    return offered_fixes(snapshot, report) if state.config.fixes else []


def offer_note(fixes: list[Fix]) -> str:
    """The summary's paragraph pointing at the buttons, or ""."""
    if not fixes:
        return ""
    names = ", ".join(f"**{f.label}**" for f in fixes)
    return (
        f"\n\n{SECTION}\n\nSome of these fixes are mechanical. Each button at the top of "
        f"this page ({names}) opens a pull request with the change, on its own branch, for "
        "you to review and merge."
    )


def with_note(summary: str, fix_id: str, line: str) -> str:
    """The run's summary with this fix's line in the starter section (replaced if present)."""
    maker = all_fixes().get(fix_id)
    note = f"- <!-- fix:{fix_id} --> **{maker.label if maker else fix_id}:** {line}"
    earlier = re.compile(rf"^- <!-- fix:{re.escape(fix_id)} -->.*$", re.M)
    if earlier.search(summary):
        updated = earlier.sub(lambda _match: note, summary)
    elif SECTION in summary:
        # Notes form one list under the section's paragraph.
        listed = summary.rstrip().rsplit("\n", 1)[-1].startswith("- <!-- fix:")
        gap = "\n" if listed else "\n\n"
        updated = f"{summary.rstrip()}{gap}{note}"
    else:
        updated = f"{summary.rstrip()}\n\n{SECTION}\n\n{note}"
    if len(updated) <= TEXT_LIMIT:
        return updated
    # Never lose the note: the report above it gives way.
    tail = f"\n\n{SECTION}\n\n{note}"
    return clip(summary, TEXT_LIMIT - len(tail)) + tail


def _write_note(gh: GitHub, request: StarterRequest, line: str) -> None:
    run = gh.rest.checks.get(request.owner, request.repo, request.check_run_id).json()
    output = run.get("output") or {}
    summary = with_note(str(output.get("summary") or ""), request.fix_id, line)
    body: dict[str, Any] = {"title": output.get("title") or "MLOps Mentor", "summary": summary}
    if output.get("text"):
        body["text"] = output["text"]
    gh.rest.checks.update(
        request.owner,
        request.repo,
        request.check_run_id,
        data={"output": body},  # type: ignore[arg-type]
    )


# --- The task --------------------------------------------------------------------------------


def open_starter_pr(
    gh: GitHub,
    request: StarterRequest,
    state: CourseState,
    snapshot: Callable[[], Snapshot],
) -> str:
    """Open (or find) the pull request of a pressed fix and say so on the check run.

    `snapshot` reads the evaluated commit's files (only called when a change must be made).
    Returns the outcome for the log: "opened", "exists", "nothing", "disabled", "refused"
    or "error".
    """
    outcome, line = "error", ""
    try:
        outcome, line = _attempt(gh, request, state, snapshot)
    except StarterRefused as refused:
        outcome, line = "refused", str(refused)
    except GitHubException as exc:
        outcome, line = "refused", _github_failure(exc)
    except Exception:
        logger.exception("starter pull request %s on %s failed", request.fix_id, request.full_name)
        line = (
            "Could not open the pull request because of an error on our side. Press the "
            "button again; if it keeps failing, tell the course staff."
        )
    try:
        _write_note(gh, request, line)
    except GitHubException as exc:
        # The check run cannot show it; the log keeps why.
        event(logger, "starter_pr_note", level=logging.WARNING, error=_github_failure(exc))
    event(
        logger,
        "starter_pr",
        repo=request.full_name,
        sha=request.sha,
        fix=request.fix_id,
        check_run=request.check_run_id,
        outcome=outcome,
    )
    return outcome


def _attempt(
    gh: GitHub, request: StarterRequest, state: CourseState, snapshot: Callable[[], Snapshot]
) -> tuple[str, str]:
    if not state.config.fixes:
        return "disabled", (
            "Starter pull requests are switched off in the course configuration "
            "(`fixes: true` in mlops-mentor.yml switches them on)."
        )
    if request.fix_id not in all_fixes():
        raise StarterRefused("This button is not one mlops-mentor offers any more.")
    existing = _open_pull(gh, request, branch_of(request.fix_id))
    if existing is not None:
        return "exists", _opened_line(existing, "is open")
    files = snapshot()
    report = evaluate(files, _narrowed(state, request.fix_id)).for_students()
    fix = make_fix(request.fix_id, files, report)
    if fix is None:
        return "nothing", (
            "Nothing to change any more: this commit no longer needs this fix (or it is not "
            "mechanical for it). See the items above."
        )
    commit = _commit(gh, request, fix)
    _point_branch(gh, request, fix.branch, commit)
    pull = _create_pull(gh, request, fix)
    return "opened", _opened_line(pull, "was opened")


def _narrowed(state: CourseState, fix_id: str) -> Profile:
    """The course profile with only the criteria the fix addresses (and what they need)."""
    catalog = all_criteria()
    wanted: list[str] = []
    pending = list(all_fixes()[fix_id].criteria)
    while pending:
        cid = pending.pop()
        if cid in catalog and cid not in wanted:
            wanted.append(cid)
            pending.extend(catalog[cid].requires)
    return state.profile.model_copy(update={"select": wanted})


def _opened_line(pull: dict[str, Any], verb: str) -> str:
    return f"✅ pull request [#{pull['number']}]({pull['html_url']}) {verb}: {pull['title']}"


# --- GitHub ----------------------------------------------------------------------------------


def _open_pull(gh: GitHub, request: StarterRequest, branch: str) -> dict[str, Any] | None:
    pulls = gh.rest.pulls.list(
        request.owner, request.repo, head=f"{request.owner}:{branch}", state="open"
    ).json()
    return pulls[0] if pulls else None


def _commit(gh: GitHub, request: StarterRequest, fix: Fix) -> tuple[str, str]:
    """The fix as a commit on top of the evaluated one: (commit id, tree id)."""
    owner, repo = request.owner, request.repo
    base = gh.rest.git.get_commit(owner, repo, request.sha).json()
    entries = []
    for path, text in sorted(fix.changes.items()):
        blob = gh.rest.git.create_blob(
            owner,
            repo,
            data={"content": base64.b64encode(text.encode()).decode(), "encoding": "base64"},
        ).json()
        entries.append({"path": path, "mode": "100644", "type": "blob", "sha": blob["sha"]})
    tree = gh.rest.git.create_tree(
        owner,
        repo,
        data={"base_tree": base["tree"]["sha"], "tree": entries},  # type: ignore[typeddict-item]
    ).json()
    by = f" (requested by @{request.requested_by})" if request.requested_by else ""
    message = f"{fix.title}\n\nThe fix mlops-mentor offered on {request.sha[:7]}{by}.\n\n{TRAILER}"
    commit = gh.rest.git.create_commit(
        owner, repo, data={"message": message, "tree": tree["sha"], "parents": [request.sha]}
    ).json()
    return commit["sha"], tree["sha"]


def _point_branch(
    gh: GitHub, request: StarterRequest, branch: str, commit: tuple[str, str]
) -> None:
    """Create the fix's branch at `commit`, or reuse it: kept when it already holds the same
    change on the same commit, moved when its head is one of ours, else refused."""
    owner, repo = request.owner, request.repo
    sha, tree = commit
    try:
        gh.rest.git.create_ref(owner, repo, data={"ref": f"refs/heads/{branch}", "sha": sha})
        return
    except RequestFailed as exc:
        if exc.response.status_code != 422:
            raise
    # It exists (from an earlier press, or a press running at the same time).
    current = gh.rest.git.get_ref(owner, repo, f"heads/{branch}").json()["object"]["sha"]
    head = gh.rest.git.get_commit(owner, repo, current).json()
    if head["tree"]["sha"] == tree and [p["sha"] for p in head["parents"]] == [request.sha]:
        return
    if TRAILER not in head.get("message", ""):
        raise StarterRefused(
            f"Could not open the pull request: the branch `{branch}` already exists with "
            "commits mlops-mentor did not make. Merge or delete that branch, then press the "
            "button again."
        )
    gh.rest.git.update_ref(owner, repo, f"heads/{branch}", data={"sha": sha, "force": True})


def _create_pull(gh: GitHub, request: StarterRequest, fix: Fix) -> dict[str, Any]:
    by = f"@{request.requested_by} asked for it" if request.requested_by else "Requested"
    body = (
        f"{fix.body}\n\n---\n{by} with the **{fix.label}** button on the mlops-mentor check "
        f"run of {request.sha[:7]}. The branch `{fix.branch}` is mlops-mentor's: pressing the "
        "button again brings you back here."
    )
    try:
        return gh.rest.pulls.create(
            request.owner,
            request.repo,
            data={"title": fix.title, "head": fix.branch, "base": request.base, "body": body},
        ).json()
    except RequestFailed as exc:
        # Opened by a press running at the same time: that one is ours too.
        existing = _open_pull(gh, request, fix.branch) if exc.response.status_code == 422 else None
        if existing is None:
            raise
        return existing


def _github_failure(exc: GitHubException) -> str:
    """What GitHub refused, in a sentence for students: no token, no URL query."""
    if isinstance(exc, RequestError) and isinstance(exc.exc, GitHubException):
        return _github_failure(exc.exc)
    if isinstance(exc, RequestFailed):
        status = exc.response.status_code
        if status == 403:
            return PERMISSIONS_HELP
        try:
            said = str(exc.response.json().get("message", ""))
        except ValueError:
            said = ""
        said = f" ({clip(' '.join(said.split()), 200)})" if said else ""
        return (
            f"Could not open the pull request: GitHub answered {status} to "
            f"{exc.request.method} {exc.request.url.path}{said}. Press the button again; if it "
            "keeps failing, tell the course staff."
        )
    return (
        "Could not open the pull request: GitHub could not be reached. Press the button "
        "again in a minute."
    )
