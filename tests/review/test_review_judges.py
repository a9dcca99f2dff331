"""The judges against a fake OpenAI-compatible endpoint over loopback HTTP."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.models import Level
from checks.profile import Profile
from checks.snapshot import Snapshot
from github_app.review.cache import ReviewCache
from github_app.review.review import review_snapshot
from github_app.review.settings import ReviewSettings, ReviewSettingsError
from tests.review.fake_llm import FakeLLM, Reply, answer

TOKEN = "ghp_" + "Zq8xW2vN5mK9jH4gF7dS1aP3oI6uY0tR8eLc"
AWS = "AKIA" + "Q3VZ7XK2M9PL4TNB"
Files = dict[str, str | bytes]
SnapshotOf = Callable[[Files], Snapshot]
MakeSettings = Callable[..., ReviewSettings]


def test_valid_answers_give_each_judge_a_score_and_notes_on_real_lines(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
) -> None:
    outcome = review_snapshot(snapshot_of(project), profile, review_settings())

    assert outcome.state == "complete"
    assert [(j.id, j.answer.score if j.answer else None) for j in outcome.judges] == [
        ("code-quality", 4),
        ("testing", 4),
        ("ci-cd", 4),
    ]
    assert outcome.requests == 3
    body = fake_llm.requests[0].json
    assert body["model"] == "test-model"
    assert body["response_format"] == {"type": "json_object"}
    system, user = body["messages"][0]["content"], body["messages"][1]["content"]
    assert "You judge one aspect: Code quality." in system
    assert profile.review["code-quality"].scale[5] in system
    assert '"maximum":5' in system and '"maxItems":10' in system
    assert "   1| def load(path):" in user
    notes = outcome.judges[0].annotations
    assert [(a.path, a.start_line, a.level, a.title) for a in notes] == [
        ("src/mnist/data.py", 1, Level.notice, "AI review · Code quality")
    ]
    assert outcome.judges[2].annotations[0].path == ".github/workflows/tests.yaml"


def test_invalid_json_is_asked_again_once_with_the_reason(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
) -> None:
    fake_llm.reply(Reply(content="Sure! The code looks fine overall."))

    outcome = review_snapshot(snapshot_of(project), profile, review_settings())

    assert outcome.state == "complete"
    assert outcome.requests == 4
    retry = fake_llm.requests[1].json["messages"]
    assert retry[2] == {"role": "assistant", "content": "Sure! The code looks fine overall."}
    assert "That answer could not be used: it holds no JSON object" in retry[3]["content"]


def test_an_answer_unusable_twice_is_explained_and_the_other_judges_go_on(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
) -> None:
    fake_llm.reply(Reply(content='{"score": 4, "summary": '), Reply(content='{"score": 4,}'))

    outcome = review_snapshot(snapshot_of(project), profile, review_settings())

    quality, testing, ci = outcome.judges
    assert quality.answer is None
    assert quality.problem is not None
    assert quality.problem.startswith("The model's answer could not be used, even when asked")
    assert "not valid JSON" in quality.problem
    assert testing.answer is not None and ci.answer is not None
    assert outcome.state == "partial"
    assert outcome.requests == 4


def test_out_of_range_scores_are_refused_not_clamped(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
) -> None:
    fake_llm.reply(Reply(content=answer(score=7)), Reply(content=answer(score=0, confidence=11)))

    outcome = review_snapshot(snapshot_of(project), profile, review_settings())

    quality = outcome.judges[0]
    assert quality.answer is None
    assert quality.problem is not None
    assert "score: Input should be greater than or equal to 1" in quality.problem
    assert "confidence: Input should be less than or equal to 10" in quality.problem
    retry = fake_llm.requests[1].json["messages"][3]["content"]
    assert "score: Input should be less than or equal to 5" in retry


def test_code_fences_long_summaries_and_extra_suggestions_are_tolerated(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
) -> None:
    suggestions = [
        {"path": "src/mnist/model.py", "line": 1 + i % 8, "message": f"Idea {i}"} for i in range(12)
    ]
    fenced = (
        "Here is my review:\n```json\n"
        + answer(summary=" ".join(["word"] * 250), suggestions=suggestions)
        + "\n```\nHope this helps."
    )
    fake_llm.reply(Reply(content=fenced))

    outcome = review_snapshot(snapshot_of(project), profile, review_settings())

    quality = outcome.judges[0]
    assert quality.answer is not None
    assert len(quality.answer.summary.split()) == 201  # 200 words and "…"
    assert quality.answer.summary.endswith("word …")
    assert len(quality.annotations) == 10
    assert outcome.requests == 3


def test_suggestions_at_files_or_lines_that_do_not_exist_are_dropped(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
) -> None:
    fake_llm.reply(
        Reply(
            content=answer(
                suggestions=[
                    {"path": "src/mnist/train.py", "line": 3, "message": "Invented file"},
                    {"path": "src/mnist/model.py", "line": 99, "message": "Past the end"},
                    {"path": "../../etc/passwd", "line": 1, "message": "Outside"},
                    {"path": "./src/mnist/model.py", "line": 4, "message": "Add a docstring"},
                ]
            )
        )
    )

    outcome = review_snapshot(snapshot_of(project), profile, review_settings())

    quality = outcome.judges[0]
    assert [(a.path, a.start_line, a.message) for a in quality.annotations] == [
        ("src/mnist/model.py", 4, "Add a docstring")
    ]
    assert quality.dropped == 3


def test_a_slow_endpoint_hits_the_timeout_and_stops_the_review(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
) -> None:
    fake_llm.reply(Reply(content=answer(), delay=2))
    started = time.perf_counter()

    outcome = review_snapshot(snapshot_of(project), profile, review_settings(timeout=0.3))

    assert time.perf_counter() - started < 1.5
    assert outcome.state == "failed"
    assert outcome.problem == "The model did not answer within 0.3 seconds."
    assert outcome.requests == 1, "the other judges are not sent to a slow endpoint"
    assert all(j.problem == outcome.problem for j in outcome.judges)


def test_an_endpoint_that_is_down_or_failing_is_explained(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    snapshot = snapshot_of(project)

    down = review_snapshot(
        snapshot, profile, review_settings(base_url=f"http://127.0.0.1:{closed_port}/v1")
    )
    fake_llm.reply(Reply(status=503))
    failing = review_snapshot(snapshot, profile, review_settings())
    fake_llm.reply(Reply(body={"choices": []}), Reply(body={"error": "no"}))
    malformed = review_snapshot(snapshot, profile, review_settings())

    assert down.problem == "The model's endpoint could not be reached (ConnectError)."
    assert down.state == "failed"
    assert failing.problem == "The model's endpoint answered HTTP 503."
    assert malformed.judges[0].problem is not None
    assert "the reply is not a chat completion" in malformed.judges[0].problem


def test_the_api_key_is_sent_as_a_bearer_token_and_shown_nowhere(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
) -> None:
    key = "campus-key-5b1f0c9e7d"
    settings = review_settings(api_key=key)

    outcome = review_snapshot(snapshot_of(project), profile, settings)

    assert fake_llm.requests[0].headers["Authorization"] == f"Bearer {key}"
    assert key not in outcome.model_dump_json()
    assert key not in repr(settings)


def test_a_planted_secret_never_reaches_the_model(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
) -> None:
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "source": ["import os\n"],
                "outputs": [{"output_type": "stream", "text": [f"token {TOKEN}\n"]}],
            }
        ]
    }
    files = {
        **project,
        "src/mnist/config.py": f'GITHUB_TOKEN = "{TOKEN}"\n',
        "tests/test_api.py": f'AWS_KEY = "{AWS}"\n\n\ndef test_api():\n    assert True\n',
        ".github/workflows/deploy.yaml": f"env:\n  GH_TOKEN: {TOKEN}\n",
        "notebooks/explore.ipynb": json.dumps(notebook),
        ".env": f"WANDB_API_KEY={TOKEN}\n",
    }

    outcome = review_snapshot(snapshot_of(files), profile, review_settings())

    assert outcome.state == "complete"
    assert len(fake_llm.requests) == 3
    for body in fake_llm.bodies():
        for secret in (TOKEN, AWS, TOKEN[4:], AWS[4:]):
            assert secret.encode() not in body
    withheld = {p for judge in outcome.judges for p in judge.withheld}
    assert withheld == {
        "src/mnist/config.py",
        "tests/test_api.py",
        ".github/workflows/deploy.yaml",
        "notebooks/explore.ipynb",
    }


def test_the_cache_answers_an_unchanged_codebase_and_asks_only_changed_judges(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    review_cache: ReviewCache,
    make_repo: Callable[[Files], Path],
    project: Files,
    profile: Profile,
) -> None:
    settings = review_settings()
    root = make_repo(project)
    first = review_snapshot(Snapshot(root), profile, settings, cache=review_cache, installation=1)
    again = review_snapshot(Snapshot(root), profile, settings, cache=review_cache, installation=1)

    assert first.requests == 3
    assert again.requests == 0
    assert [j.cached for j in again.judges] == [True, True, True]
    assert [j.answer for j in again.judges] == [j.answer for j in first.judges]
    assert again.judges[0].annotations == first.judges[0].annotations
    assert review_cache.judged_today(1) == 1, "a fully cached commit costs nothing"

    (root / "tests/test_model.py").write_text("def test_more():\n    assert 1 + 1 == 2\n")
    changed = review_snapshot(Snapshot(root), profile, settings, cache=review_cache, installation=1)

    assert changed.requests == 1
    assert [j.cached for j in changed.judges] == [True, False, True]
    assert fake_llm.requests[-1].aspect == "Unit testing"
    other_model = review_snapshot(
        Snapshot(root), profile, review_settings(model="other-model"), cache=review_cache
    )
    assert other_model.requests == 3


def test_the_daily_budget_limits_judged_commits_per_installation(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
    tmp_path: Path,
) -> None:
    now = [datetime(2025, 1, 6, 23, 0, tzinfo=UTC)]
    cache = ReviewCache(tmp_path / "budget.sqlite3", clock=lambda: now[0])
    settings = review_settings(daily_commits=1)
    first = snapshot_of(project)
    second = snapshot_of({**project, "src/mnist/data.py": "def load():\n    return []\n"})

    spent = review_snapshot(first, profile, settings, cache=cache, installation=7)
    refused = review_snapshot(second, profile, settings, cache=cache, installation=7)
    cached = review_snapshot(first, profile, settings, cache=cache, installation=7)
    other = review_snapshot(second, profile, settings, cache=cache, installation=8)

    assert spent.state == "complete"
    assert refused.over_budget and refused.requests == 0
    assert refused.problem is not None and "daily limit of 1 AI-reviewed commits" in refused.problem
    # The CI files did not change, so that answer is still shown; the others wait.
    assert [j.cached for j in refused.judges] == [False, False, True]
    assert refused.judges[0].problem == refused.problem
    assert cached.state == "complete" and cached.requests == 0
    assert other.state == "complete" and other.requests == 2
    assert len(fake_llm.requests) == 5

    now[0] += timedelta(hours=2)  # the next UTC day
    assert review_snapshot(second, profile, settings, cache=cache, installation=7).requests == 0
    assert cache.judged_today(7) == 0, "second's answers were cached by installation 8"


def test_the_course_and_group_exclusions_apply(
    fake_llm: FakeLLM,
    review_settings: MakeSettings,
    snapshot_of: SnapshotOf,
    project: Files,
    profile: Profile,
) -> None:
    files = {
        **project,
        "src/mnist/vendored.py": "VENDORED = 1\n",
        ".github/mlops-mentor.yml": "exclude:\n  - src/mnist/vendored.py\n",
    }
    course = profile.model_copy(update={"exclude": ["src/mnist/data.py"]})

    review_snapshot(snapshot_of(files), course, review_settings())

    sent = fake_llm.requests[0].user
    assert "src/mnist/model.py" in sent
    assert "VENDORED" not in sent and "def load" not in sent


def test_settings_come_from_the_environment_or_turn_the_review_off(tmp_path: Path) -> None:
    assert ReviewSettings.from_env({}) is None
    assert ReviewSettings.from_env({"LLM_BASE_URL": "http://localhost:11434/v1"}) is None

    settings = ReviewSettings.from_env(
        {
            "LLM_BASE_URL": "http://localhost:11434/v1/",
            "LLM_MODEL": "qwen2.5-coder:7b",
            "LLM_API_KEY": "secret-value-123",
            "MLOPS_MENTOR_REVIEW_DAILY_COMMITS": "5",
            "MLOPS_MENTOR_DATA_DIR": str(tmp_path),
        }
    )

    assert settings is not None
    assert settings.base_url == "http://localhost:11434/v1"
    assert settings.daily_commits == 5
    assert settings.enabled and not settings.default_branch_only
    assert settings.cache_path == tmp_path / "review.sqlite3"
    assert "secret-value-123" not in repr(settings)
    with pytest.raises(ReviewSettingsError) as bad:
        ReviewSettings.from_env(
            {"LLM_BASE_URL": "http://x", "LLM_MODEL": "m", "LLM_TIMEOUT": "soon-ish"}
        )
    assert str(bad.value).startswith("LLM_TIMEOUT: ")
    assert "soon-ish" not in str(bad.value)
    with pytest.raises(ReviewSettingsError, match="LLM_BASE_URL: must start with"):
        ReviewSettings.from_env({"LLM_BASE_URL": "localhost:11434", "LLM_MODEL": "m"})
