"""The `MLOps Mentor · AI review` check run, posted to the fake GitHub over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from githubkit import GitHub

from checks.profile import Profile
from checks.snapshot import Snapshot
from github_app.client import GitHubApp
from github_app.review.cache import ReviewCache
from github_app.review.checkrun import post_ai_review
from github_app.review.settings import ReviewSettings
from github_app.settings import Settings
from tests.github.fake_github import CheckRunState, FakeGitHub
from tests.github.github_helpers import INSTALLATION, OWNER, REPO
from tests.review.fake_llm import FakeLLM, Recorded, Reply, answer

SHA = "c0ffee" + "0" * 34
RUN_NAME = "MLOps Mentor · AI review"
RUNS = r"/repos/[^/]+/[^/]+/check-runs"
RUN = r"/repos/[^/]+/[^/]+/check-runs/\d+"
TOKEN = "ghp_" + "Zq8xW2vN5mK9jH4gF7dS1aP3oI6uY0tR8eLc"
Files = dict[str, str | bytes]


@pytest.fixture
def gh(fake_github: FakeGitHub, make_settings: Callable[..., Settings]) -> Iterator[GitHub]:
    """An installation client of the test app, for a repository the fake GitHub knows."""
    fake_github.add_commit(OWNER, REPO, SHA, b"", installation=INSTALLATION)
    with GitHubApp(make_settings()).installation(INSTALLATION) as client:
        yield client


@pytest.fixture
def post(
    gh: GitHub,
    review_settings: Callable[..., ReviewSettings],
    review_cache: ReviewCache,
    profile: Profile,
    make_repo: Callable[[Files], Path],
) -> Callable[..., object]:
    """Post the AI review of `files`; keyword arguments override the call's."""

    def run(files: Files, **overrides: object) -> object:
        arguments: dict[str, object] = {
            "settings": review_settings(),
            "cache": review_cache,
            "profile": profile,
            "installation": INSTALLATION,
            **overrides,
        }
        return post_ai_review(gh, OWNER, REPO, SHA, Snapshot(make_repo(files)), **arguments)  # type: ignore[arg-type]

    return run


def only_run(fake: FakeGitHub) -> CheckRunState:
    assert len(fake.check_runs) == 1
    return next(iter(fake.check_runs.values()))


def test_the_review_is_a_neutral_run_with_scores_and_the_machine_note(
    fake_github: FakeGitHub, fake_llm: FakeLLM, post: Callable[..., object], project: Files
) -> None:
    outcome = post({**project, "src/mnist/config.py": f'TOKEN = "{TOKEN}"\n'})

    assert outcome is not None
    run = only_run(fake_github)
    assert run.name == RUN_NAME
    assert run.head_sha == SHA
    assert (run.status, run.conclusion) == ("completed", "neutral")
    assert run.output["title"] == "Code quality 4/5 · Unit testing 4/5 · CI/CD 4/5"
    summary = run.output["summary"]
    assert summary.startswith("> **Machine-generated.** A language model (`test-model`)")
    assert "not a grade" in summary
    assert "| Code quality | **4/5** | 7/10 |" in summary
    assert "### Unit testing · 4/5" in summary
    assert "Clear structure; add type hints to the training code." in summary
    assert "Never sent because they hold a credential: `src/mnist/config.py`" in summary
    assert TOKEN not in summary and TOKEN not in (run.output["text"] or "")
    assert "## How the scores are given" in run.output["text"]
    assert [(a["path"], a["start_line"], a["annotation_level"]) for a in run.annotations] == [
        ("src/mnist/data.py", 1, "notice"),
        ("tests/test_model.py", 1, "notice"),
        (".github/workflows/tests.yaml", 1, "notice"),
    ]
    create = fake_github.calls_to("POST", RUNS)[0].json
    assert create == {"name": RUN_NAME, "head_sha": SHA, "status": "in_progress"}


def test_notes_are_posted_at_most_50_per_request(
    fake_github: FakeGitHub, fake_llm: FakeLLM, post: Callable[..., object], profile: Profile
) -> None:
    judge = profile.review["code-quality"]
    six = profile.model_copy(update={"review": {f"judge-{i}": judge for i in range(6)}})
    files: Files = {"src/pkg/model.py": "".join(f"x{i} = {i}\n" for i in range(20))}

    def ten_notes(request: Recorded) -> Reply:
        notes = [
            {"path": "src/pkg/model.py", "line": i + 1, "message": "Name it"} for i in range(10)
        ]
        return Reply(content=answer(suggestions=notes))

    fake_llm.default = ten_notes

    post(files, profile=six)

    run = only_run(fake_github)
    assert len(run.annotations) == 60
    updates = fake_github.calls_to("PATCH", RUN)
    assert [len(u.json["output"].get("annotations", [])) for u in updates] == [50, 10]
    assert "status" not in updates[0].json
    assert updates[-1].json["conclusion"] == "neutral"


def test_a_failing_endpoint_completes_the_run_with_a_short_explanation(
    fake_github: FakeGitHub,
    fake_llm: FakeLLM,
    post: Callable[..., object],
    project: Files,
    review_settings: Callable[..., ReviewSettings],
) -> None:
    fake_llm.reply(Reply(content=answer(), delay=2))

    post(project, settings=review_settings(timeout=0.3))

    run = only_run(fake_github)
    assert (run.status, run.conclusion) == ("completed", "neutral")
    assert run.output["title"] == "AI review could not finish"
    assert "**The model did not answer within 0.3 seconds.**" in run.output["summary"]
    assert "Machine-generated" in run.output["summary"]


def test_a_spent_budget_is_said_on_the_run(
    fake_github: FakeGitHub,
    fake_llm: FakeLLM,
    post: Callable[..., object],
    project: Files,
    review_settings: Callable[..., ReviewSettings],
) -> None:
    post(project, settings=review_settings(daily_commits=0))

    run = only_run(fake_github)
    assert run.conclusion == "neutral"
    assert run.output["title"] == "AI review skipped: daily limit reached"
    assert "daily limit of 0 AI-reviewed commits" in run.output["summary"]
    assert fake_llm.requests == []


def test_a_broken_cache_still_completes_the_run(
    fake_github: FakeGitHub, post: Callable[..., object], project: Files, tmp_path: Path
) -> None:
    path = tmp_path / "broken" / "review.sqlite3"
    cache = ReviewCache(path)
    path.unlink()
    path.mkdir()  # the database file cannot be opened any more

    assert post(project, cache=cache) is None

    run = only_run(fake_github)
    assert (run.status, run.conclusion) == ("completed", "neutral")
    assert run.output["title"] == "AI review could not finish"
    assert "Your main check is not affected" in run.output["summary"]


def test_github_failures_never_raise(
    fake_github: FakeGitHub, fake_llm: FakeLLM, post: Callable[..., object], project: Files
) -> None:
    fake_github.fail_next("POST", RUNS, 500)
    assert post(project) is None
    assert fake_llm.requests == [], "no review without a run to show it on"

    fake_github.fail_next("PATCH", RUN, 422)
    assert post(project) is not None


def test_no_run_when_switched_off_or_not_on_the_default_branch(
    fake_github: FakeGitHub,
    post: Callable[..., object],
    project: Files,
    review_settings: Callable[..., ReviewSettings],
    profile: Profile,
) -> None:
    off = review_settings(enabled=False)
    main_only = review_settings(default_branch_only=True)

    assert post(project, settings=off) is None
    assert post(project, profile=profile.model_copy(update={"review": {}})) is None
    assert post(project, settings=main_only, branch="feature", default_branch="main") is None
    assert post(project, settings=main_only, branch="main") is None  # default unknown
    assert fake_github.check_runs == {}

    assert post(project, settings=main_only, branch="main", default_branch="main") is not None
    assert only_run(fake_github).conclusion == "neutral"
