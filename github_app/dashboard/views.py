"""The dashboard's pages: course overview, group, run, sign-in, and the exports.

Every page but the sign-in ones needs a viewer (staff or the admin token); anything else
is sent to the login page. All student-controlled text (repository and branch names,
commit authors, report text) goes through Jinja's autoescaping; nothing is marked safe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.exceptions import HTTPException

from checks.render import STATUS_MARK, by_week, module_label, week_name
from github_app.dashboard.auth import (
    CSRF_FIELD,
    PREFIX,
    Auth,
    SignInError,
    Via,
    Viewer,
)
from github_app.dashboard.charts import DAYS, heatmap, score_chart
from github_app.dashboard.exports import SCOPES, csv_export, json_export
from github_app.dashboard.settings import DashboardSettings
from github_app.logs import LOGGER, REDACTOR, event
from github_app.store import Store
from github_app.store.course import CourseRecords
from github_app.store.queries import GroupDetail, GroupRow, group, overview, run

logger = logging.getLogger(LOGGER)
EXTENSION = "mlops_mentor_dashboard"
# Endpoints reachable without signing in.
PUBLIC = {"dashboard.login", "dashboard.login_github", "dashboard.callback", "dashboard.static"}
SORTS = ("group", "score", "push", "authors")
STATUS_LETTER = {"pass": "✓", "warn": "!", "fail": "✗", "info": "i", "skip": "–", "error": "?"}
STATUS_WORD = {
    "pass": "in place",
    "warn": "to work on",
    "fail": "must fix",
    "info": "for information",
    "skip": "skipped",
    "error": "could not check",
}
# Pages hold student data: never cached, never framed, no scripts, no outside requests.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@dataclass
class Dashboard:
    """What the views share, hung off `app.extensions["mlops_mentor_dashboard"]`."""

    store: Store
    settings: DashboardSettings
    auth: Auth

    @property
    def records(self) -> CourseRecords:
        return CourseRecords(self.store)

    def run_url(self, repository: str, check_run_id: int | None) -> str | None:
        """The check run on GitHub, e.g. https://github.com/org/repo/runs/123."""
        if check_run_id is None:
            return None
        return f"{self.settings.github_url}/{quote(repository)}/runs/{check_run_id}"

    def github(self, repository: str, *rest: str) -> str:
        return "/".join([self.settings.github_url, quote(repository), *(quote(p) for p in rest)])


def register_dashboard(app: Flask, store: Store, settings: DashboardSettings) -> None:
    """Serve the instructor dashboard under /dashboard on `app`, reading from `store`."""
    REDACTOR.add(settings.secrets())
    app.extensions[EXTENSION] = Dashboard(store, settings, Auth(settings))
    app.register_blueprint(_blueprint())


def _dashboard() -> Dashboard:
    return current_app.extensions[EXTENSION]


def _blueprint() -> Blueprint:
    bp = Blueprint(
        "dashboard",
        __name__,
        url_prefix=PREFIX,
        template_folder="templates",
        static_folder="static",
    )
    bp.before_request(_require_viewer)
    bp.after_request(_harden)
    bp.context_processor(_template_globals)
    for name, function in FILTERS.items():
        bp.add_app_template_filter(function, f"dashboard_{name}")
    bp.add_url_rule("/", "overview", overview_page)
    bp.add_url_rule("/groups/<int:repository_id>", "group", group_page)
    bp.add_url_rule(
        "/groups/<int:repository_id>/exemptions",
        "exemption",
        exemption_decision,
        methods=["POST"],
    )
    bp.add_url_rule("/runs/<int:evaluation_id>", "run", run_page)
    bp.add_url_rule("/export.csv", "export_csv", export_csv)
    bp.add_url_rule("/export.json", "export_json", export_json)
    bp.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    bp.add_url_rule("/login/github", "login_github", login_github)
    bp.add_url_rule("/login/callback", "callback", callback)
    bp.add_url_rule("/logout", "logout", logout, methods=["POST"])
    bp.register_error_handler(HTTPException, _error_page)
    return bp


# --- Request hooks -------------------------------------------------------------------------


def _require_viewer() -> Response | None:
    dashboard = _dashboard()
    g.viewer = None
    try:
        g.viewer = dashboard.auth.bearer(request)
    except SignInError as exc:
        response = _page(
            "dashboard/message.html", exc.status, title="Not allowed", message=str(exc)
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="mlops-mentor dashboard"'
        return response
    if g.viewer is None:
        g.viewer = dashboard.auth.viewer(request)
        # Only a cookie session can be signed out of (a bearer header is per request).
        g.signed_in = g.viewer is not None
    if g.viewer is None and request.endpoint not in PUBLIC:
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    return None


def _harden(response: Response) -> Response:
    dashboard = _dashboard()
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    cookie = g.pop("csrf_cookie", None)
    if cookie is not None:
        dashboard.auth.set_csrf(response, request, cookie)
    return response


def _csrf_token() -> str:
    if "csrf_token" not in g:
        g.csrf_token, g.csrf_cookie = _dashboard().auth.csrf_token(request)
    return g.csrf_token


def _template_globals() -> dict[str, Any]:
    dashboard = _dashboard()
    return {
        "viewer": g.get("viewer"),
        "signed_in": g.get("signed_in", False),
        "csrf_token": _csrf_token,
        "csrf_field": CSRF_FIELD,
        "status_letter": STATUS_LETTER,
        "status_word": STATUS_WORD,
        "timezone": dashboard.settings.timezone,
        "run_url": dashboard.run_url,
        "github": dashboard.github,
    }


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status)
    response.mimetype = "text/html"
    return response


def _error_page(error: HTTPException) -> Response:
    titles = {404: "Not found", 405: "Not allowed", 400: "Bad request"}
    code = error.code or 500
    return _page(
        "dashboard/message.html",
        code,
        title=titles.get(code, error.name),
        message=error.description or "",
    )


# --- Filters -------------------------------------------------------------------------------


def _local(value: datetime | None, pattern: str = "%a %d %b %H:%M") -> str:
    if value is None:
        return "—"
    return value.astimezone(_dashboard().settings.zone).strftime(pattern)


def _ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = (datetime.now(UTC) - value).total_seconds()
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)} %"


def _web_url(url: str) -> str:
    """Only http(s) links from stored reports become links (no `javascript:` URLs)."""
    return url if url.startswith(("https://", "http://")) else ""


FILTERS: dict[str, Callable[..., Any]] = {
    "local": _local,
    "ago": _ago,
    "percent": _percent,
    "web_url": _web_url,
}


# --- Pages ---------------------------------------------------------------------------------


def _sort_key(sort: str) -> Callable[[GroupRow], Any]:
    def score(row: GroupRow) -> float | None:
        return row.latest.score if row.latest else None

    keys: dict[str, Callable[[GroupRow], Any]] = {
        "score": score,
        "push": lambda row: row.last_push_at,
        "authors": lambda row: row.top_author_share,
    }
    return keys.get(sort, lambda row: row.repository.lower())


def overview_page() -> Response:
    dashboard = _dashboard()
    view = overview(dashboard.store)
    sort = request.args.get("sort", "group")
    sort = sort if sort in SORTS else "group"
    descending = request.args.get("order", "desc" if sort in ("score", "push") else "asc") == "desc"
    key = _sort_key(sort)
    known = [row for row in view.groups if key(row) is not None]
    unknown = [row for row in view.groups if key(row) is None]
    # Groups without a value (never evaluated, never pushed) stay last in either order.
    rows = sorted(known, key=key, reverse=descending) + unknown
    scores = [
        row.latest.score for row in view.groups if row.latest and row.latest.score is not None
    ]
    passing = {
        c.id: sum(
            row.cells.get(c.id) is not None and row.cells[c.id].status == "pass"
            for row in view.groups
        )
        for c in view.criteria
    }
    evaluated = sum(row.latest is not None for row in view.groups)
    records = dashboard.records
    return _page(
        "dashboard/overview.html",
        refused=records.refused_course_files(),
        ci=records.ci_health(),
        rows=rows,
        criteria=view.criteria,
        weeks=_week_spans(view.criteria),
        sort=sort,
        descending=descending,
        mean_score=sum(scores) / len(scores) if scores else None,
        evaluated=evaluated,
        passing=passing,
    )


def _week_spans(criteria: list[Any]) -> list[tuple[str, int]]:
    """(week name, number of criteria) for the matrix's top header row."""
    spans: list[tuple[str, int]] = []
    for info in criteria:
        name = week_name(info.week or 0)
        if spans and spans[-1][0] == name:
            spans[-1] = (name, spans[-1][1] + 1)
        else:
            spans.append((name, 1))
    return spans


def group_page(repository_id: int) -> Response:
    dashboard = _dashboard()
    detail = group(dashboard.store, repository_id)
    if detail is None:
        abort(404, "No group with this id: it was never evaluated, or its data was removed.")
    zone = dashboard.settings.zone
    records = dashboard.records
    pull_requests = records.pull_request_counts(repository_id)
    committers = {c.login for c in detail.contributors}
    return _page(
        "dashboard/group.html",
        group=detail,
        chart=score_chart(detail.scores, zone),
        heat=heatmap(detail.commit_times, zone),
        days=DAYS,
        pull_requests=pull_requests,
        # Members seen only in pull requests (e.g. reviewers who never pushed).
        reviewers_only=sorted(login for login in pull_requests if login not in committers),
        ci=records.ci_health([repository_id]).get(repository_id),
        exemptions=_exemptions(dashboard, detail),
    )


@dataclass(frozen=True)
class ExemptionRow:
    criterion: str
    title: str
    reason: str
    # "requested", or "approved" with who and when.
    state: str
    approved_by: str = ""
    approved_at: datetime | None = None


def _exemptions(dashboard: Dashboard, detail: GroupDetail) -> list[ExemptionRow]:
    """The exemptions the group's latest report requests, and the approvals recorded."""
    approvals = {a.criterion: a for a in dashboard.records.approvals(detail.repository_id)}
    latest = next((e for e in detail.evaluations if e.score is not None), None)
    record = dashboard.store.evaluation(latest.id) if latest else None
    requested = (
        [r for r in record.report.results if r.exemption] if record and record.report else []
    )
    rows = []
    for result in requested:
        approval = approvals.pop(result.id, None)
        rows.append(
            ExemptionRow(
                criterion=result.id,
                title=result.title,
                reason=result.exempt_reason,
                state="approved" if approval else "requested",
                approved_by=approval.approved_by if approval else "",
                approved_at=approval.approved_at if approval else None,
            )
        )
    # Approved earlier, no longer requested: listed so it can be revoked.
    rows.extend(
        ExemptionRow(
            criterion=cid,
            title=cid,
            reason="(no longer requested by the group)",
            state="approved",
            approved_by=a.approved_by,
            approved_at=a.approved_at,
        )
        for cid, a in approvals.items()
    )
    return rows


def exemption_decision(repository_id: int) -> Response:
    """Approve (or revoke) a group's requested exemption: it counts from the next evaluation."""
    dashboard = _dashboard()
    if not dashboard.auth.csrf_ok(request):
        abort(400, "The form expired. Please go back and try again.")
    detail = group(dashboard.store, repository_id)
    if detail is None:
        abort(404, "No group with this id.")
    criterion = request.form.get("criterion", "")
    decision = request.form.get("decision", "")
    rows = {row.criterion: row for row in _exemptions(dashboard, detail)}
    if criterion not in rows or decision not in ("approve", "revoke"):
        abort(400, "This group does not request that exemption.")
    login = g.viewer.login
    if decision == "approve":
        dashboard.records.approve_exemption(repository_id, criterion, login)
    else:
        dashboard.records.revoke_exemption(repository_id, criterion)
    event(
        logger,
        "exemption",
        decision=decision,
        repository=detail.repository,
        criterion=criterion,
        login=login,
    )
    return redirect(url_for("dashboard.group", repository_id=repository_id) + "#exemptions")


def run_page(evaluation_id: int) -> Response:
    detail = run(_dashboard().store, evaluation_id)
    if detail is None:
        abort(404, "No evaluation with this id: it may have been removed by the retention policy.")
    report = detail.report
    return _page(
        "dashboard/run.html",
        run=detail,
        e=detail.evaluation,
        weeks=[(week_name(w), rs) for w, rs in by_week(report.results)] if report else [],
        marks={s.value: mark for s, mark in STATUS_MARK.items()},
        module_label=module_label,
    )


def _export(kind: str) -> Response:
    dashboard = _dashboard()
    scope = request.args.get("scope", "overview")
    if scope not in SCOPES:
        abort(400, f"scope must be one of: {', '.join(SCOPES)}")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    if kind == "csv":
        body = csv_export(dashboard.store, scope, dashboard.run_url)
        mimetype = "text/csv"
    else:
        body = json_export(dashboard.store, scope, dashboard.run_url)
        mimetype = "application/json"
    event(logger, "dashboard_export", scope=scope, format=kind, login=g.viewer.login)
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="mlops-mentor-{scope}-{stamp}.{kind}"'
    )
    return response


def export_csv() -> Response:
    return _export("csv")


def export_json() -> Response:
    return _export("json")


# --- Signing in ----------------------------------------------------------------------------


def _next_path(value: str | None) -> str:
    """Where to go after signing in: only a dashboard path (no open redirect)."""
    if (
        value
        and value.startswith(PREFIX + "/")
        and not value.startswith("//")
        and "\\" not in value
        and not any(ord(ch) < 32 for ch in value)
    ):
        return value
    return PREFIX + "/"


def _login_page(status: int = 200, error: str = "") -> Response:
    settings = _dashboard().settings
    return _page(
        "dashboard/login.html",
        status,
        next_path=_next_path(request.values.get("next")),
        oauth=settings.oauth_enabled,
        token=settings.admin_token is not None,
        error=error,
    )


def login() -> Response:
    """The sign-in page; a POST signs in with the admin token typed into its form."""
    dashboard = _dashboard()
    if request.method == "GET":
        if g.viewer is not None:
            return redirect(_next_path(request.args.get("next")))
        return _login_page()
    if not dashboard.auth.csrf_ok(request):
        return _login_page(400, "The form expired. Please try again.")
    if not dashboard.auth.token_matches(request.form.get("token", "").strip()):
        event(logger, "dashboard_sign_in", level=logging.WARNING, via="token", outcome="wrong")
        return _login_page(401, "That is not the admin token.")
    event(logger, "dashboard_sign_in", via="token", outcome="admin")
    response = redirect(_next_path(request.form.get("next")))
    dashboard.auth.sign_in(response, request, Viewer("admin", Via.token))
    return response


def login_github() -> Response:
    dashboard = _dashboard()
    if not dashboard.settings.oauth_enabled:
        abort(404, "GitHub sign-in is not configured.")
    location, state = dashboard.auth.start_oauth(
        url_for("dashboard.callback", _external=True), _next_path(request.args.get("next"))
    )
    response = redirect(location)
    dashboard.auth.set_state(response, request, state)
    return response


def callback() -> Response:
    dashboard = _dashboard()
    if not dashboard.settings.oauth_enabled:
        abort(404, "GitHub sign-in is not configured.")
    try:
        viewer, next_path = dashboard.auth.callback(
            request, url_for("dashboard.callback", _external=True)
        )
    except SignInError as exc:
        response = _page(
            "dashboard/message.html", exc.status, title="Sign-in refused", message=str(exc)
        )
    else:
        response = redirect(_next_path(next_path))
        dashboard.auth.sign_in(response, request, viewer)
    dashboard.auth.forget_state(response)
    return response


def logout() -> Response:
    dashboard = _dashboard()
    if not dashboard.auth.csrf_ok(request):
        abort(400, "The form expired. Please go back and try again.")
    response = redirect(url_for("dashboard.login"))
    dashboard.auth.sign_out(response)
    return response
