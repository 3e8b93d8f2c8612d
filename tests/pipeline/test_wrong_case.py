"""Pages filed to the wrong case (issue 8), end to end through ``ingest`` on both databases.

Most batches here are "pdf-text" (a scanner's own OCR in a text layer), so the pipeline's reading
of the words is exercised without Tesseract; the barcodes are still read from the page images.
One slow test runs real OCR on a few damaged cover sheets and a reference broken across a line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Batch, Cover, Doc, ScanFactory, Separator

A, B, C = "PPS-2024-0137", "PPS-2024-0138", "PPS-2025-0011"
UNREGISTERED = "PPS-2024-0999"


@pytest.fixture
def office(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised archive with cases A, B and C (consent to store recorded); the drop folder."""
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    for ref in (A, B, C):
        run("case", "open", ref, "--consent-to-store")
    return tmp_path / "drop"


def ingest(*batches: Batch) -> tuple[list[dict], list[dict]]:
    """Ingest the batches; (documents, review items), each document as ``documents --json``."""
    files = [str(f) for b in batches for f in b.files]
    report = run("ingest", "--json", *files).json()["inputs"]
    assert {r["outcome"] for r in report} == {"done"}, report
    return run("documents", "--json").json(), run("review", "list", "--json").json()


def pages_of(docs: list[dict]) -> list[tuple[str, ...]]:
    return sorted(tuple(d["source_pages"]) for d in docs)


def sheet_pages(batch: Batch) -> set[str]:
    return {p.label for p in batch.pages if p.kind in ("coversheet", "separator", "sheet-back")}


def assert_no_sheet_inside(docs: list[dict], *batches: Batch) -> None:
    sheets = set().union(*(sheet_pages(b) for b in batches))
    assert not [label for d in docs for label in d["source_pages"] if label in sheets]


def assert_right_cases(docs: list[dict], *batches: Batch) -> None:
    truth = {p.label: p.case_ref for b in batches for p in b.pages}
    assert not [(label, d["case_ref"]) for d in docs if d["case_ref"] for label in d["source_pages"]
                if truth[label] != d["case_ref"]]


# --- damaged cover sheets ------------------------------------------------------------------------

def test_damaged_cover_sheets_read_through_ocrs_look_alikes_split_the_batch(office: Path) -> None:
    """Barcodes stained or torn away; the scanner's OCR read the reference as PPS-2O24-Ol37 and the
    bars as stray characters: the sheets still split the batch and decide their documents."""
    f = ScanFactory(seed=81)
    batch = f.batch(office, "damaged.pdf", [
        Cover(A, "retain", "PPS-LETTER", damage="stain", garble="look-alikes"),
        Doc("pps-letter", A),
        Cover(B, "shred", "SCHOOL-LETTER", damage="torn", garble="look-alikes"),
        Doc("school-letter", B),
    ], container="pdf-text", dpi=200)
    docs, review = ingest(batch)
    assert pages_of(docs) == pages_of([{"source_pages": e.source_pages} for e in batch.documents])
    got = {d["source_pages"][0]: (d["case_ref"], d["decision"], d["class"], d["source"]) for d in docs}
    assert got == {"damaged.pdf#2": (A, "retain", "PPS-LETTER", "ocr_text"),
                   "damaged.pdf#4": (B, "shred", "SCHOOL-LETTER", "ocr_text")}
    assert review == []


def test_a_titled_sheet_whose_payload_cannot_be_read_splits_and_sends_the_next_document_to_review(office: Path) -> None:
    f = ScanFactory(seed=82)
    batch = f.batch(office, "smeared.pdf", [
        Doc("pps-letter", A),
        Cover(A, "retain", "CONSENT", damage="stain", garble="unreadable"),
        Doc("consent", A),
    ], container="pdf-text", dpi=200)
    docs, review = ingest(batch)
    assert_no_sheet_inside(docs, batch)
    by_first = {d["source_pages"][0]: d for d in docs}
    assert set(by_first) == {"smeared.pdf#1", "smeared.pdf#3"}
    assert (by_first["smeared.pdf#1"]["case_ref"], by_first["smeared.pdf#1"]["decision"]) == (A, "retain")
    behind = by_first["smeared.pdf#3"]
    assert (behind["decision"], behind["case_ref"]) == ("review", None)  # never a guessed case
    assert "smeared.pdf#2" in behind["reason"] and "could not be read" in behind["reason"]
    assert [r["source_pages"] for r in review] == [["smeared.pdf#3"]]


# --- Code 39 separators --------------------------------------------------------------------------

def test_a_code_39_patcht_sheet_splits_the_batch(office: Path) -> None:
    f = ScanFactory(seed=83)
    batch = f.batch(office, "patcht.pdf", [
        Doc("pps-letter", A), Separator(symbology="code39"), Doc("consent", B),
    ], container="pdf-text", dpi=200)
    docs, review = ingest(batch)
    assert {(tuple(d["source_pages"]), d["case_ref"], d["decision"]) for d in docs} == {
        (("patcht.pdf#1",), A, "retain"), (("patcht.pdf#3",), B, "retain")}
    assert review == []


def test_a_batch_that_is_only_a_separator_sheet_gives_nothing(office: Path) -> None:
    f = ScanFactory(seed=84)
    lone = f.batch(office / "a", "lone.pdf", [Separator(symbology="code39")], container="pdf", dpi=200)
    duplex = f.batch(office / "b", "lone-duplex.pdf", [Separator(symbology="code39")], container="pdf", dpi=200,
                     duplex=True)
    plain = f.batch(office / "c", "lone-128.pdf", [Separator()], container="pdf", dpi=200, duplex=True)
    docs, review = ingest(lone, duplex, plain)
    assert docs == [] and review == []


# --- references as people write them -----------------------------------------------------------------

@pytest.mark.parametrize("style", ["spaced", "lower", "broken"])
def test_a_reference_written_as_people_write_it_is_matched(office: Path, style: str) -> None:
    f = ScanFactory(seed=85)
    mine = f.batch(office / "m", "mine.pdf", [Doc("pps-letter", C, ref_style=style)], container="pdf-text", dpi=200)
    other = f.batch(office / "o", "other.pdf", [Doc("pps-letter", UNREGISTERED, ref_style=style)],
                    container="pdf-text", dpi=200)
    docs, _ = ingest(mine, other)
    got = {d["source_pages"][0]: d for d in docs}
    assert (got["mine.pdf#1"]["case_ref"], got["mine.pdf#1"]["decision"]) == (C, "retain")
    assert C in got["mine.pdf#1"]["reason"]
    # a reference that is not in the register is never matched by normalising
    assert (got["other.pdf#1"]["case_ref"], got["other.pdf#1"]["decision"]) == (None, "review")


def test_two_registered_references_written_loosely_compete_and_go_to_review(office: Path) -> None:
    f = ScanFactory(seed=86)
    batch = f.batch(office, "both.pdf", [Doc("pps-letter", A, ref_style="lower")],
                    container="pdf-text", dpi=200)
    # the same letter, with a second registered reference written into its text layer by hand
    import pikepdf

    with pikepdf.open(batch.path, allow_overwriting_input=True) as pdf:
        page = pdf.pages[0]
        page.contents_add(pdf.make_stream(b"BT 3 Tr /F1 10 Tf 1 0 0 1 60 40 Tm (see also pps 2024 0138) Tj ET\n"))
        pdf.save(batch.path)
    docs, _ = ingest(batch)
    [doc] = docs
    assert doc["decision"] == "review" and "several case references" in doc["reason"]


# --- two cases in one batch, no cover sheets ------------------------------------------------------

def test_a_batch_of_two_cases_without_cover_sheets_splits_where_the_reference_changes(office: Path) -> None:
    f = ScanFactory(seed=87)
    batch = f.batch(office, "two.pdf", [
        Doc("pps-letter", A, pages=2, ref_every_page=True),
        Doc("pps-letter", B, pages=2, ref_every_page=True, ref_style="spaced"),
    ], container="pdf-text", dpi=200)
    docs, review = ingest(batch)
    assert {(tuple(d["source_pages"]), d["case_ref"]) for d in docs} == {
        (("two.pdf#1", "two.pdf#2"), A), (("two.pdf#3", "two.pdf#4"), B)}
    assert_right_cases(docs, batch)
    assert review == []


def test_pages_without_a_reference_between_two_cases_go_to_review_not_to_either_case(office: Path) -> None:
    f = ScanFactory(seed=88)
    batch = f.batch(office, "gap.pdf", [Doc("pps-letter", A, pages=2), Doc("pps-letter", B)], container="pdf-text",
                    dpi=200)
    docs, review = ingest(batch)
    by_pages = {tuple(d["source_pages"]): d for d in docs}
    assert set(by_pages) == {("gap.pdf#1",), ("gap.pdf#2",), ("gap.pdf#3",)}
    assert by_pages[("gap.pdf#1",)]["case_ref"] == A and by_pages[("gap.pdf#3",)]["case_ref"] == B
    assert by_pages[("gap.pdf#2",)]["decision"] == "review"
    assert f"between pages of {A} and {B}" in by_pages[("gap.pdf#2",)]["reason"]


# --- duplex scans ---------------------------------------------------------------------------------

def test_duplex_blank_backs_stay_with_their_page_and_never_make_a_document(office: Path) -> None:
    f = ScanFactory(seed=89)
    batch = f.batch(office, "duplex.pdf", [
        Cover(A, "retain", "PPS-LETTER"), Doc("pps-letter", A, pages=2),
        Separator(), Doc("consent", B),
        Doc("pps-letter", C, ref_every_page=True),
    ], container="pdf-text", dpi=200, duplex=True)
    docs, review = ingest(batch)
    assert pages_of(docs) == pages_of([{"source_pages": e.source_pages} for e in batch.documents])
    assert {(d["source_pages"][0], d["case_ref"], d["decision"]) for d in docs} == {
        ("duplex.pdf#3", A, "retain"), ("duplex.pdf#9", B, "retain"), ("duplex.pdf#11", C, "retain")}
    assert_no_sheet_inside(docs, batch)
    assert review == []


# --- real OCR --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_real_ocr_reads_damaged_cover_sheets_and_a_reference_broken_across_a_line(office: Path) -> None:
    """Tesseract, not a scanner's text layer: a stained sheet among pages that are OCR'd, a torn one
    behind a SHRED sheet's document (whose pages are not OCR'd, so each is looked at for a sheet)."""
    f = ScanFactory(seed=90)
    batch = f.batch(office, "real.pdf", [
        Doc("pps-letter", C, ref_style="broken"),
        Cover(A, "retain", "PPS-LETTER", damage="stain"),
        Doc("pps-letter", A),
        Cover(B, "shred", "SCHOOL-LETTER"),
        Doc("school-letter", B),
        Cover(A, "retain", "CONSENT", damage="torn"),
        Doc("consent", A),
    ], container="pdf", dpi=300)
    docs, review = ingest(batch)
    assert_no_sheet_inside(docs, batch)
    assert_right_cases(docs, batch)
    got = {tuple(d["source_pages"]): (d["case_ref"], d["decision"], d["source"]) for d in docs}
    assert got == {("real.pdf#1",): (C, "retain", "ocr_text"), ("real.pdf#3",): (A, "retain", "ocr_text"),
                   ("real.pdf#5",): (B, "shred", "barcode"), ("real.pdf#7",): (A, "retain", "ocr_text")}
    assert review == []
