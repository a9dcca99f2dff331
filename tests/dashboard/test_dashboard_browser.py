"""The real pages in headless Chromium: the overview matrix and a group's heatmap render
(cells counted, known values read from the DOM), screenshots saved for a person to look
at (/tmp/dashboard-overview.png, /tmp/dashboard-group.png).

Skipped only where /usr/bin/chromium is missing outside CI; under CI=true it must run
(`.ci/run` installs Debian's `chromium` package).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.dashboard.browser import CHROMIUM, Chromium
from tests.dashboard.conftest import ADMIN_TOKEN, GROUP_7, Seeded
from tests.dashboard.fake_oauth import serve

if not Path(CHROMIUM).exists() and os.environ.get("CI", "").lower() != "true":
    pytest.skip(
        f"{CHROMIUM} is missing (apt-get install chromium); it is required under CI=true",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    with Chromium(tmp_path_factory.mktemp("chromium-profile")) as chromium:
        # The token travels as a header set through DevTools: never in a URL, no test route.
        chromium.headers({"Authorization": f"Bearer {ADMIN_TOKEN}"})
        yield chromium


@pytest.fixture
def base_url(make_app: Callable[..., Flask]) -> Iterator[str]:
    with serve(make_app()) as url:
        yield url


def test_the_overview_matrix_renders_in_chromium(
    browser: Chromium, base_url: str, seeded: Seeded
) -> None:
    browser.open(f"{base_url}/dashboard/")
    found = browser.evaluate(
        """({
          title: document.title,
          rows: [...document.querySelectorAll('#matrix tbody tr')].map(r => r.dataset.repository),
          criteria: document.querySelectorAll('#matrix th.crit').length,
          cells: document.querySelectorAll('#matrix tbody td.st').length,
          groups: document.getElementById('group-count').textContent,
          pass: getComputedStyle(document.querySelector('#matrix td.st-pass')).backgroundColor,
          styled: getComputedStyle(document.querySelector('.topbar')).display,
        })"""
    )
    criteria = len(seeded.reports["rich"].results)
    assert found["title"] == "Course overview · MLOps Mentor"
    assert len(found["rows"]) == 4 and GROUP_7.full_name in found["rows"]
    assert found["criteria"] == criteria
    assert found["cells"] == 4 * criteria
    assert found["groups"] == "4"
    # The stylesheet loaded under the page's CSP: pass cells are green, the bar is flex.
    assert found["pass"] == "rgb(210, 244, 220)"
    assert found["styled"] == "flex"
    browser.screenshot(Path("/tmp/dashboard-overview.png"))


def test_the_group_heatmap_renders_in_chromium(
    browser: Chromium, base_url: str, seeded: Seeded
) -> None:
    browser.open(f"{base_url}/dashboard/groups/{GROUP_7.id}")
    found = browser.evaluate(
        """({
          cells: document.querySelectorAll('#heatmap rect.cell').length,
          monday10: document.querySelectorAll('#heatmap rect.cell')[10].dataset.count,
          busiestFill: getComputedStyle(document.querySelectorAll('#heatmap rect.cell')[10]).fill,
          legend: [...document.querySelectorAll('#heat-legend .key')]
            .map(k => k.textContent.trim()),
          dots: document.querySelectorAll('#score-chart circle').length,
          contributors: document.querySelectorAll('#contributors tbody tr').length,
          evil: document.querySelectorAll('script').length,
        })"""
    )
    assert found["cells"] == 7 * 24
    assert found["monday10"] == "3"
    assert found["busiestFill"] == "rgb(33, 110, 57)"
    assert found["legend"] == ["0", "1", "2", "3"]
    assert found["dots"] == 3
    assert found["contributors"] == 3
    # The hostile author name is text, never a script element.
    assert found["evil"] == 0
    browser.screenshot(Path("/tmp/dashboard-group.png"))
