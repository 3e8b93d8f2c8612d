"""Case activity from the work itself: documents filed to a case move its last activity, a document
scanned while archiving the case does not (its cover sheet's fourth field ARCHIVE), on both databases.

Batches are SHRED documents in a "pdf-text" container, so no page is OCR'd: the cover sheets are
read from their barcodes, as in the office.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

FILED, ARCHIVED = "PPS-2026-0101", "PPS-2026-0102"
OPENED = dt.date(2026, 1, 5)  # inactive for more than the six months of the archive period


@pytest.fixture
def office(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    for ref in (FILED, ARCHIVED):
        run("case", "open", ref, "--consent-to-store", "--as-of", OPENED.isoformat())
    return tmp_path / "drop"


def _last_activity(ref: str) -> str:
    return next(c["last_activity"] for c in run("case", "list", "--json").json() if c["ref"] == ref)


def test_a_filed_document_moves_last_activity_an_archiving_scan_does_not(office: Path) -> None:
    """Policy: "Once a case has been inactive for 6 months it is archived ... Electronic records are
    disposed of when they have been inactive for 6 years." A letter received for a case is activity
    on it; the old paper of an inactive case, scanned while archiving it, is not."""
    f = ScanFactory(seed=12)
    batch = f.batch(office, "mixed.pdf", [
        Cover(FILED, "shred", "SCHOOL-LETTER"), Doc("school-letter", FILED),
        Cover(ARCHIVED, "shred", "SCHOOL-LETTER", archiving=True), Doc("school-letter", ARCHIVED),
    ], container="pdf-text")
    report = run("ingest", "--json", *map(str, batch.files)).json()["inputs"]
    assert [r["outcome"] for r in report] == ["done"]
    docs = {d["case_ref"]: d for d in run("documents", "--json").json()}
    assert set(docs) == {FILED, ARCHIVED} and {d["decision"] for d in docs.values()} == {"shred"}
    today = dt.date.today().isoformat()
    assert _last_activity(FILED) == today
    assert _last_activity(ARCHIVED) == OPENED.isoformat()
    [due] = run("archive-due", "--json").json()  # the archived case stays due; the other is active again
    assert due["ref"] == ARCHIVED
    touches = [e for e in run("audit", "log", "--json").json() if e["action"] == "case.touch"]
    assert [(e["case_ref"], e["details"]["because"]) for e in touches] == [(FILED, f"document:{docs[FILED]['id']}")]


def test_an_archiving_sheet_reads_back_and_an_old_sheet_still_does() -> None:
    """The cover-sheet format keeps old sheets valid: three fields are a normal sheet, a fourth
    field ARCHIVE marks an archiving sheet, anything else in a fourth field is no sheet."""
    from scanners.coversheet import CoverSheet, format_payload, parse_payload

    classes = ["SCHOOL-LETTER", "EHCP"]
    pattern = r"PPS-\d{4}-\d{4}"
    old = parse_payload("PPS-2024-0137|RETAIN|EHCP", pattern, classes)
    assert old == CoverSheet("PPS-2024-0137", "retain", "EHCP") and not old.archiving
    sheet = CoverSheet("PPS-2024-0137", "shred", "EHCP", archiving=True)
    assert format_payload(sheet) == "PPS-2024-0137|SHRED|EHCP|ARCHIVE"
    assert parse_payload(format_payload(sheet), pattern, classes) == sheet
    assert parse_payload("PPS-2024-0137|SHRED|EHCP|LATER", pattern, classes) is None


def test_an_archiving_sheet_is_recognised_from_its_printed_words(tmp_path: Path) -> None:
    """A sheet whose barcode cannot be read keeps its archiving mark: it is printed in words."""
    from scanners.coversheet import CoverSheet, read_coversheet_text, render_coversheet_pdf
    from tests.factory._sheets import pdf_words

    for archiving in (False, True):
        out = tmp_path / f"sheet-{archiving}.pdf"
        render_coversheet_pdf(CoverSheet("PPS-2024-0137", "retain", "EHCP", archiving), out, "Parent Partnership Service")
        found = read_coversheet_text(" ".join(pdf_words(out)), r"PPS-\d{4}-\d{4}", ["EHCP"]).sheet
        assert found is not None and found.archiving is archiving


def test_a_document_filed_from_review_moves_last_activity_unless_archiving(workspace, session, cfg) -> None:  # noqa: ANN001
    """The rule is in the library (pipeline.cases.record_document_activity), for intake and review alike."""
    from pipeline import cases
    from pipeline.models import Case, Document, Input

    for ref in (FILED, ARCHIVED):
        cases.open_case(session, cfg, ref, today=OPENED, actor="alice", consent_to_store=True)
    row = Input(sha256="1" * 64, display_name="a.pdf", profile="office", size=1, received_at=dt.datetime(2026, 3, 2),
                state="done")
    session.add(row)
    session.flush()
    received = dt.date(2026, 3, 2)
    for ref, archiving in ((FILED, False), (ARCHIVED, True)):
        case = cases.get_case(session, ref)
        doc = Document(input_id=row.id, case_id=case.id, decision="shred", reason="r", source="manual", pages=1,
                       source_pages=json.dumps(["a.pdf#1"]), state="shred-only", created_at=dt.datetime(2026, 3, 2),
                       archiving=archiving)
        session.add(doc)
        session.flush()
        assert cases.record_document_activity(session, doc, received, actor="intake") is (not archiving)
    last = dict(session.execute(select(Case.ref, Case.last_activity)).all())
    assert last == {FILED: received, ARCHIVED: OPENED}


def test_review_assign_moves_last_activity_unless_the_sheet_said_archiving(database_url: str, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Documents of cases without consent to store wait in review; filed from there, the one received as
    post moves its case's last activity, the one behind an archiving sheet does not."""
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    for ref in (FILED, ARCHIVED):
        run("case", "open", ref, "--as-of", OPENED.isoformat())  # no consent yet: documents wait in review
    batch = ScanFactory(seed=13).batch(tmp_path / "drop", "later.pdf", [
        Cover(FILED, "shred", "SCHOOL-LETTER"), Doc("school-letter", FILED),
        Cover(ARCHIVED, "shred", "SCHOOL-LETTER", archiving=True), Doc("school-letter", ARCHIVED),
    ], container="pdf-text")
    run("ingest", "--json", *map(str, batch.files))
    waiting = run("review", "list", "--json").json()
    assert len(waiting) == 2 and _last_activity(FILED) == OPENED.isoformat()
    for ref in (FILED, ARCHIVED):
        run("case", "consent", ref, "--store", "yes")
    for item in sorted(waiting, key=lambda d: d["id"]):
        run("review", "assign", str(item["id"]), "--case", FILED if item["id"] == min(d["id"] for d in waiting) else ARCHIVED)
    assert _last_activity(FILED) == dt.date.today().isoformat()
    assert _last_activity(ARCHIVED) == OPENED.isoformat()
