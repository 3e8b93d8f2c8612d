"""Cover-sheet format 1: payload, parsing (barcode and OCR text), the printed sheet."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pikepdf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanners._ocrtext import find_known, skeleton_index
from scanners.coversheet import (
    GENERIC_SEPARATOR,
    TITLE,
    CoverSheet,
    SheetText,
    format_payload,
    parse_coversheet_text,
    parse_payload,
    read_coversheet_text,
    render_coversheet_pdf,
)
from tests.factory import CLASSES, REF_PATTERN

SERVICE = "Parent Partnership Service"


def parse(text: str) -> CoverSheet | None:
    return parse_payload(text, REF_PATTERN, CLASSES)


@pytest.mark.parametrize("doc_class", CLASSES)
@pytest.mark.parametrize("decision", ["retain", "shred"])
def test_payload_round_trip(doc_class: str, decision: str) -> None:
    sheet = CoverSheet("PPS-2024-0137", decision, doc_class)
    payload = format_payload(sheet)
    assert payload == f"PPS-2024-0137|{decision.upper()}|{doc_class}"
    assert parse(payload) == sheet


@given(year=st.integers(0, 9999), number=st.integers(0, 9999), doc_class=st.sampled_from(CLASSES),
       decision=st.sampled_from(["retain", "shred"]))
def test_payload_round_trip_any_reference(year: int, number: int, doc_class: str, decision: str) -> None:
    sheet = CoverSheet(f"PPS-{year:04d}-{number:04d}", decision, doc_class)
    assert parse(format_payload(sheet)) == sheet


def test_the_example_from_the_contract() -> None:
    assert parse("PPS-2024-0137|RETAIN|EHCP") == CoverSheet("PPS-2024-0137", "retain", "EHCP")
    assert parse("  PPS-2024-0137 | SHRED | EHCP \n") == CoverSheet("PPS-2024-0137", "shred", "EHCP")


@pytest.mark.parametrize("text", [
    "https://www.brookfield-primary.example.org/parents/reviews",  # the decoy on a school letter
    GENERIC_SEPARATOR,
    "",
    "PPS-2024-0137",
    "PPS-2024-0137|RETAIN",
    "PPS-2024-0137|RETAIN|EHCP|extra",
    "PPS-2024-137|RETAIN|EHCP",  # reference does not match the pattern
    "PPS-2O24-0137|RETAIN|EHCP",  # letter O for zero: not guessed
    "XPPS-2024-0137|RETAIN|EHCP",
    "PPS-2024-0137|KEEP|EHCP",
    "PPS-2024-0137|RETAIN|LETTER",  # not a configured class
    "PPS-2024-0137|RETAIN|ehcp",  # classes are exact
    "WIFI:S:School;T:WPA;P:secret;;",
])
def test_foreign_or_malformed_payloads_are_not_cover_sheets(text: str) -> None:
    assert parse(text) is None


def test_the_configured_pattern_and_classes_decide() -> None:
    assert parse_payload("CASE-17|SHRED|MINUTES", r"CASE-\d+", ["MINUTES"]) == CoverSheet("CASE-17", "shred", "MINUTES")
    assert parse_payload("PPS-2024-0137|SHRED|EHCP", r"CASE-\d+", ["EHCP"]) is None


def test_a_cover_sheet_must_be_well_formed() -> None:
    with pytest.raises(ValueError):
        CoverSheet("PPS-2024-0137", "keep", "EHCP")
    with pytest.raises(ValueError):
        CoverSheet("PPS-2024|0137", "retain", "EHCP")


# --- the printed sheet ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def sheet_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sheet") / "cover.pdf"
    render_coversheet_pdf(CoverSheet("PPS-2024-0137", "shred", "SCHOOL-LETTER"), out, SERVICE)
    return out


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True, text=True).stdout


def test_printed_sheet_says_everything_in_words(sheet_pdf: Path) -> None:
    with pikepdf.open(sheet_pdf) as pdf:
        assert len(pdf.pages) == 1
        x0, y0, x1, y1 = (float(v) for v in pdf.pages[0].mediabox)
        assert (round(x1 - x0), round(y1 - y0)) == (595, 842)  # A4
    text = pdf_text(sheet_pdf)
    for words in (TITLE, SERVICE, "PPS-2024-0137", "SHRED", "SCHOOL-LETTER", "PPS-2024-0137|SHRED|SCHOOL-LETTER",
                  "Scan this sheet in front of the document", "Paper: SHRED after scanning"):
        assert words in text
    assert sheet_pdf.stat().st_mode & 0o777 == 0o644


def test_printed_sheet_text_is_recognised(sheet_pdf: Path) -> None:
    assert parse_coversheet_text(pdf_text(sheet_pdf), REF_PATTERN, CLASSES) == CoverSheet("PPS-2024-0137", "shred", "SCHOOL-LETTER")


def test_code128_bars_are_at_least_half_a_millimetre_and_fit_the_page() -> None:
    from reportlab.graphics.barcode.code128 import Code128
    from reportlab.lib.units import mm

    from scanners import _coversheet_pdf

    assert _coversheet_pdf.CODE128_BAR_MM >= 0.5
    longest = format_payload(CoverSheet("PPS-2024-0137", "retain", max(CLASSES, key=len)))
    code = Code128(longest, barWidth=_coversheet_pdf.CODE128_BAR_MM * mm, lquiet=6 * mm, rquiet=6 * mm)
    assert code.width < (297 - 22 - 50) * mm  # printed upwards from 22 mm, clear of the fields


@pytest.mark.parametrize("symbologies", [("qr",), ("code128",), ("qr", "code128")])
def test_every_printed_barcode_reads_back(tmp_path: Path, symbologies: tuple[str, ...]) -> None:
    from tests.factory._sheets import rasterise
    from scanners.barcodes import read_codes

    sheet = CoverSheet("PPS-2025-0042", "retain", "CONSENT")
    out = tmp_path / "sheet.pdf"
    render_coversheet_pdf(sheet, out, SERVICE, symbologies=symbologies)
    image = rasterise(out, 300)
    image.info["dpi"] = (300, 300)
    found = read_codes(image, "zxing", thorough=True)
    assert sorted(c.symbology for c in found) == sorted(symbologies)
    assert {parse(c.text) for c in found} == {sheet}


# --- recognising a sheet from OCR text ---------------------------------------------------------

GOOD = """DOCUMENT SEPARATOR SHEET
Parent Partnership Service
Case reference: PPS-2024-0137
Decision: RETAIN
Document class: EHCP
PPS-2024-0137|RETAIN|EHCP
Scan this sheet in front of the document it describes."""


@pytest.mark.parametrize("text", [
    GOOD,
    GOOD.replace("PPS-2024-0137|RETAIN|EHCP", "PPS-2024-0137 I RETAIN l EHCP"),  # bars read as letters
    GOOD.replace("PPS-2024-0137|RETAIN|EHCP", "PPS\u20142024\u20140137 | RETAIN | EHCP"),  # dashes
    GOOD.replace("DOCUMENT SEPARATOR SHEET", "DOCUMENT  SEPARATOR\nSHEET"),
    GOOD.replace("Case reference: PPS-2024-0137", "Case reference: PPS-2O24-0137"),  # one garbled copy
    GOOD.replace("PPS-2024-0137|RETAIN|EHCP", "PPS-2024-0137 | RETA1N | EHCP"),  # payload line garbled
])
def test_ocr_text_of_a_sheet_is_recognised(text: str) -> None:
    assert parse_coversheet_text(text, REF_PATTERN, CLASSES) == CoverSheet("PPS-2024-0137", "retain", "EHCP")


@pytest.mark.parametrize("text", [
    GOOD.replace("DOCUMENT SEPARATOR SHEET", "DOCUMENT"),  # no title
    GOOD.replace("PPS-2024-0137", "PPS-2O24-0137"),  # every copy of the reference garbled: no guess
    GOOD.replace("PPS-2024-0137", "PPS-2024-O137"),
    GOOD.replace("Case reference: PPS-2024-0137", "Case reference: PPS-2024-0187"),  # two readings disagree
    GOOD.replace("Decision: RETAIN", "Decision: SHRED"),
    GOOD.replace("Document class: EHCP", "Document class: NOTE"),
    GOOD.replace("Document class: EHCP", "Document class: ECHP").replace("|EHCP", "|ECHP"),  # no clean class
    "Dear Ms Fenwright, Our reference: PPS-2024-0137. We will keep the information you gave us.",
    "",
])
def test_doubtful_ocr_text_is_not_a_sheet(text: str) -> None:
    assert parse_coversheet_text(text, REF_PATTERN, CLASSES) is None


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract")
@pytest.mark.parametrize("dpi", [200, 300])
def test_sheet_with_unreadable_barcodes_is_recognised_by_real_tesseract(scan_factory, dpi: int) -> None:
    import pytesseract

    from scanners.barcodes import read_codes
    from tests.factory import Cover, Degrade

    cover = Cover("PPS-2024-0318", "shred", "SEN-LETTER", blot=True)
    page = scan_factory.coversheet(cover, dpi=dpi, degrade=Degrade(skew=1.0, speckle=100, jpeg_quality=40))
    page.image.info["dpi"] = (dpi, dpi)
    assert read_codes(page.image, "zxing", thorough=True) == []
    text = pytesseract.image_to_string(page.image, config="--psm 3")
    assert parse_coversheet_text(text, REF_PATTERN, CLASSES) == cover.sheet


# --- what OCR really does to the printed payload (issue 8) ----------------------------------------

def register(*refs: str):  # noqa: ANN201 - what pipeline.match.RefIndex.known gives the parser
    index = skeleton_index(refs)
    return lambda text: [words for _, words in find_known(text, index)]


REGISTER = register("PPS-2024-0137", "PPS-2024-0138", "PPS-2025-0011")
SHEET = CoverSheet("PPS-2024-0137", "retain", "EHCP")


#: a sheet whose labelled fields a stain took: title, reference and the payload line are left
PAYLOAD_ONLY = "DOCUMENT SEPARATOR SHEET\nParent Partnership Service\nCase reference: PPS-2024-0137\n{}\nScan this sheet"


@pytest.mark.parametrize("text", [
    PAYLOAD_ONLY.format("PPS-2024-0137 ,| RETAIN l. EHCP"),  # stray characters round the bars
    PAYLOAD_ONLY.format("PPS-2024-0137'|'RETAIN!|EHCP"),
    PAYLOAD_ONLY.format("PPS-2024-0137 ;| RETAIN |: EHCP"),
    PAYLOAD_ONLY.format("PPS-2024-0137|RETA1N|EHCP"),  # look-alike in the decision
    PAYLOAD_ONLY.format("PPS-2024-0137 | Retain | EHCP"),  # case
    PAYLOAD_ONLY.format("PPS-2024-0137|RETAIN|EHCP").replace("DOCUMENT SEPARATOR SHEET", "D0CUMENT SEPARAT0R SHEET"),
    PAYLOAD_ONLY.format("PPS-2024-0137|RETAIN|EHCP").replace("DOCUMENT SEPARATOR SHEET", "SEPARATOR SHEET"),  # torn
])
def test_ocr_noise_round_the_payload_is_read_through(text: str) -> None:
    assert parse_coversheet_text(text, REF_PATTERN, CLASSES) == SHEET


@pytest.mark.parametrize("garbled", [
    "PPS-2O24-0137", "PPS-2024-O137", "PPS-2O24-Ol37", "pps-2024-0137", "PP5-2024-0I37", "PPS 2024 0137",
    "PPS- 2024-0137", "PPS-2024-\n0137",
])
def test_a_garbled_reference_is_read_against_the_register(garbled: str) -> None:
    text = GOOD.replace("PPS-2024-0137", garbled)
    assert parse_coversheet_text(text, REF_PATTERN, CLASSES) is None  # without the register: no guess
    assert read_coversheet_text(text, REF_PATTERN, CLASSES, REGISTER) == SheetText(True, SHEET)


def test_a_garbled_reference_not_in_the_register_is_never_matched() -> None:
    text = GOOD.replace("PPS-2024-0137", "PPS-2O24-0l39")  # PPS-2024-0139 is not registered
    assert read_coversheet_text(text, REF_PATTERN, CLASSES, REGISTER) == SheetText(True, None)


def test_look_alike_registered_references_compete_and_nothing_is_matched() -> None:
    both = register("PPS-2024-0137", "PPS-2024-O137")  # a register whose pattern allows letters
    text = GOOD.replace("PPS-2024-0137", "PPS-2O24-0137")
    assert read_coversheet_text(text, r"PPS-\w{4}-\w{4}", CLASSES, both).sheet is None


def test_clean_and_register_readings_must_agree() -> None:
    text = GOOD.replace("Case reference: PPS-2024-0137", "Case reference: PPS-2O24-0l38")
    assert read_coversheet_text(text, REF_PATTERN, CLASSES, REGISTER) == SheetText(True, None)


@pytest.mark.parametrize("text", [
    GOOD.replace("PPS-2024-0137", "PP?-2?~4-#1?7"),  # every copy of the reference smeared
    GOOD.replace("Decision: RETAIN", "Decision: SHRED"),
    "DOCUMENT SEPARATOR SHEET\nParent Partnership Service\n",  # the rest torn away
])
def test_a_titled_page_whose_payload_cannot_be_read_is_still_a_sheet(text: str) -> None:
    assert read_coversheet_text(text, REF_PATTERN, CLASSES, REGISTER) == SheetText(True, None)


def test_a_letter_is_not_titled() -> None:
    letter = "Parent Partnership Service\nOur reference: PPS-2024-0137\nDear Ms Fenwright, we enclose a leaflet."
    assert read_coversheet_text(letter, REF_PATTERN, CLASSES, REGISTER) == SheetText(False, None)


@pytest.mark.parametrize("decision", ["retain", "shred"])
def test_the_factorys_garbled_sheet_words(decision: str) -> None:
    from tests.factory._sheets import coversheet_page

    sheet = CoverSheet("PPS-2025-0011", decision, "SCHOOL-LETTER")
    _, words = coversheet_page(sheet, 100, garble="look-alikes")
    text = " ".join(words)
    assert "PPS-2025-0011" not in text and "pps-2o2s-ooll" in text and "PPS-2O2S-OOll ,| " in text
    assert parse_coversheet_text(text, REF_PATTERN, CLASSES) is None
    assert read_coversheet_text(text, REF_PATTERN, CLASSES, REGISTER) == SheetText(True, sheet)
    _, words = coversheet_page(sheet, 100, garble="unreadable")
    assert read_coversheet_text(" ".join(words), REF_PATTERN, CLASSES, REGISTER) == SheetText(True, None)
