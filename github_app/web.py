"""The Flask application: `POST /webhook` (verify → parse → route → enqueue), `GET /healthz`
and `GET /metrics` (Prometheus).

The request thread only verifies, parses, records the delivery and hands a job to the
durable queue; answering takes milliseconds whatever the repository, well inside GitHub's
10-second limit.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from githubkit.webhooks import verify
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from github_app.dashboard import DashboardSettings, register_dashboard
from github_app.handlers import router
from github_app.logs import LOGGER, event
from github_app.metrics import CONTENT_TYPE, exposition, instruments
from github_app.review.settings import ReviewSettings
from github_app.routing import Delivery, Reply
from github_app.services import Services, build_services, load_review_settings
from github_app.settings import Settings

logger = logging.getLogger(LOGGER)
EXTENSION = "mlops_mentor"


def create_app(
    settings: Settings | None = None,
    *,
    immediate: bool = False,
    review: ReviewSettings | None = None,
    dashboard: DashboardSettings | None = None,
) -> Flask:
    """Build the app from `settings` (default: the environment, the AI review's and the
    dashboard's too).

    Jobs go to the durable queue for a consumer (`serve`'s embedded one, or `mlops-mentor
    worker`); `immediate` runs each in the request's thread instead (one process, tests).
    The services hang off `app.extensions["mlops_mentor"]`; the instructor dashboard is
    served under /dashboard.
    """
    if settings is None:
        settings = Settings.from_env()
        review = load_review_settings()
        dashboard = DashboardSettings.from_env()
    services = build_services(settings, immediate=immediate, review=review)
    app = Flask("github_app")
    # Werkzeug refuses a larger declared body (413) before it is read; a body without
    # Content-Length (chunked) is cut off at this size by `_read_body`.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_payload_bytes
    app.extensions[EXTENSION] = services
    app.register_blueprint(_blueprint(settings.webhook_path))
    register_dashboard(app, services.store, dashboard or DashboardSettings())
    if settings.behind_proxy:
        # Behind a TLS-terminating proxy: the OAuth callback and Secure cookies need the
        # client's scheme and host, which only the proxy's X-Forwarded-* headers carry.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    return app


def _blueprint(webhook_path: str) -> Blueprint:
    blueprint = Blueprint("mlops_mentor", __name__)
    blueprint.add_url_rule(webhook_path, "webhook", receive, methods=["POST"])
    blueprint.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    blueprint.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
    blueprint.register_error_handler(RequestEntityTooLarge, _too_large)
    return blueprint


def _answer(reply: Reply) -> Response:
    response = jsonify(reply.body())
    response.status_code = reply.status
    return response


def _too_large(_: RequestEntityTooLarge) -> Response:
    return _answer(_too_large_reply())


def healthz() -> Response:
    services: Services = current_app.extensions[EXTENSION]
    return jsonify({"status": "ok", "check_name": services.settings.check_name})


def metrics() -> Response:
    """Prometheus metrics of every process of this machine, and the queue's depth."""
    services: Services = current_app.extensions[EXTENSION]
    return Response(exposition(services.queue.depth), content_type=CONTENT_TYPE)


def receive() -> Response:
    """Verify, parse and route one delivery."""
    services: Services = current_app.extensions[EXTENSION]
    try:
        reply, delivery = _handle(services)
    except Exception:
        # The store or the queue failed: nothing was recorded (each is one transaction),
        # so the delivery can be redelivered from the app's settings once it is fixed.
        logger.exception("delivery %s failed", request.headers.get("X-GitHub-Delivery", "")[:64])
        reply, delivery = Reply(500, "error", "could not record the delivery; redeliver it"), None
    event(
        logger,
        "delivery",
        level=logging.WARNING if reply.status >= 400 else logging.INFO,
        delivery=delivery.id if delivery else request.headers.get("X-GitHub-Delivery", "")[:64],
        github_event=delivery.name if delivery else request.headers.get("X-GitHub-Event", "")[:64],
        status=reply.status,
        outcome=reply.outcome,
        detail=reply.detail,
    )
    github_event = delivery.event if delivery else "unknown"
    instruments().deliveries.labels(github_event, reply.outcome).inc()
    return _answer(reply)


def _handle(services: Services) -> tuple[Reply, Delivery | None]:
    settings = services.settings
    if (request.content_length or 0) > settings.max_payload_bytes:
        return _too_large_reply(), None
    # Nothing is parsed or routed before the signature is checked.
    signature = request.headers.get("X-Hub-Signature-256", "")
    if not signature.startswith("sha256="):
        return Reply(401, "unauthorized", "missing X-Hub-Signature-256 (sha256=...) header"), None
    try:
        body = _read_body()
    except RequestEntityTooLarge:
        return _too_large_reply(), None
    if not verify(settings.webhook_secret.get_secret_value(), body, signature):
        return Reply(401, "unauthorized", "signature does not match the webhook secret"), None
    event_name = request.headers.get("X-GitHub-Event", "")
    delivery_id = request.headers.get("X-GitHub-Delivery", "")
    if not event_name or not delivery_id:
        return Reply(
            400, "invalid", "X-GitHub-Event and X-GitHub-Delivery headers are required"
        ), None
    try:
        payload = json.loads(body)
    except ValueError:
        return Reply(400, "invalid", "body is not valid JSON"), None
    if not isinstance(payload, dict):
        return Reply(400, "invalid", "body is not a JSON object"), None
    action = payload.get("action")
    delivery = Delivery(
        delivery_id, event_name, action if isinstance(action, str) else None, payload
    )
    return router.dispatch(delivery, services), delivery


def _read_body() -> bytes:
    """The request body, refusing one over the size limit as soon as it passes it.

    Not `get_data()`: without a Content-Length (a chunked upload) that silently stops at
    the limit, so an over-size body was verified truncated and refused as unsigned (401)
    instead of too large (413). Reading past the limit raises `RequestEntityTooLarge`."""
    chunks: list[bytes] = []
    while chunk := request.stream.read(64 * 1024):
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large_reply() -> Reply:
    return Reply(413, "too_large", "payload over the size GitHub ever sends")
