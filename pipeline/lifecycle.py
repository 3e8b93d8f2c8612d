"""The policy's clock: which cases are due for archiving and what is still to do for each."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline.cases import active_holds, case_dates
from pipeline.config import Config
from pipeline.models import Case, Document, ShredEntry
from pipeline.shredding import archived_document_ids


def archive_due(s: Session, cfg: Config, as_of: dt.date) -> list[dict]:
    """Cases inactive for the archive period (and not disposed of), with their outstanding work."""
    cases = s.scalars(select(Case).where(Case.disposed_on.is_(None)).options(selectinload(Case.holds)).order_by(Case.ref))
    due = [c for c in cases if case_dates(cfg, c.last_activity).archive_due <= as_of]
    if not due:
        return []
    ids = {c.id for c in due}
    refs = {c.ref for c in due}
    docs = list(s.scalars(select(Document).where(Document.case_id.in_(ids)).options(selectinload(Document.shred_entry))))
    review = list(s.scalars(select(Document).where(Document.decision == "review", Document.suggested_ref.in_(refs))))
    archived = archived_document_ids(s, cfg, [d.id for d in docs])
    by_case: dict[int, list[Document]] = defaultdict(list)
    for d in docs:
        by_case[d.case_id].append(d)
    review_of: dict[str, list[int]] = defaultdict(list)
    for d in review:
        review_of[d.suggested_ref].append(d.id)
    out = []
    for c in due:
        mine = by_case[c.id]
        dates = case_dates(cfg, c.last_activity)
        not_on_disc = [d.id for d in mine if d.decision == "retain" and d.id not in archived]
        unshredded = [d.id for d in mine if isinstance(d.shred_entry, ShredEntry) and d.shred_entry.confirmed_by is None]
        waiting = review_of[c.ref]
        out.append({
            "ref": c.ref,
            "last_activity": c.last_activity.isoformat(),
            "archive_due": dates.archive_due.isoformat(),
            "dispose_after": dates.dispose_after.isoformat(),
            "holds": [{"id": h.id, "reason": h.reason} for h in active_holds(c)],
            "documents_in_review": waiting,
            "not_on_verified_disc": not_on_disc,
            "paper_not_shredded": unshredded,
            "archived": not (waiting or not_on_disc or unshredded),
        })
    return out
