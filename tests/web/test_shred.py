"""The Shred list page (issue 11): the four states with the blocked reason, confirming ticked
entries as the logged-in person with a typed word, the printed list and the printed record."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from tests.web.life_helpers import REF, filed
from tests.auth_helpers import unlocked


@pytest.fixture
def entries(office, tmp_path) -> dict[str, int]:  # noqa: ANN001
    """Shred-list entry ids by class: a shredded EHCP (pending) and a retained letter (blocked: on no disc)."""
    from pipeline.models import ShredEntry

    docs = filed(office, tmp_path)
    with office.reader() as s:
        by_doc = {e.document_id: e.id for e in s.scalars(select(ShredEntry))}
    return {cls: by_doc[doc] for cls, doc in docs.items()}


def _confirmed(ws) -> dict[int, str | None]:  # noqa: ANN001
    from pipeline.models import ShredEntry

    with ws.reader() as s:
        return {e.id: e.confirmed_by for e in s.scalars(select(ShredEntry))}


def test_no_shred_page_without_login(browser) -> None:  # noqa: ANN001
    for url in ("/shred", "/shred/print", "/shred/record"):
        r = browser.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url


def test_the_list_shows_each_state_and_confirming_needs_the_typed_word(browser, office, entries) -> None:  # noqa: ANN001
    ehcp, letter = entries["EHCP"], entries["PPS-LETTER"]
    browser.login("alice")
    r = browser.get("/shred")
    assert r.status_code == 200
    assert f'name="entry" value="{ehcp}"' in r.text  # pending: a box to tick
    assert f'name="entry" value="{letter}"' not in r.text  # blocked: none
    assert "its scan is not yet on a verified disc" in r.text
    assert "Pending (1)" in r.text and "Blocked (1)" in r.text and "Waiting (0)" in r.text
    assert "Blocked" not in browser.get("/shred?state=pending").text
    # refusals: no token, the word typed wrong, a blocked entry; nothing is recorded
    assert browser.post("/shred/confirm", {"entry": str(ehcp), "confirm": "SHREDDED"}, csrf=False).status_code == 403
    r = browser.post("/shred/confirm", {"entry": str(ehcp), "confirm": "yes"})
    assert r.status_code == 400 and "not confirmed, nothing was done" in r.text
    browser.get("/shred")
    r = browser.post("/shred/confirm", {"entry": [str(ehcp), str(letter)], "confirm": "SHREDDED"})
    assert r.status_code == 403 and "not yet on a verified disc" in r.text
    assert set(_confirmed(office).values()) == {None}
    # the real thing
    browser.get("/shred")
    r = browser.post("/shred/confirm", {"entry": str(ehcp), "confirm": "SHREDDED"})
    assert r.status_code == 200 and f"Recorded as shredded by alice: {ehcp}" in r.text
    assert _confirmed(office) == {ehcp: "alice", letter: None}
    assert "Confirmed (1)" in r.text
    browser.get("/shred")
    r = browser.post("/shred/confirm", {"entry": str(ehcp), "confirm": "SHREDDED"})
    assert r.status_code == 409  # already confirmed
    # the printed record says who shredded what; the printed list has what is still to do
    record = browser.get("/shred/record").text
    assert f"<td>{ehcp}</td><td>{REF}</td><td>EHCP</td>" in record and "<td>alice</td>" in record
    assert dt.date.today().isoformat() in record
    printed = browser.get("/shred/print").text
    assert f"<td>{letter}</td>" in printed and "BLOCKED" in printed and f"<td>{ehcp}</td>" not in printed
    # activity on the case: its paper waits again until the case is archived
    from pipeline import cases

    with office.transaction() as s:
        cases.touch(s, REF, dt.date.today(), auth=unlocked(s, None, "alice"))
    r = browser.get("/shred")
    assert "Waiting (1)" in r.text
    assert "WAITING: keep until" in browser.get("/shred/print").text


def test_a_hold_blocks_an_entry_with_its_reason(browser, office, entries) -> None:  # noqa: ANN001
    from pipeline import cases

    with office.transaction() as s:
        cases.place_hold(s, REF, "safeguarding", "concern raised", today=dt.date.today(), auth=unlocked(s, None, "carol"))
    browser.login("bob")
    r = browser.get("/shred")
    assert "Pending (0)" in r.text and "Blocked (2)" in r.text and "under a safeguarding concern hold" in r.text
    r = browser.post("/shred/confirm", {"entry": str(entries["EHCP"]), "confirm": "SHREDDED"})
    assert r.status_code == 403 and "hold" in r.text
    assert set(_confirmed(office).values()) == {None}


def test_a_long_list_comes_a_page_of_each_state_at_a_time(browser, office, entries, monkeypatch) -> None:  # noqa: ANN001
    """Thousands of entries are no page: each state shows PAGE_SIZE rows (its heading the whole
    count), and 'next' and 'previous' go through the rest, keeping the states chosen."""
    from pipeline.models import Document, ShredEntry
    from pipeline.web.views import shred as view

    monkeypatch.setattr(view, "PAGE_SIZE", 2)
    with office.transaction() as s:  # four more retained letters of the case, on no disc: blocked
        letter = s.get(ShredEntry, entries["PPS-LETTER"]).document
        copy = {c.key: getattr(letter, c.key) for c in Document.__table__.columns
                if c.key not in ("id", "vault_item", "original_item")}
        for _ in range(4):
            doc = Document(**copy)
            s.add(doc)
            s.flush()
            s.add(ShredEntry(document_id=doc.id))
    browser.login("alice")
    first = browser.get("/shred").text
    assert "Blocked (5)" in first and "Pending (1)" in first and "Showing 1–2 of 5." in first
    assert "Page 1 of 3" in first and 'href="/shred?page=2"' in first
    rows = [int(m) for m in re.findall(r'<tr data-entry="(\d+)" class="state-blocked"', first)]
    assert len(rows) == 2
    seen = set(rows)
    for page in (2, 3):
        text = browser.get(f"/shred?page={page}").text
        assert "Blocked (5)" in text and f"Page {page} of 3" in text
        seen |= {int(m) for m in re.findall(r'<tr data-entry="(\d+)" class="state-blocked"', text)}
    assert len(seen) == 5 and entries["PPS-LETTER"] in seen  # every entry, each on one page
    only = browser.get("/shred?state=blocked&page=2").text
    assert 'href="/shred?state=blocked&amp;page=1"' in only and 'href="/shred?state=blocked&amp;page=3"' in only
    assert "Pending (" not in only
