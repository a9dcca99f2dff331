"""`GET /metrics`: the named series in Prometheus' text format, in this process and added up
across processes in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from tests.durability.conftest import SMALL
from tests.github.github_helpers import INSTALLATION, deliver, push_payload


def samples(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def test_metrics_expose_deliveries_queue_jobs_api_calls_and_rate_limit(
    app: Flask, fake_github, publish
) -> None:
    # Counters are per process: compare before and after.
    before = samples(app)
    deliver(app, "ping", {"zen": "z"})
    deliver(app, "push", push_payload(publish(SMALL).sha))
    after = samples(app)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("mlops_mentor_deliveries_total", event="push", outcome="queued") == 1
    assert delta("mlops_mentor_deliveries_total", event="ping", outcome="pong") == 1
    assert after[("mlops_mentor_queue_depth", (("state", "pending"),))] == 0
    assert ("mlops_mentor_queue_depth", (("state", "scheduled"),)) in after
    outcomes = [k for k in after if k[0] == "mlops_mentor_job_duration_seconds_count"]
    assert sum(delta(name, **dict(labels)) for name, labels in outcomes) == 1
    create = "POST /repos/{owner}/{repo}/check-runs"
    assert delta("mlops_mentor_github_api_calls_total", endpoint=create, status="201") == 1
    tarball = "GET /repos/{owner}/{repo}/tarball/{ref}"
    assert delta("mlops_mentor_github_api_calls_total", endpoint=tarball, status="302") == 1
    # The fake GitHub counts requests per installation, like GitHub's X-RateLimit-*.
    gauge = "mlops_mentor_github_rate_limit_remaining"
    remaining = after[(gauge, (("installation", str(INSTALLATION)),))]
    assert remaining == 5000 - fake_github.requests_used[INSTALLATION]


def test_multiprocess_mode_adds_up_every_process(tmp_path) -> None:
    # Two processes count into the same folder; a third (the scrape) sees the sum.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = textwrap.dedent(
        """
        from github_app.metrics import instruments
        instruments().deliveries.labels("push", "queued").inc(%d)
        """
    )
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", count % n], env=env, check=True, timeout=60)
    scrape = (
        "from github_app.metrics import exposition; "
        "print(exposition(lambda: {'pending': 4, 'scheduled': 1}).decode())"
    )
    text = subprocess.run(
        [sys.executable, "-c", scrape], env=env, check=True, capture_output=True, text=True
    ).stdout
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert (
        values[("mlops_mentor_deliveries_total", (("event", "push"), ("outcome", "queued")))] == 5
    )
    assert values[("mlops_mentor_queue_depth", (("state", "pending"),))] == 4
