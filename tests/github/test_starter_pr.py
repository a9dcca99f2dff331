"""Starter pull requests end to end: a push, the fix buttons on its check run, a press, and
the pull request GitHub (the fake, validating the git data API like GitHub) ends up with."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from githubkit.exception import RequestFailed

from github_app.checkrun import TEXT_LIMIT
from github_app.client import GitHubApp
from github_app.settings import Settings
from github_app.starter_pr import with_note
from tests.github.fake_github import CheckRunState, FakeGitHub
from tests.github.fixtures import Commit
from tests.github.github_helpers import (
    APP_ID,
    INSTALLATION,
    OWNER,
    REPO,
    check_run_payload,
    deliver,
    drain,
    push_payload,
)

FILES: dict[str, str | bytes] = {
    "README.md": "# MNIST\n",
    ".gitignore": "__pycache__/\n",
    ".env": "WANDB_API_KEY=not-a-real-key\n",
    "pyproject.toml": '[project]\nname = "mnist"\n',
    "src/mnist/__init__.py": '"""MNIST."""\n',
    "Dockerfile": "FROM python\nRUN pip install -r requirements.txt\n",
}
GIT_PAGE = "https://skaftenicki.github.io/dtu_mlops/s2_organisation_and_version_control/git/"
BRANCH = "refs/heads/mlops-mentor/gitignore"


@pytest.fixture
def fixes_app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    """The app with a course configuration that switches starter pull requests on."""
    config = tmp_path / "course.yml"
    config.write_text("fixes: true\n")
    return make_app(course_config=config)


@pytest.fixture
def publish(
    fake_github: FakeGitHub, git_commit: Callable[..., Commit]
) -> Callable[[dict[str, str | bytes]], Commit]:
    """Commit files, make the commit downloadable, and the head of `main` in git data."""

    def publish(files: dict[str, str | bytes]) -> Commit:
        commit = git_commit(files)
        fake_github.add_commit(OWNER, REPO, commit.sha, commit.archive, installation=INSTALLATION)
        raw = {p: c if isinstance(c, bytes) else c.encode() for p, c in files.items()}
        fake_github.git_data.add_commit(OWNER, REPO, commit.sha, raw)
        return commit

    return publish


def evaluated(app: Flask, fake: FakeGitHub, commit: Commit) -> CheckRunState:
    deliver(app, "push", push_payload(commit.sha))
    drain(app)
    (run,) = fake.check_runs.values()
    return run


def press(app: Flask, run: CheckRunState, identifier: str, *, app_id: int = APP_ID) -> Any:
    payload = check_run_payload(run.head_sha, "requested_action")
    payload["check_run"]["id"] = run.id
    payload["check_run"]["app"]["id"] = app_id
    payload["requested_action"] = {"identifier": identifier}
    response = deliver(app, "check_run", payload)
    drain(app)
    return response


def main_head(fake: FakeGitHub) -> str:
    return fake.git_data.repository(OWNER, REPO).refs["refs/heads/main"]


def test_failing_criteria_with_mechanical_fixes_get_three_buttons(
    fixes_app: Flask, fake_github: FakeGitHub, publish
) -> None:
    run = evaluated(fixes_app, fake_github, publish(FILES))
    assert run.actions == [
        {
            "label": "Fix .gitignore",
            "description": "Ignore caches, envs, .env and data",
            "identifier": "gitignore",
        },
        {
            "label": "Add CI workflow",
            "description": "Run pytest and ruff on every push",
            "identifier": "ci-workflow",
        },
        {
            "label": "Add pre-commit",
            "description": "Hooks: whitespace, YAML, ruff",
            "identifier": "pre-commit",
        },
    ]
    assert "### Starter pull requests" in run.output["summary"]
    # Offering a button writes nothing.
    assert fake_github.calls_to("POST", r".*/git/.*") == []


def test_without_fixes_in_the_course_file_there_are_no_buttons(
    app: Flask, fake_github: FakeGitHub, publish
) -> None:
    run = evaluated(app, fake_github, publish(FILES))
    assert run.actions == []
    assert all("actions" not in c.json for c in fake_github.calls_to("PATCH", r".*/check-runs/.*"))
    assert "Starter pull requests" not in run.output["summary"]


def test_pressing_opens_a_pull_request_from_a_new_branch(
    fixes_app: Flask, fake_github: FakeGitHub, publish
) -> None:
    commit = publish(FILES)
    run = evaluated(fixes_app, fake_github, commit)
    before = main_head(fake_github)

    response = press(fixes_app, run, "gitignore")
    assert (response.status_code, response.json["outcome"]) == (202, "queued")

    git = fake_github.git_data
    repository = git.repository(OWNER, REPO)
    (pull,) = repository.pulls
    assert (pull.head, pull.base, pull.state) == ("mlops-mentor/gitignore", "main", "open")
    assert pull.title == "Ignore caches, environments, secrets and data in .gitignore"
    assert GIT_PAGE in pull.body and "git rm -r --cached .env" in pull.body
    head = repository.refs[BRANCH]
    assert repository.commits[head].parents == [commit.sha]
    files = git.files_at(OWNER, REPO, head)
    gitignore = files.pop(".gitignore").decode()
    assert gitignore.startswith("__pycache__/\n") and "\n.env\n" in gitignore
    assert files == {p: c.encode() for p, c in FILES.items() if p != ".gitignore"}
    # The group's branch never moved.
    assert main_head(fake_github) == before == commit.sha
    assert git.default_branch_writes == []
    summary = run.output["summary"]
    assert f"[#{pull.number}](https://github.com/{OWNER}/{REPO}/pull/{pull.number})" in summary
    assert run.annotations, "the annotations stay on the run"


def test_pressing_twice_opens_one_pull_request(
    fixes_app: Flask, fake_github: FakeGitHub, publish
) -> None:
    run = evaluated(fixes_app, fake_github, publish(FILES))
    press(fixes_app, run, "gitignore")
    first = [(c.method, c.path.split("/", 4)[-1]) for c in fake_github.calls[-11:]]
    blobs = len(fake_github.calls_to("POST", r".*/git/blobs"))
    calls = len(fake_github.calls)
    press(fixes_app, run, "gitignore")
    # The second press only finds the open pull request and says so on the run.
    assert [c.method for c in fake_github.calls[calls:]] == ["GET", "GET", "PATCH"]
    assert first == [
        ("GET", "pulls"),
        ("GET", "tarball/" + run.head_sha),
        ("GET", f"legacy.tar.gz/{run.head_sha}"),
        ("GET", f"git/commits/{run.head_sha}"),
        ("POST", "git/blobs"),
        ("POST", "git/trees"),
        ("POST", "git/commits"),
        ("POST", "git/refs"),
        ("POST", "pulls"),
        ("GET", f"check-runs/{run.id}"),
        ("PATCH", f"check-runs/{run.id}"),
    ]
    assert len(fake_github.git_data.repository(OWNER, REPO).pulls) == 1
    assert len(fake_github.calls_to("POST", r".*/git/blobs")) == blobs == 1
    assert run.output["summary"].count("/pull/1)") == 1
    assert "is open" in run.output["summary"]


def test_a_branch_left_from_an_earlier_press_is_reused(
    fixes_app: Flask, fake_github: FakeGitHub, publish
) -> None:
    run = evaluated(fixes_app, fake_github, publish(FILES))
    press(fixes_app, run, "gitignore")
    repository = fake_github.git_data.repository(OWNER, REPO)
    first = repository.refs[BRANCH]
    repository.pulls[0].state = "closed"  # closed without merging

    press(fixes_app, run, "gitignore")
    assert repository.refs[BRANCH] == first, "the same change on the same commit is kept"
    assert [p.state for p in repository.pulls] == ["closed", "open"]
    assert [p.head for p in repository.pulls] == ["mlops-mentor/gitignore"] * 2
    assert "/pull/2)" in run.output["summary"] and "/pull/1)" not in run.output["summary"]


def test_the_other_fixes_open_their_own_pull_requests(
    fixes_app: Flask, fake_github: FakeGitHub, publish
) -> None:
    run = evaluated(fixes_app, fake_github, publish(FILES))
    press(fixes_app, run, "ci-workflow")
    press(fixes_app, run, "dockerfile")  # not a button here, but a fix this commit needs
    repository = fake_github.git_data.repository(OWNER, REPO)
    assert [p.head for p in repository.pulls] == [
        "mlops-mentor/ci-workflow",
        "mlops-mentor/dockerfile",
    ]
    workflow = fake_github.git_data.files_at(
        OWNER, REPO, repository.refs["refs/heads/mlops-mentor/ci-workflow"]
    )
    assert b"ruff check ." in workflow[".github/workflows/tests.yaml"]
    docker = fake_github.git_data.files_at(
        OWNER, REPO, repository.refs["refs/heads/mlops-mentor/dockerfile"]
    )
    assert (
        docker["Dockerfile"]
        == b"FROM python:3.11-slim\nRUN pip install --no-cache-dir -r requirements.txt\n"
    )
    summary = run.output["summary"]
    assert "- <!-- fix:ci-workflow --> **Add CI workflow:** ✅" in summary
    assert "- <!-- fix:dockerfile --> **Fix Dockerfiles:** ✅" in summary


def test_a_branch_with_someone_elses_commits_is_left_alone(
    fixes_app: Flask, fake_github: FakeGitHub, publish, git_commit: Callable[..., Commit]
) -> None:
    run = evaluated(fixes_app, fake_github, publish(FILES))
    theirs = git_commit({"notes.md": "ours\n"})
    fake_github.git_data.add_commit(
        OWNER, REPO, theirs.sha, {"notes.md": b"ours\n"}, branch="mlops-mentor/gitignore"
    )
    press(fixes_app, run, "gitignore")
    repository = fake_github.git_data.repository(OWNER, REPO)
    assert repository.refs[BRANCH] == theirs.sha
    assert repository.pulls == []
    assert "already exists with commits mlops-mentor did not make" in run.output["summary"]


def test_without_contents_write_the_run_says_what_to_ask_for(
    fixes_app: Flask, fake_github: FakeGitHub, publish
) -> None:
    run = evaluated(fixes_app, fake_github, publish(FILES))
    fake_github.git_data.deny_writes(INSTALLATION)
    press(fixes_app, run, "gitignore")
    summary = run.output["summary"]
    assert "Could not open the pull request" in summary and "Contents: write" in summary
    assert "ask your instructor" in summary.lower()
    assert "Traceback" not in summary and "ghs_" not in summary
    assert fake_github.git_data.repository(OWNER, REPO).pulls == []
    assert [c.status for c in fake_github.calls_to("POST", r".*/git/blobs")] == [403]


def test_a_fix_no_longer_needed_says_so(
    make_app: Callable[..., Flask], fake_github: FakeGitHub, publish, tmp_path: Path
) -> None:
    config = tmp_path / "course.yml"
    config.write_text("fixes: true\n")
    app = make_app(course_config=config)
    run = evaluated(app, fake_github, publish(FILES))
    press(app, run, "ruff-config")  # lint passes on this commit: nothing to configure
    assert "Nothing to change any more" in run.output["summary"]
    assert fake_github.calls_to("POST", r".*/git/.*") == []


def test_buttons_of_other_apps_and_unknown_actions_are_ignored(
    fixes_app: Flask, fake_github: FakeGitHub, publish
) -> None:
    run = evaluated(fixes_app, fake_github, publish(FILES))
    calls = len(fake_github.calls)
    response = press(fixes_app, run, "gitignore", app_id=APP_ID + 1)
    assert (response.status_code, response.json["outcome"]) == (202, "ignored")
    response = press(fixes_app, run, "rm -rf -->")
    assert (response.status_code, response.json["outcome"]) == (202, "ignored")
    assert fake_github.calls[calls:] == []
    assert "<!-- fix:" not in run.output["summary"]


# -- the fake refuses what GitHub refuses ------------------------------------------------------


@pytest.fixture
def gh(make_settings: Callable[..., Settings], fake_github: FakeGitHub, publish) -> Any:
    """An installation client of the app against the fake, with one commit on `main`."""
    publish({"a.txt": "a\n"})
    client = GitHubApp(make_settings()).installation(INSTALLATION)
    with client:
        yield client


def _refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(RequestFailed) as failure:
        call()
    return failure.value.response.status_code, failure.value.response.json()["message"]


def test_fake_git_data_validates_like_github(gh: Any, fake_github: FakeGitHub) -> None:
    git = gh.rest.git
    head = main_head(fake_github)
    tree = git.get_commit(OWNER, REPO, head).json()["tree"]["sha"]
    blob = git.create_blob(OWNER, REPO, data={"content": "x\n", "encoding": "utf-8"}).json()["sha"]

    def entry(**changes: Any) -> dict[str, Any]:
        return {"path": "b.txt", "mode": "100644", "type": "blob", "sha": blob, **changes}

    trees = f"/repos/{OWNER}/{REPO}/git/trees"
    # Sent as raw requests: githubkit itself refuses a mode GitHub does not know.
    for bad in (entry(path="../x"), entry(path="/x"), entry(mode="100600"), entry(type="tree")):
        body = {"base_tree": tree, "tree": [bad]}
        assert _refused(lambda body=body: gh.request("POST", trees, json=body))[0] == 422
    body = {"base_tree": "f" * 40, "tree": [entry()]}
    assert _refused(lambda: gh.request("POST", trees, json=body))[0] == 422
    new_tree = git.create_tree(OWNER, REPO, data={"base_tree": tree, "tree": [entry()]}).json()[
        "sha"
    ]
    assert (
        _refused(
            lambda: git.create_commit(
                OWNER, REPO, data={"message": "m", "tree": new_tree, "parents": ["e" * 40]}
            )
        )[0]
        == 422
    )
    commit = git.create_commit(
        OWNER, REPO, data={"message": "m", "tree": new_tree, "parents": [head]}
    ).json()["sha"]
    assert (
        _refused(lambda: git.create_ref(OWNER, REPO, data={"ref": "heads/x", "sha": commit}))[0]
        == 422
    )
    assert _refused(
        lambda: git.create_ref(OWNER, REPO, data={"ref": "refs/heads/main", "sha": commit})
    ) == (422, "Reference already exists")
    assert _refused(lambda: git.get_ref(OWNER, REPO, "heads/nope"))[0] == 404
    git.create_ref(OWNER, REPO, data={"ref": "refs/heads/x", "sha": commit})
    assert _refused(
        lambda: gh.rest.pulls.create(OWNER, REPO, data={"title": "t", "head": "main", "base": "x"})
    )[1].startswith("Validation Failed: No commits between")
    gh.rest.pulls.create(OWNER, REPO, data={"title": "t", "head": "x", "base": "main"})
    assert (
        "already exists"
        in _refused(
            lambda: gh.rest.pulls.create(
                OWNER, REPO, data={"title": "t", "head": "x", "base": "main"}
            )
        )[1]
    )
    assert len(gh.rest.pulls.list(OWNER, REPO, head=f"{OWNER}:x", state="open").json()) == 1
    assert (
        _refused(
            lambda: git.update_ref(OWNER, REPO, "heads/main", data={"sha": commit, "force": True})
        )[0]
        == 422
    )
    assert fake_github.git_data.default_branch_writes == [(OWNER, REPO, "PATCH")]
    assert main_head(fake_github) == head


def test_a_note_replaces_the_earlier_one_of_its_fix_and_survives_a_full_summary() -> None:
    summary = with_note("### Report\n\nAll fine.", "gitignore", "first")
    summary = with_note(summary, "pre-commit", "other")
    summary = with_note(summary, "gitignore", "second")
    assert summary.count("<!-- fix:gitignore -->") == 1 and "second" in summary
    assert "- <!-- fix:pre-commit --> **Add pre-commit:** other" in summary
    full = with_note("x" * TEXT_LIMIT, "gitignore", "opened")
    assert len(full) <= TEXT_LIMIT and full.endswith("**Fix .gitignore:** opened")


def test_the_press_is_answered_at_once_and_a_queue_consumer_opens_the_pull_request(
    make_app: Callable[..., Flask], fake_github: FakeGitHub, publish, tmp_path: Path,
    start_consumer,
) -> None:  # fmt: skip
    config = tmp_path / "course.yml"
    config.write_text("fixes: true\n")
    app = make_app(course_config=config, immediate=False)
    start_consumer(app)
    run = evaluated(app, fake_github, publish(FILES))
    response = press(app, run, "gitignore")
    assert (response.status_code, response.json["outcome"]) == (202, "queued")
    pulls = fake_github.git_data.repository(OWNER, REPO).pulls
    deadline = time.monotonic() + 20
    while "/pull/1)" not in run.output.get("summary", "") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p.head for p in pulls] == ["mlops-mentor/gitignore"]
    assert "/pull/1)" in run.output["summary"]


def test_fake_check_runs_take_at_most_three_short_actions(gh: Any, fake_github: FakeGitHub) -> None:
    head = main_head(fake_github)
    run = gh.rest.checks.create(OWNER, REPO, data={"name": "MLOps Mentor", "head_sha": head})
    path = f"/repos/{OWNER}/{REPO}/check-runs/{run.json()['id']}"
    action = {"label": "Fix .gitignore", "description": "Ignore caches", "identifier": "gitignore"}
    for actions in (
        [action] * 4,
        [{**action, "label": "x" * 21}],
        [{**action, "description": "x" * 41}],
        [{**action, "identifier": "x" * 21}],
        [{"label": "Fix"}],
    ):
        body = {"actions": actions}
        assert _refused(lambda body=body: gh.request("PATCH", path, json=body))[0] == 422
    gh.request("PATCH", path, json={"actions": [action] * 3})
    assert fake_github.check_runs[run.json()["id"]].actions == [action] * 3
