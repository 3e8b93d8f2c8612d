"""The cover-sheet format (format 1 of CLI.md): payload, parsing, and the printable sheet.

A cover sheet goes in front of every document of a scanned batch. Its barcode (QR, and Code 128)
carries ``<case-ref>|<RETAIN or SHRED>|<class>``, e.g. ``PPS-2024-0137|RETAIN|EHCP``, and on a
sheet printed for the archive sort a fourth field ``ARCHIVE`` (``PPS-2024-0137|RETAIN|EHCP|ARCHIVE``):
the document is old paper of the case scanned while archiving it, not new activity on the case.
A sheet of three fields (every sheet printed before) reads as before. The sheet
also prints the title ``DOCUMENT SEPARATOR SHEET`` and the payload in words, so a sheet whose
barcode cannot be read is still recognised from its OCR text. A barcode reading ``PATCHT`` is a
generic separator. Any other barcode (a URL on a school letter) is foreign and ignored.

This module imports nothing heavy; rendering (reportlab) lives in ``_coversheet_pdf``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

GENERIC_SEPARATOR = "PATCHT"
#: the optional fourth field of an archiving sheet's payload
ARCHIVE_FIELD = "ARCHIVE"
TITLE = "DOCUMENT SEPARATOR SHEET"
DECISIONS = ("retain", "shred")


@dataclass(frozen=True)
class CoverSheet:
    case_ref: str
    decision: str  # "retain" | "shred"
    doc_class: str
    archiving: bool = False  # scanned while archiving the case: not new activity on it

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be 'retain' or 'shred', not {self.decision!r}")
        if "|" in self.case_ref or "|" in self.doc_class:
            raise ValueError("a case reference or class cannot contain '|'")


def format_payload(sheet: CoverSheet) -> str:
    """``PPS-2024-0137|RETAIN|EHCP`` (``...|ARCHIVE`` for an archiving sheet)."""
    payload = f"{sheet.case_ref}|{sheet.decision.upper()}|{sheet.doc_class}"
    return f"{payload}|{ARCHIVE_FIELD}" if sheet.archiving else payload


def parse_payload(text: str, ref_pattern: str, classes: Collection[str]) -> CoverSheet | None:
    """The cover sheet a barcode's text describes, or None for any other barcode.

    Strict on content (the reference must match ``ref_pattern`` in full, the class must be one of
    ``classes``), lenient only on surrounding whitespace and the decision's letter case.
    """
    parts = [p.strip() for p in text.strip().split("|")]
    archiving = len(parts) == 4 and parts[3].upper() == ARCHIVE_FIELD
    if len(parts) != 3 and not archiving:
        return None
    ref, decision, doc_class = parts[:3]
    if not re.fullmatch(ref_pattern, ref):
        return None
    decision = decision.lower()
    if decision not in DECISIONS:
        return None
    if doc_class not in set(classes):
        return None
    return CoverSheet(case_ref=ref, decision=decision, doc_class=doc_class, archiving=archiving)


def is_generic_separator(text: str) -> bool:
    return text.strip() == GENERIC_SEPARATOR


# --- recognising a sheet from OCR text ------------------------------------------------------

_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-"})
#: what OCR makes of the printed '|' between the payload's fields: the bar, a look-alike letter,
#: stray punctuation, spaces (at least one of them)
_JUNK = r"[\s.,:;'\"`\u2018\u2019_~(){}\[\]|!/\\]*"
_BAR = rf"{_JUNK}(?:[|!/\\\[\]Il1]|\s){_JUNK}"
#: the reference's last character as OCR may render it (a digit or its look-alike)
_REF_END = r"(?<=[0-9OoQIlSB])"
#: the title, and each two-word half of it (a crease or a torn edge may take one word)
_TITLES = (TITLE, "DOCUMENT SEPARATOR", "SEPARATOR SHEET")

#: finds the registered case references in a text, as tuples (several when look-alikes compete)
KnownRefs = Callable[[str], list[tuple[str, ...]]]


@dataclass(frozen=True)
class SheetText:
    """What the OCR text of a page says about it being a cover sheet."""

    titled: bool  # the sheet's title is on the page
    sheet: CoverSheet | None  # its payload, when every reading of each field agrees


def _normalise(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text.translate(_DASHES))


@functools.lru_cache(maxsize=16)
def _patterns(classes: tuple[str, ...]) -> tuple[re.Pattern, re.Pattern, re.Pattern, dict, dict]:
    from scanners._ocrtext import skeleton_index, tolerant

    by_len = sorted(classes, key=len, reverse=True)
    cls = "(?:" + "|".join(tolerant(c) for c in by_len) + r")(?![A-Za-z0-9])"
    dec = "(?:" + "|".join(tolerant(d.upper()) for d in DECISIONS) + r")(?![A-Za-z])"
    payload = re.compile(rf"{_REF_END}{_BAR}(?P<dec>{dec}){_BAR}(?P<cls>{cls})")
    decision = re.compile(rf"{tolerant('Decision')}\s?[:;.,]?\s*(?P<dec>{dec})")
    doc_class = re.compile(rf"{tolerant('Document class')}\s?[:;.,]?\s*(?P<cls>{cls})")
    return payload, decision, doc_class, skeleton_index(classes), skeleton_index(d.upper() for d in DECISIONS)


def read_coversheet_text(ocr_text: str, ref_pattern: str, classes: Collection[str],
                         known_refs: KnownRefs | None = None) -> SheetText:
    """Whether the OCR text of a page is a cover sheet's, and which (``sheet`` None if in doubt).

    ``titled`` says the sheet's title is there (tolerant of look-alike characters, case and line
    breaks). ``sheet`` needs at least one reading each of the reference, the decision and the
    class, and every reading of each must agree. A decision or class reads through OCR's
    look-alikes (``RETA1N``), stray characters and spaces around the ``|``; a reference reads
    either clean (it matches ``ref_pattern``) or through ``known_refs``, which finds only the
    references of the case register (``PPS-2O24-0l37`` for a registered ``PPS-2024-0137``). Nothing
    is guessed: without the register a garbled reference is no reading, and two readings that differ
    give None.
    """
    from scanners._ocrtext import find_known, skeleton, skeleton_index

    text = _normalise(ocr_text)
    if not find_known(text, skeleton_index(_TITLES)):
        return SheetText(False, None)
    names = tuple(sorted(set(classes)))
    if not names:
        return SheetText(True, None)
    payload, decision, doc_class, class_of, decision_of = _patterns(names)

    from scanners._ocrtext import tolerant

    # the archiving field, printed in words on the sheet ("Scan: ARCHIVE") and after the payload;
    # missed by OCR, the document counts as activity (kept longer, never disposed of early)
    archiving = re.search(rf"(?<![A-Za-z]){tolerant(ARCHIVE_FIELD)}(?![A-Za-z])", text) is not None
    refs: set[str] = set()
    decisions: set[str] = set()
    found_classes: set[str] = set()
    for m in payload.finditer(text):
        decisions.update(decision_of[skeleton(m["dec"])])
        found_classes.update(class_of[skeleton(m["cls"])])
    for m in decision.finditer(text):
        decisions.update(decision_of[skeleton(m["dec"])])
    for m in doc_class.finditer(text):
        found_classes.update(class_of[skeleton(m["cls"])])
    # every clean reference on the sheet is a reading (the labelled one included); they must agree
    for m in re.finditer(rf"(?<![A-Za-z0-9])(?:{ref_pattern})(?![0-9])", text):
        refs.add(m.group(0))
    for hit in (known_refs(text) if known_refs else ()):
        refs.update(hit)

    if len(refs) != 1 or len(decisions) != 1 or len(found_classes) != 1:
        return SheetText(True, None)
    return SheetText(True, CoverSheet(case_ref=refs.pop(), decision=decisions.pop().lower(), doc_class=found_classes.pop(),
                                      archiving=archiving))


def parse_coversheet_text(ocr_text: str, ref_pattern: str, classes: Collection[str],
                          known_refs: KnownRefs | None = None) -> CoverSheet | None:
    """The cover sheet the OCR text of a page shows, or None (see :func:`read_coversheet_text`)."""
    return read_coversheet_text(ocr_text, ref_pattern, classes, known_refs).sheet


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


def coversheets_pdf_bytes(sheets: Collection[CoverSheet], service_name: str, *,
                          symbologies: Collection[str] = ("qr", "code128")) -> bytes:
    """Several cover sheets as one printable A4 PDF (a page each), in memory."""
    from scanners._coversheet_pdf import render_bytes

    return render_bytes(list(sheets), service_name, frozenset(symbologies))
