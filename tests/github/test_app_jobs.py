"""End to end: a signed delivery in, a completed check run on the (fake, real-HTTP) GitHub out."""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from github_app.worker import COULD_NOT_FINISH
from tests.github.fake_github import FakeGitHub
from tests.github.fixtures import Commit
from tests.github.github_helpers import (
    INSTALLATION,
    OWNER,
    REPO,
    WEBHOOK_SECRET,
    check_run_payload,
    check_suite_payload,
    deliver,
    drain,
    expected_annotations,
    noisy_files,
    push_payload,
    tarball,
)

RUNS = r"/repos/[^/]+/[^/]+/check-runs"
RUN = r"/repos/[^/]+/[^/]+/check-runs/\d+"
TOKENS = r"/app/installations/\d+/access_tokens"
# Incompressible, so the archive stays as big as the file.
NOISE = random.Random(7).randbytes(8000)
SMALL = {"README.md": "# MNIST\n", "src/mnist/__init__.py": '"""MNIST."""\n'}


@pytest.fixture
def publish(
    fake_github: FakeGitHub, git_commit: Callable[..., Commit]
) -> Callable[[dict[str, str | bytes]], Commit]:
    """Commit files and make the commit downloadable from the fake GitHub."""

    def publish(files: dict[str, str | bytes]) -> Commit:
        commit = git_commit(files)
        fake_github.add_commit(OWNER, REPO, commit.sha, commit.archive, installation=INSTALLATION)
        return commit

    return publish


def only_run(fake: FakeGitHub):
    assert len(fake.check_runs) == 1, f"expected one check run, got {len(fake.check_runs)}"
    return next(iter(fake.check_runs.values()))


def test_push_becomes_one_completed_check_run_with_batched_annotations(
    app: Flask, signed_post, fake_github: FakeGitHub, publish
) -> None:
    commit = publish(noisy_files())
    expected = expected_annotations(commit.root)
    assert len(expected) > 100, "the noisy project must need several batches"

    response = signed_post("push", push_payload(commit.sha), delivery="delivery-1")
    assert response.status_code == 202
    assert response.json["outcome"] == "queued"
    drain(app)

    creates = fake_github.calls_to("POST", RUNS)
    assert len(creates) == 1
    assert creates[0].json == {
        "name": "MLOps Mentor",
        "head_sha": commit.sha,
        "status": "in_progress",
        "external_id": "delivery-1",
    }
    run = only_run(fake_github)
    assert run.status == "completed"
    assert run.conclusion == "neutral"
    assert run.output["title"].startswith(run.output["summary"].split("\n")[0].removeprefix("### "))
    assert "What to work on first" in run.output["summary"]
    assert run.output["text"]
    # Every annotation arrived, in the engine's order, in batches of at most 50.
    assert run.annotations == expected
    updates = fake_github.calls_to("PATCH", RUN)
    assert [len(c.json["output"].get("annotations", [])) for c in updates] == [
        50,
        50,
        len(expected) - 100,
    ]
    assert [c.json.get("conclusion") for c in updates] == [None, None, "neutral"]
    # Nothing but: one token, the course file (none: 404, then known), one create, the
    # tarball (redirect + download), one PATCH per 50.
    assert len(fake_github.calls) == 1 + 1 + 1 + 2 + math.ceil(len(expected) / 50)
    assert [c.status for c in fake_github.calls if c.status >= 400] == [404]


def test_annotations_stop_at_the_cap(make_app, fake_github: FakeGitHub, publish) -> None:
    app = make_app(annotation_cap=60)
    commit = publish(noisy_files())
    deliver(app, "push", push_payload(commit.sha))
    drain(app)
    run = only_run(fake_github)
    assert len(run.annotations) == 60
    assert run.annotations == expected_annotations(commit.root)[:60]
    # The summary tells the total and how to see every one.
    assert "mlops-mentor check" in run.output["summary"]


def test_clean_commit_gets_one_update_and_settings_shape_the_run(
    make_app, fake_github: FakeGitHub, publish
) -> None:
    app = make_app(check_name="Course feedback", public_url="https://course.example/mentor/")
    commit = publish(SMALL)
    deliver(app, "push", push_payload(commit.sha))
    drain(app)
    create = fake_github.calls_to("POST", RUNS)[0]
    assert create.json["name"] == "Course feedback"
    evaluation = app.extensions["mlops_mentor"].store.evaluations_for(f"{OWNER}/{REPO}")[0]
    # "Details" opens the run's page on the dashboard.
    assert create.json["details_url"] == (
        f"https://course.example/mentor/dashboard/runs/{evaluation.id}"
    )
    run = only_run(fake_github)
    assert run.status == "completed"
    assert len(fake_github.calls_to("PATCH", RUN)) == max(1, math.ceil(len(run.annotations) / 50))


def test_rerequested_run_and_suite_each_create_a_new_run(
    app: Flask, signed_post, fake_github: FakeGitHub, publish
) -> None:
    commit = publish(SMALL)
    assert signed_post("push", push_payload(commit.sha)).status_code == 202
    drain(app)
    rerun = signed_post("check_run", check_run_payload(commit.sha, "rerequested"))
    assert (rerun.status_code, rerun.json["outcome"]) == (202, "queued")
    drain(app)
    suite = signed_post("check_suite", check_suite_payload(commit.sha, "rerequested"))
    assert (suite.status_code, suite.json["outcome"]) == (202, "queued")
    drain(app)
    runs = list(fake_github.check_runs.values())
    assert len(runs) == 3
    assert all(r.head_sha == commit.sha and r.status == "completed" for r in runs)
    # The installation token is reused across jobs, not minted per job.
    assert len(fake_github.calls_to("POST", TOKENS)) == 1


def test_jobs_starting_together_share_one_token(make_app, fake_github, publish) -> None:
    app = make_app(workers=3)
    commits = [publish({**SMALL, "README.md": f"# version {i}\n"}) for i in range(3)]
    for commit in commits:
        assert deliver(app, "push", push_payload(commit.sha)).status_code == 202
    drain(app)
    assert len(fake_github.check_runs) == 3
    assert len(fake_github.calls_to("POST", TOKENS)) == 1


def test_same_commit_on_two_branches_is_evaluated_once(
    app: Flask, signed_post, fake_github: FakeGitHub, publish
) -> None:
    commit = publish(SMALL)
    first = signed_post("push", push_payload(commit.sha, ref="refs/heads/main"))
    second = signed_post("push", push_payload(commit.sha, ref="refs/heads/feature/data"))
    assert first.json["outcome"] == "queued"
    assert (second.status_code, second.json["outcome"]) == (202, "duplicate")
    drain(app)
    assert len(fake_github.calls_to("POST", RUNS)) == 1


def test_check_suite_requested_creates_nothing(
    app: Flask, signed_post, fake_github: FakeGitHub, publish
) -> None:
    commit = publish(SMALL)
    response = signed_post("check_suite", check_suite_payload(commit.sha, "requested"))
    assert (response.status_code, response.json["outcome"]) == (202, "ignored")
    drain(app)
    assert fake_github.calls == []


def test_token_expiring_mid_run_is_minted_again(
    app: Flask, signed_post, fake_github: FakeGitHub, publish
) -> None:
    # githubkit keeps a token until a minute before it expires: this one for about a second.
    fake_github.token_lifetime = timedelta(seconds=62)
    fake_github.delay_next("GET", r"/repos/.*/tarball/.*", 2.2)
    commit = publish(SMALL)
    signed_post("push", push_payload(commit.sha))
    drain(app)
    assert len(fake_github.calls_to("POST", TOKENS)) == 2
    assert fake_github.calls_to("POST", RUNS)[0].credential == "token-1"
    assert {c.credential for c in fake_github.calls_to("PATCH", RUN)} == {"token-2"}
    assert only_run(fake_github).status == "completed"


def test_tarball_with_dotdot_entries_is_extracted_safely(
    app: Flask, signed_post, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    sha = "b" * 40
    top = f"{OWNER}-{REPO}-{sha[:7]}"
    archive = tarball(
        {
            "README.md": b"# MNIST\n",
            "../evil-outside.txt": b"gotcha",
            f"{top}/src/../../../evil-deeper.txt": b"gotcha",
        },
        top,
    )
    fake_github.add_commit(OWNER, REPO, sha, archive, installation=INSTALLATION)
    signed_post("push", push_payload(sha))
    drain(app)
    run = only_run(fake_github)
    assert run.status == "completed"
    assert run.conclusion in ("neutral", "failure", "success")
    summary = run.output["summary"]
    assert "Not evaluated:** 2 entries" in summary
    assert "evil-outside.txt" in summary and "evil-deeper.txt" in summary
    assert not list(tmp_path.rglob("evil-*.txt"))


def test_oversize_archive_completes_neutral_with_the_reason(
    make_app, fake_github: FakeGitHub, publish
) -> None:
    app = make_app(max_tarball_bytes=2000)
    commit = publish({**SMALL, "data/raw.bin": NOISE})
    assert len(commit.archive) > 2000
    deliver(app, "push", push_payload(commit.sha))
    drain(app)
    run = only_run(fake_github)
    assert (run.status, run.conclusion) == ("completed", "neutral")
    assert run.output["title"] == "Repository too large to evaluate"
    assert "DVC" in run.output["summary"]
    assert run.annotations == []


def test_archive_without_length_is_capped_while_streaming(
    make_app, fake_github: FakeGitHub, git_commit
) -> None:
    app = make_app(max_tarball_bytes=2000)
    commit = git_commit({**SMALL, "data/raw.bin": NOISE})
    fake_github.add_commit(
        OWNER, REPO, commit.sha, commit.archive, installation=INSTALLATION, declare_length=False
    )
    deliver(app, "push", push_payload(commit.sha))
    drain(app)
    run = only_run(fake_github)
    assert run.output["title"] == "Repository too large to evaluate"
    assert run.conclusion == "neutral"


def test_extraction_caps_give_a_clear_neutral_result(
    make_app, fake_github: FakeGitHub, publish
) -> None:
    app = make_app(max_extract_files=5)
    commit = publish({f"notebooks/n{i}.md": "x\n" for i in range(10)})
    deliver(app, "push", push_payload(commit.sha))
    drain(app)
    run = only_run(fake_github)
    assert run.conclusion == "neutral"
    assert "too large to evaluate" in run.output["summary"]
    assert "files and folders" in run.output["summary"]


def test_unreadable_archive_completes_neutral(app: Flask, signed_post, fake_github) -> None:
    sha = "c" * 40
    fake_github.add_commit(OWNER, REPO, sha, b"this is not a tarball", installation=INSTALLATION)
    signed_post("push", push_payload(sha))
    drain(app)
    run = only_run(fake_github)
    assert (run.conclusion, run.output["title"]) == ("neutral", "The commit could not be read")


def test_github_error_mid_job_still_completes_the_run(
    app: Flask, signed_post, fake_github: FakeGitHub, publish
) -> None:
    commit = publish(noisy_files())
    fake_github.fail_next("PATCH", RUN, 422, body={"message": "Validation Failed"})
    signed_post("push", push_payload(commit.sha))
    drain(app)
    run = only_run(fake_github)
    assert (run.status, run.conclusion) == ("completed", "neutral")
    assert run.output["title"] == COULD_NOT_FINISH
    assert "GitHub answered 422 to PATCH" in run.output["summary"]
    assert "Re-run" in run.output["summary"]


def test_unexpected_exception_still_completes_the_run(
    app: Flask, signed_post, fake_github: FakeGitHub, publish, tmp_path: Path
) -> None:
    commit = publish(SMALL)
    # The job's workspace cannot be created: a bug-like failure inside our own code.
    (tmp_path / "data" / "work").write_text("not a folder")
    signed_post("push", push_payload(commit.sha))
    drain(app)
    run = only_run(fake_github)
    assert (run.status, run.conclusion) == ("completed", "neutral")
    assert "FileExistsError" in run.output["summary"]


def test_unknown_commit_completes_neutral(app: Flask, signed_post, fake_github) -> None:
    fake_github.installations.add(INSTALLATION)
    fake_github.repos[(OWNER, REPO)] = INSTALLATION
    signed_post("push", push_payload("d" * 40))
    drain(app)
    run = only_run(fake_github)
    assert run.conclusion == "neutral"
    assert "GitHub answered 404 to GET" in run.output["summary"]


def test_server_errors_are_retried(make_app, fake_github: FakeGitHub, publish) -> None:
    app = make_app(http_retries=2, retry_backoff=0)
    commit = publish(SMALL)
    fake_github.fail_next("POST", RUNS, 502)
    deliver(app, "push", push_payload(commit.sha))
    drain(app)
    assert [c.status for c in fake_github.calls_to("POST", RUNS)] == [502, 201]
    assert only_run(fake_github).status == "completed"


def test_failed_create_leaves_nothing_behind_and_is_logged(
    app: Flask, signed_post, fake_github: FakeGitHub, publish, caplog, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="mlops_mentor")
    commit = publish(SMALL)
    fake_github.fail_next("POST", RUNS, 403, body={"message": "Resource not accessible"})
    signed_post("push", push_payload(commit.sha), delivery="d-403")
    drain(app)
    assert fake_github.check_runs == {}
    job = job_lines(caplog)[-1]
    assert job["conclusion"] == "error"
    assert job["delivery"] == "d-403"
    assert "403" in job["error"]
    assert leftovers(tmp_path) == []


def test_job_log_line_and_no_secret_in_any_log(
    app: Flask, signed_post, fake_github: FakeGitHub, publish, caplog, rsa_key, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    commit = publish(noisy_files())
    signed_post("push", push_payload(commit.sha), delivery="d-log")
    drain(app)
    # A failing job too: its error path must not leak either.
    fake_github.fail_next("PATCH", RUN, 500)
    signed_post("check_run", check_run_payload(commit.sha))
    drain(app)
    signed_post("push", push_payload("e" * 40), signature="sha256=" + "0" * 64)

    job = job_lines(caplog)[0]
    assert job["delivery"] == "d-log"
    assert job["repo"] == f"{OWNER}/{REPO}"
    assert job["sha"] == commit.sha
    assert job["conclusion"] == "neutral"
    # A token, the course file, a create, the tarball (2), a PATCH per 50 annotations.
    assert job["api_calls"] == 1 + 1 + 1 + 2 + math.ceil(
        len(fake_github.check_runs[1000].annotations) / 50
    )
    assert job["duration_ms"] >= 0
    text = caplog.text
    secrets = [WEBHOOK_SECRET, *[t.value for t in fake_github.tokens.values()]]
    secrets += [line for line in rsa_key[0].splitlines() if "PRIVATE KEY" not in line]
    assert fake_github.tokens
    for secret in secrets:
        assert secret not in text
    # And no temporary file survives a job.
    assert leftovers(tmp_path) == []


def leftovers(tmp_path: Path) -> list[Path]:
    """Files jobs left in their workspace (the store and the queue live beside it)."""
    return [p for p in (tmp_path / "data" / "work").rglob("*") if not p.is_dir()]


def job_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    found = []
    for record in caplog.records:
        if record.name == "mlops_mentor" and record.getMessage().startswith("{"):
            line = json.loads(record.getMessage())
            if line["event"] == "job":
                found.append(line)
    return found
