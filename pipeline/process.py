"""Processing one input: the recipe. Each step is a small function; this one reads top to bottom.

pages → codes on every page → split at cover sheets → for each document: OCR if it is kept (or
needs its text to be matched) → split again at pages whose text shows a cover sheet, and where the
case reference changes → match and decide → encrypt what is kept → commit everything in one
transaction with the input's ``done`` state → remove the spool copy.

Blank pages (the empty backs of a duplex scan): a blank page right after a cover sheet or separator
is that sheet's back and goes with it (in no document); any other blank page stays in the document
it follows (the back of its paper) but is never read for a case reference or a class, never
starts or splits a document, and a run of blank pages with no sheet in front is no document.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from pipeline import audit, keystore, spool
from pipeline.config import Config
from pipeline.jobcontext import JobContext
from pipeline.match import CaseFacts, Decision, RefIndex, SheetFacts, UnreadableSheet, decide, find_refs
from pipeline.models import Case, Document, Input, ShredEntry
from pipeline.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class Segment:
    """The pages of one document, and the cover sheet in front of it (if any)."""

    sheet: SheetFacts | UnreadableSheet | None
    pages: list = field(default_factory=list)  # scanners.pages.PageRef
    blank: set = field(default_factory=set)  # those of ``pages`` that are blank
    backs: int = 0  # blank pages after the sheet: its back, in no document
    hint: str | None = None  # why it may go to review, for staff (added to the decision's reason)

    def content(self) -> list:
        return [p for p in self.pages if p not in self.blank]


#: what a page is, as ``split`` reads it: ("sheet", SheetFacts), ("unread-sheet", UnreadableSheet),
#: ("separator", None), ("blank", None) or ("page", None)
Mark = tuple[str, "SheetFacts | UnreadableSheet | None"]
_HEADS = ("sheet", "unread-sheet", "separator")


# --- step 1: pages and their marks -----------------------------------------------------------

def open_scan(ws: Workspace, row: Input):  # noqa: ANN201 - scanners.pages.ScanInput
    from scanners.pages import InputLimits, open_batch, open_input

    intake = ws.config.section("intake")
    limits = InputLimits(intake["max_file_bytes"], intake["max_pages"], intake["max_page_pixels"])
    members = spool.spool_members(ws, row.sha256)
    if row.members == 1:
        return open_input(members[0], row.display_name, limits)
    return open_batch(members, json.loads(row.member_names), limits)


def page_mark(page, cfg: Config, reader: str) -> Mark:  # noqa: ANN001
    """From the page's barcodes: ("sheet", facts), ("separator", None) for PATCHT; else ("blank",
    None) for a page with nothing on it, or ("page", None)."""
    from scanners._looks import is_blank
    from scanners.barcodes import read_codes
    from scanners.coversheet import is_generic_separator, parse_payload

    image = page.load()
    codes = read_codes(image, reader=reader)
    for code in codes:
        sheet = parse_payload(code.text, cfg.reference_pattern.pattern, list(cfg.classes))
        if sheet is not None:
            return "sheet", SheetFacts(sheet.case_ref, sheet.decision, sheet.doc_class, "barcode", sheet.archiving)
    if any(is_generic_separator(c.text) for c in codes):
        return "separator", None
    if not codes and is_blank(image):
        return "blank", None
    return "page", None


def register_index(ws: Workspace) -> RefIndex:
    """The case register's references, to find them in OCR text as people write them."""
    from sqlalchemy import select

    with ws.transaction() as s:
        return RefIndex.of(s.scalars(select(Case.ref)).all())


def sheet_from_text(text: str, cfg: Config, index: RefIndex | None = None, label: str = ""
                    ) -> SheetFacts | UnreadableSheet | None:
    """A cover sheet whose barcode could not be read, recognised from its printed title and payload;
    an ``UnreadableSheet`` when the title is there but the payload cannot be read; else None."""
    from scanners.coversheet import read_coversheet_text

    found = read_coversheet_text(text, cfg.reference_pattern.pattern, list(cfg.classes),
                                 index.known if index is not None else None)
    if found.sheet is not None:
        sheet = found.sheet
        return SheetFacts(sheet.case_ref, sheet.decision, sheet.doc_class, "ocr", sheet.archiving)
    return UnreadableSheet(label) if found.titled else None


def _may_be_sheet(image) -> bool:  # noqa: ANN001
    """Cheap test for a cover sheet whose barcode could not be read: OCR the top band at low
    resolution and look for the sheet's title. Used only on pages that are not OCR'd anyway."""
    from pipeline.ocr import quick_text

    w, h = image.size
    band = image.crop((0, 0, w, max(1, h // 4)))
    scale = min(1.0, 1200 / max(1, w))
    if scale < 1.0:
        band = band.resize((max(1, int(w * scale)), max(1, int(band.size[1] * scale))))
    from scanners._ocrtext import skeleton

    text = skeleton(quick_text(band.convert("L")))
    return any(skeleton(word) in text for word in ("SEPARATOR", "DOCUMENT SEP"))


def split(pages: list, marks: list[Mark], sheet: SheetFacts | UnreadableSheet | None = None) -> list[Segment]:
    """Documents in page order, the first one behind ``sheet``.

    A sheet with no pages after it stays, as an empty segment; a segment of blank pages only with
    no sheet in front is dropped (see the module's docstring for blank pages).
    """
    segments: list[Segment] = [Segment(sheet=sheet)]
    backs = False  # the blank pages just now are the back of the sheet before them
    for page, (kind, facts) in zip(pages, marks, strict=True):
        if kind in _HEADS:
            segments.append(Segment(sheet=facts))
            backs = True
        elif kind == "blank" and backs:
            segments[-1].backs += 1
        else:
            backs = False
            segments[-1].pages.append(page)
            if kind == "blank":
                segments[-1].blank.add(page)
    return [s for s in segments if s.content() or s.sheet is not None]


def resplit(seg: Segment, sheets: list[SheetFacts | UnreadableSheet | None]) -> list[Segment]:
    """Split a segment again at pages found (by OCR) to be cover sheets; ``sheets[i]`` for page i."""
    marks: list[Mark] = []
    for page, sheet in zip(seg.pages, sheets, strict=True):
        if sheet is not None:
            marks.append(("unread-sheet" if isinstance(sheet, UnreadableSheet) else "sheet", sheet))
        else:
            marks.append(("blank" if page in seg.blank else "page", None))
    out = split(seg.pages, marks, seg.sheet)
    if out and out[0].sheet is seg.sheet:
        out[0].backs += seg.backs
    return out


def split_by_reference(seg: Segment, refs: list[list[str]]) -> list[Segment]:
    """Split a segment with no cover sheet where the case reference on its pages changes.

    ``refs[i]``: the references page i names. A document runs from a page naming a case to the last
    page naming the same case; pages with no reference before the first such page, between two pages
    of one case, or after the last, are that case's. Pages with no reference between two cases'
    pages could be either's: they become a document of their own (which goes to review), so no page
    is filed to the other case. A page naming several cases is a document of its own (review).
    """
    if seg.sheet is not None:
        return [seg]
    out: list[Segment] = []
    cur, cur_ref, limbo = Segment(sheet=None), None, []
    for n, (page, named) in enumerate(zip(seg.pages, refs, strict=True)):
        if page in seg.blank:  # the back of the page before it
            (limbo if limbo else cur.pages).append(page)
            continue
        key = named[0] if len(named) == 1 else (f"#several-{n}" if named else None)
        if key is None:
            (limbo if cur_ref is not None else cur.pages).append(page)
        elif cur_ref is None or key == cur_ref:
            cur.pages.extend(limbo)
            limbo = []
            cur.pages.append(page)
            cur_ref = key
        else:
            out.append(cur)
            if limbo:
                between = " and ".join(r if not r.startswith("#") else "a page naming several" for r in (cur_ref, key))
                out.append(Segment(sheet=None, pages=limbo, hint=f"these pages come between pages of {between}, "
                                                              "without a cover sheet: check which case they belong to"))
            cur, cur_ref, limbo = Segment(sheet=None, pages=[page]), key, []
    cur.pages.extend(limbo)
    out.append(cur)
    if len(out) == 1:
        return [seg]
    for part in out:
        part.blank = {p for p in part.pages if p in seg.blank}
    out[0].backs = seg.backs
    return [s for s in out if s.content()]


# --- step 2: read the text of what is kept or must be matched, then decide ------------------

@dataclass(frozen=True)
class Prepared:
    segment: Segment
    pdf: Path | None  # the document as it would be kept (OCR'd PDF/A)
    texts: tuple[str, ...] | None  # of its pages that are not blank; None: not read (a SHRED cover sheet)


def _needs_reading(seg: Segment) -> bool:
    return not (isinstance(seg.sheet, SheetFacts) and seg.sheet.decision == "shred")


def check_unread_pages(segments: list[Segment], cfg: Config, index: RefIndex | None = None) -> list[Segment]:
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
            if page not in seg.blank and _may_be_sheet(image):
                from pipeline.ocr import quick_text

                sheet = sheet_from_text(quick_text(image, language=cfg.section("ocr")["language"]), cfg, index, page.label)
            sheets.append(sheet)
        out.extend(resplit(seg, sheets) if any(sheets) else [seg])
    return out


def read_segments(ws: Workspace, jc: JobContext, segments: list[Segment], scan, index: RefIndex | None = None  # noqa: ANN001
                  ) -> list[Prepared]:
    """OCR every page that needs reading in one OCRmyPDF run (pages in parallel), then cut the
    result into one PDF/A per document. Pages whose text shows a cover sheet split documents, and
    so does a change of the case reference in a batch without cover sheets."""
    from pipeline.ocr import extract_pages, ocr_document, pdf_text
    from scanners.pages import write_pdf

    cfg = ws.config
    if index is None:
        index = register_index(ws)
    wanted = [page for seg in segments if _needs_reading(seg) for page in seg.pages]
    if not wanted:
        return [Prepared(seg, None, None) for seg in segments]
    blank = {p for seg in segments for p in seg.blank}
    write_pdf(wanted, jc.tmp("read.pdf"))
    texts: tuple[str, ...] = ()
    if scan.has_text_layer:  # a scanner that OCRs itself, or a born-digital PDF
        texts = pdf_text(jc.tmp("read.pdf"))
    if len(texts) >= len(wanted) and all(t.strip() or p in blank for t, p in zip(texts, wanted, strict=False)):
        read_pdf = jc.tmp("read.pdf")
    else:  # no text, or only some pages have it: OCR every page (force: redo the partial text layer)
        o = cfg.section("ocr")
        result = ocr_document(jc.tmp("read.pdf"), jc.tmp("read.ocr.pdf"), jc.tmp("read.txt"), language=o["language"],
                              rotate=o["rotate_pages"], deskew=o["deskew"], display=scan.display_name, jobs=cfg.ocr_jobs,
                              force=scan.has_text_layer, timeout=o["timeout_seconds"])
        read_pdf, texts = result.pdf, result.page_texts
    from pipeline.ocr import keep_bilevel_small

    keep_bilevel_small(read_pdf)  # bilevel scans stay CCITT G4, not Flate several times their size
    index_of = {id(page): i for i, page in enumerate(wanted)}

    def text_of(page) -> str:  # noqa: ANN001
        return "" if page in blank else texts[index_of[id(page)]]

    final: list[Segment] = []
    for seg in segments:
        if not _needs_reading(seg):
            final.append(seg)
            continue
        sheets = [sheet_from_text(text_of(p), cfg, index, p.label) for p in seg.pages]
        for part in (resplit(seg, sheets) if any(sheets) else [seg]):
            final.extend(split_by_reference(part, [find_refs([text_of(p)], cfg, index) for p in part.pages]))
    out = []
    for n, seg in enumerate(final):
        if not seg.pages or not _needs_reading(seg) or any(id(p) not in index_of for p in seg.pages):
            out.append(Prepared(seg, None, None))
            continue
        idx = [index_of[id(p)] for p in seg.pages]
        extract_pages(read_pdf, idx, jc.segment_pdf(n))
        out.append(Prepared(seg, jc.segment_pdf(n), tuple(text_of(p) for p in seg.content())))
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
    """Decide every document and find the key each kept one is encrypted to (public keys only,
    each checked against the archive's signing key first: a key that fails raises and nothing is
    encrypted). A case with no key yet (made by ``case open`` with the passphrase) sends its
    documents to review. ``today`` (default: the real date) decides whether a matched case is due
    for disposal."""
    from sqlalchemy import select

    from pipeline.dates import utcnow

    today = today or utcnow().date()
    lookup = case_lookup(s)
    index = RefIndex.of(s.scalars(select(Case.ref)).all())
    out = []
    for p in prepared:
        d = decide(p.segment.sheet, p.texts, ws.config, lookup, index)
        if p.segment.hint and d.decision == "review":
            d = dataclasses.replace(d, reason=f"{d.reason}; {p.segment.hint}")
        d = _reactivation_gate(s, ws.config, d, today)
        if p.pdf is None or d.decision == "shred":
            out.append(Planned(p.segment, d, None, None))
            continue
        recipient = keystore.case_recipient(s, d.case_ref, data_dir=ws.data_dir) if d.decision == "retain" else None
        if d.decision == "retain" and recipient is None:
            d = Decision(None, d.doc_class, "review", (
                f"{d.reason}, but case {d.case_ref} has no authenticated key yet (it was opened without the master "
                f"passphrase, or by an older version): file it from the review queue, which makes the key"), d.source, d.case_ref)
        out.append(Planned(p.segment, d, p.pdf, recipient or keystore.archive_recipient(s, data_dir=ws.data_dir)))
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

@dataclass(frozen=True)
class Kept:
    """What one document stored in the vault: its copy, and the input file's own bytes (a
    born-digital or signed PDF that is this one document), each encrypted to the same key."""

    copy: object  # archive_media.vault.VaultItem
    original: object | None = None

    def item_ids(self) -> list[str]:
        return [i.item_id for i in (self.copy, self.original) if i is not None]


def is_signed(pdf: Path) -> bool:
    """Whether a PDF carries a digital signature (a signature field, or AcroForm's SigFlags)."""
    import pikepdf

    try:
        with pikepdf.open(pdf) as doc:
            form = doc.Root.get("/AcroForm")
            if form is None:
                return False
            if int(form.get("/SigFlags", 0)) & 1:
                return True
            return any(f.get("/FT") == pikepdf.Name.Sig for f in form.get("/Fields", []) if isinstance(f, pikepdf.Dictionary))
    except (pikepdf.PdfError, ValueError, TypeError):
        return False


def original_pdf(scan, plans: list[Planned]) -> Path | None:  # noqa: ANN001 - scanners.pages.ScanInput
    """The input file to keep byte for byte beside the kept copy: a single PDF with a text layer
    (born digital, or a scanner's own OCR) or a signature, that is exactly one kept document. An
    input split into several documents keeps none: its bytes would carry other documents' pages
    (perhaps of another case) under one case's key."""
    if scan.kind != "pdf" or len(scan.files) != 1:
        return None
    kept = [p for p in plans if p.pdf is not None]
    if len(plans) != 1 or len(kept) != 1 or len(kept[0].segment.pages) != len(scan.pages):
        return None
    path = scan.files[0]
    return path if scan.has_text_layer or is_signed(path) else None


def encrypt_plan(vault, plan: Planned, original: Path | None) -> Kept | None:  # noqa: ANN001 - Vault
    """Encrypt a kept document (and the original file, if kept) to its recipient; None if nothing is kept."""
    if plan.pdf is None:
        return None
    copy = vault.put(plan.pdf, plan.recipient)
    try:
        return Kept(copy, vault.put(original, plan.recipient) if original is not None else None)
    except BaseException:
        vault.delete(copy.item_id)
        raise


def commit_plans(s: Session, row: Input, plans: list[Planned], items: list, pages: int, *, now: dt.datetime) -> list[int]:  # noqa: ANN001
    """Write documents and shred entries and mark the input done, in the caller's transaction.

    A document filed to a case (retained, or listed for shredding) is activity on it: the case's
    last activity moves to the day the input was received, unless the document's cover sheet is
    an archiving sheet (old paper scanned while archiving the case; see docs/formats.md)."""
    from pipeline.cases import get_case, record_document_activity

    # lock the cases first, in one order, before the audit head: filing moves their last activity,
    # and every other writer of a case (``case touch``) takes the case's row before the log's
    for ref in sorted({p.decision.case_ref for p in plans if p.decision.case_ref}):
        get_case(s, ref, for_update=True)
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
            sheet_decision=getattr(p.segment.sheet, "decision", None),
            archiving=bool(getattr(p.segment.sheet, "archiving", False)),
        )
        if item is not None:
            copy, original = (item.copy, item.original) if isinstance(item, Kept) else (item, None)
            doc.vault_item, doc.plaintext_sha256, doc.ciphertext_sha256, doc.size = (
                copy.item_id, copy.plaintext_sha256, copy.ciphertext_sha256, copy.size)
            doc.encrypted_to = "case" if d.decision == "retain" else "archive"
            if original is not None:
                doc.original_item, doc.original_sha256 = original.item_id, original.plaintext_sha256
                doc.original_ciphertext_sha256, doc.original_size = original.ciphertext_sha256, original.size
        s.add(doc)
        s.flush()
        if d.decision != "review":
            s.add(ShredEntry(document_id=doc.id))
        audit.record(s, "intake", "document.filed", case_ref=d.case_ref, subject=f"document:{doc.id}",
                     decision=d.decision, doc_class=d.doc_class, source=d.source, pages=doc.pages, input=row.id)
        if case is not None:
            record_document_activity(s, doc, row.received_at.date(), actor="intake")
        ids.append(doc.id)
    row.state, row.pages, row.finished_at, row.claimed_by, row.lease_until = "done", pages, now, None, None
    # cover sheets, separators, their blank backs, blank pages with no document: counted, never silent
    filed = sum(len(p.segment.pages) for p in plans)
    audit.record(s, "intake", "input.done", subject=f"input:{row.id}", documents=len(ids), pages=pages,
                 in_no_document=pages - filed)
    return ids
