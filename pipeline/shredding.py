"""Shred lists: every paper document, and the interlock on confirming it shredded.

An entry is ``blocked`` while its case is under a hold (the hold is the reason), or, for a retained
document, until its scan is on a verified disc. Confirming a blocked entry is refused with that
reason. Confirmation records who and when, and is an audit event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline import audit
from pipeline.config import Config
from pipeline.models import HOLD_REASON_WORDS, Case, Disc, DiscItemRow, Document, Hold, ShredEntry
from pps_archive.errors import InvalidValue, ShredBlocked

ARCHIVED_STATUSES = ("verified", "in-cupboard")


def archived_document_ids(s: Session, document_ids: Iterable[int] | None = None) -> set[int]:
    """Documents whose scan is on a disc that passed verification."""
    stmt = select(DiscItemRow.document_id).join(Disc).where(Disc.status.in_(ARCHIVED_STATUSES))
    if document_ids is not None:
        stmt = stmt.where(DiscItemRow.document_id.in_(list(document_ids)))
    return set(s.scalars(stmt))


@dataclass(frozen=True)
class EntryState:
    state: str  # pending | blocked | confirmed
    blocked_reason: str | None


def entry_state(entry: ShredEntry, holds: list[Hold], archived: bool) -> EntryState:
    if entry.confirmed_by is not None:
        return EntryState("confirmed", None)
    if holds:
        h = holds[0]
        return EntryState("blocked", f"case is under a {HOLD_REASON_WORDS[h.reason]} hold (hold {h.id})")
    doc = entry.document
    if doc.decision == "retain" and not archived:
        return EntryState("blocked", "its scan is not yet on a verified disc: run 'pps-archive media build' and 'media verify' first")
    return EntryState("pending", None)


def _entries(s: Session, ids: Iterable[int] | None = None, *, for_update: bool = False) -> list[ShredEntry]:
    stmt = (
        select(ShredEntry)
        .options(selectinload(ShredEntry.document).selectinload(Document.case).selectinload(Case.holds))
        .order_by(ShredEntry.id)
    )
    if ids is not None:
        stmt = stmt.where(ShredEntry.id.in_(list(ids)))
    if for_update:
        stmt = stmt.with_for_update()
    return list(s.scalars(stmt))


def shred_list(s: Session, cfg: Config, *, include_confirmed: bool = True) -> list[dict]:
    entries = _entries(s)
    archived = archived_document_ids(s, [e.document_id for e in entries])
    rows = []
    for e in entries:
        doc = e.document
        holds = [h for h in doc.case.holds if h.active] if doc.case else []
        st = entry_state(e, holds, doc.id in archived)
        if st.state == "confirmed" and not include_confirmed:
            continue
        cls = cfg.classes.get(doc.doc_class or "")
        rows.append({
            "id": e.id,
            "document": doc.id,
            "case_ref": doc.case.ref if doc.case else None,
            "class": doc.doc_class,
            "pages": doc.pages,
            "state": st.state,
            "blocked_reason": st.blocked_reason,
            "decision": doc.decision,
            "holder": cls.holder if cls else None,
            "confirmed_by": e.confirmed_by,
            "confirmed_on": e.confirmed_on.isoformat() if e.confirmed_on else None,
        })
    return rows


def confirm(s: Session, ids: list[int], *, by: str, today: dt.date, consent: str) -> list[int]:
    """Confirm entries shredded; all or nothing: one blocked entry refuses the whole command."""
    entries = _entries(s, ids, for_update=True)
    missing = sorted(set(ids) - {e.id for e in entries})
    if missing:
        raise InvalidValue(f"no shred-list entry {', '.join(map(str, missing))}: see 'pps-archive shred-list'")
    archived = archived_document_ids(s, [e.document_id for e in entries])
    for e in entries:
        doc = e.document
        holds = [h for h in doc.case.holds if h.active] if doc.case else []
        st = entry_state(e, holds, doc.id in archived)
        if st.state == "blocked":
            raise ShredBlocked(entry=e.id, reason=st.blocked_reason)
        if st.state == "confirmed":
            raise InvalidValue(f"shred-list entry {e.id} was already confirmed by {e.confirmed_by} on {e.confirmed_on}")
    for e in entries:
        e.confirmed_by, e.confirmed_on = by, today
        audit.record(s, by, "shred.confirm", case_ref=e.document.case.ref if e.document.case else None,
                     subject=f"shred:{e.id}", document=e.document_id, consent=consent, on=today)
    return [e.id for e in entries]


def write_pdf(rows: list[dict], out, service_name: str, today: dt.date) -> None:  # noqa: ANN001 - a path or a binary file, as reportlab takes it
    """A printable shred list for the office: no names, only references, classes and pages."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from pps_archive.atomic import atomic_writer

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    data = [["Entry", "Case", "Class", "Pages", "Original held by", "State", "Shredded by, date"]]
    for r in rows:
        state = r["state"] if r["state"] != "blocked" else "BLOCKED: " + (r["blocked_reason"] or "")
        data.append([str(r["id"]), r["case_ref"] or "-", r["class"] or "-", str(r["pages"]),
                     Paragraph(r["holder"] or "-", small), Paragraph(state, small), ""])
    story = [
        Paragraph(f"{service_name}: shred list", styles["Title"]),
        Paragraph(f"Printed {today.isoformat()}. Shred only entries marked 'pending'; then record them with "
                  f"'pps-archive shred confirm ID... --by NAME'.", styles["BodyText"]),
        Spacer(1, 8),
        Table(data, repeatRows=1, colWidths=[34, 76, 80, 32, 100, 130, 78], style=TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
            ("FONTSIZE", (0, 0), (-1, -1), 8), ("VALIGN", (0, 0), (-1, -1), "TOP")])),
    ]
    with atomic_writer(out, 0o600) as fh:
        SimpleDocTemplate(fh, pagesize=A4, title="Shred list", leftMargin=28, rightMargin=28).build(story)
