"""The dashboard lists the first cases due for archiving (thousands are no first screen); the
count is the whole count, and 'show all' lists every one."""

from __future__ import annotations

from tests.web.life_helpers import REF, filed


def test_the_dashboard_lists_the_first_cases_due_and_all_on_asking(browser, office, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from pipeline.web.views import dashboard as view

    filed(office, tmp_path)  # REF, archive-due, its documents on no disc: work left
    browser.login("alice")
    row = f"<tr><td>{REF}</td>"
    assert row in browser.get("/").text  # one case: within the first DUE_ROWS
    monkeypatch.setattr(view, "DUE_ROWS", 0)
    html = browser.get("/").text
    assert row not in html and "The first 0 of 1" in html and 'href="/?archive_due=all#archive-due"' in html
    html = browser.get("/?archive_due=all").text
    assert row in html and "The first" not in html
