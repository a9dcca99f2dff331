"""Secrets never leak: after a full run — a repository full of secrets evaluated, a failing
job, a refused delivery, the dashboard browsed and exported — no captured log line, no
request body the fake GitHub received, no row of any table of the store, and no dashboard
page or export contains a secret of the repository, the webhook secret, the private key,
an installation token or the dashboard's admin token."""

from __future__ import annotations

import base64
import json
import logging
import random
import string

from pydantic import SecretStr

from github_app.dashboard import DashboardSettings
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import (
    WEBHOOK_SECRET,
    check_run_payload,
    deliver,
    drain,
    push_payload,
    repository_id,
)
from tests.hostile.evidence import everything_github_received, table_rows

_rng = random.Random(7)
ALNUM = string.ascii_letters + string.digits


def _random(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


AWS_ID = "AKIA" + _random(16, string.ascii_uppercase + string.digits)
AWS_SECRET = _random(40, ALNUM + "/+")
GITHUB_TOKEN = "ghp_" + _random(36)
WANDB = _random(40, "0123456789abcdef")
OPENAI = "sk-proj-" + _random(100, ALNUM + "_-")
PASSWORD = "Pa55-" + _random(16)
KEY_BODY = base64.b64encode(_rng.randbytes(1190)).decode()
PEM = "\n".join(
    ["-----BEGIN RSA PRIVATE KEY-----"]
    + [KEY_BODY[i : i + 64] for i in range(0, len(KEY_BODY), 64)]
    + ["-----END RSA PRIVATE KEY-----", ""]
)
ADMIN_TOKEN = "admin-" + _random(40)
REPOSITORY_SECRETS = [AWS_ID, AWS_SECRET, GITHUB_TOKEN, WANDB, OPENAI, PASSWORD, KEY_BODY[:64]]
RUN = r"/repos/[^/]+/[^/]+/check-runs/\d+"


def test_no_secret_reaches_any_output_of_a_full_run(
    make_app, fake_github: FakeGitHub, publish, caplog, rsa_key
) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app(dashboard=DashboardSettings(admin_token=SecretStr(ADMIN_TOKEN)))
    commit = publish(
        {
            "README.md": "# MNIST\n",
            ".env": f"AWS_ACCESS_KEY_ID={AWS_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n",
            "src/mnist/config.py": (
                f'GITHUB_TOKEN = "{GITHUB_TOKEN}"\nWANDB_API_KEY = "{WANDB}"\n'
                f'OPENAI_API_KEY = "{OPENAI}"\npassword = "{PASSWORD}"\n'
            ),
            "configs/deploy.yaml": f"db:\n  password: {PASSWORD}\n  token: {GITHUB_TOKEN}\n",
            "keys/id_rsa": PEM,
            "notebook.ipynb": json.dumps(
                {"cells": [{"cell_type": "code", "source": [f"key = '{OPENAI}'\n"]}]}
            ),
        }
    )
    assert deliver(app, "push", push_payload(commit.sha)).status_code == 202
    drain(app)
    # A failing job and a refused delivery: their error paths must not leak either.
    fake_github.fail_next("PATCH", RUN, 500, times=5)
    deliver(app, "check_run", check_run_payload(commit.sha))
    drain(app)
    deliver(app, "push", push_payload("e" * 40), signature=f"sha256={WEBHOOK_SECRET}")
    deliver(app, "push", b"{}", headers={"Authorization": f"token {GITHUB_TOKEN}"})

    # The secrets criterion did find them (so they were there to leak).
    [first, *_] = fake_github.check_runs.values()
    found = [a for a in first.annotations if a["path"] in {".env", "src/mnist/config.py"}]
    assert found, [a["path"] for a in first.annotations]

    client = app.test_client()
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    rows = table_rows(app)
    pages: dict[str, str] = {}
    for path in (
        "/dashboard/",
        f"/dashboard/groups/{repository_id()}",
        *(f"/dashboard/runs/{row['id']}" for row in rows["evaluations"]),
        "/dashboard/export.csv",
        "/dashboard/export.json",
        "/metrics",
        "/healthz",
    ):
        # Read whole before the next request: the CSV export is streamed.
        page = client.get(path, headers=bearer)
        assert page.status_code == 200, path
        pages[path] = page.get_data(as_text=True)
    assert commit.sha in pages["/dashboard/export.json"]

    outputs = {
        "logs": caplog.text,
        "github": everything_github_received(fake_github),
        "store": json.dumps(rows, default=str),
        "dashboard": "\n".join(pages.values()),
    }
    assert fake_github.tokens
    secrets = {
        **{f"repository secret {i}": s for i, s in enumerate(REPOSITORY_SECRETS)},
        "webhook secret": WEBHOOK_SECRET,
        "admin token": ADMIN_TOKEN,
        **{f"installation token {t.label}": t.value for t in fake_github.tokens.values()},
        **{
            f"private key line {i}": line
            for i, line in enumerate(rsa_key[0].splitlines())
            if "PRIVATE KEY" not in line
        },
    }
    leaks = [
        f"{name} in {where}"
        for name, secret in secrets.items()
        for where, text in outputs.items()
        if secret in text
    ]
    assert leaks == []
