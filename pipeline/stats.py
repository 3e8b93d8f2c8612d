"""Anonymous statistics: counts only, from enumerated values only, small numbers suppressed.

Every count from 1 to ``SUPPRESS_BELOW - 1`` is shown as ``"<5"`` so that no parent can be singled
out (a single case opened in a month, say). Nothing is taken from free text: only dates, document
classes, decisions and states, which come from fixed lists.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.models import Case, Disc, Document, DisposalRun, ShredEntry

SUPPRESS_BELOW = 5
SUPPRESSED = f"<{SUPPRESS_BELOW}"


def suppress(n: int) -> int | str:
    return SUPPRESSED if 0 < n < SUPPRESS_BELOW else n


def _table(counter: Counter) -> dict[str, int | str]:
    return {str(k): suppress(v) for k, v in sorted(counter.items())}


def _month(day: dt.date | dt.datetime) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def statistics(s: Session, as_of: dt.date) -> dict:
    end = dt.datetime.combine(as_of, dt.time.max)
    cases = s.execute(select(Case.opened_on, Case.disposed_on).where(Case.opened_on <= as_of)).all()
    docs = s.execute(select(Document.doc_class, Document.decision, Document.created_at).where(Document.created_at <= end)).all()
    shredded = s.scalars(select(ShredEntry.confirmed_on).where(ShredEntry.confirmed_on.is_not(None), ShredEntry.confirmed_on <= as_of)).all()
    discs = s.scalars(select(Disc.built_at).where(Disc.built_at <= end)).all()
    runs = s.scalars(select(DisposalRun.as_of).where(DisposalRun.as_of <= as_of, DisposalRun.finished_at.is_not(None))).all()
    by_class = Counter(f"{c or 'unclassified'}/{d}" for c, d, _ in docs)
    return {
        "as_of": as_of.isoformat(),
        "suppressed_below": SUPPRESS_BELOW,
        "cases_opened_by_month": _table(Counter(_month(o) for o, _ in cases)),
        "cases_disposed_by_month": _table(Counter(_month(d) for _, d in cases if d is not None and d <= as_of)),
        "documents_by_class_and_decision": _table(by_class),
        "documents_by_month": _table(Counter(_month(t) for _, _, t in docs)),
        "paper_shredded_by_month": _table(Counter(_month(d) for d in shredded)),
        "discs_built_by_month": _table(Counter(_month(t) for t in discs)),
        "disposal_runs": _table(Counter(str(d.year) for d in runs)),
    }  # no exact totals: with them, a suppressed cell could be worked out by subtraction
