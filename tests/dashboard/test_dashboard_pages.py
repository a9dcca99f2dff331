"""The pages and exports on a real SQLite store holding real reports: the overview matrix,
a group's history, contributors and activity, a run's full report, and the exports
parsing back to the store's numbers. Student-controlled text is always escaped."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from github_app.dashboard.charts import heatmap, score_chart
from github_app.dashboard.exports import EVALUATION_COLUMNS, OVERVIEW_COLUMNS, RESULT_COLUMNS
from github_app.store import PushedCommit, Store, database_url
from github_app.store.queries import ScorePoint, group, overview
from tests.dashboard.conftest import EVIL, GROUP_7, GROUP_9, QUIET, SOLO, Seeded


def rows_of(html: str) -> list[str]:
    """The repository of each overview row, top to bottom."""
    return re.findall(r'<tr data-repository="([^"]+)"', html)


def test_the_overview_shows_each_groups_latest_default_branch_evaluation(
    admin: FlaskClient, seeded: Seeded
) -> None:
    html = admin.get("/dashboard/").get_data(as_text=True)
    assert rows_of(html) == [QUIET.full_name, GROUP_7.full_name, GROUP_9.full_name, SOLO.full_name]
    rich = seeded.reports["rich"]
    # Group 7's latest completed main evaluation, not the newer queued one nor the branch.
    assert f'href="/dashboard/runs/{seeded.ids["g7-latest"]}"' in html
    assert f"{rich.passed}/{rich.total}" in html
    # One status cell per criterion per group, the criteria being those of the reports.
    criteria = {r.id for r in rich.results}
    assert html.count('<th class="crit"') == len(criteria)
    assert html.count('class="st st-') >= 4 * len(criteria)
    # A group with nothing evaluated still shows, honestly.
    assert "not evaluated" in html
    # The solo student's one-person history is flagged in the authors column.
    solo_row = html.split(f'data-repository="{SOLO.full_name}"', 1)[1].split("</tr>", 1)[0]
    assert "lopsided" in solo_row and "1 · 100 %" in solo_row


def test_a_group_without_a_default_branch_evaluation_falls_back_to_its_latest(
    seeded: Seeded,
) -> None:
    by_name = {g.repository: g for g in overview(seeded.store).groups}
    solo = by_name[SOLO.full_name]
    assert solo.latest is not None and solo.latest.branch == "dev"
    assert solo.latest.id == seeded.ids["solo"]
    assert by_name[GROUP_7.full_name].latest.id == seeded.ids["g7-latest"]
    assert by_name[QUIET.full_name].latest is None
    # A group's page headlines the same run as the overview.
    for repo in (SOLO, GROUP_7, GROUP_9):
        detail = group(seeded.store, repo.id)
        assert detail is not None and detail.latest == by_name[repo.full_name].latest
    # Five distinct commits by three authors: the branch copy of one commit counts once.
    assert by_name[GROUP_7.full_name].commits == 5
    assert by_name[GROUP_7.full_name].authors == 3
    assert by_name[GROUP_7.full_name].top_author_share == 0.6


def test_the_overview_sorts_by_score_and_by_last_push(admin: FlaskClient, seeded: Seeded) -> None:
    by_score = rows_of(admin.get("/dashboard/?sort=score").get_data(as_text=True))
    # 1/3, then 8/34 twice (ties by name), then the group never evaluated, in either order.
    assert by_score == [GROUP_9.full_name, GROUP_7.full_name, SOLO.full_name, QUIET.full_name]
    ascending = rows_of(admin.get("/dashboard/?sort=score&order=asc").get_data(as_text=True))
    assert ascending == [GROUP_7.full_name, SOLO.full_name, GROUP_9.full_name, QUIET.full_name]
    by_push = rows_of(admin.get("/dashboard/?sort=push").get_data(as_text=True))
    assert by_push[0] == GROUP_7.full_name  # pushed last (day 3)
    by_name = rows_of(admin.get("/dashboard/?sort=group&order=desc").get_data(as_text=True))
    assert by_name == sorted(by_name, key=str.lower, reverse=True)
    # An unknown sort falls back to the group name.
    assert rows_of(admin.get("/dashboard/?sort=drop+table").get_data(as_text=True))[0] == (
        QUIET.full_name
    )


def test_the_group_page_shows_history_contributors_and_activity(
    admin: FlaskClient, seeded: Seeded
) -> None:
    response = admin.get(f"/dashboard/groups/{GROUP_7.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Score over time: one dot per completed evaluation; the line follows main.
    chart = html.split('id="score-chart"', 1)[1].split("</svg>", 1)[0]
    assert chart.count("<circle") == 3 and chart.count('class="dot other"') == 1
    # Criteria history: three completed evaluations, linked to their reports.
    history = html.split('id="history"', 1)[1].split("</table>", 1)[0]
    for name in ("g7-first", "g7-feature", "g7-latest"):
        assert f'/dashboard/runs/{seeded.ids[name]}"' in history
    # Contributors, most commits first, the hostile name escaped.
    contributors = html.split('id="contributors"', 1)[1].split("</table>", 1)[0]
    assert contributors.index("@alice") < contributors.index("@bob")
    assert "&lt;script&gt;" in contributors and EVIL not in html
    # Heatmap: 7 × 24 cells; Monday 10:00 Copenhagen has alice's three commits, Tuesday
    # 22:00 bob's and the nameless author's.
    cells = re.findall(r'<rect class="cell l(\d)" data-count="(\d+)"', html)
    assert len(cells) == 7 * 24
    counts = [int(count) for _level, count in cells]
    assert counts[0 * 24 + 10] == 3 and counts[1 * 24 + 22] == 2 and sum(counts) == 5
    assert 'id="heat-legend"' in html and "Europe/Copenhagen" in html
    # Evaluations with links to the check runs on GitHub (none for a run never posted).
    assert "https://github.com/dtu-group-7/mlops-project/runs/9003" in html
    assert "https://github.com/dtu-group-7/mlops-project/runs/9001" in html
    assert "queued" in html
    # The headline names its run: the latest on main, not the newer queued one.
    latest = seeded.ids["g7-latest"]
    assert f'id="latest-run" href="/dashboard/runs/{latest}">main @ {"c" * 7}, ' in html


def test_the_run_page_shows_the_full_report_escaped(admin: FlaskClient, seeded: Seeded) -> None:
    html = admin.get(f"/dashboard/runs/{seeded.ids['g9']}").get_data(as_text=True)
    assert EVIL not in html
    assert html.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") >= 4
    assert 'id="criterion-ci"' in html and "st st-fail" in html
    # Annotations link to the exact lines of the evaluated commit.
    assert "https://github.com/dtu-group-9/mlops/blob/" + "f" * 40 + "/src/pkg/train.py#L3" in html
    # A stored docs link that is not http(s) never becomes a link.
    assert "javascript:" not in html
    assert "https://github.com/dtu-group-9/mlops/runs/9100" in html

    real = admin.get(f"/dashboard/runs/{seeded.ids['g7-latest']}").get_data(as_text=True)
    rich = seeded.reports["rich"]
    assert real.count('class="criterion"') == len(rich.results)
    assert f"{rich.passed}/{rich.total}" in real

    queued = admin.get(f"/dashboard/runs/{seeded.ids['g7-queued']}").get_data(as_text=True)
    assert "no report yet" in queued


def test_unknown_ids_are_404_pages(admin: FlaskClient) -> None:
    for path in ("/dashboard/groups/999", "/dashboard/runs/999"):
        response = admin.get(path)
        assert response.status_code == 404
        assert "Not found" in response.get_data(as_text=True)


def test_the_overview_exports_parse_back_to_the_stores_numbers(
    admin: FlaskClient, seeded: Seeded
) -> None:
    view = overview(seeded.store)
    response = admin.get("/dashboard/export.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    header = list(rows[0])
    assert header[: len(OVERVIEW_COLUMNS)] == list(OVERVIEW_COLUMNS)
    assert header[len(OVERVIEW_COLUMNS) :] == [f"criterion:{c.id}" for c in view.criteria]
    by_repo = {row["repository"]: row for row in rows}
    g7 = by_repo[GROUP_7.full_name]
    rich = seeded.reports["rich"]
    assert (int(g7["passed"]), int(g7["total"])) == (rich.passed, rich.total)
    assert float(g7["score"]) == round(rich.passed / rich.total, 4)
    assert int(g7["evaluation_id"]) == seeded.ids["g7-latest"]
    assert (int(g7["commits"]), int(g7["authors"]), float(g7["top_author_share"])) == (5, 3, 0.6)
    for result in rich.results:
        assert g7[f"criterion:{result.id}"] == result.status.value
    assert by_repo[QUIET.full_name]["evaluation_id"] == ""

    data = admin.get("/dashboard/export.json").get_json()
    assert data["schema"] == "mlops-mentor/overview/1"
    assert [c["id"] for c in data["criteria"]] == [c.id for c in view.criteria]
    groups = {g["repository"]: g for g in data["groups"]}
    assert groups[GROUP_7.full_name]["passed"] == rich.passed
    assert groups[GROUP_7.full_name]["criteria"] == {r.id: r.status.value for r in rich.results}
    assert groups[GROUP_9.full_name]["criteria"] == {
        "ci": "fail",
        "layout": "pass",
        "docker": "warn",
    }
    assert groups[SOLO.full_name]["branch"] == "dev"
    assert datetime.fromisoformat(groups[GROUP_7.full_name]["evaluated_at"]).tzinfo is not None


def test_the_evaluation_exports_hold_every_evaluation(admin: FlaskClient, seeded: Seeded) -> None:
    rows = list(
        csv.DictReader(io.StringIO(admin.get("/dashboard/export.csv?scope=evaluations").text))
    )
    assert list(rows[0]) == list(EVALUATION_COLUMNS)
    assert sorted(int(r["evaluation_id"]) for r in rows) == sorted(seeded.ids.values())
    g7 = {int(r["evaluation_id"]): r for r in rows}[seeded.ids["g7-first"]]
    bare = seeded.reports["bare"]
    assert (int(g7["passed"]), int(g7["total"])) == (bare.passed, bare.total)
    assert g7["check_run_url"] == "https://github.com/dtu-group-7/mlops-project/runs/9001"
    assert g7["pusher_login"] == "alice" and g7["status"] == "completed"

    data = admin.get("/dashboard/export.json?scope=evaluations").get_json()
    assert data["schema"] == "mlops-mentor/evaluations/1"
    by_id = {e["evaluation_id"]: e for e in data["evaluations"]}
    assert by_id[seeded.ids["g7-first"]]["criteria"] == {r.id: r.status.value for r in bare.results}
    assert by_id[seeded.ids["g7-queued"]]["status"] == "queued"
    assert by_id[seeded.ids["g7-queued"]]["criteria"] == {}

    results = list(
        csv.DictReader(io.StringIO(admin.get("/dashboard/export.csv?scope=results").text))
    )
    assert list(results[0]) == list(RESULT_COLUMNS)
    mine = [r for r in results if int(r["evaluation_id"]) == seeded.ids["g9"]]
    assert {r["criterion"]: r["status"] for r in mine} == {
        "ci": "fail",
        "layout": "pass",
        "docker": "warn",
    }
    assert admin.get("/dashboard/export.csv?scope=secrets").status_code == 400


def test_csv_cells_never_start_a_spreadsheet_formula(admin: FlaskClient, seeded: Seeded) -> None:
    seeded.store.record_push(1, GROUP_9, "=HYPERLINK(1)", "-mallory", [])
    evaluation = seeded.store.start_evaluation(1, GROUP_9, "0" * 40, "=cmd|'/c calc'!A0")
    try:
        rows = list(
            csv.DictReader(io.StringIO(admin.get("/dashboard/export.csv?scope=evaluations").text))
        )
        row = next(r for r in rows if int(r["evaluation_id"]) == evaluation)
        assert row["branch"] == "'=cmd|'/c calc'!A0"
    finally:
        # The shared store goes back to what the other tests expect.
        from sqlalchemy import delete

        from github_app.store.models import Evaluation

        with seeded.store.engine.begin() as conn:
            conn.execute(delete(Evaluation).where(Evaluation.id == evaluation))


# --- Charts as data ----------------------------------------------------------------------


def test_the_heatmap_counts_in_local_time_and_its_legend_covers_the_range() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Copenhagen")
    # Sunday 23:30 UTC is Monday 00:30 in Copenhagen (winter time).
    times = [datetime(2026, 1, 11, 23, 30, tzinfo=UTC)] * 7 + [datetime(2026, 1, 14, 8, tzinfo=UTC)]
    heat = heatmap(times, zone)
    assert heat.rows[0][0].count == 7 and heat.rows[0][0].level == 4
    assert heat.rows[2][9].count == 1 and heat.rows[2][9].level == 1
    assert heat.legend == [(0, "0"), (1, "1"), (2, "2–3"), (3, "4–5"), (4, "6–7")]
    empty = heatmap([], zone)
    assert empty.total == 0 and empty.legend == [(0, "0")]
    assert all(cell.level == 0 for row in empty.rows for cell in row)


def test_the_score_chart_scales_time_and_score() -> None:
    from zoneinfo import ZoneInfo

    points = [
        ScorePoint(
            evaluation_id=1,
            at=datetime(2026, 1, 5, tzinfo=UTC),
            score=0.0,
            branch="main",
            on_default_branch=True,
        ),
        ScorePoint(
            evaluation_id=2,
            at=datetime(2026, 1, 6, tzinfo=UTC),
            score=0.5,
            branch="x",
            on_default_branch=False,
        ),
        ScorePoint(
            evaluation_id=3,
            at=datetime(2026, 1, 7, tzinfo=UTC),
            score=1.0,
            branch="main",
            on_default_branch=True,
        ),
    ]
    chart = score_chart(points, ZoneInfo("UTC"))
    assert chart is not None
    first, middle, last = chart.dots
    assert (first.x, first.y) == (chart.left, chart.bottom)
    assert (last.x, last.y) == (chart.right, chart.top)
    assert middle.x == (chart.left + chart.right) / 2 and not middle.on_line
    assert chart.path == f"M{chart.left:.1f},{chart.bottom:.1f} L{chart.right:.1f},{chart.top:.1f}"
    assert score_chart([], ZoneInfo("UTC")) is None
    single = score_chart(points[:1], ZoneInfo("UTC"))
    assert single is not None and single.dots[0].x == (single.left + single.right) / 2


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty, migrated store of the test's own, for what the seeded one cannot show."""
    store = Store(database_url(tmp_path / "own"))
    store.migrate()
    yield store
    store.close()


def test_the_latest_run_is_of_the_commit_pushed_last(store: Store, seeded: Seeded) -> None:
    report = seeded.reports["rich"]
    # GitHub delivered the push to `dev` (made second) before the one to `feature`.
    for sha, branch, minute in (("2" * 40, "dev", 20), ("1" * 40, "feature", 10)):
        pushed = datetime(2026, 1, 12, 9, minute, tzinfo=UTC)
        evaluation = store.start_evaluation(1, SOLO, sha, branch, pushed_at=pushed)
        store.finish_evaluation(evaluation, report, None, duration_ms=1.0)
    [row] = overview(store).groups
    assert row.latest is not None and row.latest.branch == "dev"
    detail = group(store, SOLO.id)
    assert detail is not None and detail.latest == row.latest


def test_a_commit_merged_onto_the_default_branch_is_its_latest_run(
    store: Store, seeded: Seeded
) -> None:
    report = seeded.reports["rich"]
    for sha, branch, minute in (("1" * 40, "main", 10), ("2" * 40, "feature", 20)):
        pushed = datetime(2026, 1, 12, 9, minute, tzinfo=UTC)
        evaluation = store.start_evaluation(1, GROUP_9, sha, branch, pushed_at=pushed)
        store.finish_evaluation(evaluation, report, None, duration_ms=1.0)
    [row] = overview(store).groups
    assert row.latest is not None and row.latest.branch == "main"
    # Fast-forwarded onto main: the same commit, so no new evaluation, but main's state.
    store.record_push(1, GROUP_9, "main", "carol", [PushedCommit(sha="2" * 40)])
    [row] = overview(store).groups
    assert row.latest is not None and row.latest.sha == "2" * 40


def test_queries_on_an_empty_store(store: Store) -> None:
    assert overview(store).groups == [] and overview(store).criteria == []
    assert group(store, 1) is None
