"""The policy's clock: which cases are due for archiving and what is still to do for each."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.cases import case_dates
from pipeline.config import Config
from pipeline.models import Case, Document, Hold, ShredEntry
from pipeline.shredding import archived_document_ids, plain_rows


def archive_due(s: Session, cfg: Config, as_of: dt.date) -> list[dict]:
    """Cases inactive for the archive period (and not disposed of), with their outstanding work."""
    # plain columns, one query per table (no ORM objects): this runs on every dashboard load
    cases = plain_rows(s, select(Case.id, Case.ref, Case.last_activity).where(Case.disposed_on.is_(None)).order_by(Case.ref))
    memo: dict[dt.date, object] = {}  # the dates by last activity: many cases share a day
    due = [(cid, ref, last, memo.get(last) or memo.setdefault(last, case_dates(cfg, last))) for cid, ref, last in cases]
    due = [c for c in due if c[3].archive_due <= as_of]
    if not due:
        return []
    ids = {c[0] for c in due}
    refs = {c[1] for c in due}
    holds: dict[int, list[dict]] = defaultdict(list)
    for case_id, hold_id, reason in plain_rows(s, select(Hold.case_id, Hold.id, Hold.reason)
                                              .where(Hold.released_on.is_(None)).order_by(Hold.id)):
        holds[case_id].append({"id": hold_id, "reason": reason})
    docs = [d for d in plain_rows(s, select(Document.id, Document.case_id, Document.decision)
                                  .where(Document.case_id.is_not(None)).order_by(Document.id)) if d[1] in ids]
    open_paper = set(s.scalars(select(ShredEntry.document_id).where(ShredEntry.confirmed_by.is_(None))))
    review = plain_rows(s, select(Document.id, Document.suggested_ref)
                       .where(Document.decision == "review", Document.suggested_ref.is_not(None)).order_by(Document.id))
    archived = archived_document_ids(s, cfg, [d[0] for d in docs if d[2] == "retain"])  # only these are asked about
    not_on_disc: dict[int, list[int]] = defaultdict(list)
    unshredded: dict[int, list[int]] = defaultdict(list)
    for doc_id, case_id, decision in docs:
        if decision == "retain" and doc_id not in archived:
            not_on_disc[case_id].append(doc_id)
        if doc_id in open_paper:  # its paper is on the shred list, not yet confirmed shredded
            unshredded[case_id].append(doc_id)
    review_of: dict[str, list[int]] = defaultdict(list)
    for doc_id, ref in review:
        if ref in refs:
            review_of[ref].append(doc_id)
    out = []
    for cid, ref, last, dates in due:
        waiting, left, paper = review_of[ref], not_on_disc[cid], unshredded[cid]
        out.append({
            "ref": ref,
            "last_activity": last.isoformat(),
            "archive_due": dates.archive_due.isoformat(),
            "dispose_after": dates.dispose_after.isoformat(),
            "holds": holds[cid],
            "documents_in_review": waiting,
            "not_on_verified_disc": left,
            "paper_not_shredded": paper,
            "archived": not (waiting or left or paper),
        })
    return out
