"""A fake GitHub REST API over real HTTP on loopback, strict like GitHub.

It serves what the app uses: installation tokens (checking the app's JWT), check runs
(create, update, read, list for a commit) and commit tarballs (a 302 to a download URL,
like codeload). It validates request bodies and queries the way GitHub does and answers
422 in GitHub's error shape, so a request GitHub would refuse fails the test. Every call
is recorded without credentials; faults and delays can be injected; state is inspectable
(`check_runs`, `tokens`). A request can be held (`hold_next`) so that a test kills the app
exactly while it waits for GitHub.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import queue
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.github.fake_git_data import RULES as GIT_DATA_RULES
from tests.github.fake_git_data import FakeGitData
from tests.github.fake_issues import FakeIssues, issue_rules

STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
CONCLUSIONS = {
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
}
LEVELS = {"notice", "warning", "failure"}
TEXT_LIMIT = 65_535
DOCS = "https://docs.github.com/rest/checks/runs"
# GitHub accepts an app JWT whose `iat` is slightly in the future (clock drift).
CLOCK_SKEW = 60
# A JWT valid for longer than 10 minutes is refused by GitHub.
MAX_JWT_LIFETIME = 600
# Requests per hour an installation may make (GitHub's base rate for an app installation).
RATE_LIMIT = 5000


@dataclass
class Call:
    """One request as the fake received it, credentials replaced by a label."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    credential: str | None = None  # "jwt", a token label like "token-2", or None
    status: int = 0
    installation: int | None = None  # whose installation token authenticated it


@dataclass
class IssuedToken:
    value: str
    label: str
    installation: int
    expires_at: datetime


@dataclass
class CheckRunState:
    id: int
    owner: str
    repo: str
    name: str
    head_sha: str
    status: str = "queued"
    conclusion: str | None = None
    external_id: str | None = None
    details_url: str | None = None
    output: dict[str, Any] = field(default_factory=dict)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0  # create + updates received for this run

    def as_json(self, base_url: str) -> dict[str, Any]:
        url = f"{base_url}repos/{self.owner}/{self.repo}/check-runs/{self.id}"
        return {
            "id": self.id,
            "node_id": f"CR_{self.id}",
            "head_sha": self.head_sha,
            "external_id": self.external_id or "",
            "url": url,
            "html_url": f"https://github.com/{self.owner}/{self.repo}/runs/{self.id}",
            "details_url": self.details_url,
            "status": self.status,
            "conclusion": self.conclusion,
            "started_at": "2024-01-01T00:00:00Z",
            "completed_at": "2024-01-01T00:00:01Z" if self.status == "completed" else None,
            "output": {
                "title": self.output.get("title"),
                "summary": self.output.get("summary"),
                "text": self.output.get("text"),
                "annotations_count": len(self.annotations),
                "annotations_url": f"{url}/annotations",
            },
            "name": self.name,
            "check_suite": {"id": 1},
            "app": None,
            "pull_requests": [],
        }


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int | None
    body: Any
    headers: dict[str, str]
    times: int
    delay: float = 0.0
    # Close the connection without an answer, as a dying proxy or a network cut does.
    drop: bool = False


@dataclass
class Hold:
    """Requests held without an answer (see `FakeGitHub.hold_next`)."""

    method: str
    path: re.Pattern[str]
    applied: bool
    when: Callable[[Any], bool] | None
    times: int
    held: queue.Queue[Call] = field(default_factory=queue.Queue)
    released: threading.Event = field(default_factory=threading.Event)

    def matches(self, call: Call) -> bool:
        return (
            self.times > 0
            and self.method == call.method
            and self.path.fullmatch(call.path) is not None
            and (self.when is None or self.when(call.json))
        )

    def wait(self, timeout: float = 30) -> Call:
        """The next request held here, once the fake holds it."""
        try:
            return self.held.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no {self.method} {self.path.pattern} came to hold") from None


@dataclass
class Commit:
    archive: bytes
    declare_length: bool = True


@dataclass
class RepoInfo:
    id: int
    default_branch: str
    heads: dict[str, str]


class Invalid(Exception):
    """A body GitHub would refuse with 422."""


def _bad(errors: list[str], condition: bool, message: str) -> None:
    if condition:
        errors.append(message)


def _check_output(output: Any, errors: list[str]) -> None:
    if not isinstance(output, dict):
        errors.append("output is not an object")
        return
    known = {"title", "summary", "text", "annotations", "images"}
    # Stricter than GitHub, which drops unknown keys: a typo should fail a test.
    _bad(
        errors, bool(set(output) - known), f"output has unknown keys {sorted(set(output) - known)}"
    )
    for key in ("title", "summary"):
        _bad(errors, not isinstance(output.get(key), str), f"output.{key} is required")
    for key in ("summary", "text"):
        value = output.get(key)
        if value is not None:
            _bad(errors, not isinstance(value, str), f"output.{key} is not a string")
            _bad(
                errors,
                isinstance(value, str) and len(value) > TEXT_LIMIT,
                f"output.{key} is longer than {TEXT_LIMIT} characters",
            )
    annotations = output.get("annotations", [])
    if not isinstance(annotations, list):
        errors.append("output.annotations is not an array")
        return
    _bad(errors, len(annotations) > 50, "output.annotations has more than 50 items")
    for i, annotation in enumerate(annotations):
        _check_annotation(annotation, f"output.annotations[{i}]", errors)


def _check_annotation(a: Any, where: str, errors: list[str]) -> None:
    if not isinstance(a, dict):
        errors.append(f"{where} is not an object")
        return
    known = {
        "path",
        "start_line",
        "end_line",
        "start_column",
        "end_column",
        "annotation_level",
        "message",
        "title",
        "raw_details",
    }
    _bad(errors, bool(set(a) - known), f"{where} has unknown keys {sorted(set(a) - known)}")
    _bad(errors, not isinstance(a.get("path"), str) or not a["path"], f"{where}.path is required")
    start, end = a.get("start_line"), a.get("end_line")
    _bad(errors, not isinstance(start, int) or start < 1, f"{where}.start_line must be >= 1")
    _bad(errors, not isinstance(end, int), f"{where}.end_line is required")
    if isinstance(start, int) and isinstance(end, int):
        _bad(errors, end < start, f"{where}.end_line is before start_line")
        _bad(
            errors,
            ("start_column" in a or "end_column" in a) and start != end,
            f"{where}: columns are only allowed when start_line == end_line",
        )
    _bad(errors, a.get("annotation_level") not in LEVELS, f"{where}.annotation_level is invalid")
    message = a.get("message")
    _bad(errors, not isinstance(message, str) or not message, f"{where}.message is required")
    _bad(
        errors,
        isinstance(message, str) and len(message.encode()) > 64 * 1024,
        f"{where}.message is over 64 KB",
    )
    title = a.get("title")
    _bad(
        errors,
        title is not None and (not isinstance(title, str) or len(title) > 255),
        f"{where}.title is over 255 characters",
    )


def check_run_errors(body: Any, *, create: bool) -> list[str]:
    """What GitHub would refuse in a check-run create or update body."""
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    errors: list[str] = []
    if create:
        for key in ("name", "head_sha"):
            _bad(errors, not isinstance(body.get(key), str) or not body[key], f"{key} is required")
    status, conclusion = body.get("status"), body.get("conclusion")
    _bad(errors, status is not None and status not in STATUSES, f"status {status!r} is invalid")
    _bad(
        errors,
        conclusion is not None and conclusion not in CONCLUSIONS,
        f"conclusion {conclusion!r} is invalid",
    )
    _bad(
        errors,
        status == "completed" and conclusion is None,
        "conclusion is required when status is completed",
    )
    for key in ("external_id", "details_url", "name"):
        _bad(errors, key in body and not isinstance(body[key], str), f"{key} is not a string")
    if "output" in body:
        _check_output(body["output"], errors)
    if "actions" in body:
        _check_actions(body["actions"], errors)
    return errors


def _check_actions(actions: Any, errors: list[str]) -> None:
    if not isinstance(actions, list):
        errors.append("actions is not an array")
        return
    _bad(errors, len(actions) > 3, "actions has more than 3 items")
    limits = {"label": 20, "description": 40, "identifier": 20}
    for i, action in enumerate(actions):
        if not isinstance(action, dict) or set(action) != set(limits):
            errors.append(f"actions[{i}] must have exactly label, description and identifier")
            continue
        for key, limit in limits.items():
            value = action[key]
            _bad(
                errors,
                not isinstance(value, str) or not value or len(value) > limit,
                f"actions[{i}].{key} must be 1 to {limit} characters",
            )


class FakeGitHub(FakeIssues):
    """A strict fake of the GitHub API for one app, served on 127.0.0.1 in a thread."""

    def __init__(self, app_id: int, public_key_pem: bytes) -> None:
        super().__init__()
        self.app_id = app_id
        self.public_key = public_key_pem
        self.token_lifetime = timedelta(hours=1)
        self.installations: set[int] = set()
        self.repos: dict[tuple[str, str], int] = {}
        self.commits: dict[tuple[str, str, str], Commit] = {}
        # Files readable through the contents API: (owner, repo, path) → {ref: bytes}; the
        # ref None is the default branch.
        self.files: dict[tuple[str, str, str], dict[str | None, bytes]] = {}
        # Repositories listed for their installation: (owner, repo) → id, default branch
        # and the branch heads.
        self.repo_info: dict[tuple[str, str], RepoInfo] = {}
        self.calls: list[Call] = []
        self.check_runs: dict[int, CheckRunState] = {}
        self.tokens: dict[str, IssuedToken] = {}
        # Requests made with each installation's tokens (X-RateLimit-* headers).
        self.requests_used: dict[int, int] = {}
        self._downloads: dict[str, tuple[str, str, str]] = {}
        self._faults: list[Fault] = []
        self._holds: list[Hold] = []
        self._ids = itertools.count(1000)
        self._token_numbers = itertools.count(1)
        self._lock = threading.RLock()
        # Git objects, refs and pull requests (tests.github.fake_git_data).
        self.git_data = FakeGitData(self)
        self._urls = Map(
            [
                Rule("/app/installations/<int:installation>/access_tokens", methods=["POST"],
                     endpoint="access_token"),
                Rule("/repos/<owner>/<repo>/check-runs", methods=["POST"], endpoint="create_run"),
                Rule("/repos/<owner>/<repo>/check-runs/<int:run_id>", methods=["PATCH"],
                     endpoint="update_run"),
                Rule("/repos/<owner>/<repo>/check-runs/<int:run_id>", methods=["GET"],
                     endpoint="get_run"),
                Rule("/repos/<owner>/<repo>/commits/<path:ref>/check-runs", methods=["GET"],
                     endpoint="list_runs"),
                Rule("/repos/<owner>/<repo>/tarball/<path:ref>", methods=["GET"],
                     endpoint="tarball"),
                Rule("/_codeload/<owner>/<repo>/legacy.tar.gz/<sha>", methods=["GET"],
                     endpoint="download"),
                Rule("/repos/<owner>/<repo>/contents/<path:path>", methods=["GET"],
                     endpoint="contents"),
                Rule("/installation/repositories", methods=["GET"], endpoint="list_repos"),
                Rule("/repos/<owner>/<repo>/branches/<path:branch>", methods=["GET"],
                     endpoint="branch"),
                *(rule.empty() for rule in GIT_DATA_RULES),
                *issue_rules(),
            ]
        )  # fmt: skip
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/"
        # A short poll interval: `stop()` waits for one.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle and set-up --------------------------------------------------------------

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        # Held requests end first: closing the server waits for every request's thread.
        for hold in self._holds:
            hold.released.set()
        self._server.shutdown()
        self._server.server_close()

    def add_commit(
        self,
        owner: str,
        repo: str,
        sha: str,
        archive: bytes,
        *,
        installation: int = 1,
        declare_length: bool = True,
    ) -> None:
        """Make `sha` of `owner/repo` downloadable by `installation`."""
        with self._lock:
            self.installations.add(installation)
            self.repos[(owner, repo)] = installation
            self.commits[(owner, repo, sha)] = Commit(archive, declare_length)

    def add_file(
        self,
        owner: str,
        repo: str,
        path: str,
        content: bytes,
        *,
        ref: str | None = None,
        installation: int = 1,
    ) -> None:
        """Make a file readable through the contents API, at `ref` (None: the default
        branch; give both to have a commit and the branch agree)."""
        with self._lock:
            self.installations.add(installation)
            self.repos[(owner, repo)] = installation
            self.files.setdefault((owner, repo, path), {})[ref] = content

    def add_repository(
        self,
        owner: str,
        repo: str,
        *,
        repository_id: int,
        installation: int = 1,
        default_branch: str = "main",
        head: str | None = None,
    ) -> None:
        """A repository listed by `GET /installation/repositories`, its default branch at `head`."""
        with self._lock:
            self.installations.add(installation)
            self.repos[(owner, repo)] = installation
            self.repo_info[(owner, repo)] = RepoInfo(
                repository_id, default_branch, {default_branch: head} if head else {}
            )

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `times` requests matching `method` and the `path` regex with
        `status` (after `delay` seconds)."""
        with self._lock:
            self._faults.append(
                Fault(method, re.compile(path), status, body, headers or {}, times, delay)
            )

    def delay_next(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next `times` matching requests for `seconds` before answering normally."""
        with self._lock:
            self._faults.append(Fault(method, re.compile(path), None, None, {}, times, seconds))

    def drop_next(self, method: str, path: str, *, times: int = 1) -> None:
        """Close the connection of the next `times` matching requests without an answer."""
        with self._lock:
            self._faults.append(Fault(method, re.compile(path), None, None, {}, times, drop=True))

    def hold_next(
        self,
        method: str,
        path: str,
        *,
        applied: bool = False,
        when: Callable[[Any], bool] | None = None,
        times: int = 1,
    ) -> Hold:
        """Hold the next `times` requests matching `method`, the `path` regex and `when` (a
        predicate on the JSON body) until the fake stops, then close their connections
        without an answer: the client waits as for a slow GitHub, so a test can kill it
        exactly there (`Hold.wait` says when). With `applied`, GitHub applied the request
        and only the answer is lost; without, the request never reached GitHub."""
        hold = Hold(method, re.compile(path), applied, when, times)
        with self._lock:
            self._holds.append(hold)
        return hold

    def calls_to(self, method: str, path: str = ".*") -> list[Call]:
        regex = re.compile(path)
        return [c for c in self.calls if c.method == method and regex.fullmatch(c.path)]

    def expire_tokens(self) -> None:
        """Make every issued installation token expire now (GitHub answers 401 to them)."""
        with self._lock:
            for token in self.tokens.values():
                token.expires_at = datetime.now(UTC) - timedelta(seconds=1)

    # -- the WSGI app ------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        call = self._record(request)
        hold = self._take_hold(call)
        if hold is not None and not hold.applied:
            return self._held(hold, call, environ)
        fault = None if hold else self._take_fault(call)
        if fault is not None and fault.drop:
            environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            return iter(())
        response = (self._injected(fault) if fault else None) or self._route(request, call)
        if hold is not None:
            return self._held(hold, call, environ)
        call.status = response.status_code
        if call.installation is not None:
            # Like GitHub: every request made with a token counts against its installation.
            with self._lock:
                used = self.requests_used[call.installation] = (
                    self.requests_used.get(call.installation, 0) + 1
                )
            response.headers.setdefault("X-RateLimit-Limit", str(RATE_LIMIT))
            response.headers.setdefault("X-RateLimit-Remaining", str(max(0, RATE_LIMIT - used)))
            response.headers.setdefault("X-RateLimit-Used", str(used))
        return response(environ, start_response)

    def _record(self, request: Request) -> Call:
        body = request.get_data()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        secret_headers = {"authorization", "cookie"}
        call = Call(
            method=request.method,
            path=request.path,
            query={k: ("[redacted]" if k == "token" else v) for k, v in request.args.items()},
            headers={k: v for k, v in request.headers.items() if k.lower() not in secret_headers},
            json=parsed,
        )
        with self._lock:
            self.calls.append(call)
        return call

    def _take_hold(self, call: Call) -> Hold | None:
        with self._lock:
            hold = next((h for h in self._holds if h.matches(call)), None)
            if hold is not None:
                hold.times -= 1
            return hold

    @staticmethod
    def _held(hold: Hold, call: Call, environ: dict[str, Any]) -> Any:
        hold.held.put(call)
        hold.released.wait()
        # The client is usually gone by now (killed): its socket may be closed already.
        with suppress(OSError):
            environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        return iter(())

    def _take_fault(self, call: Call) -> Fault | None:
        with self._lock:
            fault = next(
                (
                    f
                    for f in self._faults
                    if f.times > 0 and f.method == call.method and f.path.fullmatch(call.path)
                ),
                None,
            )
            if fault is not None:
                fault.times -= 1
            return fault

    @staticmethod
    def _injected(fault: Fault) -> Response | None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status is None:
            return None
        body = fault.body if fault.body is not None else {"message": "Injected failure"}
        return _json(body, fault.status, fault.headers)

    def _route(self, request: Request, call: Call) -> Response:
        adapter = self._urls.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except Exception:
            return _json({"message": "Not Found", "status": "404"}, 404)
        handler = getattr(self, f"_{endpoint}", None) or getattr(self.git_data, f"_{endpoint}")
        with self._lock if handler.__self__ is self.git_data else nullcontext():
            return handler(request, call, **args)

    # -- authentication ------------------------------------------------------------------

    def _access_token(self, request: Request, call: Call, installation: int) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _unauthorized("A JSON web token could not be decoded")
        call.credential = "jwt"
        try:
            claims = jwt.decode(
                auth.removeprefix("Bearer "),
                self.public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.PyJWTError as exc:
            return _unauthorized(f"A JSON web token could not be decoded ({type(exc).__name__})")
        now = time.time()
        if str(claims["iss"]) != str(self.app_id):
            return _unauthorized("'Issuer' claim ('iss') must be the app id")
        if claims["iat"] > now + CLOCK_SKEW:
            return _unauthorized("'Issued at' claim ('iat') must be an Integer in the past")
        if claims["exp"] - claims["iat"] > MAX_JWT_LIFETIME + CLOCK_SKEW:
            return _unauthorized("'Expiration time' claim ('exp') is too far in the future")
        if installation not in self.installations:
            return _json({"message": "Not Found", "status": "404"}, 404)
        with self._lock:
            number = next(self._token_numbers)
            token = IssuedToken(
                value=f"ghs_{secrets.token_hex(18)}",
                label=f"token-{number}",
                installation=installation,
                expires_at=datetime.now(UTC) + self.token_lifetime,
            )
            self.tokens[token.value] = token
        return _json(
            {
                "token": token.value,
                "expires_at": token.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": {"checks": "write", "contents": "read", "metadata": "read"},
                "repository_selection": "all",
            },
            201,
        )

    def _installation_for(self, request: Request, call: Call, owner: str, repo: str) -> Any:
        """The token's installation if it may see `owner/repo`, else the error response."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = self.tokens.get(value) if scheme.lower() in ("token", "bearer") else None
        if token is None or token.expires_at <= datetime.now(UTC):
            return _unauthorized("Bad credentials")
        call.credential = token.label
        call.installation = token.installation
        if self.repos.get((owner, repo)) != token.installation:
            return _json({"message": "Not Found", "status": "404"}, 404)
        return None

    # -- check runs --------------------------------------------------------------------------

    def _create_run(self, request: Request, call: Call, owner: str, repo: str) -> Response:
        refused = self._installation_for(request, call, owner, repo)
        if refused:
            return refused
        errors = check_run_errors(call.json, create=True)
        if errors:
            return _invalid(errors, "create-a-check-run")
        body = call.json
        with self._lock:
            run = CheckRunState(
                id=next(self._ids),
                owner=owner,
                repo=repo,
                name=body["name"],
                head_sha=body["head_sha"],
            )
            self.check_runs[run.id] = run
            self._apply(run, body)
        return _json(run.as_json(self.url), 201)

    def _update_run(
        self, request: Request, call: Call, owner: str, repo: str, run_id: int
    ) -> Response:
        refused = self._installation_for(request, call, owner, repo)
        if refused:
            return refused
        run = self.check_runs.get(run_id)
        if run is None or (run.owner, run.repo) != (owner, repo):
            return _json({"message": "Not Found", "status": "404"}, 404)
        errors = check_run_errors(call.json, create=False)
        if errors:
            return _invalid(errors, "update-a-check-run")
        with self._lock:
            self._apply(run, call.json)
        return _json(run.as_json(self.url), 200)

    def _get_run(
        self, request: Request, call: Call, owner: str, repo: str, run_id: int
    ) -> Response:
        refused = self._installation_for(request, call, owner, repo)
        if refused:
            return refused
        run = self.check_runs.get(run_id)
        if run is None or (run.owner, run.repo) != (owner, repo):
            return _json({"message": "Not Found", "status": "404"}, 404)
        return _json(run.as_json(self.url), 200)

    def _list_runs(self, request: Request, call: Call, owner: str, repo: str, ref: str) -> Response:
        """GitHub's "list check runs for a Git reference", for commit ids."""
        refused = self._installation_for(request, call, owner, repo)
        if refused:
            return refused
        args = request.args
        errors = []
        if args.get("filter", "latest") not in ("latest", "all"):
            errors.append(f"filter {args['filter']!r} is not one of latest, all")
        if args.get("status") not in (None, "queued", "in_progress", "completed"):
            errors.append(f"status {args['status']!r} is not one of queued, in_progress, completed")
        per_page = args.get("per_page", "30")
        page = args.get("page", "1")
        if not per_page.isdigit() or not page.isdigit() or int(page) < 1:
            errors.append("per_page and page must be positive integers")
        if errors:
            return _invalid(errors, "list-check-runs-for-a-git-reference")
        with self._lock:
            runs = [
                r
                for r in self.check_runs.values()
                if (r.owner, r.repo, r.head_sha) == (owner, repo, ref)
            ]
            known = (owner, repo, ref) in self.commits
        if not runs and not known:
            return _json({"message": f"No commit found for SHA: {ref}", "status": "422"}, 422)
        if "check_name" in args:
            runs = [r for r in runs if r.name == args["check_name"]]
        if "status" in args:
            runs = [r for r in runs if r.status == args["status"]]
        # Newest first; "latest" keeps the newest run of each name.
        runs.sort(key=lambda r: r.id, reverse=True)
        if args.get("filter", "latest") == "latest":
            newest: dict[str, CheckRunState] = {}
            for run in runs:
                newest.setdefault(run.name, run)
            runs = list(newest.values())
        size = min(int(per_page), 100)  # GitHub caps a page at 100 silently.
        start = (int(page) - 1) * size
        return _json(
            {
                "total_count": len(runs),
                "check_runs": [r.as_json(self.url) for r in runs[start : start + size]],
            },
            200,
        )

    @staticmethod
    def _apply(run: CheckRunState, body: dict[str, Any]) -> None:
        run.requests += 1
        for key in ("name", "external_id", "details_url"):
            if key in body:
                setattr(run, key, body[key])
        if "status" in body:
            run.status = body["status"]
        if "actions" in body:
            run.actions = list(body["actions"])
        if body.get("conclusion"):
            # Sending a conclusion completes the run, as on GitHub.
            run.conclusion = body["conclusion"]
            run.status = "completed"
        output = body.get("output")
        if output:
            run.output.update({k: v for k, v in output.items() if k != "annotations"})
            run.annotations.extend(output.get("annotations", []))

    # -- contents, repositories, branches ---------------------------------------------------

    def _token(self, request: Request, call: Call) -> IssuedToken | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = self.tokens.get(value) if scheme.lower() in ("token", "bearer") else None
        if token is None or token.expires_at <= datetime.now(UTC):
            return None
        call.credential = token.label
        call.installation = token.installation
        return token

    def _contents(self, request: Request, call: Call, owner: str, repo: str, path: str) -> Response:
        """GitHub's "get repository content" for a file (base64, wrapped like GitHub's)."""
        refused = self._installation_for(request, call, owner, repo)
        if refused:
            return refused
        ref = request.args.get("ref")
        if ref is not None and not ref:
            return _invalid(["ref must not be empty"], "get-repository-content")
        with self._lock:
            versions = self.files.get((owner, repo, path.strip("/")), {})
            content = versions.get(ref)
        if content is None:
            return _json({"message": "Not Found", "status": "404"}, 404)
        encoded = base64.b64encode(content).decode()
        return _json(
            {
                "type": "file",
                "encoding": "base64",
                "size": len(content),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "sha": hashlib.sha1(content).hexdigest(),
                # GitHub wraps the base64 text at 60 characters.
                "content": "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)),
            },
            200,
        )

    def _list_repos(self, request: Request, call: Call) -> Response:
        """GitHub's "list repositories accessible to the app installation", paginated."""
        token = self._token(request, call)
        if token is None:
            return _unauthorized("Bad credentials")
        per_page = request.args.get("per_page", "30")
        page = request.args.get("page", "1")
        if not per_page.isdigit() or not page.isdigit() or int(page) < 1 or int(per_page) < 1:
            return _invalid(
                ["per_page and page must be positive integers"],
                "list-repositories-accessible-to-the-app-installation",
            )
        with self._lock:
            mine = sorted(
                (key, info)
                for key, info in self.repo_info.items()
                if self.repos.get(key) == token.installation
            )
        size = min(int(per_page), 100)
        start = (int(page) - 1) * size
        repositories = [
            {
                "id": info.id,
                "name": repo,
                "full_name": f"{owner}/{repo}",
                "owner": {"login": owner, "type": "Organization"},
                "private": True,
                "default_branch": info.default_branch,
            }
            for (owner, repo), info in mine[start : start + size]
        ]
        return _json({"total_count": len(mine), "repositories": repositories}, 200)

    def _branch(self, request: Request, call: Call, owner: str, repo: str, branch: str) -> Response:
        refused = self._installation_for(request, call, owner, repo)
        if refused:
            return refused
        with self._lock:
            info = self.repo_info.get((owner, repo))
            head = info.heads.get(branch) if info else None
        if head is None:
            return _json({"message": "Branch not found", "status": "404"}, 404)
        return _json({"name": branch, "commit": {"sha": head}, "protected": False}, 200)

    # -- tarballs ------------------------------------------------------------------------------

    def _tarball(self, request: Request, call: Call, owner: str, repo: str, ref: str) -> Response:
        refused = self._installation_for(request, call, owner, repo)
        if refused:
            return refused
        if (owner, repo, ref) not in self.commits:
            return _json({"message": "Not Found", "status": "404"}, 404)
        ticket = secrets.token_hex(12)
        with self._lock:
            self._downloads[ticket] = (owner, repo, ref)
        location = f"{self.url}_codeload/{owner}/{repo}/legacy.tar.gz/{ref}?token={ticket}"
        return Response(status=302, headers={"Location": location})

    def _download(self, request: Request, call: Call, owner: str, repo: str, sha: str) -> Response:
        if self._downloads.get(request.args.get("token", "")) != (owner, repo, sha):
            return Response("Not Found", status=404)
        commit = self.commits[(owner, repo, sha)]
        headers = {
            "Content-Type": "application/x-gzip",
            "Content-Disposition": f"attachment; filename={owner}-{repo}-{sha[:7]}.tar.gz",
        }
        if not commit.declare_length:
            # A body without Content-Length: the client only learns its size by reading.
            return Response(_chunks(commit.archive), status=200, headers=headers)
        return Response(commit.archive, status=200, headers=headers)


def _chunks(data: bytes, size: int = 64 * 1024) -> Any:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers or {}, content_type="application/json"
    )


def _unauthorized(message: str) -> Response:
    return _json({"message": message, "documentation_url": "https://docs.github.com/rest"}, 401)


def _invalid(errors: list[str], anchor: str) -> Response:
    return _json(
        {
            "message": "Invalid request.\n\n" + "\n".join(errors),
            "errors": errors,
            "documentation_url": f"{DOCS}#{anchor}",
            "status": "422",
        },
        422,
    )
