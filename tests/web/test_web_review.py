"""The review queue in the web app: previews drawn in memory from the encrypted copy, what the
pipeline found, assign, split, drop a separator page; every view an audit event (issue 11)."""

from __future__ import annotations

import io

from tests.web.conftest import HOSTILE_SCAN, REF_A, REF_B, REF_C, review_items
from tests.auth_helpers import unlocked


def _events(ws, action: str) -> list[dict]:  # noqa: ANN001
    from pipeline import audit

    with ws.reader() as s:
        return [e for e in audit.read_log(s) if e["action"] == action]


def test_the_queue_lists_items_with_why_escaped(intake_browser, intake_office) -> None:  # noqa: ANN001
    items = review_items(intake_office)
    intake_browser.login("alice")
    html = intake_browser.get("/review").text
    for ref, row in items.items():
        assert f'href="/review/{row["id"]}"' in html and ref in html
    assert "has no recorded consent to store information" in html and "is not in the register" in html
    assert HOSTILE_SCAN not in html and "scan &lt;img src=x onerror=alert(1)&gt;.pdf" in html


def test_an_item_shows_what_the_pipeline_found_and_its_pages(intake_browser, intake_office) -> None:  # noqa: ANN001
    b = review_items(intake_office)[REF_B]
    intake_browser.login("alice")
    before = len(_events(intake_office, "document.viewed"))
    r = intake_browser.get(f"/review/{b['id']}")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    html = r.text
    assert "<dt>Cover sheet</dt><dd>RETAIN PPS-LETTER</dd>" in html
    assert REF_B in html.split("<dt>References in the text</dt>")[1].split("</dd>")[0]  # read again from its text
    assert '<input type="radio" name="decision" value="retain" checked>' in html  # the cover sheet's decision
    assert '<option value="PPS-LETTER" selected>' in html
    assert f'value="{REF_B}" required' in html
    for n in (1, 2):
        assert f'src="/review/{b["id"]}/page/{n}.png?size=thumb"' in html
    assert f'src="/review/{b["id"]}/page/1.png?size=large"' in html
    assert HOSTILE_SCAN not in html
    assert len(_events(intake_office, "document.viewed")) == before + 1  # the details read its text


def test_a_page_is_drawn_in_memory_not_cached_and_audited(intake_browser, intake_office) -> None:  # noqa: ANN001
    from PIL import Image

    b = review_items(intake_office)[REF_B]
    vault_before = sorted(p.name for p in (intake_office.data_dir).rglob("*") if p.is_file())
    intake_browser.login("bob")
    for size, width in (("thumb", 160), ("large", 900)):
        r = intake_browser.get(f"/review/{b['id']}/page/2.png?size={size}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert r.headers["cache-control"] == "no-store"
        assert Image.open(io.BytesIO(r.content)).size[0] == width
    viewed = [e for e in _events(intake_office, "document.viewed") if e["subject"] == f"document:{b['id']}"]
    assert [(e["actor"], e["details"]["page"], e["details"]["size"]) for e in viewed[-2:]] == [
        ("bob", 2, "thumb"), ("bob", 2, "large")]
    # nothing written in the data dir but the database (nothing decrypted, nothing cached)
    after = sorted(p.name for p in (intake_office.data_dir).rglob("*") if p.is_file())
    assert after == vault_before
    assert intake_browser.get(f"/review/{b['id']}/page/3.png").status_code == 422  # it has 2 pages
    assert intake_browser.get(f"/review/{b['id']}/page/1.png?size=huge").status_code == 422


def test_no_preview_or_download_without_login(intake_browser, intake_office) -> None:  # noqa: ANN001
    b = review_items(intake_office)[REF_B]
    r = intake_browser.get(f"/review/{b['id']}/page/1.png", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert intake_browser.post(f"/review/{b['id']}/download", {"csrf": "x"}).status_code in (401, 403)
    assert _events(intake_office, "document.viewed") == [] and _events(intake_office, "document.downloaded") == []


def test_a_download_is_the_pdf_and_audited(intake_browser, intake_office) -> None:  # noqa: ANN001
    import pikepdf

    c = review_items(intake_office)[REF_C]
    intake_browser.login("alice")
    intake_browser.get(f"/review/{c['id']}")
    assert intake_browser.post(f"/review/{c['id']}/download", csrf=False).status_code == 403
    r = intake_browser.post(f"/review/{c['id']}/download")
    assert r.status_code == 200 and r.headers["content-disposition"] == f'attachment; filename="document-{c["id"]}.pdf"'
    assert len(pikepdf.open(io.BytesIO(r.content)).pages) == 1
    assert [e["actor"] for e in _events(intake_office, "document.downloaded")] == ["alice"]


def test_assign_is_refused_without_consent_then_files_as_the_cover_sheet_said(intake_browser, intake_office) -> None:  # noqa: ANN001
    import datetime as dt

    from pipeline import cases

    b = review_items(intake_office)[REF_B]
    intake_browser.login("alice")
    intake_browser.get(f"/review/{b['id']}")
    form = {"case": REF_B, "class": "PPS-LETTER", "decision": "retain"}
    assert intake_browser.post(f"/review/{b['id']}/assign", form, csrf=False).status_code == 403
    r = intake_browser.post(f"/review/{b['id']}/assign", form)
    assert r.status_code == 403 and "no recorded consent to store" in r.text  # the library's rule, its message
    assert f'<a href="/review/{b["id"]}">Back</a>' in r.text
    with intake_office.transaction() as s:
        cases.set_store_consent(s, REF_B, True, today=dt.date.today(), auth=unlocked(s, None, "alice"))
    intake_browser.get(f"/review/{b['id']}")
    r = intake_browser.post(f"/review/{b['id']}/assign", {"case": REF_B, "class": "PPS-LETTER", "decision": ""})
    assert r.status_code == 200 and f"filed to {REF_B} as RETAIN PPS-LETTER" in r.text
    assert REF_B not in review_items(intake_office)
    (ev,) = _events(intake_office, "review.assign")
    assert ev["actor"] == "alice" and ev["details"]["decision_from"] == "cover sheet"


def test_split_and_drop_a_separator_page(intake_browser, intake_office) -> None:  # noqa: ANN001
    b = review_items(intake_office)[REF_B]
    intake_browser.login("bob")
    intake_browser.get(f"/review/{b['id']}")
    r = intake_browser.post(f"/review/{b['id']}/split", {"parts": "1", "drop": ""})
    assert r.status_code == 422 and "page(s) 2 are in no part" in r.text  # nothing lost by a typing mistake
    r = intake_browser.post(f"/review/{b['id']}/split", {"parts": "1,2", "drop": ""})
    assert r.status_code == 200 and "Split into documents" in r.text
    rows = [row for row in _queue(intake_office) if row["suggested_case_ref"] == REF_B]
    assert sorted(r["pages"] for r in rows) == [1, 1]
    # a 1-page part cannot lose its only page; a page dropped from a longer one goes
    first = min(r["id"] for r in rows)
    intake_browser.get(f"/review/{first}")
    assert intake_browser.post(f"/review/{first}/drop", {"pages": "1"}).status_code == 422
    (ev,) = _events(intake_office, "review.split")
    assert ev["actor"] == "bob"


def test_drop_a_separator_page_keeps_the_rest(intake_browser, intake_office) -> None:  # noqa: ANN001
    b = review_items(intake_office)[REF_B]
    intake_browser.login("alice")
    intake_browser.get(f"/review/{b['id']}")
    r = intake_browser.post(f"/review/{b['id']}/drop", {"pages": "2"})
    assert r.status_code == 200 and f"document {b['id']} has 1 page(s)" in r.text
    (ev,) = _events(intake_office, "review.split")
    assert ev["details"]["dropped"] == "2"


def _queue(ws) -> list[dict]:  # noqa: ANN001
    from pipeline import review

    with ws.reader() as s:
        return review.queue(s)


def test_a_disabled_accounts_open_session_cannot_file(intake_browser, intake_office) -> None:  # noqa: ANN001
    """Even a SHRED filing, which needs no key, checks the keyring: an account disabled since its
    login (by a manager on another server, say) is refused."""
    from pipeline import staff
    from tests.web.conftest import PASSWORDS

    c = review_items(intake_office)[REF_C]
    intake_browser.login("alice")
    intake_browser.get(f"/review/{c['id']}")
    manager = staff.login(intake_office, "carol", PASSWORDS["carol"].encode())
    staff.disable(intake_office, manager, "alice")  # not through this server: its session lives on
    r = intake_browser.post(f"/review/{c['id']}/assign", {"case": REF_A, "class": "PPS-LETTER", "decision": "shred"})
    assert r.status_code in (401, 403) and "disabled" in r.text
    assert REF_C in review_items(intake_office)  # still in the queue
