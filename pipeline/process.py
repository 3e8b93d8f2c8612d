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
    """From the page's barcodes: ("sheet", facts), ("separator", None) for PATCHT, or ("page", None)."""
    from scanners.barcodes import read_codes
    from scanners.coversheet import is_generic_separator, parse_payload

    codes = read_codes(page.load(), reader=reader)
    for code in codes:
        sheet = parse_payload(code.text, cfg.reference_pattern.pattern, list(cfg.classes))
        if sheet is not None:
            return "sheet", SheetFacts(sheet.case_ref, sheet.decision, sheet.doc_class, "barcode")
    if any(is_generic_separator(c.text) for c in codes):
        return "separator", None
    return "page", None


def sheet_from_text(text: str, cfg: Config) -> SheetFacts | None:
    """A cover sheet whose barcode could not be read, recognised from its printed title and payload."""
    from scanners.coversheet import parse_coversheet_text

    sheet = parse_coversheet_text(text, cfg.reference_pattern.pattern, list(cfg.classes))
    return SheetFacts(sheet.case_ref, sheet.decision, sheet.doc_class, "ocr") if sheet else None


def _may_be_sheet(image) -> bool:  # noqa: ANN001
    """Cheap test for a cover sheet whose barcode could not be read: OCR the top band at low
    resolution and look for the sheet's title. Used only on pages that are not OCR'd anyway."""
    from pipeline.ocr import quick_text

    w, h = image.size
    band = image.crop((0, 0, w, max(1, h // 4)))
    scale = min(1.0, 1200 / max(1, w))
    if scale < 1.0:
        band = band.resize((max(1, int(w * scale)), max(1, int(band.size[1] * scale))))
    text = quick_text(band.convert("L")).upper()
    return "SEPARATOR" in text or "DOCUMENT SEP" in text


def split(pages: list, marks: list[tuple[str, SheetFacts | None]]) -> list[Segment]:
    """Documents in page order (a sheet with no pages after it stays, as an empty segment)."""
    segments: list[Segment] = [Segment(sheet=None)]
    for page, (kind, sheet) in zip(pages, marks, strict=True):
        if kind in ("sheet", "separator"):
            segments.append(Segment(sheet=sheet))
        else:
            segments[-1].pages.append(page)
    return [s for s in segments if s.pages or s.sheet is not None]


def resplit(seg: Segment, sheets: list[SheetFacts | None]) -> list[Segment]:
    """Split a segment again at pages found (by OCR) to be cover sheets; ``sheets[i]`` for page i."""
    out = [Segment(sheet=seg.sheet)]
    for page, sheet in zip(seg.pages, sheets, strict=True):
        if sheet is not None:
            out.append(Segment(sheet=sheet))
        else:
            out[-1].pages.append(page)
    return out


# --- step 2: read the text of what is kept or must be matched, then decide ------------------

@dataclass(frozen=True)
class Prepared:
    segment: Segment
    pdf: Path | None  # the document as it would be kept (OCR'd PDF/A)
    texts: tuple[str, ...] | None  # None: not read (a SHRED cover sheet)


def _needs_reading(seg: Segment) -> bool:
    return not (seg.sheet is not None and seg.sheet.decision == "shred")


def check_unread_pages(segments: list[Segment], cfg: Config) -> list[Segment]:
    """Pages behind a SHRED sheet are not OCR'd, so look at each for an unreadable cover sheet."""
    out: list[Segment] = []
    for seg in segments:
        if _needs_reading(seg):
            out.append(seg)
            continue
        sheets = []
        for page in seg.pages:
            image = page.load()
            sheet = None
            if _may_be_sheet(image):
                from pipeline.ocr import quick_text

                sheet = sheet_from_text(quick_text(image, language=cfg.section("ocr")["language"]), cfg)
            sheets.append(sheet)
        out.extend(resplit(seg, sheets) if any(sheets) else [seg])
    return out


def read_segments(ws: Workspace, jc: JobContext, segments: list[Segment], scan) -> list[Prepared]:  # noqa: ANN001
    """OCR every page that needs reading in one OCRmyPDF run (pages in parallel), then cut the
    result into one PDF/A per document. Pages whose text shows a cover sheet split documents."""
    from pipeline.ocr import extract_pages, ocr_document, pdf_text
    from scanners.pages import write_pdf

    cfg = ws.config
    wanted = [page for seg in segments if _needs_reading(seg) for page in seg.pages]
    if not wanted:
        return [Prepared(seg, None, None) for seg in segments]
    write_pdf(wanted, jc.tmp("read.pdf"))
    texts: tuple[str, ...] = ()
    if scan.has_text_layer:  # a scanner that OCRs itself, or a born-digital PDF
        texts = pdf_text(jc.tmp("read.pdf"))
    if texts and all(t.strip() for t in texts[:len(wanted)]):
        read_pdf = jc.tmp("read.pdf")
    else:  # no text, or only some pages have it: OCR every page (force: redo the partial text layer)
        o = cfg.section("ocr")
        result = ocr_document(jc.tmp("read.pdf"), jc.tmp("read.ocr.pdf"), jc.tmp("read.txt"), language=o["language"],
                              rotate=o["rotate_pages"], deskew=o["deskew"], display=scan.display_name, jobs=cfg.ocr_jobs,
                              force=scan.has_text_layer, timeout=o["timeout_seconds"])
        read_pdf, texts = result.pdf, result.page_texts
    index = {id(page): i for i, page in enumerate(wanted)}
    final: list[Segment] = []
    for seg in segments:
        if not _needs_reading(seg):
            final.append(seg)
            continue
        sheets = [sheet_from_text(texts[index[id(p)]], cfg) for p in seg.pages]
        final.extend(resplit(seg, sheets) if any(sheets) else [seg])
    out = []
    for n, seg in enumerate(final):
        if not seg.pages or not _needs_reading(seg) or any(id(p) not in index for p in seg.pages):
            out.append(Prepared(seg, None, None))
            continue
        idx = [index[id(p)] for p in seg.pages]
        extract_pages(read_pdf, idx, jc.segment_pdf(n))
        out.append(Prepared(seg, jc.segment_pdf(n), tuple(texts[i] for i in idx)))
    return out


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


def _dispose_due(s: Session, cfg: Config, ref: str | None, today: dt.date) -> str | None:
    """Why a document must not be filed to ``ref`` although it matched: its case is due for
    disposal (it would go, unseen, in the next disposal run) or disposed of."""
    from sqlalchemy import select

    from pipeline.cases import case_dates

    case = s.scalars(select(Case).where(Case.ref == ref)).one_or_none() if ref else None
    if case is None:
        return None
    if case.disposed_on is not None:
        return f"case {ref} was disposed of on {case.disposed_on}: was the case reactivated? If so, open a new case for it"
    due = case_dates(cfg, case.last_activity).dispose_after
    if due <= today:
        return (f"case {ref} has been due for disposal since {due} (no activity since {case.last_activity}): was the case "
                f"reactivated? If so, record the activity on the case, then assign this document")
    return None


def _reactivation_gate(s: Session, cfg: Config, d: Decision, today: dt.date) -> Decision:
    import dataclasses

    ref = d.case_ref or d.suggested_ref
    why = _dispose_due(s, cfg, ref, today)
    if why is None:
        return d
    if d.case_ref is not None:  # matched: it goes to review instead of into the next disposal run
        return Decision(None, d.doc_class, "review", f"{d.reason}; but {why}", d.source, ref)
    if "reactivated" not in d.reason:
        return dataclasses.replace(d, reason=f"{d.reason}: {why}")
    return d


def plan(ws: Workspace, s: Session, prepared: list[Prepared], *, today: dt.date | None = None) -> list[Planned]:
    """Decide every document and find the key each kept one is encrypted to (public keys only).
    ``today`` (default: the real date) decides whether a matched case is due for disposal."""
    from pipeline.dates import utcnow

    today = today or utcnow().date()
    lookup = case_lookup(s)
    out = []
    for p in prepared:
        d = _reactivation_gate(s, ws.config, decide(p.segment.sheet, p.texts, ws.config, lookup), today)
        if p.pdf is None or d.decision == "shred":
            out.append(Planned(p.segment, d, None, None))
        elif d.decision == "retain":
            out.append(Planned(p.segment, d, p.pdf, keystore.case_recipient(s, d.case_ref)))
        else:
            out.append(Planned(p.segment, d, p.pdf, keystore.archive_recipient(s)))
    return out


def plans_still_hold(s: Session, plans: list[Planned], cfg: Config | None = None, today: dt.date | None = None) -> bool:
    """At commit: every case a document is filed to still has consent, is not disposed of and (with
    ``cfg``) is not due for disposal."""
    from pipeline.dates import utcnow

    lookup = case_lookup(s)
    for p in plans:
        if p.decision.case_ref is None:
            continue
        facts = lookup(p.decision.case_ref)
        if facts is None or facts.disposed or not facts.store_consent:
            return False
        if cfg is not None and _dispose_due(s, cfg, p.decision.case_ref, today or utcnow().date()):
            return False
    return True


# --- step 3: encrypt, then commit everything at once --------------------------------------------

def commit_plans(s: Session, row: Input, plans: list[Planned], items: list, pages: int, *, now: dt.datetime) -> list[int]:  # noqa: ANN001
    """Write documents and shred entries and mark the input done, in the caller's transaction."""
    from pipeline.cases import get_case

    ids = []
    for p, item in zip(plans, items, strict=True):
        d = p.decision
        case = get_case(s, d.case_ref) if d.case_ref else None  # plans_still_hold checked it exists
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
