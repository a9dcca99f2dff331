"""The fake GitHub's issues: create, read, edit, list and comment, strict like GitHub.

`FakeGitHub` inherits these endpoints. Like GitHub: a repository with issues switched off
answers 410 "Issues are disabled for this repo"; an installation without the Issues
permission gets 403 "Resource not accessible by integration" (without write access, to
every change); bodies over 65,536 characters and a missing title are refused with 422;
the repository's issue listing includes its pull requests (items with `pull_request`).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import jwt
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

BODY_LIMIT = 65_536
ISSUES_DOCS = "https://docs.github.com/rest/issues/issues"
Permission = Literal["write", "read"] | None


def issue_rules() -> list[Rule]:
    """The endpoints' routes (new ones for each server: a rule belongs to one map)."""
    return [
        Rule("/app", methods=["GET"], endpoint="get_app"),
        Rule("/repos/<owner>/<repo>/issues", methods=["POST"], endpoint="create_issue"),
        Rule("/repos/<owner>/<repo>/issues", methods=["GET"], endpoint="list_issues"),
        Rule("/repos/<owner>/<repo>/issues/<int:number>", methods=["GET"], endpoint="get_issue"),
        Rule("/repos/<owner>/<repo>/issues/<int:number>", methods=["PATCH"],
             endpoint="edit_issue"),
        Rule("/repos/<owner>/<repo>/issues/<int:number>/comments", methods=["POST"],
             endpoint="create_comment"),
    ]  # fmt: skip


@dataclass
class IssueState:
    number: int
    title: str
    body: str | None
    creator: str
    via_app: bool
    created_at: datetime
    state: str = "open"
    state_reason: str | None = None
    pull_request: bool = False
    comments: list[dict[str, Any]] = field(default_factory=list)
    edits: int = 0


class FakeIssues:
    """Issue endpoints and their state (a mixin of `FakeGitHub`, which provides the
    server, the lock and `_installation_for`)."""

    app_id: int
    public_key: bytes
    url: str
    _lock: Any

    def __init__(self) -> None:
        self.app_slug = "mlops-mentor"
        # (owner, repo) → {number: issue or pull request}
        self.issues: dict[tuple[str, str], dict[int, IssueState]] = {}
        self.issues_disabled: set[tuple[str, str]] = set()
        # The Issues permission of each installation (absent: write, as app.yml asks).
        self.issue_permissions: dict[int, Permission] = {}
        self._issue_ids = itertools.count(5000)

    @property
    def bot_login(self) -> str:
        return f"{self.app_slug}[bot]"

    # -- set-up ------------------------------------------------------------------------------

    def add_issue(
        self,
        owner: str,
        repo: str,
        title: str,
        *,
        body: str = "",
        creator: str = "student",
        state: str = "open",
        pull_request: bool = False,
    ) -> int:
        """An issue (or a pull request) already in the repository; its number."""
        with self._lock:
            issue = self._new_issue(owner, repo, title, body, creator, via_app=False)
            issue.state, issue.pull_request = state, pull_request
            return issue.number

    def issues_of(self, owner: str, repo: str) -> list[IssueState]:
        """The repository's issues (not its pull requests), oldest first."""
        with self._lock:
            found = self.issues.get((owner, repo), {}).values()
            return [i for i in sorted(found, key=lambda i: i.number) if not i.pull_request]

    def _new_issue(
        self, owner: str, repo: str, title: str, body: str | None, creator: str, *, via_app: bool
    ) -> IssueState:
        numbers = self.issues.setdefault((owner, repo), {})
        issue = IssueState(
            number=len(numbers) + 1,
            title=title,
            body=body,
            creator=creator,
            via_app=via_app,
            created_at=datetime.now(UTC),
        )
        numbers[issue.number] = issue
        return issue

    # -- the endpoints -----------------------------------------------------------------------

    def _get_app(self, request: Request, call: Any) -> Response:
        """GET /app: the app authenticated by its JWT."""
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"])
        except jwt.PyJWTError:
            return _answer({"message": "A JSON web token could not be decoded"}, 401)
        call.credential = "jwt"
        if str(claims.get("iss")) != str(self.app_id):
            return _answer({"message": "'Issuer' claim ('iss') must be the app id"}, 401)
        return _answer(
            {"id": self.app_id, "slug": self.app_slug, "name": "MLOps Mentor", "owner": None}, 200
        )

    def _create_issue(self, request: Request, call: Any, owner: str, repo: str) -> Response:
        refused = self._issues_refused(request, call, owner, repo, write=True)
        if refused:
            return refused
        body = call.json
        errors = _issue_errors(body, create=True)
        if errors:
            return _invalid(errors, "create-an-issue")
        with self._lock:
            issue = self._new_issue(
                owner, repo, str(body["title"]), body.get("body"), self.bot_login, via_app=True
            )
        return _answer(self._issue_json(owner, repo, issue), 201)

    def _get_issue(
        self, request: Request, call: Any, owner: str, repo: str, number: int
    ) -> Response:
        refused = self._issues_refused(request, call, owner, repo, write=False)
        if refused:
            return refused
        issue = self.issues.get((owner, repo), {}).get(number)
        if issue is None:
            return _answer({"message": "Not Found", "status": "404"}, 404)
        return _answer(self._issue_json(owner, repo, issue), 200)

    def _edit_issue(
        self, request: Request, call: Any, owner: str, repo: str, number: int
    ) -> Response:
        refused = self._issues_refused(request, call, owner, repo, write=True)
        if refused:
            return refused
        issue = self.issues.get((owner, repo), {}).get(number)
        if issue is None:
            return _answer({"message": "Not Found", "status": "404"}, 404)
        body = call.json
        errors = _issue_errors(body, create=False)
        if errors:
            return _invalid(errors, "update-an-issue")
        with self._lock:
            issue.edits += 1
            if "title" in body:
                issue.title = str(body["title"])
            if "body" in body:
                issue.body = body["body"]
            if "state" in body:
                issue.state = body["state"]
                issue.state_reason = body.get("state_reason")
        return _answer(self._issue_json(owner, repo, issue), 200)

    def _list_issues(self, request: Request, call: Any, owner: str, repo: str) -> Response:
        """GET /repos/{o}/{r}/issues: issues and pull requests, newest first, paginated."""
        refused = self._installation_for(request, call, owner, repo)  # type: ignore[attr-defined]
        if refused:
            return refused
        if self._issue_permission(call) is None:
            return _forbidden()
        args = request.args
        errors = []
        state = args.get("state", "open")
        if state not in ("open", "closed", "all"):
            errors.append(f"state {state!r} is not one of open, closed, all")
        per_page, page = args.get("per_page", "30"), args.get("page", "1")
        if not per_page.isdigit() or not page.isdigit() or int(page) < 1 or int(per_page) < 1:
            errors.append("per_page and page must be positive integers")
        if errors:
            return _invalid(errors, "list-repository-issues")
        with self._lock:
            items = sorted(
                self.issues.get((owner, repo), {}).values(), key=lambda i: i.number, reverse=True
            )
        disabled = (owner, repo) in self.issues_disabled
        items = [
            i
            for i in items
            if (state == "all" or i.state == state)
            and ("creator" not in args or i.creator == args["creator"])
            # With issues switched off, only the pull requests are listed.
            and not (disabled and not i.pull_request)
        ]
        size = min(int(per_page), 100)
        start = (int(page) - 1) * size
        return _answer([self._issue_json(owner, repo, i) for i in items[start : start + size]], 200)

    def _create_comment(
        self, request: Request, call: Any, owner: str, repo: str, number: int
    ) -> Response:
        refused = self._issues_refused(request, call, owner, repo, write=True)
        if refused:
            return refused
        issue = self.issues.get((owner, repo), {}).get(number)
        if issue is None:
            return _answer({"message": "Not Found", "status": "404"}, 404)
        body = call.json
        errors: list[str] = []
        if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"]:
            errors.append("body is required")
        elif len(body["body"]) > BODY_LIMIT:
            errors.append(f"body is too long (maximum is {BODY_LIMIT} characters)")
        if errors:
            return _invalid(errors, "create-an-issue-comment")
        with self._lock:
            comment = {
                "id": next(self._issue_ids),
                "body": body["body"],
                "user": {"login": self.bot_login, "type": "Bot"},
                "created_at": _stamp(datetime.now(UTC)),
            }
            issue.comments.append(comment)
        return _answer(comment, 201)

    # -- helpers -----------------------------------------------------------------------------

    def _issue_permission(self, call: Any) -> Permission:
        return self.issue_permissions.get(call.installation, "write")

    def _issues_refused(
        self, request: Request, call: Any, owner: str, repo: str, *, write: bool
    ) -> Response | None:
        refused = self._installation_for(request, call, owner, repo)  # type: ignore[attr-defined]
        if refused:
            return refused
        permission = self._issue_permission(call)
        if permission is None or (write and permission != "write"):
            return _forbidden()
        if (owner, repo) in self.issues_disabled:
            return _answer(
                {
                    "message": "Issues are disabled for this repo",
                    "documentation_url": f"{ISSUES_DOCS}#create-an-issue",
                    "status": "410",
                },
                410,
            )
        return None

    def _issue_json(self, owner: str, repo: str, issue: IssueState) -> dict[str, Any]:
        base = f"{self.url}repos/{owner}/{repo}/issues/{issue.number}"
        item: dict[str, Any] = {
            "id": 10_000 + issue.number,
            "node_id": f"I_{issue.number}",
            "number": issue.number,
            "url": base,
            "html_url": f"https://github.com/{owner}/{repo}/issues/{issue.number}",
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "locked": False,
            "user": {
                "login": issue.creator,
                "id": 1,
                "type": "Bot" if issue.creator.endswith("[bot]") else "User",
            },
            "labels": [],
            "assignees": [],
            "comments": len(issue.comments),
            "created_at": _stamp(issue.created_at),
            "updated_at": _stamp(issue.created_at),
            "closed_at": None,
            "author_association": "NONE",
            "performed_via_github_app": (
                {"id": self.app_id, "slug": self.app_slug} if issue.via_app else None
            ),
        }
        if issue.pull_request:
            item["pull_request"] = {"url": f"{self.url}repos/{owner}/{repo}/pulls/{issue.number}"}
        return item


def _issue_errors(body: Any, *, create: bool) -> list[str]:
    """What GitHub would refuse in an issue create or edit body."""
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    errors = []
    known = {"title", "body", "state", "state_reason", "labels", "assignees", "milestone"}
    # Stricter than GitHub, which ignores unknown keys: a typo should fail a test.
    if set(body) - known:
        errors.append(f"unknown keys {sorted(set(body) - known)}")
    title = body.get("title")
    if (create or "title" in body) and (not isinstance(title, str | int) or title == ""):
        errors.append("title is required")
    text = body.get("body")
    if text is not None and not isinstance(text, str):
        errors.append("body is not a string")
    elif isinstance(text, str) and len(text) > BODY_LIMIT:
        errors.append(f"body is too long (maximum is {BODY_LIMIT} characters)")
    if create and "state" in body:
        errors.append("state cannot be set on create")
    if body.get("state", "open") not in ("open", "closed"):
        errors.append(f"state {body['state']!r} is not one of open, closed")
    return errors


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _answer(body: Any, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _forbidden() -> Response:
    return _answer(
        {
            "message": "Resource not accessible by integration",
            "documentation_url": ISSUES_DOCS,
            "status": "403",
        },
        403,
    )


def _invalid(errors: list[str], anchor: str) -> Response:
    return _answer(
        {
            "message": "Validation Failed",
            "errors": errors,
            "documentation_url": f"{ISSUES_DOCS}#{anchor}",
            "status": "422",
        },
        422,
    )
