"""Issue 11, in a real browser: the dashboard's counts follow the pipeline without a reload.

``static/live.js`` re-reads ``/live.json`` every few seconds and fills the elements marked
``data-live``. The walk leaves the dashboard open, a scanner drops a scan with nothing to go on, the
daemon (``pps-archive watch``) takes it in, and the review count on the open page goes from 0 to 1;
a marker set in the page before the drop proves the page was never reloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import Office, log_in, log_out, new_person
from tests.factory import Doc, ScanFactory


def _drop(office: Office, tmp: Path, name: str, items: list) -> None:
    """Written elsewhere, then renamed into the drop folder, as scanners do."""
    staging = tmp / "staging"
    staging.mkdir(exist_ok=True)
    ScanFactory(seed=11).batch(staging, name, items, container="pdf-text", dpi=150)
    folder = office.home / "drop" / "office"
    folder.mkdir(parents=True, exist_ok=True)
    os.replace(staging / name, folder / name)


def test_the_dashboard_counts_update_without_a_reload(chromium, office, server, daemon, shots, tmp_path) -> None:  # noqa: ANN001
    page = new_person(chromium, server)
    log_in(page, "alice")
    page.goto("/")
    review = page.locator(".card [data-live='review']")
    expect(review).to_have_text("0")
    page.evaluate("window.ppsNotReloaded = true")
    shots.take(page, "dashboard before the scan")

    _drop(office, tmp_path, "scan_0101.pdf", [Doc("school-letter", None, ref_in_text=False)])
    expect(page.locator(".card [data-live='finished_recently']")).to_have_text("1", timeout=180_000)
    expect(review).to_have_text("1", timeout=30_000)
    assert page.evaluate("window.ppsNotReloaded === true"), "the page was reloaded"
    assert page.locator(".card progress[data-live='progress']").evaluate("p => p.value") == 100
    shots.take(page, "dashboard after the scan without a reload")
    log_out(page)
