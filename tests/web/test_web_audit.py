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


def test_read_log_with_a_limit_gives_the_newest_oldest_first(intake_office) -> None:  # noqa: ANN001
    from pipeline import audit

    with intake_office.reader() as s:
        every = audit.read_log(s)
        assert audit.read_log(s, limit=3) == every[-3:]
        assert [e["seq"] for e in audit.read_log(s, case_ref=REF_A, limit=1)] == [
            [e for e in every if e["case_ref"] == REF_A][-1]["seq"]]
        assert audit.read_log(s, limit=0) == []


def test_the_page_shows_at_most_the_newest_events(intake_browser, monkeypatch) -> None:  # noqa: ANN001
    from pipeline.web.views import audit as view

    monkeypatch.setattr(view, "SHOWN", 2)
    intake_browser.login("alice")
    html = intake_browser.get("/audit").text
    assert html.count("<tr><td>") == 2 and "auth.login" in html  # the login just now is among the newest
