"""Processing one input: the recipe. Each step is a small function; this one reads top to bottom.

pages → codes on every page → split at cover sheets → for each document: OCR if it is kept (or
needs its text to be matched) → match and decide → encrypt what is kept → commit everything in one
transaction with the input's ``done`` state → remove the spool copy.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from pipeline import audit, keystore, spool
from pipeline.config import Config
from pipeline.jobcontext import JobContext
from pipeline.match import CaseFacts, Decision, SheetFacts, decide
from pipeline.models import Case, Document, Input, ShredEntry
from pipeline.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class Segment:
    """The pages of one document, and the cover sheet in front of it (if any)."""

    sheet: SheetFacts | None
    pages: list = field(default_factory=list)  # scanners.pages.PageRef


# --- step 1: pages and their marks -----------------------------------------------------------

def open_scan(ws: Workspace, row: Input):  # noqa: ANN201 - scanners.pages.ScanInput
    from scanners.pages import InputLimits, open_batch, open_input

    intake = ws.config.section("intake")
    limits = InputLimits(intake["max_file_bytes"], intake["max_pages"], intake["max_page_pixels"])
    members = spool.spool_members(ws, row.sha256)
    if row.members == 1:
        return open_input(members[0], row.display_name, limits)
    return open_batch(members, json.loads(row.member_names), limits)


def page_mark(page, cfg: Config, reader: str) -> tuple[str, SheetFacts | None]:  # noqa: ANN001
    """("sheet", facts) for a cover sheet, ("separator", None) for PATCHT, ("page", None) otherwise."""
    from scanners.barcodes import read_codes
    from scanners.coversheet import is_generic_separator, parse_coversheet_text, parse_payload

    image = page.load()
    classes = list(cfg.classes)
    pattern = cfg.reference_pattern.pattern
    codes = read_codes(image, reader=reader)
    for code in codes:
        sheet = parse_payload(code.text, pattern, classes)
        if sheet is not None:
            return "sheet", SheetFacts(sheet.case_ref, sheet.decision, sheet.doc_class, "barcode")
    if any(is_generic_separator(c.text) for c in codes):
        return "separator", None
    if _may_be_sheet(image):
        from pipeline.ocr import quick_text

        sheet = parse_coversheet_text(quick_text(image, language=cfg.section("ocr")["language"]), pattern, classes)
        if sheet is not None:
            return "sheet", SheetFacts(sheet.case_ref, sheet.decision, sheet.doc_class, "ocr")
    return "page", None


def _may_be_sheet(image) -> bool:  # noqa: ANN001
    """Cheap test for a cover sheet whose barcode could not be read: OCR the top band at low
    resolution and look for the sheet's title."""
    from pipeline.ocr import quick_text

    w, h = image.size
    band = image.crop((0, 0, w, max(1, h // 4)))
    scale = min(1.0, 1200 / max(1, w))
    if scale < 1.0:
        band = band.resize((max(1, int(w * scale)), max(1, int(band.size[1] * scale))))
    text = quick_text(band.convert("L")).upper()
    return "SEPARATOR" in text or "DOCUMENT SEP" in text


def split(pages: list, marks: list[tuple[str, SheetFacts | None]]) -> tuple[list[Segment], int]:
    """Documents in page order; returns them and the number of separator sheets seen."""
    segments: list[Segment] = [Segment(sheet=None)]
    separators = 0
    for page, (kind, sheet) in zip(pages, marks, strict=True):
        if kind in ("sheet", "separator"):
            separators += 1
            segments.append(Segment(sheet=sheet))
        else:
            segments[-1].pages.append(page)
    return [s for s in segments if s.pages or s.sheet is not None], separators


# --- step 2: OCR what needs reading, then decide --------------------------------------------

@dataclass(frozen=True)
class Prepared:
    segment: Segment
    pdf: Path | None  # the document as it would be kept (OCR'd PDF/A)
    texts: tuple[str, ...] | None  # None: not read (a SHRED cover sheet)


def prepare_segment(ws: Workspace, jc: JobContext, n: int, seg: Segment, scan) -> Prepared:  # noqa: ANN001
    """OCR a document unless its cover sheet says SHRED (then nothing of it is kept or read)."""
    from scanners.pages import write_pdf

    if seg.sheet is not None and seg.sheet.decision == "shred":
        return Prepared(seg, None, None)
    write_pdf(seg.pages, jc.segment_pdf(n))
    if scan.has_text_layer:
        from pipeline.ocr import pdf_text

        return Prepared(seg, jc.segment_pdf(n), pdf_text(jc.segment_pdf(n)))
    from pipeline.ocr import ocr_document

    o = ws.config.section("ocr")
    result = ocr_document(jc.segment_pdf(n), jc.ocr_pdf(n), jc.sidecar(n), language=o["language"],
                          rotate=o["rotate_pages"], deskew=o["deskew"], display=scan.display_name)
    return Prepared(seg, result.pdf, result.page_texts)


def case_lookup(s: Session):  # noqa: ANN201
    from sqlalchemy import select

    def lookup(ref: str) -> CaseFacts | None:
        case = s.scalars(select(Case).where(Case.ref == ref)).one_or_none()
        if case is None:
            return None
        return CaseFacts(case.ref, case.store_consent, case.disposed_on is not None)

    return lookup


@dataclass(frozen=True)
class Planned:
    segment: Segment
    decision: Decision
    pdf: Path | None  # what is kept: retained documents, and review copies for staff to look at
    recipient: str | None  # whom it is encrypted to: the case's key, or the archive's (review)


def plan(ws: Workspace, s: Session, prepared: list[Prepared]) -> list[Planned]:
    """Decide every document and find the key each kept one is encrypted to (public keys only)."""
    lookup = case_lookup(s)
    out = []
    for p in prepared:
        d = decide(p.segment.sheet, p.texts, ws.config, lookup)
        if p.pdf is None or d.decision == "shred":
            out.append(Planned(p.segment, d, None, None))
        elif d.decision == "retain":
            out.append(Planned(p.segment, d, p.pdf, keystore.case_recipient(s, d.case_ref)))
        else:
            out.append(Planned(p.segment, d, p.pdf, keystore.archive_recipient(s)))
    return out


# --- step 3: encrypt, then commit everything at once --------------------------------------------

def commit_plans(s: Session, row: Input, plans: list[Planned], items: list, pages: int, *, now: dt.datetime) -> list[int]:  # noqa: ANN001
    """Write documents and shred entries and mark the input done, in the caller's transaction."""
    from sqlalchemy import select

    ids = []
    for p, item in zip(plans, items, strict=True):
        d = p.decision
        case = s.scalars(select(Case).where(Case.ref == d.case_ref)).one_or_none() if d.case_ref else None
        doc = Document(
            input_id=row.id, case_id=case.id if case else None, doc_class=d.doc_class, decision=d.decision,
            reason=d.reason, source=d.source, pages=len(p.segment.pages),
            source_pages=json.dumps([pg.label for pg in p.segment.pages]),
            state={"retain": "filed", "shred": "shred-only", "review": "review"}[d.decision],
            suggested_ref=d.suggested_ref, created_at=now,
        )
        if item is not None:
            doc.vault_item, doc.plaintext_sha256, doc.ciphertext_sha256, doc.size = (
                item.item_id, item.plaintext_sha256, item.ciphertext_sha256, item.size)
            doc.encrypted_to = "case" if d.decision == "retain" else "archive"
        s.add(doc)
        s.flush()
        if d.decision != "review":
            s.add(ShredEntry(document_id=doc.id))
        audit.record(s, "intake", "document.filed", case_ref=d.case_ref, subject=f"document:{doc.id}",
                     decision=d.decision, doc_class=d.doc_class, source=d.source, pages=doc.pages, input=row.id)
        ids.append(doc.id)
    row.state, row.pages, row.finished_at, row.claimed_by, row.lease_until = "done", pages, now, None, None
    audit.record(s, "intake", "input.done", subject=f"input:{row.id}", documents=len(ids), pages=pages)
    return ids
