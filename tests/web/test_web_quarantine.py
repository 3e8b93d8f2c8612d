"""Quarantine in the web app: reason and what to do, retry, a manager's export (issue 11)."""

from __future__ import annotations

from tests.web.conftest import HOSTILE_BAD


def _entry(ws) -> dict:  # noqa: ANN001
    from pipeline.quarantine import list_entries

    with ws.reader() as s:
        (entry,) = list_entries(s)
    return entry


def test_the_list_shows_the_reason_escaped_and_export_only_to_managers(intake_browser, intake_office) -> None:  # noqa: ANN001
    e = _entry(intake_office)
    intake_browser.login("alice")
    html = intake_browser.get("/quarantine").text
    assert "is a .docx file (a Word document), not a scan: save it as PDF" in html
    assert HOSTILE_BAD not in html and "&lt;script&gt;alert(1)&lt;script&gt;.docx" in html
    assert f'action="/quarantine/{e["id"]}/retry"' in html and f'action="/quarantine/{e["id"]}/export"' not in html
    intake_browser.post("/logout")
    intake_browser.login("carol")
    assert f'action="/quarantine/{e["id"]}/export"' in intake_browser.get("/quarantine").text


def test_a_staff_account_is_refused_the_export(intake_browser, intake_office) -> None:  # noqa: ANN001
    from pipeline import audit

    e = _entry(intake_office)
    intake_browser.login("alice")
    intake_browser.get("/quarantine")
    r = intake_browser.post(f"/quarantine/{e['id']}/export")
    assert r.status_code == 403 and "%PDF" not in r.text
    with intake_office.reader() as s:
        assert not [x for x in audit.read_log(s) if x["action"] == "quarantine.exported"]


def test_a_manager_exports_the_file_audited(intake_browser, intake_office) -> None:  # noqa: ANN001
    import hashlib

    from pipeline import audit
    from pipeline.models import Input, QuarantineEntry

    e = _entry(intake_office)
    intake_browser.login("carol")
    intake_browser.get("/quarantine")
    assert intake_browser.post(f"/quarantine/{e['id']}/export", csrf=False).status_code == 403
    r = intake_browser.post(f"/quarantine/{e['id']}/export")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="quarantine-entry-{e["id"]}.docx"'
    assert r.headers["cache-control"] == "no-store"
    with intake_office.reader() as s:
        sha = s.get(QuarantineEntry, e["id"]).input_id
        sha = s.get(Input, sha).sha256
    assert hashlib.sha256(r.content).hexdigest() == sha  # the bytes as dropped in
    with intake_office.reader() as s:
        (ev,) = [x for x in audit.read_log(s) if x["action"] == "quarantine.exported"]
    assert ev["actor"] == "carol" and ev["subject"] == f"quarantine:{e['id']}"


def test_retry_queues_the_input_again(intake_browser, intake_office) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from pipeline import audit
    from pipeline.models import Input, QuarantineEntry
    from pipeline.spool import spool_dir

    e = _entry(intake_office)
    intake_browser.login("bob")
    intake_browser.get("/quarantine")
    assert intake_browser.post(f"/quarantine/{e['id']}/retry", csrf=False).status_code == 403
    r = intake_browser.post(f"/quarantine/{e['id']}/retry")
    assert r.status_code == 200 and "is queued again" in r.text and "Quarantine is empty" in r.text
    with intake_office.reader() as s:
        entry = s.get(QuarantineEntry, e["id"])
        row = s.scalars(select(Input).where(Input.id == entry.input_id)).one()
        assert entry.resolved_at is not None and entry.path is None
        assert (row.state, row.attempts) == ("queued", 0)
        assert [x["actor"] for x in audit.read_log(s) if x["action"] == "input.requeued"] == ["bob"]
        sha = row.sha256
    assert any(spool_dir(intake_office, sha).iterdir())  # the copy is back in the spool, for intake
    # a second retry finds nothing in quarantine
    assert intake_browser.post(f"/quarantine/{e['id']}/retry").status_code == 404


def test_a_retried_input_is_processed_again(intake_browser, intake_office) -> None:  # noqa: ANN001
    from pipeline import intake

    e = _entry(intake_office)
    intake_browser.login("bob")
    intake_browser.get("/quarantine")
    intake_browser.post(f"/quarantine/{e['id']}/retry")
    intake.ingest(intake_office, None, [], workers=1)  # finishes what is queued
    again = _entry(intake_office)  # still a Word document: back, with its reason
    assert again["id"] != e["id"] and again["file"] == HOSTILE_BAD and "is a .docx file" in again["reason"]
    assert f'id="entry-{again["id"]}"' in intake_browser.get("/quarantine").text
