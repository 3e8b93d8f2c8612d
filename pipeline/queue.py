"""The durable job queue: input rows in state ``queued``, claimed by worker processes.

A claim sets ``processing`` with a lease. PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so
workers on several machines never take the same job; SQLite's ``BEGIN IMMEDIATE`` serialises
claims. A worker killed mid-job leaves its lease to expire; the job is then claimed again and,
since a job's results are committed in one transaction with its ``done`` state, it is processed
exactly once. After ``MAX_ATTEMPTS`` claims the input goes to quarantine instead of looping.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from pipeline.dates import utcnow  # noqa: F401 - re-exported: queue.utcnow() reads naturally at call sites
from pipeline.models import Input

MAX_ATTEMPTS = 3
DEFAULT_LEASE = dt.timedelta(minutes=15)


def claim(s: Session, worker: str, *, now: dt.datetime, lease: dt.timedelta = DEFAULT_LEASE, only: set[int] | None = None,
          host: str | None = None, exclude: set[int] | None = None) -> Input | None:
    """Claim the oldest queued (or abandoned) input, in the caller's transaction. With ``host``,
    only inputs whose spool copy is in that data directory's spool (its spool id); never those
    in ``exclude``."""
    stmt = (
        select(Input)
        .where(or_(Input.state == "queued", and_(Input.state == "processing", Input.lease_until < now)))
        .order_by(Input.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if only is not None:
        stmt = stmt.where(Input.id.in_(only))
    if host is not None:
        stmt = stmt.where(or_(Input.host == host, Input.host.is_(None)))
    if exclude:
        stmt = stmt.where(Input.id.not_in(exclude))
    row = s.scalars(stmt).first()
    if row is None:
        return None
    row.state, row.claimed_by, row.lease_until = "processing", worker, now + lease
    row.attempts += 1
    s.flush()
    return row


def pending(s: Session, only: set[int] | None = None, host: str | None = None, exclude: set[int] | None = None) -> int:
    stmt = select(Input.id).where(Input.state.in_(("queued", "processing")))
    if exclude:
        stmt = stmt.where(Input.id.not_in(exclude))
    if only is not None:
        stmt = stmt.where(Input.id.in_(only))
    if host is not None:
        stmt = stmt.where(or_(Input.host == host, Input.host.is_(None)))
    return len(s.scalars(stmt).all())
