"""The Statistics page (issue 11): the library's anonymous counts, charts drawn on the server as
inline SVG (no script, every text escaped), small numbers suppressed and never drawn to length."""

from __future__ import annotations

import datetime as dt
import re

from pipeline.web.charts import bar_chart
from tests.auth_helpers import unlocked


def test_no_statistics_without_login(browser) -> None:  # noqa: ANN001
    r = browser.get("/statistics", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_counts_and_charts_with_small_numbers_suppressed(browser, office) -> None:  # noqa: ANN001
    from pipeline import cases

    with office.transaction() as s:
        for n in range(6):
            cases.open_case(s, office.config, f"PPS-2025-{n + 1:04d}", today=dt.date(2025, 3, 3), auth=unlocked(s, None, "carol"))
        for n in range(2):
            cases.open_case(s, office.config, f"PPS-2025-{n + 101:04d}", today=dt.date(2025, 4, 3), auth=unlocked(s, None, "carol"))
    browser.login("bob")
    r = browser.get("/statistics")
    assert r.status_code == 200 and "<script" not in r.text
    block = r.text.split("<h2>Cases opened by month</h2>")[1].split("</section>")[0]
    assert block.count("<svg") == 1 and "<td>2025-03</td><td>6</td>" in block and "<td>2025-04</td><td>&lt;5</td>" in block
    svg = block.split("</svg>")[0]
    assert re.search(r'<rect [^>]*fill="#1f5fa8"', svg)  # the 6 is a bar
    assert 'data-suppressed="1"' in svg and ">&lt;5</text>" in svg and ">2</text>" not in svg  # the 2 is not
    assert "style=" not in svg  # the CSP allows no inline style
    assert "total" not in block.lower()
    r = browser.get("/statistics?as_of=2025-03-31")
    assert "Statistics as of 2025-03-31" in r.text and "2025-04" not in r.text
    assert browser.get("/statistics?as_of=someday").status_code == 422


def test_a_chart_escapes_every_text() -> None:
    svg = str(bar_chart('a "title" <b>', {"<script>alert(1)</script>": 7, "x&y": "<5"}))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "x&amp;y" in svg and "&#34;title&#34;" in svg
    assert str(bar_chart("empty", {})).count("none") == 1
