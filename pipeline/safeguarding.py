"""The safeguarding exception: concerns, and disclosures made under it.

The policy: "The only exception to keeping information confidential is if there is a concern
regarding safeguarding. Staff and volunteers have a duty to report their concerns about a child's
safety." Any member of staff records a concern (:func:`record_concern`) or a disclosure made
under it (:func:`record_disclosure`: who decided, when, to whom, what was shared, why); only a
manager reads them (:func:`list_records`; a staff login is refused with ``ManagerRequired``).
Recording one places a ``safeguarding`` hold on the case if none is in force, so nothing about the
case is shredded, disposed of or erased while the concern stands. Every write and every read is an
audit event (``safeguarding.concern``, ``safeguarding.disclosure``, ``safeguarding.read``, and
``safeguarding.read_refused`` for a staff login turned away by :func:`read_records`) naming the
record ids, never their text.

The free text (the concern; to whom, what and why of a disclosure) is sealed: an age file
encrypted to the case's own key (as its documents are), whose plaintext also names the case and
the kind of record, checked on reading. The database holds only who decided, when, who recorded
it and the ciphertext; the case's disposal destroys the key and deletes the rows.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit, authority, cases, keystore
from pipeline.dates import utcnow
from pipeline.models import SafeguardingRecord
from pps_archive.errors import IntegrityError, InvalidValue

if TYPE_CHECKING:
    from pipeline.workspace import Workspace

SAFEGUARDING = "safeguarding"


@dataclass(frozen=True)
class Record:
    """One safeguarding record as a manager reads it."""

    id: int
    case_ref: str
    kind: str  # concern | disclosure
    decided_by: str
    decided_on: str
    recorded_by: str
    recorded_at: str
    hold: int | None
    concern: str | None = None
    to_whom: str | None = None
    what_shared: str | None = None
    why: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _actor(auth: authority.Unlocked) -> str:
    return auth.actor if auth.method == authority.STAFF_PASSWORD else (auth.claimed_by or auth.actor)


def _text(value: str | None, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidValue(f"{what} is needed: a safeguarding record says it in words.")
    return value


def _seal(s: Session, auth: authority.Unlocked, ref: str, payload: dict) -> bytes:
    from archive_media import envelope

    recipient = keystore.ensure_case_key(s, auth.master, ref, actor=_actor(auth))
    out = io.BytesIO()
    envelope.encrypt_stream(io.BytesIO(json.dumps(payload, sort_keys=True).encode()), out, recipient)
    return out.getvalue()


def _add(s: Session, ref: str, kind: str, fields: dict, *, decided_by: str, decided_on: dt.date, today: dt.date,
         auth: authority.Unlocked) -> Record:
    how = authority.require(s, auth, f"recording a safeguarding {kind} for case {ref}", role=authority.STAFF)
    case = cases.get_case(s, ref, for_update=True)
    if case.disposed_on is not None:
        from pps_archive.errors import Conflict

        raise Conflict(f"case {case.ref} was disposed of on {case.disposed_on}: record the {kind} without a case.")
    actor = _actor(auth)
    hold = next((h for h in cases.active_holds(case) if h.reason == SAFEGUARDING), None)
    if hold is None:
        hold = cases.place_hold(s, case.ref, SAFEGUARDING, f"safeguarding {kind} recorded (see the safeguarding records)",
                                today=today, auth=auth)
    sealed = _seal(s, auth, case.ref, {"v": 1, "case": case.ref, "kind": kind, **fields})
    row = SafeguardingRecord(case_id=case.id, kind=kind, decided_by=decided_by, decided_on=decided_on, recorded_by=actor,
                             recorded_at=utcnow(), hold_id=hold.id, sealed=sealed)
    s.add(row)
    s.flush()
    audit.record(s, actor, f"safeguarding.{kind}", case_ref=case.ref, subject=f"safeguarding:{row.id}", decided_by=decided_by,
                 decided_on=decided_on, hold=hold.id, **how)
    return _as_record(row, case.ref, fields)


def record_concern(s: Session, ref: str, concern: str, *, today: dt.date, auth: authority.Unlocked,
                   decided_by: str | None = None, decided_on: dt.date | None = None) -> Record:
    """Record a safeguarding concern about case ``ref`` (any member of staff: the duty to report is
    everyone's). ``decided_by`` (default: who records it) raised it on ``decided_on`` (default
    ``today``). Places the safeguarding hold. In the caller's transaction."""
    from pipeline.actors import staff_name

    return _add(s, ref, "concern", {"concern": _text(concern, "the concern")},
                decided_by=staff_name(decided_by or _actor(auth)), decided_on=decided_on or today, today=today, auth=auth)


def record_disclosure(s: Session, ref: str, *, to_whom: str, what_shared: str, why: str, decided_by: str,
                      decided_on: dt.date, today: dt.date, auth: authority.Unlocked) -> Record:
    """Record a disclosure made under the safeguarding exception: who decided and when, to whom,
    what was shared, why. Places the safeguarding hold. In the caller's transaction."""
    from pipeline.actors import staff_name

    fields = {"to_whom": _text(to_whom, "to whom it was disclosed"), "what_shared": _text(what_shared, "what was shared"),
              "why": _text(why, "why it was shared")}
    return _add(s, ref, "disclosure", fields, decided_by=staff_name(decided_by), decided_on=decided_on, today=today, auth=auth)


def list_records(s: Session, ref: str, *, auth: authority.Unlocked) -> list[Record]:
    """The case's safeguarding records, decrypted: managers only (``ManagerRequired`` for staff).
    The read is an audit event, committed with the caller's transaction."""
    how = authority.require(s, auth, f"reading the safeguarding records of case {ref}", role=authority.MANAGER)
    case = cases.get_case(s, ref)
    rows = list(s.scalars(select(SafeguardingRecord).where(SafeguardingRecord.case_id == case.id).order_by(SafeguardingRecord.id)))
    out = []
    if rows:
        identity = keystore.case_identity(s, auth.master, case.ref)
        out = [_as_record(r, case.ref, _open(r, case.ref, identity)) for r in rows]
    audit.record(s, auth.actor, "safeguarding.read", case_ref=case.ref, subject=f"case:{case.ref}",
                 records=[r.id for r in rows], **how)
    return out


def read_records(ws: Workspace, ref: str, *, auth: authority.Unlocked) -> list[Record]:
    """:func:`list_records` in its own transaction; a refusal (a staff login) is recorded too, in
    a transaction of its own (``safeguarding.read_refused``), before ``ManagerRequired`` is raised."""
    from pps_archive.errors import ManagerRequired

    try:
        with ws.transaction() as s:
            return list_records(s, ref, auth=auth)
    except ManagerRequired:
        with ws.transaction() as s:
            how = authority.require(s, auth, "recording a refused read of safeguarding records")
            case = cases.get_case(s, ref)
            audit.record(s, _actor(auth), "safeguarding.read_refused", case_ref=case.ref, subject=f"case:{case.ref}", **how)
        raise


def _open(row: SafeguardingRecord, ref: str, identity: str) -> dict:
    from archive_media import envelope

    what = f"safeguarding record {row.id} of case {ref}"
    plain = io.BytesIO()
    envelope.decrypt_stream(io.BytesIO(row.sealed), plain, identity, what=what)
    data = json.loads(plain.getvalue())
    if data.get("v") != 1 or data.get("case") != ref or data.get("kind") != row.kind:
        raise IntegrityError(what=what, problem="it was sealed for another case or another kind of record")
    return {k: v for k, v in data.items() if k not in ("v", "case", "kind")}


def _as_record(row: SafeguardingRecord, ref: str, fields: dict) -> Record:
    return Record(id=row.id, case_ref=ref, kind=row.kind, decided_by=row.decided_by, decided_on=row.decided_on.isoformat(),
                  recorded_by=row.recorded_by, recorded_at=row.recorded_at.isoformat(timespec="seconds"), hold=row.hold_id,
                  **{k: fields.get(k) for k in ("concern", "to_whom", "what_shared", "why")})
