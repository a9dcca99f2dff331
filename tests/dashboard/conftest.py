"""A real SQLite store in tmp_path filled through the store's public API with real reports,
and a Flask app serving the dashboard from it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from checks import Report, evaluate, load_profile
from checks.models import Annotation, Conclusion, CriterionResult, Level, Status
from github_app.dashboard import DashboardSettings, register_dashboard
from github_app.store import PushedCommit, RepositoryInfo, Store, database_url
from tests.conftest import write_files

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
SECRET_KEY = "session-key-for-tests-0123456789"
# Monday 12 January 2026, 09:00 UTC (10:00 in Copenhagen).
MONDAY = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
EVIL = '<script>alert("x")</script>'

GROUP_7 = RepositoryInfo(id=101, full_name="dtu-group-7/mlops-project", default_branch="main")
GROUP_9 = RepositoryInfo(id=202, full_name="dtu-group-9/mlops", default_branch="main")
SOLO = RepositoryInfo(id=303, full_name="solo-student/mlops-solo", default_branch="main")
QUIET = RepositoryInfo(id=404, full_name="dtu-group-2/not-yet", default_branch="main")


class Clock:
    """The store's time source, set by the seeding code so every timestamp is known."""

    def __init__(self) -> None:
        self.now = MONDAY

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Seeded:
    """What the seeded store holds, for assertions."""

    store: Store
    clock: Clock
    # evaluation ids by name
    ids: dict[str, int]
    reports: dict[str, Report]


def hand_report(statuses: dict[str, Status], *, summary: str = "") -> Report:
    """A report with exactly these statuses (titles and weeks like the real profile's)."""
    results = [
        CriterionResult(
            id=cid,
            title=cid.replace("-", " ").title(),
            module="M6" if i % 2 else "M17",
            module_title="Code structure" if i % 2 else "Continuous integration",
            week=1 if i % 2 else 2,
            status=status,
            summary=summary or f"{cid} is {status.value}",
            fix="Do the thing.",
            docs_url="javascript:alert(1)" if cid == "ci" else "https://skaftenicki.github.io/",
            annotations=(
                [
                    Annotation(
                        path="src/pkg/train.py",
                        start_line=3,
                        level=Level.warning,
                        title="Print",
                        message=EVIL,
                    )
                ]
                if status is Status.warn
                else []
            ),
        )
        for i, (cid, status) in enumerate(statuses.items())
    ]
    passed = sum(r.status is Status.passed for r in results)
    return Report(
        profile="dtu-mlops",
        results=results,
        passed=passed,
        total=len(results),
        conclusion=Conclusion.neutral,
        duration_ms=12.0,
    )


def _real_report(tmp_path: Path, name: str, files: dict[str, str]) -> Report:
    root = write_files(tmp_path / name, files)
    return evaluate(root, load_profile())


RICH_REPO = {
    "README.md": "# Group 7\n\nAn MLOps project.\n",
    "pyproject.toml": '[project]\nname = "pkg"\ndependencies = ["torch"]\n',
    "src/pkg/__init__.py": "",
    "src/pkg/train.py": "def train() -> None:\n    print('training')\n",
    "tests/test_train.py": "from pkg.train import train\n\n\ndef test_train():\n    train()\n",
    "Dockerfile": "FROM python:3.11-slim\nCOPY . .\nRUN pip install .\n",
    ".github/workflows/tests.yaml": (
        "name: tests\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n      - run: pytest\n"
    ),
}


def seed(tmp_path: Path) -> Seeded:
    clock = Clock()
    store = Store(database_url(tmp_path / "data"), clock=clock)
    store.migrate()
    store.record_installation(1, "dtu-mlops", "Organization")
    store.record_installation(2, "solo-student", "User")
    reports = {
        "bare": _real_report(tmp_path, "bare", {"README.md": "# hi\n"}),
        "rich": _real_report(tmp_path, "rich", RICH_REPO),
    }
    ids: dict[str, int] = {}

    def evaluation(
        name: str,
        inst: int,
        repo: RepositoryInfo,
        branch: str,
        report: Report,
        *,
        at: datetime,
        sha: str,
        check_run: int | None,
    ) -> None:
        clock.now = at
        ids[name] = store.start_evaluation(
            inst, repo, sha, branch, pushed_at=at, pusher_login="alice"
        )
        store.finish_evaluation(ids[name], report, check_run, duration_ms=800.0)

    # Group 7: three authors, two real evaluations on main (score goes up) and a feature branch.
    evaluation(
        "g7-first", 1, GROUP_7, "main", reports["bare"], at=MONDAY, sha="a" * 40, check_run=9001
    )
    evaluation(
        "g7-feature",
        1,
        GROUP_7,
        "feature/api",
        reports["bare"],
        at=MONDAY + timedelta(days=1),
        sha="b" * 40,
        check_run=None,
    )
    evaluation(
        "g7-latest",
        1,
        GROUP_7,
        "main",
        reports["rich"],
        at=MONDAY + timedelta(days=2),
        sha="c" * 40,
        check_run=9003,
    )
    # A newer evaluation still running: the overview keeps showing the completed one.
    clock.now = MONDAY + timedelta(days=3)
    ids["g7-queued"] = store.start_evaluation(1, GROUP_7, "d" * 40, "main")
    commits = [
        # alice: Monday 10:xx Copenhagen, three commits
        PushedCommit(
            sha=f"{i:040x}",
            author_login="alice",
            author_name="Alice A",
            message_length=30,
            timestamp=MONDAY + timedelta(minutes=10 * i),
        )
        for i in range(1, 4)
    ] + [
        # bob: Tuesday 22:30 Copenhagen (21:30 UTC)
        PushedCommit(
            sha="b0b" + "0" * 37,
            author_login="bob",
            author_name="Bob B",
            message_length=4,
            timestamp=datetime(2026, 1, 13, 21, 30, tzinfo=UTC),
        ),
        # an author without a GitHub account, with a hostile name
        PushedCommit(
            sha="e" * 40,
            author_name=EVIL,
            message_length=12,
            timestamp=datetime(2026, 1, 13, 21, 45, tzinfo=UTC),
        ),
    ]
    clock.now = MONDAY + timedelta(days=2, hours=1)
    store.record_push(1, GROUP_7, "main", "alice", commits)
    # The same commit on a second branch counts once.
    store.record_push(1, GROUP_7, "feature/api", "alice", commits[:1])

    # Group 9: a hand-built report with hostile summaries.
    evaluation(
        "g9",
        1,
        GROUP_9,
        "main",
        hand_report(
            {"ci": Status.fail, "layout": Status.passed, "docker": Status.warn}, summary=EVIL
        ),
        at=MONDAY + timedelta(hours=5),
        sha="f" * 40,
        check_run=9100,
    )
    clock.now = MONDAY + timedelta(hours=6)
    store.record_push(
        1,
        GROUP_9,
        "main",
        "carol",
        [
            PushedCommit(
                sha="9" * 40,
                author_login="carol",
                message_length=20,
                timestamp=MONDAY + timedelta(hours=4),
            ),
        ],
    )

    # Solo: only a feature branch was evaluated (the overview falls back to it); one author.
    evaluation(
        "solo",
        2,
        SOLO,
        "dev",
        reports["rich"],
        at=MONDAY + timedelta(hours=2),
        sha="1" * 40,
        check_run=None,
    )
    clock.now = MONDAY + timedelta(hours=3)
    store.record_push(
        2,
        SOLO,
        "dev",
        "sam",
        [
            PushedCommit(
                sha=f"5{i:039x}",
                author_login="sam",
                message_length=3,
                timestamp=datetime(2026, 1, 15, 2, i, tzinfo=UTC),
            )
            for i in range(6)
        ],
    )

    # Quiet: pushed, never evaluated.
    clock.now = MONDAY + timedelta(hours=1)
    store.record_push(
        1,
        QUIET,
        "main",
        "dave",
        [
            PushedCommit(
                sha="7" * 40,
                author_login="dave",
                message_length=10,
                timestamp=MONDAY + timedelta(minutes=30),
            ),
        ],
    )
    return Seeded(store=store, clock=clock, ids=ids, reports=reports)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """Seeded once: the dashboard only reads, so every test can share the store."""
    data = seed(tmp_path_factory.mktemp("dashboard"))
    yield data
    data.store.close()


def dashboard_app(store: Store, settings: DashboardSettings) -> Flask:
    app = Flask("dashboard-test")
    register_dashboard(app, store, settings)
    return app


@pytest.fixture
def make_app(seeded: Seeded) -> Callable[..., Flask]:
    def make(**values: object) -> Flask:
        settings = DashboardSettings(**{"admin_token": ADMIN_TOKEN, **values})
        return dashboard_app(seeded.store, settings)

    return make


@pytest.fixture
def admin(make_app: Callable[..., Flask]) -> FlaskClient:
    """A client sending the admin token with every request."""
    client = make_app().test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ADMIN_TOKEN}"
    return client
