"""The Cases page (issue 11): find and open cases with no name field, consents by role, activity,
holds (lifting one: a manager who types the reference), a case's documents read in memory."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from tests.web.life_helpers import REF, filed, open_case

NEW = "PPS-2026-0042"


def _events(ws, action: str) -> list:  # noqa: ANN001
    from pipeline.models import AuditEvent

    with ws.reader() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def test_no_case_page_without_login(browser) -> None:  # noqa: ANN001
    for url in ("/cases", f"/cases/{REF}", "/documents/1/pdf"):
        r = browser.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
    r = browser.post("/cases", {"ref": NEW, "csrf": "x"})
    assert r.status_code in (401, 403)


def test_open_a_case_anonymously_record_consents_and_activity(browser, office) -> None:  # noqa: ANN001
    browser.login("alice")
    r = browser.get("/cases")
    assert r.status_code == 200 and "No cases yet" in r.text
    assert 'name="name"' not in r.text.replace('name="name" value', "")  # no name field on the form
    r = browser.post("/cases", {"ref": NEW.lower(), "anonymous": "1"})
    assert r.status_code == 200 and f"Case {NEW} opened" in r.text and "(anonymous)" in r.text
    assert "not given" in r.text  # no consent to store yet
    assert browser.post("/cases", {"ref": NEW}).status_code == 409  # it exists
    assert browser.post("/cases", {"ref": "not a reference"}).status_code == 422
    r = browser.post(f"/cases/{NEW}/consent", {"store": "yes"})
    assert "Consent to store recorded" in r.text and "<strong>given</strong>" in r.text
    r = browser.post(f"/cases/{NEW}/third-party", {"party": "sen team", "allowed": "yes"})
    assert "Contact with SEN Team allowed" in r.text
    assert browser.post(f"/cases/{NEW}/third-party", {"party": "Mrs Smith", "allowed": "yes"}).status_code == 422
    r = browser.post(f"/cases/{NEW}/touch", {"on": dt.date.today().isoformat()})
    assert "Activity on" in r.text
    assert browser.post(f"/cases/{NEW}/touch", {"on": "tomorrow"}).status_code == 422
    r = browser.get("/cases?q=2026-00")
    assert NEW in r.text
    assert NEW not in browser.get("/cases?q=1999").text
    from pipeline import cases

    with office.reader() as s:
        c = cases.get_case(s, NEW)
        assert (c.anonymous, c.store_consent) == (True, True)
        assert {tp.party: tp.allowed for tp in c.third_parties} == {"SEN Team": True}
    assert [e.actor for e in _events(office, "case.open")] == ["alice"]
    assert [e.actor for e in _events(office, "consent.third_party")] == ["alice"]


def test_a_form_without_its_csrf_token_changes_nothing(browser, office) -> None:  # noqa: ANN001
    browser.login("alice")
    browser.get("/cases")
    assert browser.post("/cases", {"ref": NEW}, csrf=False).status_code == 403
    assert browser.post("/cases", {"ref": NEW, "csrf": "forged"}).status_code == 403
    assert _events(office, "case.open") == []


def test_a_hold_is_placed_by_staff_and_lifted_only_by_a_manager_who_types_the_reference(browser, make_browser, office) -> None:  # noqa: ANN001
    open_case(office, NEW, dt.date.today())
    browser.login("alice")
    r = browser.post(f"/cases/{NEW}/holds", {"reason": "sar", "note": "request received by letter"})
    assert "Hold" in r.text and "subject access request" in r.text and "request received by letter" in r.text
    assert browser.post(f"/cases/{NEW}/holds", {"reason": "whim", "note": "x"}).status_code == 422
    [placed] = _events(office, "hold.place")
    hold = int(placed.subject.split(":")[1])
    assert "request received" not in placed.details  # the note stays out of the log
    # staff: refused by the library, shown with 403
    r = browser.post(f"/cases/{NEW}/holds/{hold}/lift", {"confirm": NEW})
    assert r.status_code == 403 and "needs a manager" in r.text
    manager = make_browser()
    manager.login("carol")
    manager.get(f"/cases/{NEW}")
    r = manager.post(f"/cases/{NEW}/holds/{hold}/lift", {"confirm": "PPS-2026-0043"})  # typed wrong
    assert r.status_code == 400 and "not confirmed, nothing was done" in r.text
    r = manager.post(f"/cases/{NEW}/holds/{hold}/lift", {})
    assert r.status_code == 400
    assert _events(office, "hold.release") == []
    r = manager.post(f"/cases/{NEW}/holds/{hold}/lift", {"confirm": f" {NEW} "})
    assert r.status_code == 200 and f"Hold {hold} lifted" in r.text and "by carol" in r.text
    [released] = _events(office, "hold.release")
    assert released.actor == "carol" and '"consent":"typed"' in released.details.replace(" ", "")
    assert manager.post(f"/cases/{NEW}/holds/{hold}/lift", {"confirm": NEW}).status_code == 404  # lifted already


def test_a_missing_case_is_404_and_an_id_no_column_holds_is_422(browser) -> None:  # noqa: ANN001
    browser.login("carol")
    assert browser.get("/cases/PPS-2020-9999").status_code == 404
    browser.get("/cases")
    assert browser.post(f"/cases/{NEW}/holds/99999999999/lift", {"confirm": NEW}).status_code == 422
    assert browser.get("/documents/99999999999/pdf").status_code == 422


def test_a_document_opens_in_memory_as_a_pdf_and_each_view_is_an_audit_event(browser, office, tmp_path) -> None:  # noqa: ANN001
    docs = filed(office, tmp_path)
    browser.login("bob")
    r = browser.get(f"/cases/{REF}")
    assert f'/documents/{docs["PPS-LETTER"]}/pdf' in r.text and "EHCP" in r.text
    assert f'/documents/{docs["EHCP"]}/pdf' not in r.text and "no scan kept" in r.text  # a SHRED document keeps no scan
    assert browser.get(f'/documents/{docs["EHCP"]}/pdf').status_code == 409
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    r = browser.get(f'/documents/{docs["PPS-LETTER"]}/pdf')
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'inline; filename="document-{docs["PPS-LETTER"]}.pdf"'
    assert r.headers["cache-control"] == "no-store"
    assert {p for p in tmp_path.rglob("*") if p.is_file()} - before <= {p for p in tmp_path.rglob("*") if p.suffix in (
        ".sqlite3-wal", ".sqlite3-shm", ".sqlite3-journal")}  # nothing decrypted was written
    browser.get(f'/documents/{docs["PPS-LETTER"]}/pdf')
    viewed = _events(office, "document.viewed")
    assert [(e.actor, e.case_ref, e.subject) for e in viewed] == [("bob", REF, f'document:{docs["PPS-LETTER"]}')] * 2
    assert browser.get("/documents/999999/pdf").status_code == 404
    browser.post("/logout")
    assert browser.get(f'/documents/{docs["PPS-LETTER"]}/pdf', follow_redirects=False).status_code == 303
