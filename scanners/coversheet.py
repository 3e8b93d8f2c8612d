"""The cover-sheet format (format 1 of CLI.md): payload, parsing, and the printable sheet.

A cover sheet goes in front of every document of a scanned batch. Its barcode (QR, and Code 128)
carries ``<case-ref>|<RETAIN or SHRED>|<class>``, e.g. ``PPS-2024-0137|RETAIN|EHCP``. The sheet
also prints the title ``DOCUMENT SEPARATOR SHEET`` and the payload in words, so a sheet whose
barcode cannot be read is still recognised from its OCR text. A barcode reading ``PATCHT`` is a
generic separator. Any other barcode (a URL on a school letter) is foreign and ignored.

This module imports nothing heavy; rendering (reportlab) lives in ``_coversheet_pdf``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

GENERIC_SEPARATOR = "PATCHT"
TITLE = "DOCUMENT SEPARATOR SHEET"
DECISIONS = ("retain", "shred")


@dataclass(frozen=True)
class CoverSheet:
    case_ref: str
    decision: str  # "retain" | "shred"
    doc_class: str

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be 'retain' or 'shred', not {self.decision!r}")
        if "|" in self.case_ref or "|" in self.doc_class:
            raise ValueError("a case reference or class cannot contain '|'")


def format_payload(sheet: CoverSheet) -> str:
    """``PPS-2024-0137|RETAIN|EHCP``."""
    return f"{sheet.case_ref}|{sheet.decision.upper()}|{sheet.doc_class}"


def parse_payload(text: str, ref_pattern: str, classes: Collection[str]) -> CoverSheet | None:
    """The cover sheet a barcode's text describes, or None for any other barcode.

    Strict on content (the reference must match ``ref_pattern`` in full, the class must be one of
    ``classes``), lenient only on surrounding whitespace and the decision's letter case.
    """
    parts = [p.strip() for p in text.strip().split("|")]
    if len(parts) != 3:
        return None
    ref, decision, doc_class = parts
    if not re.fullmatch(ref_pattern, ref):
        return None
    decision = decision.lower()
    if decision not in DECISIONS:
        return None
    if doc_class not in set(classes):
        return None
    return CoverSheet(case_ref=ref, decision=decision, doc_class=doc_class)


def is_generic_separator(text: str) -> bool:
    return text.strip() == GENERIC_SEPARATOR


# --- recognising a sheet from OCR text ------------------------------------------------------

_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-"})
# characters OCR reads the printed '|' as
_BAR = r"\s*[|Il1!\[\]/]\s*"


def _normalise(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text.translate(_DASHES))


def parse_coversheet_text(ocr_text: str, ref_pattern: str, classes: Collection[str]) -> CoverSheet | None:
    """Recognise a cover sheet from its OCR'd title and printed payload; None if in doubt.

    Needs the title and at least one clean reading each of the reference, the decision and the
    class; every clean reading of each must agree. Nothing is guessed: a reference garbled by OCR
    (``PPS-2O24-0137``) does not count as a reading, and two different readings give None.
    """
    text = _normalise(ocr_text)
    if not re.search(r"DOCUMENT\s+SEPARATOR\s+SHEET", text, re.IGNORECASE):
        return None
    class_names = sorted(set(classes), key=len, reverse=True)
    if not class_names:
        return None
    ref_re = rf"(?<![A-Za-z0-9])(?:{ref_pattern})"
    class_re = "(?:" + "|".join(re.escape(c) for c in class_names) + r")(?![A-Za-z0-9-])"
    dec_re = r"(?:RETAIN|SHRED)(?![A-Za-z])"

    refs: set[str] = set()
    decisions: set[str] = set()
    found_classes: set[str] = set()
    for m in re.finditer(rf"(?P<ref>{ref_re}){_BAR}(?P<dec>{dec_re}){_BAR}(?P<cls>{class_re})", text):
        refs.add(m["ref"])
        decisions.add(m["dec"])
        found_classes.add(m["cls"])
    for m in re.finditer(rf"(?i:decision)\s*:?\s*(?P<dec>{dec_re})", text):
        decisions.add(m["dec"])
    for m in re.finditer(rf"(?i:document\s+class)\s*:?\s*(?P<cls>{class_re})", text):
        found_classes.add(m["cls"])
    # every clean reference on the sheet is a reading (the labelled one included); they must agree
    for m in re.finditer(rf"{ref_re}(?![0-9])", text):
        refs.add(m.group(0))

    if len(refs) != 1 or len(decisions) != 1 or len(found_classes) != 1:
        return None
    return CoverSheet(case_ref=refs.pop(), decision=decisions.pop().lower(), doc_class=found_classes.pop())


def render_coversheet_pdf(
    sheet: CoverSheet,
    out_path: Path,
    service_name: str,
    *,
    symbologies: Collection[str] = ("qr", "code128"),
) -> None:
    """Write a one-page A4 cover sheet PDF (atomically) to ``out_path``.

    ``symbologies`` is for tests: the printed sheet carries both a QR and a Code 128.
    """
    from scanners._coversheet_pdf import render

    render(sheet, Path(out_path), service_name, frozenset(symbologies))
