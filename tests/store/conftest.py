"""Fixtures of the store's tests: a fresh database of each kind the machine has."""

from __future__ import annotations

from pathlib import Path

import pytest

from github_app.store import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file in tmp_path, or a PostgreSQL schema of its own
    (`postgres_url`: created and dropped, so an existing database's tables are never
    touched)."""
    if request.param == "sqlite":
        return database_url(tmp_path / "data")
    return request.getfixturevalue("postgres_url")
