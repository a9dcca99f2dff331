"""Hostile webhook deliveries: each is refused with its documented status code and leaves
nothing behind — no queued job, no row in any table of the store, no call to GitHub.

The app here queues jobs durably with no consumer running, so a job that a refused
delivery wrongly created would stay visible in the queue and the store.
(`tests/github/test_app_webhook.py` covers the reply texts; this file proves the absence
of side effects over the whole store.)"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask

from github_app.settings import GITHUB_MAX_PAYLOAD
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import (
    INSTALLATION,
    check_run_payload,
    check_suite_payload,
    deliver,
    push_payload,
    queue_of,
    sign,
)
from tests.hostile.evidence import assert_left_nothing, recorded_rows

SHA = "0123456789abcdef0123456789abcdef01234567"
BODY = json.dumps(push_payload(SHA)).encode()


@pytest.fixture
def app(make_app) -> Flask:
    """Jobs go to the durable queue and stay there: nothing consumes them."""
    return make_app(immediate=False)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),  # no signature header
        ({"X-Hub-Signature-256": ""}, 401),
        ({"X-Hub-Signature-256": "sha256"}, 401),
        ({"X-Hub-Signature-256": "sha256=" + "g" * 64}, 401),  # not hex
        ({"X-Hub-Signature-256": "sha256=" + "0" * 63}, 401),  # one digit short
        ({"X-Hub-Signature-256": "SHA256=" + sign(BODY)[7:]}, 401),  # wrong prefix case
        ({"X-Hub-Signature-256": sign(BODY)[:-1] + "x"}, 401),
        ({"X-Hub-Signature-256": sign(BODY, secret="not-our-secret")}, 401),
        ({"X-Hub-Signature-256": sign(b'{"zen": "other"}')}, 401),  # valid over another body
        ({"X-Hub-Signature-256": sign(BODY + b" ")}, 401),  # body changed by one byte
    ],
)
def test_bad_signatures_are_401_and_leave_nothing(
    app: Flask, fake_github: FakeGitHub, headers: dict[str, str], status: int
) -> None:
    sent = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-hostile", **headers}
    response = app.test_client().post("/webhook", data=BODY, headers=sent)
    assert (response.status_code, response.json["outcome"]) == (status, "unauthorized")
    assert_left_nothing(app, fake_github)


def test_a_replayed_delivery_is_taken_once(app: Flask, fake_github: FakeGitHub) -> None:
    first = deliver(app, "push", BODY, delivery="d-replayed")
    assert (first.status_code, first.json["outcome"]) == (202, "queued")
    rows, pending = recorded_rows(app), queue_of(app).pending
    assert rows["evaluations"] == 1 and pending == 1
    # The same signed bytes again (an attacker replaying a captured request, or GitHub's
    # own redelivery), and the id on another signed event: nothing more is queued or stored.
    rerun = json.dumps(check_run_payload(SHA)).encode()
    for event, body in (("push", BODY), ("push", BODY), ("check_run", rerun)):
        again = deliver(app, event, body, delivery="d-replayed")
        assert (again.status_code, again.json["outcome"]) == (202, "duplicate"), again.json
    assert recorded_rows(app) == rows
    assert queue_of(app).pending == pending
    assert fake_github.calls == []


class Stream:
    """A request body of `size` bytes produced on demand, counting what the app read."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.read_bytes = 0

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        self.read_bytes += n
        return b" " * n

    def readline(self, n: int = -1) -> bytes:
        return self.read(n)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(64 * 1024):
            yield chunk


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_25_mb_is_413_before_it_is_read_whole(
    app: Flask, fake_github: FakeGitHub, declared: bool
) -> None:
    size = GITHUB_MAX_PAYLOAD + 10 * 1024 * 1024
    stream = Stream(size)
    environ = {"wsgi.input": stream}
    if declared:
        environ["CONTENT_LENGTH"] = str(size)
    else:
        # A chunked upload: no length, the server marks the stream as terminated.
        environ["wsgi.input_terminated"] = True
    response = app.test_client().post(
        "/webhook",
        headers={
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "d-huge",
            "X-Hub-Signature-256": "sha256=" + "0" * 64,
        },
        environ_overrides=environ,
    )
    assert (response.status_code, response.json["outcome"]) == (413, "too_large")
    # Never more than the limit (plus one read buffer) is taken from the socket.
    assert stream.read_bytes <= GITHUB_MAX_PAYLOAD + 1024 * 1024
    assert_left_nothing(app, fake_github)


@pytest.mark.parametrize(
    "body",
    [b"[]", b"null", b"42", b'"push"', b"true", b"[{}]", b"{", b"\xff\xfe{}", b""],
    ids=["list", "null", "number", "string", "bool", "list-of-object", "cut", "binary", "empty"],
)
def test_signed_json_that_is_not_an_object_is_400(
    app: Flask, fake_github: FakeGitHub, body: bytes
) -> None:
    response = deliver(app, "push", body)
    assert (response.status_code, response.json["outcome"]) == (400, "invalid")
    assert_left_nothing(app, fake_github)


def _without(payload: dict, *path: str) -> dict:
    inner = payload
    for key in path[:-1]:
        inner = inner[key]
    del inner[path[-1]]
    return payload


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("push", _without(push_payload(SHA), "repository")),
        ("push", _without(push_payload(SHA), "after")),
        ("push", _without(push_payload(SHA), "ref")),
        ("push", {**push_payload(SHA), "installation": None}),
        ("push", {**push_payload(SHA), "repository": "dtu/mnist"}),
        ("push", {**push_payload(SHA), "after": 12345}),
        ("check_run", _without(check_run_payload(SHA), "check_run")),
        ("check_run", _without(check_run_payload(SHA), "repository", "id")),
        ("check_suite", _without(check_suite_payload(SHA, "rerequested"), "check_suite")),
        ("installation", {"action": "created"}),
        ("installation", {"action": "created", "installation": {"id": [INSTALLATION]}}),
    ],
)
def test_a_signed_event_with_missing_or_wrong_fields_is_400(
    app: Flask, fake_github: FakeGitHub, event: str, payload: dict
) -> None:
    response = deliver(app, event, payload)
    assert (response.status_code, response.json["outcome"]) == (400, "invalid"), response.json
    assert response.json["detail"]
    assert_left_nothing(app, fake_github)


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("star", {"action": "created"}),
        ("member", {"action": "added"}),
        ("made_up_event", {"action": "exploded"}),
        ("Push", push_payload(SHA)),  # event names are case-sensitive
        ("check_run", check_run_payload(SHA, "requested_action")),
        ("check_run", check_run_payload(SHA, "not_an_action")),
        ("check_suite", check_suite_payload(SHA, "requested")),
        ("check_suite", check_suite_payload(SHA, "completed")),
        ("check_run", {**check_run_payload(SHA), "action": None}),
    ],
)
def test_unknown_events_and_actions_are_acknowledged_and_ignored(
    app: Flask, fake_github: FakeGitHub, event: str, payload: dict
) -> None:
    response = deliver(app, event, payload)
    # 202: GitHub shows the delivery as successful; nothing is done with it.
    assert (response.status_code, response.json["outcome"]) == (202, "ignored"), response.json
    assert_left_nothing(app, fake_github)


def test_only_post_reaches_the_webhook(app: Flask, fake_github: FakeGitHub) -> None:
    client = app.test_client()
    for method in ("GET", "PUT", "DELETE"):
        assert client.open("/webhook", method=method, data=BODY).status_code == 405
    assert_left_nothing(app, fake_github)
