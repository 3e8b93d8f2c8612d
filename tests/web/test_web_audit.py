"""The audit log page: filter by case or date, verify the chain with the session's key (issue 11)."""

from __future__ import annotations

import datetime as dt

from tests.web.conftest import REF_A, REF_B


def test_filter_by_case_and_date(intake_browser) -> None:  # noqa: ANN001
    intake_browser.login("alice")
    html = intake_browser.get("/audit").text
    assert "case.open" in html and "auth.login" in html and REF_B in html
    html = intake_browser.get(f"/audit?case={REF_A.lower()}").text
    assert "case.open" in html and f"<td>{REF_B}</td>" not in html and "auth.login" not in html
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert "No events." in intake_browser.get(f"/audit?since={tomorrow}").text
    r = intake_browser.get("/audit?since=yesterday")
    assert r.status_code == 422 and "is not a date" in r.text


def test_verify_the_chain_then_detect_tampering(intake_browser, intake_office) -> None:  # noqa: ANN001
    from sqlalchemy import update

    from pipeline.models import AuditEvent

    intake_browser.login("bob")
    intake_browser.get("/audit")
    assert intake_browser.post("/audit/verify", csrf=False).status_code == 403
    r = intake_browser.post("/audit/verify")
    assert r.status_code == 200 and "The audit log is intact" in r.text and "seals checked with the key" in r.text
    with intake_office.transaction() as s:  # someone with the database but not the key
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="mallory"))
    r = intake_browser.post("/audit/verify")
    assert "The audit log does not verify" in r.text and "event 3 was changed" in r.text
    assert "broken" in intake_browser.get("/").text  # the dashboard says so too


def test_the_audit_log_needs_a_login(intake_browser) -> None:  # noqa: ANN001
    assert intake_browser.get("/audit", follow_redirects=False).status_code == 303
