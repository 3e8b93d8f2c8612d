"""What needs doing today: the figures a front-end's first screen shows, gathered in one place.

:func:`summary` reads everything in one read transaction and returns plain data (counts, short
lists of case references and disc labels, dates): inputs being processed, the review queue and
quarantine, cases due for archiving, discs to build, burn, verify or put away, the shred list's open
entries, the next disposal run, and the audit chain's state. :func:`live` is the small part that
changes while intake runs (for a page that refreshes itself). :func:`list_inputs` is the intake
page: each input with its state and what it produced. Nothing here names a person: inputs show the
file name they had in the drop folder, which staff see anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from pipeline.models import Case, Disc, DisposalPlanRecord, Document, Hold, Input, QuarantineEntry

if TYPE_CHECKING:
    from pipeline.authority import Unlocked
    from pipeline.workspace import Workspace

#: inputs finished longer ago than this are not "today's" on the live panel
LIVE_WINDOW = dt.timedelta(hours=12)


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="seconds") if isinstance(value, dt.datetime) else value.isoformat()


def _live(s: Session, now: dt.datetime) -> dict[str, Any]:
    counts = dict(s.execute(select(Input.state, func.count()).group_by(Input.state)).all())
    since = now - LIVE_WINDOW
    recent = s.scalar(select(func.count()).select_from(Input).where(
        Input.state.in_(("done", "quarantined")), Input.finished_at >= since)) or 0
    queued, processing = counts.get("queued", 0), counts.get("processing", 0)
    batch = queued + processing + recent
    return {
        "queued": queued,
        "processing": processing,
        "finished_recently": recent,
        # the share of the current batch (what is waiting plus what finished lately) that is finished
        "progress": round(100 * recent / batch) if batch else 100,
        "review": s.scalar(select(func.count()).select_from(Document).where(
            Document.decision == "review", Document.state == "review")) or 0,
        "quarantine": s.scalar(select(func.count()).select_from(QuarantineEntry).where(
            QuarantineEntry.resolved_at.is_(None))) or 0,
        "at": _iso(now),
    }


def live(ws: Workspace, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The counts that change while intake runs: ``queued``, ``processing``, ``finished_recently``
    (in the last 12 hours), ``progress`` (0-100, the finished share of that batch), ``review``,
    ``quarantine``. Counts only: safe to poll every few seconds. Its own read transaction."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with ws.reader() as s:
        return _live(s, now)


def _processing(s: Session) -> list[dict[str, Any]]:
    rows = s.scalars(select(Input).where(Input.state.in_(("queued", "processing"))).order_by(Input.id).limit(50))
    return [{"id": r.id, "file": r.display_name, "state": r.state, "attempts": r.attempts,
             "received_at": _iso(r.received_at), "members": r.members} for r in rows]


def _discs(s: Session, ws: Workspace) -> dict[str, Any]:
    from pipeline import media
    from pps_archive.errors import PPSArchiveError

    discs = list(s.scalars(select(Disc).where(Disc.status.not_in(("failed", "destroyed"))).order_by(Disc.label)))
    try:
        planned = media.plan(s, ws.config)
        to_build = {"discs": len(planned), "documents": sum(len(p.items) for p in planned)}
    except PPSArchiveError as exc:  # a document too big for a disc, say: the discs page says what to do
        to_build = {"discs": None, "documents": None, "problem": str(exc)}
    return {
        "to_build": to_build,
        "to_verify": [d.label for d in discs if d.status == "built"],
        # verified from the image file only: burn it and verify the disc itself from the drive
        "to_burn": [d.label for d in discs if d.status in ("verified", "in-cupboard") and d.medium_verified_at is None],
        "to_store": [d.label for d in discs if d.status == "verified" and d.medium_verified_at is not None and not d.location],
        # a damaged one cannot be repaired from its own data, only replaced from the vault
        "without_error_correction": media.without_error_correction(s),
    }


def _reread_due(s: Session, ws: Workspace, today: dt.date) -> dict[str, Any]:
    from pipeline import media

    due = media.discs_due_for_reread(s, ws.config, today)
    return {"count": len(due), "months": ws.config.section("media")["reread_months"],
            "discs": [{"label": d["label"], "action": d["action"], "due_on": d["due_on"], "location": d["location"]}
                      for d in due]}


def _shred(s: Session, ws: Workspace, today: dt.date) -> dict[str, int]:
    from pipeline.shredding import OPEN_STATES, shred_counts

    counts = shred_counts(s, ws.config, today=today)
    return {st: counts[st] for st in OPEN_STATES}


def _disposal(s: Session, ws: Workspace, today: dt.date) -> dict[str, Any]:
    from pipeline.cases import case_dates
    from pipeline.shredding import plain_rows

    # plain columns (no ORM objects): the dates of every live case, and which are under a hold
    cases = plain_rows(s, select(Case.id, Case.ref, Case.last_activity).where(Case.disposed_on.is_(None)))
    held_ids = set(s.scalars(select(Hold.case_id).where(Hold.released_on.is_(None))))
    due, later, memo = [], [], {}
    for case_id, ref, last in cases:
        after = memo.get(last) or memo.setdefault(last, case_dates(ws.config, last).dispose_after)
        if after <= today:
            due.append((case_id, ref))
        else:
            later.append(after)
    plans = s.scalars(select(DisposalPlanRecord).where(DisposalPlanRecord.executed_at.is_(None),
                                                      DisposalPlanRecord.expires_at > dt.datetime.combine(today, dt.time())))
    return {
        "cases_due": len(due),
        "held": sorted(ref for case_id, ref in due if case_id in held_ids),
        "next_due_on": _iso(min(later)) if later else None,
        "plans_waiting": [{"id": p.id, "as_of": _iso(p.as_of), "prepared_by": p.prepared_by,
                           "approved": p.approved_by is not None} for p in plans],
    }


def _audit(s: Session, auth: Unlocked | None, max_age: float = 0) -> dict[str, Any]:
    from pipeline import audit
    from pps_archive.errors import AuditChainBroken

    try:
        report = audit.verify_recent(s, auth.master if auth is not None else None, max_age=max_age)
    except AuditChainBroken as exc:
        return {"ok": False, "problem": str(exc), "keyed": auth is not None}
    return report.as_dict()


def summary(ws: Workspace, today: dt.date, *, auth: Unlocked | None = None, now: dt.datetime | None = None,
            audit_max_age: float = 0) -> dict[str, Any]:
    """The first screen: ``live`` (see :func:`live`), ``processing`` (the inputs queued or being
    processed, oldest first), ``archive_due`` (cases inactive for the archive period with work
    outstanding: ``ref``, what is left), ``discs`` (``to_build``, ``to_verify``, ``to_burn``,
    ``to_store``, ``without_error_correction``), ``shred`` (open entries by state), ``disposal``
    (cases due now, the held ones, the next date one falls due, prepared plans waiting),
    ``reread_due`` (discs due for their read-back from the drive, or failed and to replace:
    ``count``, ``months``, ``discs`` with ``label``, ``action``, ``due_on``, ``location``), ``audit``
    (the chain verified: with ``auth`` every seal under the master key, else the structure only).
    One read transaction.

    ``audit_max_age`` (seconds; 0, the default, checks on every call): the audit part may be this
    process's last check of the log if no older than that and the log's head and seals have not
    moved since (:func:`pipeline.audit.verify_recent`)."""
    from pipeline.lifecycle import archive_due

    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with ws.reader() as s:
        if auth is not None:
            from pipeline import authority

            authority.require(s, auth, "checking the audit log")
        due = [{"ref": c["ref"], "archive_due": c["archive_due"], "holds": len(c["holds"]),
                "in_review": len(c["documents_in_review"]), "not_on_disc": len(c["not_on_verified_disc"]),
                "paper_left": len(c["paper_not_shredded"])}
               for c in archive_due(s, ws.config, today) if not c["archived"]]
        return {
            "today": today.isoformat(),
            "live": _live(s, now),
            "processing": _processing(s),
            "archive_due": due,
            "discs": _discs(s, ws),
            "shred": _shred(s, ws, today),
            "disposal": _disposal(s, ws, today),
            "reread_due": _reread_due(s, ws, today),
            "audit": _audit(s, auth, audit_max_age),
        }


# --- the intake page -----------------------------------------------------------------------------

def list_inputs(ws: Workspace, *, limit: int = 200) -> list[dict[str, Any]]:
    """The newest ``limit`` inputs, newest first: ``id``, ``file`` (its name in the drop folder),
    ``state`` (queued, processing, done, quarantined), ``received_at``, ``finished_at``, ``pages``,
    ``attempts``, ``last_error``, what it produced (``filed``: documents filed to a case with their
    decision, ``review``: review items, ``shred_only``), and ``quarantine`` (the open entry's id and
    reason). Its own read transaction."""
    with ws.reader() as s:
        rows = list(s.scalars(select(Input).options(selectinload(Input.documents).selectinload(Document.case))
                              .order_by(Input.id.desc()).limit(limit)))
        ids = [r.id for r in rows]
        entries = {e.input_id: e for e in s.scalars(select(QuarantineEntry).where(
            QuarantineEntry.input_id.in_(ids), QuarantineEntry.resolved_at.is_(None)))} if ids else {}
        out = []
        for r in rows:
            docs = r.documents
            entry = entries.get(r.id)
            out.append({
                "id": r.id, "file": r.display_name, "state": r.state, "received_at": _iso(r.received_at),
                "finished_at": _iso(r.finished_at), "pages": r.pages, "attempts": r.attempts,
                "last_error": r.last_error,
                "filed": [{"id": d.id, "case_ref": d.case.ref if d.case else None, "decision": d.decision,
                           "class": d.doc_class} for d in docs if d.decision in ("retain", "shred") and d.state != "review"],
                "review": [d.id for d in docs if d.decision == "review" and d.state == "review"],
                "quarantine": {"id": entry.id, "reason": entry.reason} if entry is not None else None,
            })
        return out
