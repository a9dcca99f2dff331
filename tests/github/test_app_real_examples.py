"""GitHub's own published example payloads, byte for byte, through the endpoint.

The examples live outside the project (`/work/shared/data/webhooks`, see its SOURCES.md);
the test is skipped where they are absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import deliver, drain

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = next(
    (
        folder
        for folder in (
            ROOT.parent / "shared" / "data" / "webhooks",
            Path("/work/shared/data/webhooks"),
        )
        if folder.is_dir()
    ),
    None,
)
# file → (status, outcome), as documented for each kind of delivery.
EXPECTED = {
    "ping.json": (200, "pong"),
    "ping.repository.json": (200, "pong"),
    "push.json": (202, "queued"),
    "push.tag-created.ghes-3.4.json": (202, "ignored"),
    "push.tag-deleted.json": (202, "ignored"),
    "check_suite.requested.json": (202, "ignored"),
    "check_suite.rerequested.json": (202, "queued"),
    "check_run.rerequested.json": (202, "queued"),
    "check_run.requested_action.json": (202, "ignored"),
    "installation.created.json": (200, "recorded"),
    "installation_repositories.added.json": (200, "recorded"),
}


@pytest.mark.skipif(EXAMPLES is None, reason="GitHub's example payloads are not available here")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_example_gets_the_documented_answer(
    app: Flask, fake_github: FakeGitHub, name: str
) -> None:
    assert EXAMPLES is not None
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {EXAMPLES}")
    event = name.split(".")[0]
    response = deliver(app, event, path.read_bytes(), delivery=f"example-{name}")
    assert (response.status_code, response.json["outcome"]) == EXPECTED[name], response.json
    # The example repositories are unknown to the fake: a queued job fails at the token,
    # and no check run can appear.
    drain(app)
    assert fake_github.check_runs == {}
