"""The parent/carer's rights in the web app (issues 11 and 12): withdrawn consent leads to the
erasure offer (or the hold that keeps the data) and a manager's typed erasure with its
certificate; subject access (a request's hold, the encrypted bundle downloaded from memory, the
request closed); safeguarding (any member of staff records, managers read, every access audited)."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

from sqlalchemy import select

from tests.web.life_helpers import REF, filed, flash, open_case

NEW = "PPS-2026-0042"
EXPORT_PASSPHRASE = "walnut tractor origami 64 sleet"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'


def _events(ws, action: str) -> list:  # noqa: ANN001
    from pipeline.models import AuditEvent

    with ws.reader() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def _case(ws, ref: str):  # noqa: ANN001, ANN202 - a Workspace; a dict
    from pipeline import cases

    with ws.reader() as s:
        return cases.case_detail(s, ws.config, ref, dt.date.today())


def _files(root) -> set:  # noqa: ANN001 - a Path
    """Every file under ``root`` but the database's own (SQLite's journal files come and go)."""
    return {p for p in root.rglob("*") if p.is_file() and ".sqlite3" not in p.name}


def test_no_rights_page_or_action_without_login(browser) -> None:  # noqa: ANN001
    for url in (f"/cases/{REF}/erasure", f"/cases/{REF}/subject-access", f"/cases/{REF}/safeguarding",
                f"/cases/{REF}/safeguarding/records"):
        r = browser.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
    for url in (f"/cases/{REF}/erase", f"/cases/{REF}/subject-access", f"/cases/{REF}/subject-access/export",
                f"/cases/{REF}/subject-access/1/close", f"/cases/{REF}/safeguarding"):
        assert browser.post(url, {"csrf": "x", "confirm": REF}).status_code in (401, 403), url


def test_rights_forms_without_their_csrf_token_do_nothing(browser, make_browser, office) -> None:  # noqa: ANN001
    open_case(office, NEW, dt.date.today(), consent=False)
    browser.login("carol")
    browser.get(f"/cases/{NEW}/erasure")
    for url, data in ((f"/cases/{NEW}/erase", {"confirm": NEW}),
                      (f"/cases/{NEW}/subject-access", {"note": "by letter"}),
                      (f"/cases/{NEW}/subject-access/export", {"passphrase": EXPORT_PASSPHRASE, "passphrase2": EXPORT_PASSPHRASE}),
                      (f"/cases/{NEW}/safeguarding", {"kind": "concern", "concern": "a worry"})):
        assert browser.post(url, data, csrf=False).status_code == 403, url
        assert browser.post(url, {**data, "csrf": "forged"}).status_code == 403, url
    # another person's token is refused too
    other = make_browser()
    other.login("dave")
    other.get(f"/cases/{NEW}/erasure")
    assert browser.post(f"/cases/{NEW}/erase", {"confirm": NEW, "csrf": other.csrf}).status_code == 403
    assert _case(office, NEW)["disposed_on"] is None and _case(office, NEW)["holds"] == []
    assert _events(office, "erasure.started") == [] and _events(office, "sar.exported") == []
    assert _events(office, "safeguarding.concern") == []


def test_withdrawn_consent_leads_to_the_erasure_a_manager_types_and_its_certificate(browser, make_browser, office,  # noqa: ANN001
                                                                                    tmp_path) -> None:
    """"Data is only entered once parents have been informed about the confidentiality policy and have
    given permission for information to be kept": withdrawn in the web app, the erasure of what is
    held is offered; a staff login is refused, a wrong typed confirmation erases nothing, a manager
    who types the reference erases it, and the certificate downloads."""
    from pipeline import keystore

    docs = filed(office, tmp_path)
    browser.login("alice")
    r = browser.get(f"/cases/{REF}/erasure")
    assert "Nothing can be erased: consent to store information is recorded" in r.text
    assert f'action="/cases/{REF}/erase"' not in r.text
    r = browser.post(f"/cases/{REF}/consent", {"store": "no"})
    assert r.url.path == f"/cases/{REF}/erasure"  # the withdrawal leads to the offer
    assert "Consent to store withdrawn" in flash(r.text)
    assert "<th>Documents</th><td>2</td>" in r.text and "<th>Paper not yet shredded</th><td>2</td>" in r.text
    assert f'action="/cases/{REF}/erase"' in r.text and f"Type {REF} to erase it" in r.text
    assert "consent not given: see the erasure offer" in browser.get(f"/cases/{REF}").text
    # staff: the library refuses (403), nothing erased
    r = browser.post(f"/cases/{REF}/erase", {"confirm": REF})
    assert r.status_code == 403 and "needs a manager" in r.text
    # a manager who types the wrong word: nothing done
    manager = make_browser()
    manager.login("carol")
    manager.get(f"/cases/{REF}/erasure")
    for wrong in ("YES", "yes", REF.lower() + "x", ""):
        r = manager.post(f"/cases/{REF}/erase", {"confirm": wrong})
        assert r.status_code == 400 and f"type {REF} exactly" in r.text, wrong
        assert f'<a href="/cases/{REF}/erasure">Back</a>' in r.text  # the error page leads back to the form
    with office.reader() as s:
        assert keystore.has_case_key(s, REF)
    assert _case(office, REF)["disposed_on"] is None and _events(office, "erasure.started") == []

    r = manager.post(f"/cases/{REF}/erase", {"confirm": f"  {REF} "})
    assert r.status_code == 200 and r.url.path == f"/cases/{REF}/erasure", r.text[:500]
    assert f"Case {REF} erased" in flash(r.text) and "Download the certificate" in r.text
    [finished] = _events(office, "erasure.finished")
    run = int(finished.subject.split(":")[1])
    assert finished.actor == "carol" and finished.case_ref == REF
    assert f'href="/disposal/runs/{run}/certificate.pdf"' in r.text
    assert "to shred or return" in r.text  # the paper still in the office
    with office.reader() as s:
        assert not keystore.has_case_key(s, REF)
    assert _case(office, REF)["disposed_on"] == dt.date.today().isoformat()
    pdf = manager.get(f"/disposal/runs/{run}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    cert = json.loads(manager.get(f"/disposal/runs/{run}/certificate.json").text)
    assert cert["kind"] == "erasure" and cert["operator"] == "carol" and cert["consent"] == "typed"
    assert cert["keys_destroyed"] == [REF]
    assert sorted(p["document"] for p in cert["paper"]) == sorted(docs.values())
    # the documents are gone; a second erasure is a conflict
    assert browser.get(f'/documents/{docs["PPS-LETTER"]}/pdf').status_code in (404, 409, 410)
    assert manager.post(f"/cases/{REF}/erase", {"confirm": REF}).status_code == 409


def test_a_hold_keeps_the_data_and_the_erasure_page_says_which(browser, make_browser, office) -> None:  # noqa: ANN001
    """"Data is only entered once parents ... have given permission for information to be kept":
    withdrawn, the data is still kept while a hold applies, and the offer names the hold."""
    open_case(office, NEW, dt.date.today())
    browser.login("alice")
    browser.get(f"/cases/{NEW}/subject-access")
    browser.post(f"/cases/{NEW}/subject-access", {"note": "asked by letter"})
    [hold] = [h for h in _case(office, NEW)["holds"] if h["active"]]
    r = browser.post(f"/cases/{NEW}/consent", {"store": "no"})
    assert r.url.path == f"/cases/{NEW}/erasure"
    assert f"a subject access request hold (hold {hold['id']}) keeps its records" in r.text
    assert f'action="/cases/{NEW}/erase"' not in r.text and "The hold says why the data is kept" in r.text
    manager = make_browser()
    manager.login("carol")
    manager.get(f"/cases/{NEW}/erasure")
    r = manager.post(f"/cases/{NEW}/erase", {"confirm": NEW})
    assert r.status_code == 403 and "hold" in r.text
    assert _case(office, NEW)["disposed_on"] is None and _events(office, "erasure.started") == []


def test_subject_access_request_hold_export_download_and_close(browser, make_browser, office, tmp_path) -> None:  # noqa: ANN001
    """"All information held by PPS will be handled in a way that conforms to the requirements of the
    Data Protection Act": a request opened in the web app places a hold shown on the case page; a
    manager downloads everything held, encrypted to a passphrase typed twice, built in memory and
    never written to disk; closing the request lifts the hold."""
    import pyrage

    docs = filed(office, tmp_path)
    browser.login("alice")
    browser.get(f"/cases/{REF}/subject-access")
    assert "No open subject access request" in browser.get(f"/cases/{REF}/subject-access").text
    r = browser.post(f"/cases/{REF}/subject-access", {"note": "asked by letter, due in a month"})
    assert r.url.path == f"/cases/{REF}/subject-access" and "Subject access request recorded" in flash(r.text)
    [hold] = [h for h in _case(office, REF)["holds"] if h["active"]]
    assert hold["reason"] == "sar" and "asked by letter, due in a month" in r.text
    page = browser.get(f"/cases/{REF}").text
    assert f"(a request is open: hold {hold['id']})" in page and "subject access request" in page
    [opened] = _events(office, "sar.opened")
    assert opened.actor == "alice" and "asked by letter" not in opened.details
    assert browser.post(f"/cases/{REF}/subject-access", {"note": ""}).status_code == 422

    good = {"passphrase": EXPORT_PASSPHRASE, "passphrase2": EXPORT_PASSPHRASE}
    # staff: refused by the library
    r = browser.post(f"/cases/{REF}/subject-access/export", good)
    assert r.status_code == 403 and "needs a manager" in r.text
    manager = make_browser()
    manager.login("carol")
    manager.get(f"/cases/{REF}/subject-access")
    r = manager.post(f"/cases/{REF}/subject-access/export", {**good, "passphrase2": EXPORT_PASSPHRASE + "x"})
    assert r.status_code == 422 and "the two passphrases differ" in r.text
    r = manager.post(f"/cases/{REF}/subject-access/export", {"passphrase": "password1", "passphrase2": "password1"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    # closing at export needs the reference typed: else nothing is exported or closed
    r = manager.post(f"/cases/{REF}/subject-access/export", {**good, "close": "1", "confirm": "YES"})
    assert r.status_code == 400
    assert _events(office, "sar.exported") == []

    before = _files(tmp_path)
    r = manager.post(f"/cases/{REF}/subject-access/export", good)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "application/octet-stream" and r.headers["cache-control"] == "no-store"
    assert r.headers["content-disposition"] == f'attachment; filename="{REF}-subject-access-{dt.date.today().isoformat()}.zip.age"'
    raw = r.content
    assert raw.startswith(b"age-encryption.org/v1") and b"%PDF" not in raw and REF.encode() not in raw
    assert _files(tmp_path) == before  # built and encrypted in memory: nothing written
    with zipfile.ZipFile(io.BytesIO(pyrage.passphrase.decrypt(raw, EXPORT_PASSPHRASE))) as z:
        manifest = json.loads(z.read("manifest.json"))
        assert sorted(d["id"] for d in manifest["documents"]) == sorted(docs.values())
        assert z.read(f'documents/document-{docs["PPS-LETTER"]}.pdf').startswith(b"%PDF")
        assert manifest["exported_by"] == "carol"
        assert f"case {REF}" in z.read("index.html").decode()
    [exported] = _events(office, "sar.exported")
    assert exported.actor == "carol" and json.loads(exported.details)["bundle_sha256"] == r.headers["x-bundle-sha256"]
    assert [h["id"] for h in _case(office, REF)["holds"] if h["active"]] == [hold["id"]]  # still open

    # closing: staff refused, a wrong word does nothing, the reference typed lifts the hold
    url = f"/cases/{REF}/subject-access/{hold['id']}/close"
    r = browser.post(url, {"confirm": REF})
    assert r.status_code == 403 and "needs a manager" in r.text
    r = manager.post(url, {"confirm": "YES"})
    assert r.status_code == 400 and f"type {REF} exactly" in r.text
    assert [h["id"] for h in _case(office, REF)["holds"] if h["active"]] == [hold["id"]]
    r = manager.post(url, {"confirm": REF})
    assert r.url.path == f"/cases/{REF}/subject-access" and f"hold {hold['id']} lifted" in flash(r.text)
    assert "No open subject access request" in r.text
    assert [h for h in _case(office, REF)["holds"] if h["active"]] == []
    assert "a request is open" not in browser.get(f"/cases/{REF}").text
    assert [e.actor for e in _events(office, "sar.closed")] == ["carol"]
    assert manager.post(url, {"confirm": REF}).status_code == 404


def test_an_export_reads_from_the_disc_paths_given_what_the_vault_no_longer_has(browser, office, tmp_path) -> None:  # noqa: ANN001
    """"All information held by PPS will be handled in a way that conforms to the requirements of the
    Data Protection Act": the export holds every document, read from a disc (its path given on the
    form) when the vault copy is gone; without the disc, nothing is exported."""
    import pyrage

    from archive_media.vault import Vault
    from pipeline import media
    from pipeline.models import Document
    from tests.web.life_helpers import recovery

    docs = filed(office, tmp_path)
    [built] = media.build(office, media.images_dir(office), auth=recovery(office), today=dt.date.today())
    image = media.image_file(office, built["label"])
    with office.reader() as s:
        item = s.get(Document, docs["PPS-LETTER"]).vault_item
    Vault(office.path("vault")).path_of(item).unlink()
    browser.login("carol")
    browser.get(f"/cases/{REF}/subject-access")
    good = {"passphrase": EXPORT_PASSPHRASE, "passphrase2": EXPORT_PASSPHRASE}
    r = browser.post(f"/cases/{REF}/subject-access/export", good)
    assert r.status_code == 404 and f'document {docs["PPS-LETTER"]}' in r.text
    assert _events(office, "sar.exported") == []
    r = browser.post(f"/cases/{REF}/subject-access/export", {**good, "media": f"\n  {image}  \n"})
    assert r.status_code == 200, r.text[:500]
    with zipfile.ZipFile(io.BytesIO(pyrage.passphrase.decrypt(r.content, EXPORT_PASSPHRASE))) as z:
        assert z.read(f'documents/document-{docs["PPS-LETTER"]}.pdf').startswith(b"%PDF")
        [row] = [d for d in json.loads(z.read("manifest.json"))["documents"] if d["file"]]
        assert row["from"] == f"disc {built['label']}"


def test_an_export_may_close_the_request_it_answers(browser, office, tmp_path) -> None:  # noqa: ANN001
    from pipeline import media

    open_case(office, NEW, dt.date.today())
    browser.login("carol")
    browser.get(f"/cases/{NEW}/subject-access")
    r = browser.post(f"/cases/{NEW}/subject-access", {"note": "by email " + HOSTILE})
    assert "by email &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in r.text and "<script>" not in r.text
    r = browser.post(f"/cases/{NEW}/subject-access/export", {"passphrase": EXPORT_PASSPHRASE, "passphrase2": EXPORT_PASSPHRASE,
                                                             "close": "1", "confirm": NEW})
    assert r.status_code == 200 and r.content.startswith(b"age-encryption.org/v1")
    assert [h for h in _case(office, NEW)["holds"] if h["active"]] == []
    # a disc path that is not there is refused before anything is exported
    browser.get(f"/cases/{NEW}/subject-access")
    r = browser.post(f"/cases/{NEW}/subject-access/export", {"passphrase": EXPORT_PASSPHRASE, "passphrase2": EXPORT_PASSPHRASE,
                                                             "media": str(media.images_dir(office) / "no-such-disc.iso")})
    assert r.status_code == 200  # no document needs a disc: the paths are read only for what the vault lacks
    assert len(_events(office, "sar.exported")) == 2


def test_safeguarding_recorded_by_staff_read_by_managers_escaped_and_every_access_audited(browser, make_browser,  # noqa: ANN001
                                                                                           office) -> None:
    """"The only exception to keeping information confidential is if there is a concern regarding
    safeguarding": any member of staff records a concern or a disclosure (a safeguarding hold is
    placed); only managers read them, every reading and every refused reading is audited, and the
    text is shown escaped."""
    open_case(office, NEW, dt.date.today())
    browser.login("alice")
    r = browser.get(f"/cases/{NEW}/safeguarding")
    assert r.status_code == 200 and "Record a concern" in r.text
    r = browser.post(f"/cases/{NEW}/safeguarding", {"kind": "concern", "concern": HOSTILE, "decided_on": ""})
    assert r.url.path == f"/cases/{NEW}/safeguarding" and "Safeguarding concern recorded" in flash(r.text)
    r = browser.post(f"/cases/{NEW}/safeguarding", {"kind": "disclosure", "to_whom": "Children's Services",
                                                    "what_shared": "the worry " + HOSTILE, "why": "risk of harm",
                                                    "decided_by": "carol", "decided_on": dt.date.today().isoformat()})
    assert "Safeguarding disclosure recorded" in flash(r.text)
    assert browser.post(f"/cases/{NEW}/safeguarding", {"kind": "concern", "concern": "  "}).status_code == 422
    assert browser.post(f"/cases/{NEW}/safeguarding", {"kind": "disclosure", "to_whom": "x", "what_shared": "",
                                                       "why": "y"}).status_code == 422
    assert browser.post(f"/cases/{NEW}/safeguarding", {"kind": "gossip", "concern": "x"}).status_code == 422
    assert browser.post(f"/cases/{NEW}/safeguarding", {"kind": "concern", "concern": "x",
                                                       "decided_on": "2999-01-01"}).status_code == 422
    holds = [h for h in _case(office, NEW)["holds"] if h["active"]]
    assert [h["reason"] for h in holds] == ["safeguarding"]  # one hold for both records
    written = _events(office, "safeguarding.concern") + _events(office, "safeguarding.disclosure")
    assert [e.actor for e in written] == ["alice", "alice"]
    assert all("script" not in e.details and "worry" not in e.details for e in written)  # no text in the log

    # staff cannot read them: 403 from the library, and the refusal is audited
    r = browser.get(f"/cases/{NEW}/safeguarding/records")
    assert r.status_code == 403 and "needs a manager" in r.text and "alert(" not in r.text
    assert [e.actor for e in _events(office, "safeguarding.read_refused")] == ["alice"]
    assert _events(office, "safeguarding.read") == []

    manager = make_browser()
    manager.login("carol")
    r = manager.get(f"/cases/{NEW}/safeguarding/records")
    assert r.status_code == 200
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#34;quotes&#34;" in r.text
    assert "<script>" not in r.text and "<img src=x" not in r.text
    assert "Children&#39;s Services" in r.text and "risk of harm" in r.text and "by carol" in r.text
    manager.get(f"/cases/{NEW}/safeguarding/records")
    reads = _events(office, "safeguarding.read")
    assert [(e.actor, e.case_ref) for e in reads] == [("carol", NEW)] * 2
    assert all("script" not in e.details for e in reads)
    assert manager.get("/cases/PPS-2026-9999/safeguarding/records").status_code == 404
    assert manager.get("/cases/not-a-ref/safeguarding").status_code == 422
    for page in ("erasure", "subject-access", "safeguarding"):
        assert manager.get(f"/cases/PPS-2026-9999/{page}").status_code == 404, page
