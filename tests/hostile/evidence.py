"""What a run left behind, for asserting that a refused delivery left nothing and that no
secret reached any output: every row of every table of the store, the queue, the fake
GitHub's calls."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from sqlalchemy import inspect, text

from github_app.web import EXTENSION
from tests.github.fake_github import FakeGitHub
from tests.github.github_helpers import queue_of

# Bookkeeping that exists before any delivery arrives.
SCHEMA_TABLES = {"schema_version"}


def table_rows(app: Flask) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the app's store, by table name."""
    engine = app.extensions[EXTENSION].store.engine
    with engine.connect() as conn:
        return {
            table: [dict(row._mapping) for row in conn.execute(text(f'SELECT * FROM "{table}"'))]
            for table in inspect(engine).get_table_names()
        }


def recorded_rows(app: Flask) -> dict[str, int]:
    """Tables of the store that hold rows, with their counts (schema bookkeeping aside)."""
    return {
        table: len(rows)
        for table, rows in table_rows(app).items()
        if rows and table not in SCHEMA_TABLES
    }


def assert_left_nothing(app: Flask, fake: FakeGitHub) -> None:
    """No job queued, no row stored, no request made to GitHub."""
    assert queue_of(app).pending == 0
    assert recorded_rows(app) == {}
    assert fake.calls == []
    assert fake.check_runs == {}


def everything_github_received(fake: FakeGitHub) -> str:
    """Every request the fake GitHub received (path, query, headers, body) as one text."""
    return "\n".join(
        json.dumps([c.method, c.path, c.query, c.headers, c.json], default=str) for c in fake.calls
    )
