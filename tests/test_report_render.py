"""report.html rendered in headless Chromium: figures decode and show, tables fill, no errors.

Needs Debian's chromium (`apt-get install -y --no-install-recommends chromium`,
about 25 s and 410 MB); tests/render_check.py does the rendering and can be run
by hand on any report.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageStat
from render_check import find_chromium, render
from report_fixtures import make_grid

from dnatune.report.render import write_report

pytestmark = pytest.mark.render


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    grid = make_grid(tmp_path_factory.mktemp("render"), seeds=(0, 1), n_test=60)
    grid.write_summary_and_stats(n_boot=100)
    out = grid.results / "report" / "report.html"
    write_report(grid.report_inputs(), out, grid.config, n_boot=100)
    return out


def test_chromium_renders_every_figure_and_table_without_console_errors(report_html):
    find_chromium()  # fails with the install command when Chromium is missing
    result = render(report_html)
    assert result.problems() == []
    page = result.page
    assert page["title"] == "dnatune: what transfer learning bought"
    assert len(page["images"]) == report_html.read_text().count("<img ")
    assert all(i["decoded"] and i["box"]["w"] > 300 for i in page["images"])
    assert len(page["tables"]) == report_html.read_text().count("<table>")
    assert page["page_width"] <= 1280  # nothing forces horizontal scrolling

    screenshot = Image.open(io.BytesIO(result.screenshot)).convert("L")
    assert screenshot.size[1] == page["page_height"]
    assert ImageStat.Stat(screenshot).stddev[0] > 10


def test_broken_images_empty_cells_console_errors_and_requests_are_reported(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>t</title></head><body>"
        + "<p>" + "text " * 60 + "</p>"
        + '<img alt="broken figure" src="data:image/png;base64,AAAA">'
        + '<img alt="remote" src="http://127.0.0.1:9/figure.png">'
        + "<script>console.error('boom')</script>"
        + "<table><tbody><tr><td></td></tr></tbody></table></body></html>"
    )  # fmt: skip
    problems = render(page).problems()
    assert any("image does not decode: broken figure" in p for p in problems)
    assert any("empty cells" in p for p in problems)
    assert "console: error: boom" in problems
    assert "network request: http://127.0.0.1:9/figure.png" in problems
