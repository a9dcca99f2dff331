"""Any sequence of pushes leaves every group on the overview and on its own page with its
latest run, as headless Chromium renders them (issue 11: after three groups pushed, the
dashboard was wrong about all three).

Each seed generates rounds of pushes across 3–5 groups (two with the same repository
name under different owners, one whose default branch is `master` beside a `main`
branch, one on a second installation that only ever pushes branches): pushes to the
default branch and to others, groups pushing again, a branch's newest commit pushed
unchanged onto another branch (a fast-forward merge), deliveries GitHub sends again, a
commit whose archive cannot be read, a commit gone from GitHub, and deliveries arriving
after a newer push to their branch. They go as signed webhooks over real HTTP to the
app, whose real queue consumer runs the jobs against the fake GitHub and records them in
a SQLite file in tmp_path. After each round the queue is drained and both pages are read
in Chromium: every prefix of a sequence is checked, not only its end.

`expected` computes from the sequence alone (never through the dashboard's queries) what
the webhook answers, how each evaluation ends and which run each group shows; the scores
come from the engine run once on each project state. What an instructor expects:

- A group's latest run is its completed evaluation of the commit pushed last (by
  GitHub's push time, not the order deliveries happen to arrive or jobs to finish in),
  on the default branch if there is one, else on any branch: feature-branch work never
  hides the default branch's state, and a group that only pushed branches still shows.
  This is what the overview meant already; the group page now headlines the same run.
- A commit evaluated on a branch and then pushed unchanged to the default branch is not
  evaluated again (the app's duplicate-commit rule), but it is the default branch's
  state: its run counts as the default branch's.
- A commit whose archive cannot be read completes without a score: it is still the
  latest run, shown as "not scored", rather than an older score passed off as current.
- A run that failed (the commit was gone from GitHub) or was superseded is no result:
  the latest completed run before it stays.
- A redelivered webhook makes no run.
- A delivery arriving after a newer push to its branch was taken is superseded by it,
  never the other way round.
- Every group that pushed is on the overview, whatever the sort, and lists every
  evaluation on its page; one without a completed run says "not evaluated".

Jobs run concurrently, so each round holds at most one new commit per branch (and late
deliveries come after them): then how every evaluation ends does not depend on timing.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
import pytest
from flask import Flask
from pydantic import SecretStr

from checks import evaluate
from checks.profile import course_profile
from github_app.consumer import JobConsumer
from github_app.dashboard import DashboardSettings
from github_app.settings import Settings
from github_app.store import EvaluationRecord, EvaluationStatus
from github_app.web import EXTENSION, create_app
from tests.conftest import write_files
from tests.dashboard.browser import CHROMIUM, Chromium
from tests.dashboard.conftest import ADMIN_TOKEN, RICH_REPO
from tests.dashboard.fake_oauth import serve
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import push_payload, queue_of, repository_id, sign, tarball

if not Path(CHROMIUM).exists() and os.environ.get("CI", "").lower() != "true":
    pytest.skip(
        f"{CHROMIUM} is missing (apt-get install chromium); it is required under CI=true",
        allow_module_level=True,
    )

SEEDS = (18, 23, 33, 35)
ZONE = ZoneInfo("Europe/Copenhagen")
# Project states of increasing completeness, so that runs differ in score.
VARIANTS: tuple[dict[str, str], ...] = (
    {"README.md": "# Group\n"},
    {
        k: v
        for k, v in RICH_REPO.items()
        if k in ("README.md", "pyproject.toml", "src/pkg/__init__.py")
    },
    {k: v for k, v in RICH_REPO.items() if not k.startswith(".github")},
    dict(RICH_REPO),
)
Kind = Literal["good", "broken", "missing"]


@dataclass(frozen=True)
class Group:
    owner: str
    name: str
    installation: int
    default_branch: str
    branches: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def id(self) -> int:
        return repository_id(self.owner, self.name)


POOL = (
    Group("dtu-group-1", "mlops", 77, "main", ("main", "feature/data")),
    # The same repository name as group 1's, under another owner.
    Group("dtu-group-2", "mlops", 77, "main", ("main", "dev")),
    Group("dtu-group-3", "mnist-project", 77, "master", ("master", "main", "feature/api")),
    Group("dtu-group-4", "dtu-group-4-mlops", 77, "main", ("main", "exp/ablation")),
    # Pushes only to branches: the overview falls back to them.
    Group("solo-student", "mlops-solo", 78, "main", ("dev", "feature/cnn")),
)


@dataclass(frozen=True)
class Push:
    group: Group
    branch: str
    sha: str
    # GitHub's time of the push, in seconds since the epoch (the payload's `pushed_at`).
    pushed_at: int
    kind: Kind
    variant: int
    delivery: str


Rounds = list[list[Push]]


def generate(rng: random.Random, start: datetime) -> Rounds:
    """Rounds of pushes: in each, some groups push one commit to some of their branches
    (a new commit, or one evaluated earlier on another branch), then deliveries older than
    their branch's newest arrive late, then some earlier deliveries are sent again."""
    groups = rng.sample(POOL, rng.randint(3, 5))
    clock = int(start.timestamp())
    sent: list[Push] = []
    taken_times: set[int] = set()
    rounds: Rounds = []
    # Each branch's newest commit after the earlier rounds (their jobs have all run).
    heads: dict[tuple[Group, str], Push] = {}
    for _ in range(rng.randint(3, 5)):
        fresh: list[Push] = []
        for group in rng.sample(groups, rng.randint(1, len(groups))):
            for branch in rng.sample(group.branches, rng.randint(1, 2)):
                clock += 1000
                taken_times.add(clock)
                # Another branch's newest commit pushed here too: a fast-forward merge.
                merged = [
                    head
                    for (owner, other), head in heads.items()
                    if owner == group and other != branch and head.kind != "missing"
                ]
                if merged and rng.random() < 0.3:
                    source = rng.choice(merged)
                    fresh.append(
                        Push(
                            group,
                            branch,
                            source.sha,
                            clock,
                            source.kind,
                            source.variant,
                            new_id(rng),
                        )
                    )
                    continue
                kind: Kind = rng.choices(("good", "broken", "missing"), (8, 1, 1))[0]
                fresh.append(
                    Push(
                        group,
                        branch,
                        f"{rng.getrandbits(160):040x}",
                        clock,
                        kind,
                        rng.randrange(len(VARIANTS)),
                        new_id(rng),
                    )
                )
        rng.shuffle(fresh)
        sent.extend(fresh)
        late: list[Push] = []
        for _ in range(rng.randint(0, 2)):
            newest = rng.choice(sent)
            at = newest.pushed_at - rng.randint(1, 999)
            # One late delivery per branch and round: two would race to supersede each other.
            if at in taken_times or any(
                (p.group, p.branch) == (newest.group, newest.branch) for p in late
            ):
                continue
            taken_times.add(at)
            late.append(
                Push(
                    newest.group,
                    newest.branch,
                    f"{rng.getrandbits(160):040x}",
                    at,
                    "good",
                    rng.randrange(len(VARIANTS)),
                    new_id(rng),
                )
            )
        sent.extend(late)
        again = rng.sample(sent, min(len(sent), rng.randint(0, 2)))
        rounds.append([*fresh, *late, *again])
        heads.update({(p.group, p.branch): p for p in fresh})
    return rounds


def new_id(rng: random.Random) -> str:
    """A delivery id (a UUID, as GitHub's), drawn from the seed so a run can be replayed."""
    return str(uuid.UUID(int=rng.getrandbits(128)))


# --- The expectation, from the sequence alone ----------------------------------------------


@dataclass
class Expected:
    # Per delivery sent, in order: what the webhook answers.
    outcomes: list[str]
    # Per push that made an evaluation (by delivery id): how it ends.
    statuses: dict[str, EvaluationStatus]
    # Per group that pushed: its latest run's push, or None.
    latest: dict[Group, Push | None]


def expected(rounds: Rounds) -> Expected:
    outcomes: list[str] = []
    statuses: dict[str, EvaluationStatus] = {}
    seen_deliveries: set[str] = set()
    evaluated: list[Push] = []
    pushed: list[Group] = []
    # (group, commit) pushed to the group's default branch, evaluated there or not.
    on_default: set[tuple[Group, str]] = set()
    for push in (p for round_ in rounds for p in round_):
        if push.group not in pushed:
            pushed.append(push.group)
        if push.delivery in seen_deliveries:
            outcomes.append("duplicate")
            continue
        seen_deliveries.add(push.delivery)
        if push.branch == push.group.default_branch:
            on_default.add((push.group, push.sha))
        if any(p.group == push.group and p.sha == push.sha for p in evaluated):
            outcomes.append("duplicate")
            continue
        outcomes.append("queued")
        newer = any(
            p.group == push.group and p.branch == push.branch and p.pushed_at > push.pushed_at
            for p in evaluated
        )
        evaluated.append(push)
        if newer:
            statuses[push.delivery] = EvaluationStatus.skipped
        elif push.kind == "missing":
            statuses[push.delivery] = EvaluationStatus.failed
        else:
            statuses[push.delivery] = EvaluationStatus.completed
    latest: dict[Group, Push | None] = {}
    for group in pushed:
        done = [
            p
            for p in evaluated
            if p.group == group and statuses[p.delivery] is EvaluationStatus.completed
        ]
        # A commit evaluated on a branch and then merged (fast-forward) onto the default
        # branch is the default branch's state too.
        default = [p for p in done if (group, p.sha) in on_default]
        latest[group] = max(default or done, key=lambda p: p.pushed_at, default=None)
    return Expected(outcomes, statuses, latest)


# --- Running it through the app ------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    with Chromium(tmp_path_factory.mktemp("chromium-profile")) as chromium:
        chromium.headers({"Authorization": f"Bearer {ADMIN_TOKEN}"})
        yield chromium


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, int]]:
    """(passed, total) of each project state, from the engine itself."""
    folder = tmp_path_factory.mktemp("variants")
    found = []
    for i, files in enumerate(VARIANTS):
        report = evaluate(write_files(folder / str(i), files), course_profile())
        found.append((report.passed, report.total))
    return found


@pytest.fixture
def app(make_settings: Callable[..., Settings]) -> Iterator[Flask]:
    """The whole app (webhook and dashboard) on the durable queue, for a real consumer."""
    dashboard = DashboardSettings(admin_token=SecretStr(ADMIN_TOKEN))
    app = create_app(make_settings(), immediate=False, dashboard=dashboard)
    yield app
    app.extensions[EXTENSION].close()


def publish(fake: FakeGitHub, push: Push) -> None:
    """What GitHub holds for the pushed commit: its archive, an unreadable one, or nothing."""
    group = push.group
    if push.kind == "missing":
        return
    top = f"{group.owner}-{group.name}-{push.sha[:7]}"
    files = {name: text.encode() for name, text in VARIANTS[push.variant].items()}
    archive = tarball(files, top) if push.kind == "good" else b"this is not a tarball"
    fake.add_commit(group.owner, group.name, push.sha, archive, installation=group.installation)


def payload(push: Push) -> dict[str, Any]:
    group = push.group
    body = push_payload(
        push.sha,
        ref=f"refs/heads/{push.branch}",
        installation=group.installation,
        owner=group.owner,
        repo=group.name,
    )
    body["repository"]["default_branch"] = group.default_branch
    body["repository"]["pushed_at"] = push.pushed_at
    stamp = datetime.fromtimestamp(push.pushed_at, UTC).isoformat()
    body["head_commit"]["timestamp"] = stamp
    body["commits"][0]["timestamp"] = stamp
    return body


def send(client: httpx.Client, push: Push) -> str:
    """POST the push's delivery to the app over HTTP, as GitHub does; its outcome."""
    body = json.dumps(payload(push)).encode()
    response = client.post(
        "/webhook",
        content=body,
        headers={
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": push.delivery,
            "X-Hub-Signature-256": sign(body),
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/abc1234",
        },
    )
    assert response.status_code == 202, response.text
    return response.json()["outcome"]


def local(value: datetime) -> str:
    """A time as the dashboard prints it (its default pattern and zone)."""
    return value.astimezone(ZONE).strftime("%a %d %b %H:%M")


OVERVIEW_JS = """({groups: document.getElementById('group-count').textContent,
rows: [...document.querySelectorAll('#matrix tbody tr')].map(row => {
  const score = row.querySelector('td.score');
  const run = score.querySelector('a');
  return {
    repository: row.dataset.repository,
    group: row.querySelector('th.group-col a').getAttribute('href'),
    run: run ? run.getAttribute('href') : null,
    title: run ? run.title : null,
    score: score.textContent.trim(),
  };
})})"""
GROUP_JS = """(() => {
  const run = document.getElementById('latest-run');
  return {
    heading: document.querySelector('h1').textContent.trim(),
    score: document.getElementById('latest-score').textContent.trim(),
    run: run ? run.getAttribute('href') : null,
    text: run ? run.textContent.trim() : null,
    evaluations: document.querySelectorAll('#evaluations tbody tr').length,
  };
})()"""


def test_the_seeds_cover_every_kind_of_push() -> None:
    """The browser test's seeds, between them, generate each case the docstring lists."""
    seen: set[str] = set()
    for seed in SEEDS:
        rounds = generate(random.Random(seed), datetime(2026, 1, 12, tzinfo=UTC))
        sent = [p for round_ in rounds for p in round_]
        names = [g.name for g in expected(rounds).latest]
        seen.add(f"{len(names)} groups")
        if len(names) > len(set(names)):
            seen.add("same repository name")
        for i, push in enumerate(sent):
            before = sent[:i]
            seen.add(push.kind)
            if any(p.delivery == push.delivery for p in before):
                seen.add("redelivered")
            elif any(p.sha == push.sha and p.branch != push.branch for p in before):
                seen.add(
                    "merged onto the default branch"
                    if push.branch == push.group.default_branch
                    else "merged"
                )
            elif any(
                (p.group, p.branch) == (push.group, push.branch) and p.pushed_at > push.pushed_at
                for p in before
            ):
                seen.add("late")
        if any(g.default_branch not in g.branches for g in expected(rounds).latest):
            seen.add("only branches")
        for done in range(1, len(rounds) + 1):
            shown = expected(rounds[:done]).latest.values()
            seen.update("not evaluated" if p is None else f"latest {p.kind}" for p in shown)
            on_default = {
                (p.group, p.sha)
                for r in rounds[:done]
                for p in r
                if p.branch == p.group.default_branch
            }
            if any(
                p and p.branch != p.group.default_branch and (p.group, p.sha) in on_default
                for p in shown
            ):
                seen.add("latest merged onto the default branch")
    assert seen >= {
        "3 groups",
        "5 groups",
        "same repository name",
        "good",
        "broken",
        "missing",
        "redelivered",
        "merged",
        "merged onto the default branch",
        "latest merged onto the default branch",
        "late",
        "only branches",
        "not evaluated",
        "latest good",
        "latest broken",
    }


def check_pages(
    browser: Chromium, url: str, app: Flask, want: Expected, scores: list[tuple[int, int]]
) -> None:
    """The store ended each evaluation as expected, and both pages show each group's
    latest run: the run's link, branch, commit, time and score as the pages print them
    (the time is the store's: when the app took the delivery)."""
    store = app.extensions[EXTENSION].store
    records: dict[str, EvaluationRecord] = {}
    for group in want.latest:
        for record in store.evaluations_for(group.full_name, limit=1000):
            assert record.delivery_id is not None
            records[record.delivery_id] = record
    assert {d: r.status for d, r in records.items()} == want.statuses

    browser.open(f"{url}/dashboard/")
    overview = browser.evaluate(OVERVIEW_JS)
    assert overview["groups"] == str(len(want.latest))
    rows = overview["rows"]
    assert sorted(r["repository"] for r in rows) == sorted(g.full_name for g in want.latest)
    by_name = {r["repository"]: r for r in rows}
    for group, push in want.latest.items():
        row = by_name[group.full_name]
        assert row["group"] == f"/dashboard/groups/{group.id}"
        if push is None:
            assert (row["run"], row["score"]) == (None, "not evaluated"), group.full_name
            continue
        record = records[push.delivery]
        assert row["run"] == f"/dashboard/runs/{record.id}", group.full_name
        assert row["title"] == f"{push.branch} @ {push.sha[:7]}, {local(record.created_at)}"
        if push.kind == "good":
            passed, total = scores[push.variant]
            assert row["score"] == f"{passed}/{total}", group.full_name
        else:
            assert row["score"] == "not scored", group.full_name
    # Sorting reorders the groups, never drops one.
    for sort in ("score", "push", "authors"):
        browser.open(f"{url}/dashboard/?sort={sort}")
        assert len(browser.evaluate(OVERVIEW_JS)["rows"]) == len(want.latest), sort

    for group, push in want.latest.items():
        browser.open(f"{url}/dashboard/groups/{group.id}")
        page = browser.evaluate(GROUP_JS)
        assert page["heading"] == group.full_name
        mine = [d for d, r in records.items() if r.repository == group.full_name]
        assert page["evaluations"] == len(mine), group.full_name
        if push is None:
            assert (page["run"], page["score"]) == (None, "—"), group.full_name
            continue
        record = records[push.delivery]
        assert page["run"] == f"/dashboard/runs/{record.id}", group.full_name
        assert page["text"] == f"{push.branch} @ {push.sha[:7]}, {local(record.created_at)}"
        if push.kind == "good":
            passed, total = scores[push.variant]
            assert page["score"] == f"{round(passed / total * 100)} %", group.full_name
        else:
            assert page["score"] == "—", group.full_name


@pytest.mark.parametrize("seed", SEEDS)
def test_every_group_shows_its_latest_run_after_any_pushes(
    seed: int,
    browser: Chromium,
    scores: list[tuple[int, int]],
    app: Flask,
    start_consumer: Callable[[Flask], JobConsumer],
    fake_github: FakeGitHub,
) -> None:
    rounds = generate(random.Random(seed), datetime.now(UTC) - timedelta(days=2))
    for group in POOL:
        # Tokens can be minted and the repository read even for a commit GitHub lacks.
        fake_github.installations.add(group.installation)
        fake_github.repos[(group.owner, group.name)] = group.installation
    for push in (p for round_ in rounds for p in round_):
        publish(fake_github, push)
    start_consumer(app)
    outcomes: list[str] = []
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        # Checked after every round: a later push must not hide what an earlier got wrong.
        for done, round_ in enumerate(rounds, start=1):
            outcomes.extend(send(client, push) for push in round_)
            assert queue_of(app).join(60), "the round's evaluations did not finish"
            want = expected(rounds[:done])
            assert outcomes == want.outcomes
            check_pages(browser, url, app, want, scores)
