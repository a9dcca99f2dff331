"""The dashboard's exports: the overview and every evaluation, as CSV or JSON.

The schemas are stable (documented in the README; a change bumps the `schema` name):
fixed columns first, then, in the overview CSV only, one `criterion:<id>` column per
criterion of the latest evaluations. Times are ISO 8601 in UTC. Evaluations are streamed,
so a year of history exports without holding it in memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from github_app.store import Store
from github_app.store.queries import EvaluationRow, ExportRow, GroupRow, export_rows, overview

SCOPES = ("overview", "evaluations", "results")
SCHEMAS = {scope: f"mlops-mentor/{scope}/1" for scope in SCOPES}
OVERVIEW_COLUMNS = (
    "repository_id",
    "repository",
    "default_branch",
    "evaluation_id",
    "branch",
    "sha",
    "evaluated_at",
    "conclusion",
    "passed",
    "total",
    "score",
    "last_push_at",
    "commits",
    "authors",
    "top_author_share",
    "check_run_url",
)
EVALUATION_COLUMNS = (
    "evaluation_id",
    "repository_id",
    "repository",
    "sha",
    "branch",
    "status",
    "conclusion",
    "passed",
    "total",
    "score",
    "pushed_at",
    "pusher_login",
    "created_at",
    "finished_at",
    "duration_ms",
    "check_run_id",
    "check_run_url",
)
RESULT_COLUMNS = (
    "evaluation_id",
    "repository",
    "sha",
    "branch",
    "created_at",
    "criterion",
    "status",
)
# Spreadsheets run a cell starting with these as a formula: student-chosen names must not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

RunUrl = Callable[[str, int | None], str | None]


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _score(passed: int | None, total: int | None) -> float | None:
    return round(passed / total, 4) if passed is not None and total else None


def overview_records(store: Store, run_url: RunUrl) -> tuple[list[dict[str, Any]], list[str]]:
    """The overview as plain records (with a `criteria` mapping), and the criterion ids."""
    view = overview(store)
    return [_group_record(g, run_url) for g in view.groups], [c.id for c in view.criteria]


def _group_record(group: GroupRow, run_url: RunUrl) -> dict[str, Any]:
    latest = group.latest
    return {
        "repository_id": group.repository_id,
        "repository": group.repository,
        "default_branch": group.default_branch,
        "evaluation_id": latest.id if latest else None,
        "branch": latest.branch if latest else None,
        "sha": latest.sha if latest else None,
        "evaluated_at": _time(latest.created_at) if latest else None,
        "conclusion": latest.conclusion if latest else None,
        "passed": latest.passed if latest else None,
        "total": latest.total if latest else None,
        "score": _score(latest.passed, latest.total) if latest else None,
        "last_push_at": _time(group.last_push_at),
        "commits": group.commits,
        "authors": group.authors,
        "top_author_share": (
            round(group.top_author_share, 4) if group.top_author_share is not None else None
        ),
        "check_run_url": run_url(group.repository, latest.check_run_id) if latest else None,
        "criteria": {cid: cell.status for cid, cell in group.cells.items()},
    }


def _evaluation_record(evaluation: EvaluationRow, run_url: RunUrl) -> dict[str, Any]:
    return {
        "evaluation_id": evaluation.id,
        "repository_id": evaluation.repository_id,
        "repository": evaluation.repository,
        "sha": evaluation.sha,
        "branch": evaluation.branch,
        "status": evaluation.status,
        "conclusion": evaluation.conclusion,
        "passed": evaluation.passed,
        "total": evaluation.total,
        "score": _score(evaluation.passed, evaluation.total),
        "pushed_at": _time(evaluation.pushed_at),
        "pusher_login": evaluation.pusher_login,
        "created_at": _time(evaluation.created_at),
        "finished_at": _time(evaluation.finished_at),
        "duration_ms": evaluation.duration_ms,
        "check_run_id": evaluation.check_run_id,
        "check_run_url": run_url(evaluation.repository, evaluation.check_run_id),
    }


def _result_records(rows: Iterable[ExportRow]) -> Iterator[dict[str, Any]]:
    for row in rows:
        e = row.evaluation
        for criterion, status in row.statuses.items():
            yield {
                "evaluation_id": e.id,
                "repository": e.repository,
                "sha": e.sha,
                "branch": e.branch,
                "created_at": _time(e.created_at),
                "criterion": criterion,
                "status": status,
            }


# --- CSV -----------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def _csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_export(store: Store, scope: str, run_url: RunUrl) -> Iterator[str]:
    if scope == "overview":
        records, criteria = overview_records(store, run_url)
        header = [*OVERVIEW_COLUMNS, *(f"criterion:{cid}" for cid in criteria)]
        return _csv_lines(
            header,
            (
                [*(r[c] for c in OVERVIEW_COLUMNS), *(r["criteria"].get(cid) for cid in criteria)]
                for r in records
            ),
        )
    if scope == "evaluations":
        records = (
            _evaluation_record(row.evaluation, run_url)
            for row in export_rows(store, with_statuses=False)
        )
        return _csv_lines(EVALUATION_COLUMNS, ([r[c] for c in EVALUATION_COLUMNS] for r in records))
    results = _result_records(export_rows(store, with_statuses=True))
    return _csv_lines(RESULT_COLUMNS, ([r[c] for c in RESULT_COLUMNS] for r in results))


# --- JSON ----------------------------------------------------------------------------------


def json_export(store: Store, scope: str, run_url: RunUrl) -> Iterator[str]:
    """One JSON object: `schema`, `generated_at`, then the scope's list (streamed)."""
    head = {"schema": SCHEMAS[scope], "generated_at": _time(datetime.now(UTC))}
    if scope == "overview":
        view = overview(store)
        head["criteria"] = [c.model_dump() for c in view.criteria]
        items: Iterable[dict[str, Any]] = [_group_record(g, run_url) for g in view.groups]
        key = "groups"
    elif scope == "evaluations":
        items = (
            {
                **_evaluation_record(row.evaluation, run_url),
                "criteria": row.statuses,
            }
            for row in export_rows(store, with_statuses=True)
        )
        key = "evaluations"
    else:
        items = _result_records(export_rows(store, with_statuses=True))
        key = "results"
    return _json_stream(head, key, items)


def _json_stream(head: dict[str, Any], key: str, items: Iterable[dict[str, Any]]) -> Iterator[str]:
    yield json.dumps(head, ensure_ascii=False)[:-1] + f', "{key}": ['
    for i, item in enumerate(items):
        yield ("" if i == 0 else ", ") + json.dumps(item, ensure_ascii=False)
    yield "]}"
