"""The machine's state for whoever looks after it: ``pps-archive status`` and the web app's health endpoint.

:func:`collect` reads the database and the data directory and returns plain JSON-ready values. It
needs no login: the audit chain is checked without the master key (its structure only, the check
``audit verify --structure-only`` makes), which says whether the chain is whole but proves nothing
against someone who can write the database; the keyed check stays with ``audit verify``.

Keys of the result (``status --json`` prints exactly this):

- ``queue_depth``: inputs queued or being processed
- ``oldest_queued_at``: when the oldest of them was taken in (UTC, ISO 8601), or ``null``
- ``last_done_at``: when the last input was finished (filed; quarantined ones not counted), or ``null``
- ``quarantine_count``: quarantine entries not yet resolved
- ``data_dir``, ``free_bytes``, ``total_bytes``: free and total space of the data directory's file system
- ``discs_due_for_reread``: the discs due for their yearly read-back from the drive (or to be
  replaced after a failed one), oldest first: ``label``, ``action`` (``reread`` or ``replace``),
  ``due_on`` (:func:`pipeline.media.discs_due_for_reread`; ``media.reread_months``)
- ``audit_chain``: ``{"ok", "events", "head", "keyed", "problem"}``; ``keyed`` is always false here
- ``ok``: false when the audit chain is broken
"""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

from sqlalchemy import func, select

from pipeline.workspace import Workspace

__all__ = ["collect"]


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _audit_state(session) -> dict[str, Any]:  # noqa: ANN001
    from pipeline import audit
    from pps_archive.errors import AuditChainBroken

    try:
        report = audit.verify(session, None)
    except AuditChainBroken as exc:
        return {"ok": False, "events": None, "head": None, "keyed": False, "problem": str(exc)}
    return {"ok": True, "events": report.events, "head": report.head, "keyed": False, "problem": None}


def collect(ws: Workspace) -> dict[str, Any]:
    """The status of this data directory and its database, as a dict (the keys are in the module
    docstring). Opens its own read-only transaction (or reads in the caller's); needs no login and
    writes nothing. Raises :class:`NotInitialised` for a data directory that was never set up."""
    from pipeline.models import Input, QuarantineEntry

    ws.ensure_ready()
    with ws.reader() as s:
        waiting = Input.state.in_(("queued", "processing"))
        depth, oldest = s.execute(select(func.count(Input.id), func.min(Input.received_at)).where(waiting)).one()
        last_done = s.scalar(select(func.max(Input.finished_at)).where(Input.state == "done"))
        from pipeline.media import discs_due_for_reread

        reread = [{"label": d["label"], "action": d["action"], "due_on": d["due_on"]}
                  for d in discs_due_for_reread(s, ws.config, dt.date.today())]
        quarantined = s.scalar(select(func.count(QuarantineEntry.id)).where(QuarantineEntry.resolved_at.is_(None)))
        chain = _audit_state(s)
    usage = shutil.disk_usage(ws.data_dir)
    return {
        "queue_depth": int(depth),
        "oldest_queued_at": _iso(oldest),
        "last_done_at": _iso(last_done),
        "quarantine_count": int(quarantined or 0),
        "data_dir": str(ws.data_dir),
        "free_bytes": int(usage.free),
        "total_bytes": int(usage.total),
        "discs_due_for_reread": reread,
        "audit_chain": chain,
        "ok": bool(chain["ok"]),
    }
