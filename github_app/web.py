"""The Flask application: `POST /webhook` (verify → parse → route → enqueue) and `GET /healthz`.

The request thread only verifies, parses and hands a job to the queue; answering takes
milliseconds whatever the repository, well inside GitHub's 10-second limit.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from githubkit.webhooks import verify
from werkzeug.exceptions import RequestEntityTooLarge

from checks import Profile
from checks.profile import ProfileError, course_profile, load_course_config
from github_app.client import GitHubApp
from github_app.handlers import router
from github_app.jobs import JobQueue, ThreadJobQueue
from github_app.logs import LOGGER, REDACTOR, event, protect
from github_app.routing import Delivery, Reply
from github_app.settings import ENV, Settings, SettingsError
from github_app.worker import Evaluator

logger = logging.getLogger(LOGGER)
EXTENSION = "mlops_mentor"


@dataclass
class Services:
    """What the endpoint and the jobs share, hung off `app.extensions["mlops_mentor"]`."""

    settings: Settings
    evaluator: Evaluator
    queue: JobQueue


def load_course_profile(settings: Settings) -> Profile:
    """The profile in force: the course's configuration file (if any) over its base profile."""
    try:
        config = load_course_config(settings.course_config) if settings.course_config else None
        return course_profile(config)
    except ProfileError as exc:
        raise SettingsError(f"{ENV['course_config']}: {exc}") from None


def create_app(settings: Settings | None = None, queue: JobQueue | None = None) -> Flask:
    """Build the app from `settings` (default: the environment) and a job queue.

    Without a queue, jobs run in a bounded pool of threads in this process.
    """
    settings = settings or Settings.from_env()
    REDACTOR.add(settings.secrets())
    protect()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    evaluator = Evaluator(settings, GitHubApp(settings), load_course_profile(settings))
    if queue is None:
        queue = ThreadJobQueue(
            evaluator,
            workers=settings.workers,
            max_pending=settings.queue_size,
            dedupe_seconds=settings.dedupe_seconds,
        )
    app = Flask("github_app")
    # Werkzeug refuses a larger body (413) before it is read, even without Content-Length.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_payload_bytes
    app.extensions[EXTENSION] = Services(settings, evaluator, queue)
    app.register_blueprint(_blueprint(settings.webhook_path))
    return app


def _blueprint(webhook_path: str) -> Blueprint:
    blueprint = Blueprint("mlops_mentor", __name__)
    blueprint.add_url_rule(webhook_path, "webhook", receive, methods=["POST"])
    blueprint.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
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


def receive() -> Response:
    """Verify, parse and route one delivery."""
    services: Services = current_app.extensions[EXTENSION]
    reply, delivery = _handle(services)
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
    return _answer(reply)


def _handle(services: Services) -> tuple[Reply, Delivery | None]:
    settings = services.settings
    if (request.content_length or 0) > settings.max_payload_bytes:
        return _too_large_reply(), None
    # Nothing is parsed or routed before the signature is checked.
    signature = request.headers.get("X-Hub-Signature-256", "")
    if not signature.startswith("sha256="):
        return Reply(401, "unauthorized", "missing X-Hub-Signature-256 (sha256=...) header"), None
    body = request.get_data(cache=False)
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
    return router.dispatch(delivery, services.queue), delivery


def _too_large_reply() -> Reply:
    return Reply(413, "too_large", "payload over the size GitHub ever sends")
