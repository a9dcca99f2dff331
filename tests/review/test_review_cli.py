"""`mlops-mentor review PATH`: the judges on a local folder, printed as text or JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from github_app.review.cli import add_review_arguments, run_review
from tests.review.fake_llm import FakeLLM, Reply

Files = dict[str, str | bytes]


def review(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_review_arguments(parser)
    return run_review(parser.parse_args(list(argv)))


@pytest.fixture
def endpoint(fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> FakeLLM:
    """The environment pointing `mlops-mentor review` at the fake endpoint."""
    monkeypatch.setenv("LLM_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("LLM_MODEL", "test-model")
    monkeypatch.setenv("LLM_TIMEOUT", "5")
    monkeypatch.delenv("LLM_API_KEY", raising=False)
    return fake_llm


def test_text_output_shows_scores_summaries_and_suggestions(
    endpoint: FakeLLM,
    make_repo: Callable[[Files], Path],
    project: Files,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = make_repo(project)

    assert review(str(root)) == 0

    out = capsys.readouterr().out
    assert "by test-model: machine-generated advice, not a grade." in out
    assert "Code quality: 4/5 (confidence 7/10)\n" in out
    assert "  Clear structure; add type hints to the training code.\n" in out
    assert "  - src/mnist/data.py:1  Code quality: start here.\n" in out
    assert "CI/CD: 4/5" in out
    assert len(endpoint.requests) == 3


def test_json_output_is_the_whole_outcome(
    endpoint: FakeLLM,
    make_repo: Callable[[Files], Path],
    project: Files,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert review(str(make_repo(project)), "--format", "json") == 0

    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "test-model"
    assert [j["id"] for j in data["judges"]] == ["code-quality", "testing", "ci-cd"]
    assert data["judges"][1]["answer"]["score"] == 4
    assert data["judges"][1]["annotations"][0]["path"] == "tests/test_model.py"


def test_a_failing_endpoint_exits_1_with_the_reason(
    endpoint: FakeLLM,
    make_repo: Callable[[Files], Path],
    project: Files,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint.reply(Reply(status=500))

    assert review(str(make_repo(project))) == 1

    out = capsys.readouterr().out
    assert "The model's endpoint answered HTTP 500." in out
    assert "Code quality: not reviewed." in out


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "the AI review needs LLM_BASE_URL"),
        ({"LLM_BASE_URL": "http://localhost:11434/v1"}, "and LLM_MODEL to be set"),
        ({"LLM_BASE_URL": "ftp://x", "LLM_MODEL": "m"}, "LLM_BASE_URL: must start with"),
    ],
)
def test_missing_settings_exit_2_with_one_line(
    env: dict[str, str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY", "LLM_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert review(str(tmp_path)) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("mlops-mentor: error: ")
    assert message in err


def test_a_bad_path_or_profile_exits_2(
    endpoint: FakeLLM, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert review(str(tmp_path / "missing")) == 2
    assert capsys.readouterr().err == f"mlops-mentor: error: not a folder: {tmp_path / 'missing'}\n"

    plain = tmp_path / "plain.yaml"
    plain.write_text("name: plain\n")
    assert review(str(tmp_path), "--profile", str(plain)) == 2
    assert "profile plain has no `review` judges" in capsys.readouterr().err
    assert endpoint.requests == []
