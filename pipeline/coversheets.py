"""Cover sheets a front-end prints: which references, classes and decisions a sheet may carry.

The rule is the one the pipeline reads sheets by (:func:`scanners.coversheet.parse_payload`): a
sheet is made only if the pipeline would read its barcode back as the same sheet, so a printed
sheet can never file a document differently from what it says. Needs no database (a sheet can be
printed before the archive is set up).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.cases import check_ref
from pipeline.config import Config
from pps_archive.errors import InvalidValue
from scanners.coversheet import DECISIONS, CoverSheet, format_payload, parse_payload


def cover_sheet(cfg: Config, ref: str, doc_class: str, decision: str, *, archiving: bool = False) -> CoverSheet:
    """The sheet for a document of case ``ref``, or :class:`InvalidCaseRef`/:class:`InvalidValue`.
    ``archiving``: a sheet for old paper scanned while archiving the case (not new activity on it)."""
    ref = check_ref(cfg, ref)
    if decision not in DECISIONS:
        raise InvalidValue(f"{decision!r} is not a cover-sheet decision: use one of {', '.join(DECISIONS)}")
    if doc_class not in cfg.classes:
        raise InvalidValue(f"{doc_class!r} is not a document class: use one of {', '.join(cfg.classes)}")
    sheet = CoverSheet(case_ref=ref, decision=decision, doc_class=doc_class, archiving=archiving)
    if parse_payload(format_payload(sheet), cfg.raw["cases"]["reference_pattern"], cfg.classes) != sheet:
        raise InvalidValue(f"a cover sheet for {ref} ({doc_class}) would not be read back as written: check "
                           f"cases.reference_pattern and the classes in the configuration")
    return sheet


def write_cover_sheet(cfg: Config, ref: str, doc_class: str, decision: str, out: Path, *,
                      archiving: bool = False) -> CoverSheet:
    """Check the sheet (:func:`cover_sheet`) and write it as a printable PDF to ``out``."""
    from scanners.coversheet import render_coversheet_pdf

    sheet = cover_sheet(cfg, ref, doc_class, decision, archiving=archiving)
    render_coversheet_pdf(sheet, out, cfg.section("service")["name"])
    return sheet


#: the most sheets one batch prints (a case file's documents)
MAX_BATCH = 200


def cover_sheets_pdf(cfg: Config, sheets: list[tuple[str, str, str]]) -> tuple[list[CoverSheet], bytes]:
    """Check each ``(ref, class, decision)`` (:func:`cover_sheet`) and draw them as one printable
    PDF, a page each, in memory: the sheets and the PDF's bytes. An empty decision is the class's
    own rule (``retain`` or ``shred`` in the configuration). Needs no database."""
    from scanners.coversheet import coversheets_pdf_bytes

    if not sheets:
        raise InvalidValue("choose at least one document to print a cover sheet for")
    if len(sheets) > MAX_BATCH:
        raise InvalidValue(f"at most {MAX_BATCH} cover sheets are printed at once: print the case file in parts")
    checked = [cover_sheet(cfg, ref, doc_class, decision or _class_rule(cfg, doc_class))
               for ref, doc_class, decision in sheets]
    return checked, coversheets_pdf_bytes(checked, cfg.section("service")["name"])


def _class_rule(cfg: Config, doc_class: str) -> str:
    if doc_class not in cfg.classes:
        raise InvalidValue(f"{doc_class!r} is not a document class: use one of {', '.join(cfg.classes)}")
    return cfg.classes[doc_class].rule
