"""Pictures drawn on the server: a score line chart and a day × hour activity heatmap.

Pure functions from data to coordinates; the templates turn them into inline SVG, so the
pages need no JavaScript and every label is escaped by Jinja like any other text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from github_app.store.queries import ScorePoint

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HOURS = 24
# Heatmap shades: 0 (no commit) then four steps up to the busiest hour.
LEVELS = 4


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    evaluation_id: int
    label: str
    on_line: bool


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    path: str
    dots: list[Dot]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    line_label: str


def score_chart(
    points: Sequence[ScorePoint], zone: tzinfo, *, width: int = 760, height: int = 240
) -> LineChart | None:
    """Score (0–100 %) over time. The line follows the default branch (every branch when it
    has no evaluation); evaluations of other branches are hollow dots."""
    if not points:
        return None
    left, right, top, bottom = 48, width - 16, 16, height - 32
    on_default = [p for p in points if p.on_default_branch]
    line = on_default or list(points)
    start, end = points[0].at.timestamp(), points[-1].at.timestamp()
    span = end - start

    def x(at: datetime) -> float:
        if span <= 0:
            return (left + right) / 2
        return round(left + (at.timestamp() - start) / span * (right - left), 1)

    def y(score: float) -> float:
        return round(bottom - score * (bottom - top), 1)

    line_ids = {p.evaluation_id for p in line}
    dots = [
        Dot(
            x=x(p.at),
            y=y(p.score),
            evaluation_id=p.evaluation_id,
            label=f"{p.at.astimezone(zone):%a %d %b %H:%M} · {p.branch or '?'} · "
            f"{round(p.score * 100)} %",
            on_line=p.evaluation_id in line_ids,
        )
        for p in points
    ]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(p.at)},{y(p.score)}" for i, p in enumerate(line))
    count = min(5, len({p.at.astimezone(zone).date() for p in points}))
    x_ticks = []
    if span > 0 and count > 1:
        for i in range(count):
            moment = start + span * i / (count - 1)
            local = datetime.fromtimestamp(moment, zone)
            x_ticks.append(
                Tick(round(left + (moment - start) / span * (right - left), 1), f"{local:%d %b}")
            )
    else:
        x_ticks.append(Tick(x(points[0].at), f"{points[0].at.astimezone(zone):%d %b}"))
    return LineChart(
        width=width,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        path=path,
        dots=dots,
        y_ticks=[Tick(y(v / 100), f"{v} %") for v in (0, 25, 50, 75, 100)],
        x_ticks=x_ticks,
        line_label="default branch" if on_default else "all branches",
    )


@dataclass(frozen=True)
class HeatCell:
    day: int
    hour: int
    count: int
    level: int


@dataclass(frozen=True)
class Heatmap:
    rows: list[list[HeatCell]]
    total: int
    busiest: int
    # The commit counts each shade stands for, for the legend: (level, "1–2").
    legend: list[tuple[int, str]]
    timezone: str


def heatmap(times: Sequence[datetime], zone: tzinfo) -> Heatmap:
    """Commits per weekday × hour in the course's time zone; shades are relative to the
    busiest hour, so a group that works in one evening burst shows as one dark spot."""
    counts = [[0] * HOURS for _ in DAYS]
    for moment in times:
        local = moment.astimezone(zone)
        counts[local.weekday()][local.hour] += 1
    busiest = max((max(row) for row in counts), default=0)

    def level(count: int) -> int:
        # Integer ceiling: the legend's ranges below are computed the same way.
        return 0 if count == 0 else -(-count * LEVELS // busiest)

    rows = [
        [HeatCell(day, hour, count, level(count)) for hour, count in enumerate(row)]
        for day, row in enumerate(counts)
    ]
    legend = [(0, "0")]
    for step in range(1, LEVELS + 1):
        low = busiest * (step - 1) // LEVELS + 1
        high = busiest * step // LEVELS
        if busiest and low <= high:
            legend.append((step, str(low) if low == high else f"{low}–{high}"))
    return Heatmap(rows=rows, total=len(times), busiest=busiest, legend=legend, timezone=str(zone))
