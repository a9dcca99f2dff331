"""Shared fixtures: repositories built in tmp_path, running one criterion on them, and a
PostgreSQL schema of a test's own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from checks import CriterionResult, Profile, Report, evaluate, load_profile
from checks.registry import all_criteria
from github_app.store import Store

# The fake GitHub and the app's fixtures, shared by the app, durability and review tests;
# the app as real processes, shared by the durability and load tests.
pytest_plugins = ["tests.github.fixtures", "tests.durability.processes"]

RepoFiles = Mapping[str, str | bytes]


def write_files(root: Path, files: RepoFiles) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[RepoFiles], Path]:
    """Build a repository from {relative path: text or bytes} in a fresh folder."""
    counter = iter(range(1_000_000))

    def make(files: RepoFiles) -> Path:
        root = tmp_path / f"repo{next(counter)}"
        root.mkdir()
        return write_files(root, files)

    return make


def profile_with(
    ids: Iterable[str], thresholds: Mapping[str, Mapping[str, Any]] | None = None
) -> Profile:
    """The default profile narrowed to `ids` and what they require."""
    catalog = all_criteria()
    wanted: list[str] = []
    pending = list(ids)
    while pending:
        cid = pending.pop()
        if cid not in wanted:
            wanted.append(cid)
            pending.extend(catalog[cid].requires)
    profile = load_profile()
    criteria = dict(profile.criteria)
    for cid, values in (thresholds or {}).items():
        settings = criteria.get(cid) or profile.settings(cid)
        criteria[cid] = settings.model_copy(
            update={"thresholds": {**settings.thresholds, **values}}
        )
    return profile.model_copy(update={"select": wanted, "criteria": criteria})


@pytest.fixture
def run_criterion(
    make_repo: Callable[[RepoFiles], Path],
) -> Callable[..., CriterionResult]:
    """Evaluate one criterion (plus what it requires) on a repository built from `files`."""

    def run(
        criterion_id: str,
        files: RepoFiles | Path,
        *,
        thresholds: Mapping[str, Any] | None = None,
        also: Iterable[str] = (),
    ) -> CriterionResult:
        root = files if isinstance(files, Path) else make_repo(files)
        profile = profile_with(
            [criterion_id, *also], {criterion_id: thresholds} if thresholds else None
        )
        report: Report = evaluate(root, profile)
        return report.result(criterion_id)

    return run


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL schema of this test's own in the database at DATABASE_URL (dropped
    afterwards); skipped without DATABASE_URL."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        pytest.skip("PostgreSQL tests need DATABASE_URL (e.g. postgresql://user@host/db)")
    schema = f"mlops_mentor_test_{uuid.uuid4().hex[:12]}"
    admin = Store(url).engine
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        options = {"options": f"-csearch_path={schema}"}
        yield admin.url.update_query_dict(options).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
