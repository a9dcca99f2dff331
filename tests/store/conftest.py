"""Fixtures of the store's tests: a fresh database of each kind the machine has."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from github_app.store import Store, database_url

PG_URL = os.environ.get("DATABASE_URL", "").strip()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file in tmp_path, or a PostgreSQL schema of its own
    (created and dropped here, so an existing database's tables are never touched)."""
    if request.param == "sqlite":
        yield database_url(tmp_path / "data")
        return
    if not PG_URL:
        pytest.skip("PostgreSQL tests need DATABASE_URL (e.g. postgresql://user@host/db)")
    schema = f"mlops_mentor_test_{uuid.uuid4().hex[:12]}"
    admin = Store(PG_URL).engine
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            admin.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False
            )
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
