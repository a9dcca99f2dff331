"""GitHub failing: 5xx and rate limits reschedule the job (backoff, jitter, Retry-After)
instead of blocking a worker; the last attempt still completes the run `neutral`."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from githubkit import GitHub
from githubkit.exception import (
    PrimaryRateLimitExceeded,
    RequestFailed,
    SecondaryRateLimitExceeded,
)
from githubkit.response import Response

from github_app.store import EvaluationStatus
from github_app.worker import COULD_NOT_FINISH, transient_wait
from tests.durability.conftest import SMALL
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import OWNER, REPO, deliver, drain, push_payload, queue_of

RUNS = r"/repos/[^/]+/[^/]+/check-runs"
RUN = r"/repos/[^/]+/[^/]+/check-runs/\d+"
LIST = r"/repos/[^/]+/[^/]+/commits/[0-9a-f]+/check-runs"
TARBALL = r"/repos/[^/]+/[^/]+/tarball/.*"


def only_run(fake: FakeGitHub):
    assert len(fake.check_runs) == 1, f"expected one check run, got {len(fake.check_runs)}"
    return next(iter(fake.check_runs.values()))


def test_a_502_is_retried_later_and_the_run_is_reused(queued_app, fake_github, publish) -> None:
    app = queued_app()
    commit = publish(SMALL)
    fake_github.fail_next("GET", TARBALL, 502)
    assert deliver(app, "push", push_payload(commit.sha)).json["outcome"] == "queued"
    drain(app)
    run = only_run(fake_github)
    assert run.status == "completed"
    assert run.output["title"] != COULD_NOT_FINISH
    # First attempt: create, tarball (502). Second: find the run, tarball, complete it.
    assert [c.status for c in fake_github.calls_to("GET", TARBALL)] == [502, 302]
    assert len(fake_github.calls_to("POST", RUNS)) == 1
    assert len(fake_github.calls_to("GET", LIST)) == 1
    [evaluation] = queue_of(app).store.evaluations_for(f"{OWNER}/{REPO}")
    assert (evaluation.status, evaluation.attempts) == (EvaluationStatus.completed, 2)


def test_a_failed_create_is_retried_without_a_second_run(queued_app, fake_github, publish) -> None:
    app = queued_app()
    commit = publish(SMALL)
    fake_github.fail_next("POST", RUNS, 503)
    deliver(app, "push", push_payload(commit.sha))
    drain(app)
    assert only_run(fake_github).status == "completed"
    assert [c.status for c in fake_github.calls_to("POST", RUNS)] == [503, 201]


def test_a_secondary_rate_limit_reschedules_instead_of_blocking_the_worker(
    queued_app, fake_github, publish
) -> None:
    # One worker thread, and no waiting inside a request: the limit must reschedule.
    app = queued_app(workers=1, rate_limit_wait=0)
    limited, other = publish(SMALL), publish({**SMALL, "README.md": "# other\n"})
    fake_github.fail_next(
        "PATCH",
        RUN,
        403,
        body={"message": "You have exceeded a secondary rate limit."},
        headers={"Retry-After": "2"},
    )
    deliver(app, "push", push_payload(limited.sha, ref="refs/heads/main"))
    deliver(app, "push", push_payload(other.sha, ref="refs/heads/feature"))
    drain(app)
    runs = {r.head_sha: r for r in fake_github.check_runs.values()}
    assert {r.status for r in runs.values()} == {"completed"}
    assert runs[limited.sha].output["title"] != COULD_NOT_FINISH
    patches = fake_github.calls_to("PATCH", RUN)
    refused = next(i for i, c in enumerate(patches) if c.status == 403)
    finals = {c.path: i for i, c in enumerate(patches) if c.json.get("conclusion")}
    # The other push was evaluated while the limited job waited for its Retry-After.
    assert finals[f"/repos/{OWNER}/{REPO}/check-runs/{runs[other.sha].id}"] > refused
    assert (
        finals[f"/repos/{OWNER}/{REPO}/check-runs/{runs[other.sha].id}"]
        < finals[f"/repos/{OWNER}/{REPO}/check-runs/{runs[limited.sha].id}"]
    )
    [limited_eval] = [
        e for e in queue_of(app).store.evaluations_for(f"{OWNER}/{REPO}") if e.sha == limited.sha
    ]
    assert limited_eval.attempts == 2


def test_a_permanent_failure_ends_neutral_with_the_reason(queued_app, fake_github, publish) -> None:
    app = queued_app(job_attempts=3)
    commit = publish(SMALL)
    fake_github.fail_next("GET", TARBALL, 502, times=10)
    deliver(app, "push", push_payload(commit.sha))
    drain(app)
    run = only_run(fake_github)
    assert (run.status, run.conclusion) == ("completed", "neutral")
    assert run.output["title"] == COULD_NOT_FINISH
    assert "GitHub answered 502 to GET" in run.output["summary"]
    assert len(fake_github.calls_to("GET", TARBALL)) == 3
    [evaluation] = queue_of(app).store.evaluations_for(f"{OWNER}/{REPO}")
    assert (evaluation.status, evaluation.conclusion) == (EvaluationStatus.failed, "neutral")
    assert "502" in (evaluation.error or "")


def test_a_client_error_is_not_retried(queued_app, fake_github, publish) -> None:
    app = queued_app()
    commit = publish(SMALL)
    fake_github.fail_next("GET", TARBALL, 404)
    deliver(app, "push", push_payload(commit.sha))
    drain(app)
    assert only_run(fake_github).output["title"] == COULD_NOT_FINISH
    assert len(fake_github.calls_to("GET", TARBALL)) == 1


def failure(status: int, headers: dict[str, str] | None = None, cls=RequestFailed):
    request = httpx.Request("GET", "https://api.github.com/repos/o/r/tarball/x")
    response = Response(httpx.Response(status, headers=headers or {}, request=request), dict)
    if cls is SecondaryRateLimitExceeded:
        return cls(response, timedelta(seconds=int((headers or {})["Retry-After"])))
    return cls(response)


def test_retry_delays_back_off_with_jitter_and_honour_github(make_app) -> None:
    app = make_app(job_attempts=5, job_retry_delay=10, job_retry_max=25)
    retry = app.extensions["mlops_mentor"].evaluator.retry_delay
    first = [retry(failure(502), 1) for _ in range(40)]
    assert all(5 <= d <= 10 for d in first) and len(set(first)) > 1
    assert all(10 <= retry(failure(502), 2) <= 20 for _ in range(20))
    assert all(12.5 <= retry(failure(502), 4) <= 25 for _ in range(20))  # capped
    limited = failure(403, {"Retry-After": "120"}, SecondaryRateLimitExceeded)
    assert retry(limited, 1) == 120
    assert retry(failure(502), 5) is None  # attempts used up
    assert retry(failure(404), 1) is None
    assert retry(ValueError("a bug"), 1) is None


def test_rate_limit_reset_is_honoured() -> None:
    # A primary limit carries no Retry-After, only when the window resets.
    reset = str(int(time.time()) + 300)
    request = httpx.Request("GET", "https://api.github.com/repos/o/r")
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    response = Response(httpx.Response(403, headers=headers, request=request), dict)
    with pytest.raises(PrimaryRateLimitExceeded) as raised:
        # githubkit's own reading of the headers, as for any answer.
        GitHub("token", http_cache=False)._check_rate_limit(response)
    assert 290 <= transient_wait(raised.value) <= 300
