"""The review queue through the CLI, on real pipeline output and both databases: a decision is never
taken by default, every decision can be undone until the paper is gone or the scan is on a disc,
and a mis-split document is mended without rescanning, with nothing decrypted left on disk.

Inputs are PDFs with a text layer, so the pipeline reads them without running Tesseract.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory
from tests.intake._helpers import plaintext_files

REF = "PPS-2024-0201"


@pytest.fixture
def queue(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict]:
    """Three review items of a case opened without consent (then given it): one behind a RETAIN
    cover sheet, one behind a SHRED sheet, one with no sheet; keyed "retain", "shred", "none"."""
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", REF, "--as-of", "2024-01-10")
    batch = ScanFactory(seed=5).batch(tmp_path / "in", "scan_0001.pdf", [
        Doc("pps-letter", REF),
        Cover(REF, "retain", "PPS-LETTER"), Doc("pps-letter", REF, pages=3),
        Cover(REF, "shred", "EHCP"), Doc("ehcp", REF),
    ], container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]), "--json")
    items = run("review", "list", "--json").json()
    assert len(items) == 3, items
    run("case", "consent", REF, "--store", "yes")
    by_pages = {1: [], 3: []}
    for item in items:
        by_pages[item["pages"]].append(item)
    retain = by_pages[3][0]
    none, shred = sorted(by_pages[1], key=lambda d: d["id"])
    return {"retain": retain, "shred": shred, "none": none}


def _doc(doc_id: int) -> dict:
    return next(d for d in run("documents", "--json").json() if d["id"] == doc_id)


def _shred_entries(doc_id: int) -> list[dict]:
    return [e for e in run("shred-list", "--json").json() if e["document"] == doc_id]


def _stored(doc_id: int) -> tuple:
    from sqlalchemy import select

    from pipeline.models import Document
    from pipeline.workspace import Workspace

    ws = Workspace.load()
    try:
        with ws.reader() as s:
            d = s.scalars(select(Document).where(Document.id == doc_id)).one()
            return d.vault_item, d.encrypted_to, d.plaintext_sha256
    finally:
        ws.close()


def test_assign_without_a_decision_takes_the_cover_sheets(queue) -> None:
    doc = queue["retain"]["id"]
    assert [queue[k]["sheet_decision"] for k in ("retain", "shred", "none")] == ["retain", "shred", None]
    r = run("review", "assign", str(doc), "--case", REF)
    assert "as its cover sheet said" in r.out
    d = _doc(doc)
    assert (d["decision"], d["state"], d["case_ref"]) == ("retain", "filed", REF)
    assert _stored(doc)[1] == "case"


def test_assign_without_a_decision_or_a_cover_sheet_is_refused(queue) -> None:
    doc = queue["none"]["id"]
    r = run("review", "assign", str(doc), "--case", REF, "--class", "PPS-LETTER", expect=int(ExitCode.DECISION_REQUIRED))
    assert "without a cover-sheet decision" in r.err
    d = _doc(doc)
    assert (d["decision"], d["state"]) == ("review", "review")
    assert _shred_entries(doc) == []


def test_undo_returns_a_retained_document_to_review_under_the_archive_key(queue) -> None:
    doc = queue["retain"]["id"]
    before = _stored(doc)
    run("review", "assign", str(doc), "--case", REF, "--retain")
    assert _stored(doc)[1] == "case" and len(_shred_entries(doc)) == 1
    r = run("review", "undo", str(doc))
    assert "back in the review queue" in r.out
    d = _doc(doc)
    assert (d["decision"], d["state"], d["case_ref"], d["suggested_case_ref"]) == ("review", "review", None, REF)
    assert d["source"] == "barcode" and "assigned by" not in d["reason"]
    item, to, sha = _stored(doc)
    assert to == "archive" and item not in (None, before[0]) and sha == before[2]
    assert _shred_entries(doc) == []
    assert doc in [x["id"] for x in run("review", "list", "--json").json()]
    run("audit", "verify")
    # the queue works on it as before: filed again, then undone again
    run("review", "assign", str(doc), "--case", REF, "--shred")
    run("review", "undo", str(doc))
    run("review", "assign", str(doc), "--case", REF, "--retain")
    assert _stored(doc)[2] == before[2]


def test_a_document_assigned_shred_by_mistake_keeps_its_scan_for_undo(queue) -> None:
    doc = queue["retain"]["id"]
    run("review", "assign", str(doc), "--case", REF, "--shred")
    assert _stored(doc)[1] == "archive"
    run("review", "undo", str(doc))
    run("review", "assign", str(doc), "--case", REF, "--retain")
    assert _doc(doc)["decision"] == "retain"


def test_undo_is_refused_once_the_paper_is_confirmed_shredded(queue) -> None:
    import datetime as dt

    from sqlalchemy import select

    from pipeline.models import ShredEntry
    from pipeline.workspace import Workspace

    doc = queue["shred"]["id"]
    run("review", "assign", str(doc), "--case", REF)  # the sheet said SHRED
    ws = Workspace.load()
    try:  # as 'shred confirm' records it (its own rules on when it may are tested elsewhere)
        with ws.transaction() as s:
            entry = s.scalars(select(ShredEntry).where(ShredEntry.document_id == doc)).one()
            entry.confirmed_by, entry.confirmed_on = "tester", dt.date.today()
    finally:
        ws.close()
    r = run("review", "undo", str(doc), expect=int(ExitCode.UNDO_REFUSED))
    assert "confirmed shredded" in r.err
    assert _doc(doc)["decision"] == "shred"


def test_undo_is_refused_once_the_scan_is_on_a_disc(queue, tmp_path: Path) -> None:
    doc = queue["retain"]["id"]
    run("review", "assign", str(doc), "--case", REF, "--retain")
    built = run("media", "build", "--out", str(tmp_path / "discs"), "--json").json()
    assert built and built[0]["items"] == 1
    r = run("review", "undo", str(doc), expect=int(ExitCode.UNDO_REFUSED))
    assert "on disc" in r.err
    assert _doc(doc)["decision"] == "retain"


def test_undo_of_a_document_the_pipeline_filed_is_refused(queue) -> None:
    assert run("review", "undo", str(queue["retain"]["id"]), expect=int(ExitCode.UNDO_REFUSED))


def _read_copy(doc_id: int) -> bytes:
    from sqlalchemy import select

    from archive_media.vault import Vault
    from pipeline import keystore
    from pipeline.models import Document
    from pipeline.workspace import Workspace

    ws = Workspace.load()
    try:
        with ws.reader() as s:
            d = s.scalars(select(Document).where(Document.id == doc_id)).one()
            identity = keystore.archive_identity(s, keystore.unlock(s, PASSPHRASE.encode()))
            return Vault(ws.path("vault")).read_bytes(d.vault_item, identity, d.plaintext_sha256)
    finally:
        ws.close()


def test_split_mends_a_merged_document_and_drops_a_separator_page(queue, tmp_path: Path) -> None:
    import io

    import pikepdf

    item = queue["retain"]
    doc, labels = item["id"], item["source_pages"]
    out = run("review", "split", str(doc), "--pages", "1,3", "--drop", "2").out
    rows = [d for d in run("documents", "--json").json() if d["decision"] == "review"]
    first = next(d for d in rows if d["id"] == doc)
    second = next(d for d in rows if d["id"] not in (doc, queue["none"]["id"], queue["shred"]["id"]))
    assert (first["pages"], first["source_pages"], first["class"]) == (1, [labels[0]], "PPS-LETTER")
    assert (second["pages"], second["source_pages"], second["class"]) == (1, [labels[2]], None)
    assert f"document {second['id']}" in out
    for d in (first, second):
        pdf = _read_copy(d["id"])
        with pikepdf.open(io.BytesIO(pdf)) as p:
            assert len(p.pages) == 1
        assert _stored(d["id"])[1] == "archive"
    assert plaintext_files(tmp_path / "home", skip=("spool",)) == []
    # the first part keeps its cover sheet's decision; the second must be decided by staff
    run("review", "assign", str(doc), "--case", REF)
    run("review", "assign", str(second["id"]), "--case", REF, "--class", "NOTE", expect=int(ExitCode.DECISION_REQUIRED))
    run("review", "assign", str(second["id"]), "--case", REF, "--class", "NOTE", "--retain")


def test_split_refuses_to_lose_a_page(queue) -> None:
    doc = queue["retain"]["id"]
    r = run("review", "split", str(doc), "--pages", "1,2", expect=int(ExitCode.INVALID_VALUE))
    assert "page(s) 3 are in no part" in r.err
    r = run("review", "split", str(doc), "--pages", "1-2,2-3", expect=int(ExitCode.INVALID_VALUE))
    assert "page 2 is in part 1 and in part 2" in r.err
    assert run("review", "split", str(doc), "--pages", "1-4", expect=int(ExitCode.INVALID_VALUE))
    assert _doc(doc)["pages"] == 3


def test_audit_records_the_review_decisions(queue) -> None:
    from sqlalchemy import select

    from pipeline.models import AuditEvent
    from pipeline.workspace import Workspace

    doc = queue["retain"]["id"]
    run("review", "assign", str(doc), "--case", REF)
    run("review", "undo", str(doc))
    run("review", "split", str(doc), "--pages", "1-2,3")
    ws = Workspace.load()
    try:
        with ws.reader() as s:
            rows = s.scalars(select(AuditEvent).where(AuditEvent.subject == f"document:{doc}"))
            events = [(e.action, json.loads(e.details)) for e in rows]
    finally:
        ws.close()
    actions = [a for a, _ in events]
    assert actions[-3:] == ["review.assign", "review.undo", "review.split"]
    assert events[-3][1]["decision_from"] == "cover sheet"
    assert [p["pages"] for p in events[-1][1]["parts"]] == ["1-2", "3"]
    run("audit", "verify")


def test_confirming_the_paper_shredded_drops_the_kept_review_copy(queue) -> None:
    import datetime as dt

    from sqlalchemy import select

    from pipeline import shredding
    from pipeline.models import ShredEntry
    from pipeline.workspace import Workspace

    doc = queue["retain"]["id"]
    run("review", "assign", str(doc), "--case", REF, "--shred")
    assert _stored(doc)[0] is not None
    from tests.auth_helpers import backdate, unlocked

    ws = Workspace.load()
    try:
        with ws.transaction() as s:  # the case went quiet a year ago: it is archive-due, its paper may go
            backdate(s, dt.date.today() - dt.timedelta(days=365), [REF])
        with ws.transaction() as s:
            entry = s.scalars(select(ShredEntry).where(ShredEntry.document_id == doc)).one()
            shredding.confirm(s, ws.config, [entry.id], auth=unlocked(s, ws.config, "tester"), today=dt.date.today(), consent="yes")
    finally:
        ws.close()
    assert _stored(doc)[0] is None
