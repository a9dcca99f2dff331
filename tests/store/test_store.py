"""The results store on real SQLite files (and PostgreSQL when DATABASE_URL is set), and the
"since the last evaluation" line built from two stored reports."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from checks.models import Annotation, Conclusion, CriterionResult, Level, Report, Status
from checks.render.changes import Changes, changes_markdown, changes_since
from github_app.store import (
    SCHEMA_VERSION,
    EvaluationStatus,
    InstallationRemoved,
    PushedCommit,
    RepositoryInfo,
    Store,
    StoreError,
    database_url,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40
REPO = RepositoryInfo(id=101, full_name="dtu-group-7/mlops-project", default_branch="main")
OTHER_REPO = RepositoryInfo(id=202, full_name="dtu-group-9/mlops-project", default_branch="main")
TABLES = (
    "installations",
    "repositories",
    "evaluations",
    "push_commits",
    "deliveries",
    "course_configs",
    "exemption_approvals",
    "pull_request_activity",
    "workflow_runs",
    "progress_issues",
    "progress_reminders",
)


class Clock:
    """A settable time source for the store, so ages are exact and tests never sleep."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db_url: str, clock: Clock) -> Iterator[Store]:
    """A migrated store on a fresh database, with a settable clock."""
    store = Store(db_url, clock=clock)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    """A migrated store on a SQLite file, for what only SQLite has (pragmas, file bytes)."""
    store = Store(database_url(tmp_path / "data"), clock=clock)
    store.migrate()
    yield store
    store.close()


def make_report(statuses: dict[str, Status], **extra: Any) -> Report:
    titles = {
        "docker": "Dockerfiles",
        "dvc": "DVC",
        "ci-lint": "CI lint step",
        "tests": "Unit tests",
        "api": "API",
    }
    results = [
        CriterionResult(
            id=cid,
            title=titles.get(cid, cid),
            module="M10",
            module_title="Docker",
            week=2,
            status=status,
            summary=f"{titles.get(cid, cid)}: {status.value}",
            **extra.get(cid, {}),
        )
        for cid, status in statuses.items()
    ]
    passed = sum(r.status == Status.passed for r in results)
    return Report(
        profile="dtu-mlops",
        results=results,
        passed=passed,
        total=len(results),
        conclusion=Conclusion.success if passed == len(results) else Conclusion.neutral,
        duration_ms=12.5,
    )


def all_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.engine.connect() as conn:
        return {
            table: [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table}"))]
            for table in TABLES
        }


def evaluate_and_finish(
    store: Store, sha: str, branch: str, report: Report, repo: RepositoryInfo = REPO
) -> int:
    evaluation_id = store.start_evaluation(1, repo, sha, branch, pusher_login="alice")
    assert store.finish_evaluation(evaluation_id, report, check_run_id=77, duration_ms=900.0)
    return evaluation_id


# --- Schema and SQLite settings --------------------------------------------------------------


def test_sqlite_file_in_data_dir_with_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    url = database_url(tmp_path / "data")
    assert url == f"sqlite:///{(tmp_path / 'data' / 'mlops-mentor.db').resolve()}"
    store = Store(url)
    result = store.migrate()
    assert result.from_version == 0 and result.to_version == SCHEMA_VERSION
    assert set(TABLES) <= set(result.created_tables)
    assert (tmp_path / "data" / "mlops-mentor.db").is_file()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    # Foreign keys are enforced: an evaluation of an unknown repository is refused.
    with pytest.raises(Exception, match="FOREIGN KEY"), store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO evaluations (repository_id, sha, status, created_at) "
            "VALUES (999, 'x', 'queued', '2026-01-01 00:00:00')"
        )
    store.close()


def test_database_url_choice(tmp_path: Path) -> None:
    assert database_url(tmp_path, "  ") == f"sqlite:///{(tmp_path / 'mlops-mentor.db').resolve()}"
    assert database_url(tmp_path, " postgres://db/m ") == "postgres://db/m"


def test_postgres_urls_use_psycopg_3() -> None:
    pytest.importorskip("psycopg", reason="the PostgreSQL driver (psycopg) is not installed")
    # Hosting platforms hand out postgres://; a bare postgresql:// would mean psycopg2.
    for url in ("postgres://u:pw@db.example/mentor", "postgresql://u:pw@db.example/mentor"):
        store = Store(url)
        assert (store.dialect, store.engine.driver) == ("postgresql", "psycopg")
        assert repr(store) == "Store('postgresql+psycopg://u:***@db.example/mentor')"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "needs a file path"),
        ("sqlite:///:memory:", "needs a file path"),
        ("mysql://u:pw@db/x", "unsupported database 'mysql'"),
        ("not a url", "malformed"),
    ],
)
def test_store_refuses_unusable_urls(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as caught:
        Store(url)
    assert "pw" not in str(caught.value)


def test_a_missing_driver_is_named_without_the_password() -> None:
    with pytest.raises(StoreError, match="no database driver for postgresql\\+pg8000") as caught:
        Store("postgresql+pg8000://mentor:s3cret-pw@db/mentor")
    assert "s3cret-pw" not in str(caught.value)


def test_migrate_twice_and_from_two_processes_at_once(db_url: str) -> None:
    stores = [Store(db_url), Store(db_url)]
    barrier = threading.Barrier(len(stores))
    results: list[Any] = []

    def start(store: Store) -> None:
        barrier.wait()
        results.append(store.migrate())

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One created the tables; the other waited for it and found nothing to do.
    assert sorted(len(r.created_tables) for r in results) == [0, len(TABLES) + 1]
    assert stores[0].migrate().created_tables == ()
    with stores[0].engine.connect() as conn:
        versions = conn.execute(text("SELECT version FROM schema_version")).scalars().all()
    assert versions == [SCHEMA_VERSION]
    for store in stores:
        store.close()


OLDER_SCHEMA = """
CREATE TABLE installations (id BIGINT PRIMARY KEY, account_login VARCHAR,
    account_type VARCHAR, created_at DATETIME NOT NULL, deleted_at DATETIME);
CREATE TABLE repositories (id BIGINT PRIMARY KEY,
    installation_id BIGINT NOT NULL REFERENCES installations (id),
    full_name VARCHAR NOT NULL, default_branch VARCHAR, created_at DATETIME NOT NULL);
CREATE TABLE evaluations (id INTEGER PRIMARY KEY,
    repository_id BIGINT NOT NULL REFERENCES repositories (id), sha VARCHAR(64) NOT NULL,
    branch VARCHAR, status VARCHAR(16) NOT NULL, check_run_id BIGINT, conclusion VARCHAR(32),
    passed INTEGER, total INTEGER, report JSON, created_at DATETIME NOT NULL);
CREATE TABLE deliveries (delivery_id VARCHAR(64) PRIMARY KEY, event VARCHAR(64) NOT NULL,
    installation_id BIGINT, received_at DATETIME NOT NULL, outcome VARCHAR(64));
INSERT INTO installations VALUES (1, 'dtu-group-7', 'Organization', '2025-09-01 08:00:00', NULL);
INSERT INTO repositories VALUES (101, 1, 'dtu-group-7/mlops-project', 'main',
    '2025-09-01 08:00:00');
INSERT INTO evaluations VALUES (1, 101, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'main',
    'completed', 55, 'neutral', 3, 5, NULL, '2025-09-02 10:00:00');
INSERT INTO deliveries VALUES ('d-1', 'push', 1, '2025-09-02 10:00:00', 'queued');
"""


def test_migrate_upgrades_an_older_database_and_keeps_its_data(tmp_path: Path) -> None:
    # A database written by an earlier layout: no version table, no push_commits, and
    # evaluations without the pusher, delivery, duration, error and finish columns.
    path = tmp_path / "mlops-mentor.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLDER_SCHEMA)
    conn.close()

    store = Store(f"sqlite:///{path}", clock=Clock())
    result = store.migrate()

    assert result.from_version == 0 and result.to_version == SCHEMA_VERSION
    assert set(result.created_tables) == {
        "push_commits",
        "schema_version",
        "course_configs",
        "exemption_approvals",
        "pull_request_activity",
        "workflow_runs",
        "progress_issues",
        "progress_reminders",
    }
    assert set(result.added_columns) == {
        "evaluations.pushed_at",
        "evaluations.pusher_login",
        "evaluations.delivery_id",
        "evaluations.duration_ms",
        "evaluations.error",
        "evaluations.finished_at",
        "evaluations.trigger",
        "evaluations.attempts",
        "evaluations.lease_until",
    }
    [old] = store.evaluations_for("dtu-group-7/mlops-project")
    assert (old.sha, old.check_run_id, old.passed, old.total) == (SHA_A, 55, 3, 5)
    assert old.created_at == datetime(2025, 9, 2, 10, 0, tzinfo=UTC)
    assert old.pusher_login is None and old.finished_at is None
    # A required column added later takes its server default in existing rows.
    assert (old.attempts, old.trigger) == (0, None)
    assert store.claim_delivery("d-1", "push") is False
    # The upgraded database takes new data in the new columns and tables.
    assert store.record_push(1, REPO, "main", "alice", [PushedCommit(sha=SHA_B)]) == 1
    new_id = store.start_evaluation(1, REPO, SHA_B, "main", pusher_login="alice")
    assert store.evaluation(new_id).pusher_login == "alice"  # type: ignore[union-attr]
    assert store.migrate().added_columns == ()
    # An index added later (the lookup of a pushed commit) is built on the old table.
    assert {i["name"] for i in inspect(store.engine).get_indexes("evaluations")} >= {
        "ix_evaluations_branch",
        "ix_evaluations_commit",
        "ix_evaluations_created_at",
    }
    store.close()


def test_migrate_refuses_what_is_not_additive(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE deliveries (delivery_id VARCHAR(64) PRIMARY KEY)")
    conn.close()
    store = Store(f"sqlite:///{path}")
    with pytest.raises(StoreError, match=r"cannot add required column deliveries\.event"):
        store.migrate()
    # The failed migration changed nothing (SQLite DDL ran inside the transaction).
    assert set(inspect(store.engine).get_table_names()) == {"deliveries"}
    store.close()


def test_migrate_refuses_a_database_newer_than_the_code(db_url: str) -> None:
    store = Store(db_url)
    store.migrate()
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO schema_version (version, applied_at) VALUES (:v, :t)"),
            {"v": SCHEMA_VERSION + 1, "t": T0.replace(tzinfo=None)},
        )
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer than"):
        store.migrate()
    store.close()


# --- Deliveries ----------------------------------------------------------------------------


def test_two_processes_racing_for_one_delivery_exactly_one_wins(db_url: str) -> None:
    first, second = Store(db_url), Store(db_url)
    first.migrate()
    workers = [first, second] * 5
    barrier = threading.Barrier(len(workers))
    wins: list[bool] = []
    lock = threading.Lock()

    def claim(store: Store) -> None:
        barrier.wait()
        results = [store.claim_delivery(f"delivery-{n}", "push", 1) for n in range(5)]
        with lock:
            wins.extend(results)

    threads = [threading.Thread(target=claim, args=(s,)) for s in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 50
    assert sum(wins) == 5  # each of the 5 deliveries was won exactly once
    first.close()
    second.close()


def test_a_redelivery_does_nothing_new_until_released(store: Store) -> None:
    assert store.claim_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", 1) is True
    assert store.claim_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", 1) is False
    store.record_delivery_outcome("72d3162e-cc78-11e3-81ab-4c9367dc0958", "failed")
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT event, outcome FROM deliveries")).one() == (
            "push",
            "failed",
        )
    # Handling failed before anything happened: a manual redelivery is processed again.
    store.release_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert store.claim_delivery("72d3162e-cc78-11e3-81ab-4c9367dc0958", "push", 1) is True


# --- Installations, pushes, evaluations ----------------------------------------------------


def test_installation_is_recorded_updated_and_stays_removed(store: Store) -> None:
    record = store.record_installation(1, "dtu-group-7", "Organization")
    assert (record.account_login, record.account_type, record.deleted_at) == (
        "dtu-group-7",
        "Organization",
        None,
    )
    assert record.created_at == T0
    assert store.record_installation(1, "dtu-group-7-renamed", "Organization").account_login == (
        "dtu-group-7-renamed"
    )
    store.remove_installation(1)
    # A late redelivery of "created" must not bring the account back.
    again = store.record_installation(1, "dtu-group-7", "Organization")
    assert again.account_login is None and again.deleted_at == T0
    with pytest.raises(InstallationRemoved):
        store.record_push(1, REPO, "main", "alice", [PushedCommit(sha=SHA_A)])
    with pytest.raises(InstallationRemoved):
        store.start_evaluation(1, REPO, SHA_A, "main")
    assert store.evaluations_for(REPO.full_name) == []


def test_push_commits_keep_authors_and_message_length_never_the_message(
    sqlite_store: Store, clock: Clock, tmp_path: Path
) -> None:
    payload = {
        "id": SHA_A,
        "message": "Add training loop\n\nSecret plan: skip the exam report",
        "timestamp": "2026-01-05T10:19:25+01:00",
        "author": {"name": "Alice Andersen", "email": "s123@student.dtu.dk", "username": "alice"},
    }
    commit = PushedCommit.from_payload(payload)
    # An author whose e-mail has no GitHub account has no username; a bad time is dropped.
    anonymous = PushedCommit.from_payload(
        {"id": SHA_B, "message": "wip", "timestamp": "yesterday", "author": {"name": "Bob"}}
    )
    assert sqlite_store.record_push(1, REPO, "main", "alice", [commit, anonymous]) == 2
    clock.advance(minutes=5)
    # A force push carrying the same commits again adds only the new one.
    assert sqlite_store.record_push(1, REPO, "main", "bob", [commit, PushedCommit(sha=SHA_C)]) == 1
    # The same commit pushed to another branch is a new fact.
    assert sqlite_store.record_push(1, REPO, "feature", "alice", [commit]) == 1

    main = sqlite_store.commits_for(REPO.full_name, branch="main")
    assert [c.sha for c in main] == [SHA_C, SHA_B, SHA_A]
    first = main[2]
    assert (first.author_login, first.author_name, first.message_length) == (
        "alice",
        "Alice Andersen",
        len(payload["message"]),
    )
    assert first.committed_at == datetime(2026, 1, 5, 9, 19, 25, tzinfo=UTC)
    assert (first.pushed_by, first.pushed_at) == ("alice", T0)
    assert (main[1].author_login, main[1].committed_at, main[1].message_length) == (None, None, 3)
    assert len(sqlite_store.commits_for(REPO.full_name)) == 4
    sqlite_store.close()
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("mlops-mentor.db*"))
    assert b"Secret plan" not in stored and b"training loop" not in stored
    assert b"s123@student.dtu.dk" not in stored


def test_commit_from_payload_needs_a_sha() -> None:
    with pytest.raises(ValueError, match="sha"):
        PushedCommit.from_payload({"message": "no id"})


def test_report_json_round_trip(store: Store) -> None:
    report = make_report(
        {"docker": Status.passed, "dvc": Status.warn},
        dvc={
            "details": "- `data/` is not tracked\n- no `.dvc` files",
            "fix": "Run `dvc add data/raw` – and commit the `.dvc` file…",
            "metrics": {"dvc_files": 0, "paths": ["data/raw", "data/processed"], "ratio": 0.5},
            "annotations": [
                Annotation(
                    path="data/raw/README.md",
                    start_line=3,
                    end_line=4,
                    level=Level.failure,
                    title="Untracked data ✗",
                    message="Large file (120 MB) committed to git: track it with DVC.",
                    rank=5,
                )
            ],
        },
    )
    evaluation_id = store.start_evaluation(
        1,
        REPO,
        SHA_A,
        "main",
        pushed_at=datetime(2026, 1, 5, 11, 0, tzinfo=timezone(timedelta(hours=2))),
        pusher_login="alice",
        delivery_id="d-7",
    )
    assert store.finish_evaluation(
        evaluation_id, report, check_run_id=987654321012, duration_ms=1.5
    )

    stored = store.evaluation(evaluation_id)
    assert stored is not None
    assert stored.report == report
    assert stored.status == EvaluationStatus.completed
    assert (stored.conclusion, stored.passed, stored.total) == ("neutral", 1, 2)
    assert (stored.check_run_id, stored.delivery_id, stored.duration_ms) == (
        987654321012,
        "d-7",
        1.5,
    )
    # A time given in another zone comes back as the same instant, in UTC.
    assert stored.pushed_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert stored.pushed_at.tzinfo == UTC  # type: ignore[union-attr]
    # Listings do not load reports unless asked.
    assert store.evaluations_for(REPO.full_name)[0].report is None
    assert store.evaluations_for(REPO.full_name, with_reports=True)[0].report == report


def test_naive_timestamps_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="timezone-aware"):
        store.start_evaluation(1, REPO, SHA_A, "main", pushed_at=datetime(2026, 1, 5, 9, 0))


def test_last_evaluation_is_the_previous_completed_one_of_the_branch(
    store: Store, clock: Clock
) -> None:
    assert store.last_evaluation(REPO.full_name, "main") is None
    evaluate_and_finish(store, SHA_A, "main", make_report({"docker": Status.warn}))
    clock.advance(minutes=1)
    evaluate_and_finish(store, SHA_B, "feature", make_report({"docker": Status.passed}))
    clock.advance(minutes=1)
    failed = store.start_evaluation(1, REPO, SHA_B, "main")
    store.mark_evaluation(failed, EvaluationStatus.failed, error="tarball download timed out")
    clock.advance(minutes=1)
    store.start_evaluation(1, REPO, SHA_C, "main")  # still queued

    last = store.last_evaluation(REPO.full_name, "main")
    assert last is not None and last.sha == SHA_A
    assert last.report is not None and last.report.result("docker").status == Status.warn
    assert store.last_evaluation(REPO.full_name, "feature").sha == SHA_B  # type: ignore[union-attr]
    assert store.last_evaluation(OTHER_REPO.full_name, "main") is None

    # Re-running SHA_C compares with what came before it, not with itself.
    clock.advance(minutes=1)
    evaluate_and_finish(store, SHA_C, "main", make_report({"docker": Status.passed}))
    assert store.last_evaluation(REPO.full_name, "main").sha == SHA_C  # type: ignore[union-attr]
    assert (
        store.last_evaluation(REPO.full_name, "main", before_sha=SHA_C).sha  # type: ignore[union-attr]
        == SHA_A
    )


def test_evaluation_states_for_durability(store: Store, clock: Clock) -> None:
    first = store.start_evaluation(1, REPO, SHA_A, "main", delivery_id="d-1")
    clock.advance(seconds=10)
    second = store.start_evaluation(1, OTHER_REPO, SHA_B, "main")
    clock.advance(seconds=10)
    third = store.start_evaluation(1, REPO, SHA_C, "main")
    assert store.mark_evaluation(first, EvaluationStatus.in_progress, check_run_id=5)
    assert store.mark_evaluation(third, EvaluationStatus.skipped, error="branch was deleted")

    pending = store.unfinished_evaluations()
    assert [(e.id, e.status) for e in pending] == [
        (first, EvaluationStatus.in_progress),
        (second, EvaluationStatus.queued),
    ]
    assert pending[0].check_run_id == 5 and pending[0].repository == REPO.full_name
    skipped = store.evaluation(third)
    assert skipped is not None and skipped.error == "branch was deleted"
    assert skipped.finished_at == clock.now
    assert [e.sha for e in store.evaluations_for(REPO.full_name)] == [SHA_C, SHA_A]
    # Work finishing after its data was purged changes nothing and does not fail.
    store.remove_installation(1)
    assert store.finish_evaluation(first, make_report({}), check_run_id=5, duration_ms=1) is False
    assert store.mark_evaluation(second, EvaluationStatus.failed) is False


# --- Purges --------------------------------------------------------------------------------


def fill(store: Store, installation_id: int, repo: RepositoryInfo, prefix: str) -> None:
    store.record_installation(installation_id, f"{prefix}-account", "Organization")
    store.claim_delivery(f"{prefix}-delivery", "push", installation_id)
    store.record_push(installation_id, repo, "main", "alice", [PushedCommit(sha=SHA_A)])
    evaluation_id = store.start_evaluation(installation_id, repo, SHA_A, "main")
    store.finish_evaluation(
        evaluation_id, make_report({"docker": Status.passed}), check_run_id=1, duration_ms=1
    )


def test_removing_an_installation_purges_all_of_it_and_nothing_else(store: Store) -> None:
    fill(store, 1, REPO, "group7")
    fill(store, 2, OTHER_REPO, "group9")
    store.claim_delivery("group7-second", "installation", 1)
    before = all_rows(store)

    counts = store.remove_installation(1)

    assert counts.model_dump() == {
        "installations": 0,
        "repositories": 1,
        "evaluations": 1,
        "commits": 1,
        "deliveries": 2,
    }
    after = all_rows(store)
    for table in ("repositories", "evaluations", "push_commits", "deliveries"):
        assert len(after[table]) == len(before[table]) - getattr(
            counts, {"push_commits": "commits"}.get(table, table)
        )
    # Only a tombstone is left of installation 1: no login, nothing that names the group.
    assert "group7" not in repr(after) and REPO.full_name not in repr(after)
    tombstone = store.installation(1)
    assert tombstone is not None and tombstone.account_login is None
    assert tombstone.deleted_at is not None
    # Installation 2 is untouched.
    assert store.installation(2).account_login == "group9-account"  # type: ignore[union-attr]
    assert len(store.evaluations_for(OTHER_REPO.full_name)) == 1
    assert len(store.commits_for(OTHER_REPO.full_name)) == 1
    assert store.claim_delivery("group9-delivery", "push", 2) is False


def test_removing_an_unknown_installation_leaves_a_tombstone(store: Store) -> None:
    assert store.remove_installation(42).total == 0
    with pytest.raises(InstallationRemoved):
        store.record_push(42, REPO, "main", None, [])


def test_retention_purges_by_age(store: Store, clock: Clock) -> None:
    fill(store, 1, REPO, "group7")
    store.remove_installation(3)  # a tombstone dated T0
    clock.advance(days=200)
    store.claim_delivery("recent", "push", 1)
    recent = store.start_evaluation(1, REPO, SHA_B, "main")
    store.record_push(1, REPO, "main", "alice", [PushedCommit(sha=SHA_B)])
    clock.advance(days=200)  # the first batch is 400 days old, the second 200

    counts = store.purge_older_than()  # the default: 365 days

    assert counts.model_dump() == {
        "installations": 1,
        "repositories": 0,
        "evaluations": 1,
        "commits": 1,
        "deliveries": 1,
    }
    assert [e.id for e in store.evaluations_for(REPO.full_name)] == [recent]
    assert [c.sha for c in store.commits_for(REPO.full_name)] == [SHA_B]
    assert store.claim_delivery("recent", "push") is False
    assert store.installation(3) is None
    assert store.installation(1) is not None  # a live installation is kept whatever its age
    assert store.purge_older_than(days=0).evaluations == 1
    with pytest.raises(ValueError, match="negative"):
        store.purge_older_than(days=-1)


# --- No secrets ----------------------------------------------------------------------------


def test_no_token_reaches_the_database(sqlite_store: Store, tmp_path: Path) -> None:
    token = "ghs_" + "A1b2C3d4E5f6G7h8I9j0" * 2
    # A criterion that (wrongly) echoed a token it found in the repository, and a job
    # error whose message carried one: the store masks both before writing.
    report = make_report(
        {"hygiene": Status.fail},
        hygiene={
            "details": f"Found `{token}` in .env",
            "metrics": {token: 1},
            "annotations": [Annotation(path=".env", start_line=2, message=f"Found {token} here")],
        },
    )
    evaluation_id = sqlite_store.start_evaluation(1, REPO, SHA_A, "main")
    sqlite_store.finish_evaluation(evaluation_id, report, check_run_id=3, duration_ms=2)
    failed = sqlite_store.start_evaluation(1, REPO, SHA_B, "main")
    sqlite_store.mark_evaluation(
        failed, EvaluationStatus.failed, error=f"401 from GitHub with Authorization: token {token}"
    )

    rows = all_rows(sqlite_store)
    assert token not in repr(rows)
    stored = sqlite_store.evaluation(evaluation_id)
    assert stored is not None and stored.report is not None
    hygiene = stored.report.result("hygiene")
    assert hygiene.details == "Found `[redacted]` in .env"
    assert hygiene.metrics == {"[redacted]": 1}
    assert hygiene.annotations[0].message == "Found [redacted] here"
    sqlite_store.close()
    stored_bytes = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("mlops-mentor.db*"))
    assert token.encode() not in stored_bytes


# --- What changed since the last evaluation ------------------------------------------------


def test_changes_fixed_and_new_problems() -> None:
    previous = make_report(
        {
            "docker": Status.warn,
            "dvc": Status.fail,
            "ci-lint": Status.passed,
            "tests": Status.passed,
            "api": Status.skip,
        }
    )
    current = make_report(
        {
            "docker": Status.passed,
            "dvc": Status.passed,
            "ci-lint": Status.warn,
            "tests": Status.passed,
            "api": Status.skip,
        }
    )
    changes = changes_since(previous, current)
    assert [c.title for c in changes.fixed] == ["Dockerfiles", "DVC"]
    assert [(c.id, c.before, c.after) for c in changes.new_problems] == [
        ("ci-lint", Status.passed, Status.warn)
    ]
    assert (changes.fixed_count, changes.new_count) == (2, 1)
    assert changes_markdown(changes, "a1b2c3d4e5f6a7b8c9d0" * 2) == (
        "**Since a1b2c3d:** 2 fixed, 1 new problem.\n"
        "\n"
        "- Fixed: Dockerfiles, DVC. Nice work!\n"
        "- New: CI lint step (see below for what to do)."
    )


def test_changes_none_only_new_or_only_fixed() -> None:
    same = make_report({"docker": Status.warn, "dvc": Status.passed})
    unchanged = changes_since(same, same)
    assert not unchanged.changed
    assert changes_markdown(unchanged, "0123456789abcdef") == (
        "**Since 0123456:** no change in the checked practices."
    )
    worse = make_report({"docker": Status.fail, "dvc": Status.error})
    both_new = changes_since(make_report({"docker": Status.passed, "dvc": Status.passed}), worse)
    # An error is our bug, not the group's problem.
    assert [c.id for c in both_new.new_problems] == ["docker"]
    assert changes_markdown(both_new, "f" * 40).startswith("**Since fffffff:** 1 new problem.")
    two_new = changes_since(
        make_report({"docker": Status.passed, "dvc": Status.passed}),
        make_report({"docker": Status.warn, "dvc": Status.fail}),
    )
    assert "2 new problems." in changes_markdown(two_new, "f" * 40)
    fixed = changes_since(make_report({"api": Status.skip}), make_report({"api": Status.passed}))
    text = changes_markdown(fixed, "abc")
    assert text == "**Since abc:** 1 fixed.\n\n- Fixed: API. Nice work!"


def test_changes_ignore_criteria_the_profile_added_or_dropped() -> None:
    previous = make_report({"docker": Status.passed, "dvc": Status.warn})
    current = make_report({"docker": Status.passed, "tests": Status.fail})
    # A warning that became a failure (the deadline made it required) is not a change
    # the group made either, and passing → skipped is not a new problem.
    assert changes_since(previous, current) == Changes()
    assert not changes_since(
        make_report({"docker": Status.warn, "api": Status.passed}),
        make_report({"docker": Status.fail, "api": Status.skip}),
    ).changed


def test_changes_from_stored_reports(store: Store, clock: Clock) -> None:
    evaluate_and_finish(
        store, SHA_A, "main", make_report({"docker": Status.warn, "dvc": Status.passed})
    )
    clock.advance(minutes=3)
    current = make_report({"docker": Status.passed, "dvc": Status.passed})
    previous = store.last_evaluation(REPO.full_name, "main", before_sha=SHA_B)
    assert previous is not None and previous.report is not None
    changes = changes_since(previous.report, current)
    assert changes_markdown(changes, previous.sha).startswith("**Since aaaaaaa:** 1 fixed.")


# --- Jobs: accepted once, taken up once, recovered when a worker dies -------------------------


def accept(store: Store, delivery: str, sha: str = SHA_A, **extra: Any) -> Any:
    values: dict[str, Any] = {
        "delivery_id": delivery,
        "event_name": "push",
        "installation_id": 1,
        "repository": REPO,
        "sha": sha,
        "branch": "main",
        "trigger": "push",
        "pusher": "alice",
        "commits": [PushedCommit(sha=sha, author_login="alice", message_length=12)],
        "dedupe_seconds": 3600,
        "lease_seconds": 60,
    }
    return store.accept_job(**{**values, **extra})


def test_accepting_a_job_is_one_transaction_and_idempotent(store: Store, clock: Clock) -> None:
    first = accept(store, "d-1")
    assert (first.outcome, first.evaluation_id) == ("queued", 1)
    assert accept(store, "d-1").outcome == "duplicate_delivery"
    # The same commit on another branch within the window: its commits are still kept.
    assert accept(store, "d-2", branch="feature").outcome == "duplicate_commit"
    assert len(store.commits_for(REPO.full_name)) == 2
    # A re-run is never a duplicate; after the window the commit is evaluated again.
    assert accept(store, "d-3", trigger="rerequested").outcome == "queued"
    clock.advance(hours=2)
    assert accept(store, "d-4").outcome == "queued"
    [evaluation] = [e for e in store.evaluations_for(REPO.full_name) if e.delivery_id == "d-1"]
    assert (evaluation.status, evaluation.trigger, evaluation.attempts) == (
        EvaluationStatus.queued,
        "push",
        0,
    )
    assert evaluation.pusher_login == "alice"


def test_accepted_pushes_keep_the_repository_current_and_say_what_each_delivery_led_to(
    store: Store,
) -> None:
    accept(store, "d-1")
    # A payload without a default branch (a re-run's) does not erase the known one; a
    # rename is followed, since the repository's id is the key.
    renamed = RepositoryInfo(id=REPO.id, full_name="dtu-group-7/renamed", default_branch=None)
    assert accept(store, "d-2", sha=SHA_B, repository=renamed).outcome == "queued"
    assert accept(store, "d-3", branch="feature", repository=renamed).outcome == "duplicate_commit"
    claimed = store.claim_evaluation(2, 0, lease_seconds=60)
    assert claimed is not None
    assert (claimed.repository, claimed.default_branch) == ("dtu-group-7/renamed", "main")
    with store.engine.connect() as conn:
        outcomes = conn.execute(text("SELECT delivery_id, outcome FROM deliveries")).all()
    assert sorted(map(tuple, outcomes)) == [
        ("d-1", "queued"),
        ("d-2", "queued"),
        ("d-3", "duplicate_commit"),
    ]


def test_a_removed_installation_accepts_nothing(store: Store) -> None:
    store.remove_installation(1)
    with pytest.raises(InstallationRemoved):
        accept(store, "d-1")
    # Nothing was kept, not even the delivery: the whole transaction rolled back.
    assert store.claim_delivery("d-1", "push") is True


def test_an_evaluation_is_taken_up_once_per_attempt(store: Store) -> None:
    evaluation_id = accept(store, "d-1").evaluation_id
    claimed = store.claim_evaluation(evaluation_id, 0, lease_seconds=60)
    assert claimed is not None
    assert (claimed.attempts, claimed.repository, claimed.default_branch) == (
        1,
        REPO.full_name,
        "main",
    )
    assert (claimed.sha, claimed.branch, claimed.delivery_id) == (SHA_A, "main", "d-1")
    # A second task for the same attempt finds it taken; the next attempt's task may run.
    assert store.claim_evaluation(evaluation_id, 0, lease_seconds=60) is None
    assert store.claim_evaluation(evaluation_id, 1, lease_seconds=60) is not None
    # Only the attempt running it (the second) may say which run is the evaluation's.
    assert (store.holds(evaluation_id, 1), store.holds(evaluation_id, 2)) == (False, True)
    assert not store.record_check_run(evaluation_id, 1, 444)
    assert store.record_check_run(evaluation_id, 2, 555)
    assert store.claim_evaluation(evaluation_id, 2, 60).check_run_id == 555  # type: ignore[union-attr]
    store.mark_evaluation(evaluation_id, EvaluationStatus.failed, error="gave up")
    # An ended evaluation is never taken up again.
    assert store.claim_evaluation(evaluation_id, 3, lease_seconds=60) is None
    assert store.claim_evaluation(999, 0, lease_seconds=60) is None


def test_leases_are_renewed_while_held_and_swept_when_they_run_out(
    store: Store, clock: Clock
) -> None:
    running = accept(store, "d-1").evaluation_id
    waiting = accept(store, "d-2", sha=SHA_B).evaluation_id
    store.claim_evaluation(running, 0, lease_seconds=60)
    assert store.stale_evaluations() == []
    clock.advance(seconds=50)
    assert store.renew_leases({running: 1}, lease_seconds=60) == set()
    clock.advance(seconds=50)
    # The running one was renewed; the waiting one's lease ran out.
    assert store.stale_evaluations() == [(waiting, 0)]
    clock.advance(seconds=20)
    assert store.stale_evaluations() == [(running, 1), (waiting, 0)]
    # Two sweepers: only one wins each evaluation.
    assert store.requeue(running, 1, lease_seconds=60)
    assert not store.requeue(running, 1, lease_seconds=60)
    assert store.stale_evaluations() == [(waiting, 0)]
    # The dead worker's renewal is refused once another attempt took over.
    store.claim_evaluation(running, 1, lease_seconds=60)
    assert store.renew_leases({running: 1}, lease_seconds=60) == {running}
    # A postponed retry is left alone until its time.
    assert store.postpone(running, 2, clock.now + timedelta(minutes=10))
    clock.advance(minutes=5)
    assert (running, 2) not in store.stale_evaluations()
    assert store.unfinished_count() == 2


def test_a_newer_push_to_the_same_branch_is_found(store: Store) -> None:
    old = accept(store, "d-1").evaluation_id
    assert store.newer_push(old) is None
    accept(store, "d-2", sha=SHA_B, branch="other")
    accept(store, "d-3", sha=SHA_A, trigger="rerequested")
    assert store.newer_push(old) is None
    accept(store, "d-4", sha=SHA_B)
    accept(store, "d-5", sha=SHA_C)
    assert store.newer_push(old) == SHA_C


def test_a_late_delivery_of_an_older_push_supersedes_nothing(store: Store) -> None:
    # GitHub delivered the newer push first; the older one's delivery came after it.
    newest = accept(store, "d-1", sha=SHA_B, pushed_at=T0).evaluation_id
    older = accept(store, "d-2", sha=SHA_C, pushed_at=T0 - timedelta(minutes=5)).evaluation_id
    assert store.newer_push(newest) is None
    assert store.newer_push(older) == SHA_B


def test_repositories_of_an_installation_are_recorded_and_purged(store: Store) -> None:
    store.record_repositories(1, [REPO, OTHER_REPO])
    accept(store, "d-1")
    accept(store, "d-2", repository=OTHER_REPO)
    purged = store.remove_repositories(1, [REPO.id])
    assert (purged.repositories, purged.evaluations, purged.commits) == (1, 1, 1)
    assert store.evaluations_for(REPO.full_name) == []
    assert len(store.evaluations_for(OTHER_REPO.full_name)) == 1
    assert store.remove_repositories(1, []).total == 0
