"""Issue 12, in a real browser: the statistics charts drawn inline under the CSP, a report to the Local
Authority refused and then written with the permission recorded on the case page, and a telephone
message. Chromium reports every CSP violation on the console ("Refused to apply inline style ...
Content Security Policy"): none may appear."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.browser.conftest import Office, log_in, new_person

REF = "PPS-2026-0614"
PHONE = "01908 000000"


@pytest.fixture
def office(tmp_path: Path) -> Office:
    """The office of the other walks, with the call-back number for messages configured."""
    return Office(tmp_path, PPS_ARCHIVE__MESSAGES__PHONE=PHONE)


def test_reports_and_a_message_in_chromium(office, server, chromium, shots) -> None:  # noqa: ANN001
    office.cli("case", "open", REF, "--consent-to-store", user="carol")
    page = new_person(chromium, server)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, "alice")

    start = dt.date.today().replace(day=1)
    page.goto(f"/reports/trends?from={start.isoformat()}&to={dt.date.today().isoformat()}")
    charts = page.locator("section.chart-block svg")
    assert charts.count() == 3
    box = charts.first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150
    assert page.locator("section.chart-block svg text", has_text="Cases").count() >= 1
    # drawn as the library drew it: its sizes and strokes applied (a blocked style attribute would lose them)
    assert charts.first.locator("text").first.evaluate("t => getComputedStyle(t).fontSize") == "11px"
    assert charts.first.locator("path").first.evaluate("p => getComputedStyle(p).stroke") == "rgb(0, 0, 0)"
    shots.take(page, "statistics over time")

    page.get_by_role("link", name="Report an issue to the Local Authority").click()
    page.get_by_label("The issue, in your words").fill(f"Transport for {REF} has been late all term.")
    page.get_by_label("Case (only").fill(REF)
    page.get_by_role("button", name="Write the report").click()
    assert "permission to be identified" in page.locator("p.error").inner_text()
    shots.take(page, "the report refused without the permission")
    page.get_by_label("Case (only").fill("")
    page.get_by_role("button", name="Write the report").click()
    report = page.locator("pre.report-text").inner_text()
    assert REF not in report and "[withheld]" in report
    shots.take(page, "an anonymous report")

    page.goto(f"/cases/{REF}")
    page.get_by_role("button", name="Record permission to identify to the LA").click()
    page.wait_for_selector("p.flash")
    page.goto("/reports")
    page.get_by_label("The issue, in your words").fill("Transport has been late all term.")
    page.get_by_label("Case (only").fill(REF)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download as PDF").click()
    path = dl.value.path()
    assert Path(path).read_bytes()[:4] == b"%PDF"
    page.get_by_role("button", name="Write the report").click()
    assert f"Case: {REF}" in page.locator("pre.report-text").inner_text()
    shots.take(page, "the report naming the case")

    page.goto("/message")
    page.get_by_label("Who the message is for").fill("Mrs Ash")
    page.get_by_label("Who made the call").fill(f"Jo about {REF}")
    page.get_by_role("button", name="Write the message").click()
    assert "case reference" in page.locator("p.error").inner_text()
    shots.take(page, "a message refused")
    page.get_by_label("Who made the call").fill("Jo")
    page.get_by_role("button", name="Write the message").click()
    assert page.locator("p.message-text").inner_text() == (
        f"This is a message for Mrs Ash. Jo called and would like you to call back on {PHONE}. Thank you.")
    shots.take(page, "the message to leave")
    assert problems == [], problems
    page.context.close()
