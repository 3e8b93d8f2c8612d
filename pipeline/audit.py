"""The tamper-evident audit log: an append-only, hash-chained table.

Each event's hash is ``sha256(canonical JSON of {seq, at, actor, action, case_ref, subject,
details, prev})``, and ``prev`` is the previous event's hash. ``verify`` walks the chain from the
genesis and detects an edited event (its hash no longer matches), a deleted one (a gap in ``seq``
or a broken link), reordered ones (links break) and a deleted tail (the chain ends before the
head row). Events carry staff names, case references and opaque ids — never a parent's or child's
name, and never free text typed about a family (hold notes stay out of it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.models import AuditEvent, AuditHead
from pps_archive.errors import AuditChainBroken

GENESIS = "0" * 64


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode()


def event_hash(seq: int, at: str, actor: str, action: str, case_ref: str | None, subject: str | None, details: str, prev: str) -> str:
    payload = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "case_ref": case_ref,
        "subject": subject,
        "details": details,
        "prev": prev,
    }
    return hashlib.sha256(_canonical(payload)).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    case_ref: str | None = None,
    subject: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Append an event in the caller's transaction (it commits or rolls back with the change)."""
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
    seq = head.seq + 1
    at = _now()
    body = _canonical(details).decode()
    digest = event_hash(seq, at, actor, action, case_ref, subject, body, head.hash)
    event = AuditEvent(
        seq=seq, at=at, actor=actor, action=action, case_ref=case_ref, subject=subject,
        details=body, prev_hash=head.hash, hash=digest,
    )
    session.add(event)
    head.seq, head.hash = seq, digest
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    events: int
    head: str


def verify(session: Session) -> ChainReport:
    """Check the whole chain; raise :class:`AuditChainBroken` naming the first bad event."""
    expected_seq, prev = 1, GENESIS
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.at, AuditEvent.actor, AuditEvent.action, AuditEvent.case_ref,
               AuditEvent.subject, AuditEvent.details, AuditEvent.prev_hash, AuditEvent.hash)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=2000)
    )
    for seq, at, actor, action, case_ref, subject, details, prev_hash, digest in rows:
        if seq != expected_seq:
            raise AuditChainBroken(problem=f"event {expected_seq} is missing (the next one is {seq})")
        if prev_hash != prev:
            raise AuditChainBroken(problem=f"event {seq} does not follow event {seq - 1} (deleted or reordered events)")
        if event_hash(seq, at, actor, action, case_ref, subject, details, prev_hash) != digest:
            raise AuditChainBroken(problem=f"event {seq} was changed after it was written")
        prev, expected_seq = digest, seq + 1
    head = session.get(AuditHead, 1)
    if head is None:
        raise AuditChainBroken(problem="the chain's head record is missing")
    if head.seq != expected_seq - 1 or head.hash != prev:
        raise AuditChainBroken(
            problem=f"the log ends at event {expected_seq - 1} but {head.seq} were written (events deleted from the end?)"
        )
    return ChainReport(events=expected_seq - 1, head=prev)


def head(session: Session) -> ChainReport:
    row = session.get(AuditHead, 1)
    return ChainReport(events=row.seq, head=row.hash)


def events_for(session: Session, case_ref: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.case_ref == case_ref).order_by(AuditEvent.seq)))
