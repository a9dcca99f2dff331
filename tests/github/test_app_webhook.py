"""The webhook endpoint: signature first, then parsing and routing; jobs are only handed off."""

from __future__ import annotations

import json
import logging
import time

import pytest
from flask import Flask

from github_app.settings import GITHUB_MAX_PAYLOAD
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import (
    INSTALLATION,
    OWNER,
    REPO,
    check_run_payload,
    deliver,
    drain,
    push_payload,
    queue_of,
    sign,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


def assert_nothing_happened(app: Flask, fake: FakeGitHub) -> None:
    assert queue_of(app).pending == 0
    drain(app)
    assert fake.calls == []


@pytest.mark.parametrize(
    "signature",
    [
        None,  # header missing
        "",
        "sha1=" + "0" * 40,  # GitHub's old header: refused, never verified with SHA-1
        "sha256=" + "0" * 64,
        "sha256=not-hex",
        sign(b"another body"),
        sign(json.dumps(push_payload(SHA)).encode(), secret="someone else's secret"),
    ],
)
def test_missing_or_wrong_signature_is_401_and_nothing_happens(
    app: Flask, fake_github: FakeGitHub, signature: str | None
) -> None:
    body = json.dumps(push_payload(SHA)).encode()
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    response = app.test_client().post("/webhook", data=body, headers=headers)
    assert response.status_code == 401
    assert response.json["outcome"] == "unauthorized"
    assert_nothing_happened(app, fake_github)


def test_signature_is_checked_before_the_body_is_parsed(app: Flask, fake_github) -> None:
    response = deliver(app, "push", b"{not json", signature="sha256=" + "1" * 64)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'"a string"', "not a JSON object"),
        (b"\xff\xfe binary", "not valid JSON"),
    ],
)
def test_signed_but_malformed_body_is_400(
    app: Flask, fake_github: FakeGitHub, body: bytes, message: str
) -> None:
    response = deliver(app, "push", body)
    assert response.status_code == 400
    assert message in response.json["detail"]
    assert_nothing_happened(app, fake_github)


def test_payload_over_the_limit_is_refused_before_reading(app: Flask, fake_github) -> None:
    # Content-Length alone decides: the body is never read, let alone verified.
    response = app.test_client().post(
        "/webhook",
        data=b"{}",
        headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(b"{}")},
        environ_overrides={"CONTENT_LENGTH": str(GITHUB_MAX_PAYLOAD + 1)},
    )
    assert response.status_code == 413
    assert_nothing_happened(app, fake_github)


def test_payload_limit_is_configurable(make_app, fake_github: FakeGitHub) -> None:
    app = make_app(max_payload_bytes=1000)
    body = json.dumps({**push_payload(SHA), "padding": "x" * 2000}).encode()
    response = deliver(app, "push", body)
    assert response.status_code == 413
    assert_nothing_happened(app, fake_github)


def test_signed_delivery_without_event_or_delivery_header_is_400(app: Flask, fake_github) -> None:
    body = json.dumps(push_payload(SHA)).encode()
    response = app.test_client().post(
        "/webhook", data=body, headers={"X-Hub-Signature-256": sign(body)}
    )
    assert response.status_code == 400
    assert "X-GitHub-Event" in response.json["detail"]


def test_ping_is_answered(app: Flask, fake_github: FakeGitHub) -> None:
    response = deliver(app, "ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    assert (response.status_code, response.json["outcome"]) == (200, "pong")
    assert_nothing_happened(app, fake_github)


def test_healthz(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_webhook_path_is_configurable(make_app) -> None:
    app = make_app(webhook_path="/github/events")
    body = json.dumps({"zen": "z"}).encode()
    headers = {
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": "d",
        "X-Hub-Signature-256": sign(body),
    }
    assert app.test_client().post("/github/events", data=body, headers=headers).status_code == 200
    assert app.test_client().post("/webhook", data=body, headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("ref", "after", "detail"),
    [
        ("refs/tags/v1.0", SHA, "is not a branch"),
        ("refs/heads/old-feature", "0" * 40, "was deleted"),
        ("refs/tags/v0.1", "0" * 40, "was deleted"),
    ],
)
def test_tag_pushes_and_deletions_are_ignored(
    app: Flask, fake_github: FakeGitHub, ref: str, after: str, detail: str
) -> None:
    response = deliver(app, "push", push_payload(after, ref=ref))
    assert response.status_code == 202
    assert response.json["outcome"] == "ignored"
    assert detail in response.json["detail"]
    assert_nothing_happened(app, fake_github)


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("check_run", check_run_payload(SHA, "requested_action")),
        ("check_run", check_run_payload(SHA, "created")),
        ("pull_request", {"action": "labeled", "number": 1}),
        ("star", {"action": "created"}),
    ],
)
def test_other_events_are_ignored(
    app: Flask, fake_github: FakeGitHub, event: str, payload: dict
) -> None:
    response = deliver(app, event, payload)
    assert (response.status_code, response.json["outcome"]) == (202, "ignored")
    assert_nothing_happened(app, fake_github)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("installation"), "installation is missing"),
        (lambda p: p["repository"].pop("owner"), "repository.owner is missing"),
        (lambda p: p.update(after="not-a-sha"), "after is not a commit id"),
        (lambda p: p["repository"].update(name="../../etc"), "repository.name"),
        (lambda p: p["repository"]["owner"].update(login="a/b"), "repository.owner.login"),
        (lambda p: p.update(installation={"id": "seventy"}), "installation.id"),
    ],
)
def test_signed_event_missing_needed_fields_is_400_with_a_clear_message(
    app: Flask, fake_github: FakeGitHub, change, message: str
) -> None:
    payload = push_payload(SHA)
    change(payload)
    response = deliver(app, "push", payload)
    assert response.status_code == 400
    assert response.json["detail"].startswith("push payload:")
    assert message in response.json["detail"]
    assert "seventy" not in response.json["detail"]  # values are never echoed
    assert_nothing_happened(app, fake_github)


def test_rerequest_without_head_sha_is_400(app: Flask, fake_github) -> None:
    payload = check_run_payload(SHA)
    del payload["check_run"]["head_sha"]
    response = deliver(app, "check_run", payload)
    assert response.status_code == 400
    assert "check_run.rerequested payload: check_run.head_sha is missing" in response.json["detail"]


def test_installation_events_are_recorded(app: Flask, fake_github: FakeGitHub, caplog) -> None:
    caplog.set_level(logging.INFO, logger="mlops_mentor")
    payload = {
        "action": "added",
        "installation": {"id": INSTALLATION, "account": {"login": OWNER}},
        "repository_selection": "selected",
        "repositories_added": [{"id": 1, "name": REPO, "full_name": f"{OWNER}/{REPO}"}],
        "repositories_removed": [],
    }
    response = deliver(app, "installation_repositories", payload)
    assert (response.status_code, response.json["outcome"]) == (200, "recorded")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mlops_mentor"]
    installation = next(line for line in lines if line["event"] == "installation")
    assert installation["added"] == [f"{OWNER}/{REPO}"]
    assert installation["installation"] == INSTALLATION
    assert_nothing_happened(app, fake_github)


def test_the_request_thread_only_hands_the_job_off(
    make_app, fake_github: FakeGitHub, start_consumer
) -> None:
    app = make_app(immediate=False)
    start_consumer(app)
    # GitHub's token endpoint is slow: the answer must not wait for it.
    fake_github.delay_next("POST", r"/app/installations/\d+/access_tokens", 1.0)
    started = time.perf_counter()
    response = deliver(app, "push", push_payload(SHA))
    elapsed = time.perf_counter() - started
    assert response.status_code == 202
    assert elapsed < 0.5
    assert fake_github.check_runs == {}
    drain(app)


def test_full_queue_answers_503_so_the_delivery_can_be_retried(
    make_app, fake_github: FakeGitHub
) -> None:
    # No consumer: the first job waits in the durable queue.
    app = make_app(immediate=False, queue_size=1)
    assert deliver(app, "push", push_payload("1" * 40)).status_code == 202
    busy = deliver(app, "push", push_payload("2" * 40), delivery="d-busy")
    assert (busy.status_code, busy.json["outcome"]) == (503, "busy")
    # Nothing of the refused delivery was kept: GitHub's redelivery will be taken.
    assert queue_of(app).store.unfinished_count() == 1
    assert queue_of(app).store.claim_delivery("d-busy", "push")


def test_every_delivery_is_logged_in_one_line(app: Flask, caplog) -> None:
    caplog.set_level(logging.INFO, logger="mlops_mentor")
    deliver(app, "ping", {"zen": "z"}, delivery="d-ping")
    deliver(app, "push", b"{}", delivery="d-bad", signature="sha256=" + "0" * 64)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mlops_mentor"]
    assert [(x["delivery"], x["status"]) for x in lines if x["event"] == "delivery"] == [
        ("d-ping", 200),
        ("d-bad", 401),
    ]
