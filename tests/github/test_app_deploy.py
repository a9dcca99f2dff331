"""The deployment files: the GitHub App manifest and the container image recipe."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, arguments = line.strip().partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


def healthcheck_command() -> list[str]:
    arguments = dict(dockerfile_instructions())["HEALTHCHECK"]
    return json.loads(arguments[arguments.index("CMD") + 3 :])


def test_manifest_asks_for_exactly_what_the_app_uses() -> None:
    manifest = yaml.safe_load((ROOT / "app.yml").read_text())
    assert manifest["default_permissions"] == {
        "checks": "write",
        # Write only for the starter pull requests (`fixes: true`); read is enough without.
        "contents": "write",
        "metadata": "read",
        "pull_requests": "write",
        "actions": "read",
        "issues": "write",
    }
    assert sorted(manifest["default_events"]) == [
        "check_run",
        "check_suite",
        "pull_request",
        "pull_request_review",
        "push",
        "workflow_run",
    ]
    assert manifest["hook_attributes"]["url"].endswith("/webhook")
    assert manifest["hook_attributes"]["active"] is True
    assert manifest["public"] is False
    assert {"name", "url", "description"} <= set(manifest)


def test_image_is_pinned_unprivileged_and_layers_dependencies_first() -> None:
    steps = dockerfile_instructions()
    names = [name for name, _ in steps]
    base = dict(steps)["FROM"]
    assert re.fullmatch(r"python:3\.1[1-9]\.\d+-slim(-\w+)?", base), base
    user = [args for name, args in steps if name == "USER"]
    assert user and user[-1] not in ("root", "0")
    copies = [args for name, args in steps if name == "COPY"]
    assert copies[0].startswith("pyproject.toml")
    dependencies = next(i for i, (n, a) in enumerate(steps) if n == "RUN" and "requirements" in a)
    code = next(i for i, (n, a) in enumerate(steps) if n == "COPY" and "github_app" in a)
    assert dependencies < code
    assert names.index("USER") > code
    # One image, two roles: `serve` by default, `mlops-mentor worker` when asked.
    assert json.loads(dict(steps)["CMD"]) == ["mlops-mentor", "serve"]
    install = next(a for n, a in steps if n == "RUN" and "requirements" in a)
    assert "['postgres']" in install
    assert "/healthz" in " ".join(healthcheck_command())


def test_dockerignore_keeps_credentials_and_tests_out_but_not_the_code() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"*.pem", ".git", "tests"} <= ignored
    assert not ignored & {"checks", "github_app", "pyproject.toml", "README.md"}
