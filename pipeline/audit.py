"""The tamper-evident audit log: an append-only, hash-chained table.

Each event's hash is ``sha256(canonical JSON of {seq, at, actor, action, case_ref, subject,
details, prev})``, and ``prev`` is the previous event's hash. ``verify`` walks the chain from the
genesis and detects an edited event (its hash no longer matches), a deleted one (a gap in ``seq``
or a broken link), reordered ones (links break) and a deleted tail (the chain ends before the
head row). Events carry staff names, case references and opaque ids — never a parent's or child's
name, and never free text typed about a family (hold notes stay out of it).

The hashes alone prove nothing to someone who can write the database: they can delete an event
and recompute every hash after it. So the chain is also **sealed**. A seal is
``HMAC-SHA256(seal key, {archive, seq, hash, previous seal's mac})``, the seal key derived (HKDF)
from the master key. The intake daemon has no master key and writes events unsealed; every
process that holds the unlocked master key seals the chain's head when it commits (``seal``, or
``seal_on_commit``, which ``keystore.unlock`` calls). The head row records the last seal, so
removing seal rows is detected too. ``verify`` with the master key checks every seal against the
chain at its ``seq`` and reports how many events after the last seal are not sealed yet; without
it, only the structure can be checked, and the report says so.

What the seals cannot stop (the residual risk, stated plainly): events after the last seal can be
rewritten by whoever can write the database, and the whole log can be rolled back to an earlier
sealed state (old seals stay valid). The audit head printed on every disc and certificate is the
outside anchor against that: a head on a disc that is no longer in the chain shows the rollback.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.models import AuditEvent, AuditHead, AuditSeal, Setting

try:
    from json.encoder import encode_basestring_ascii as _encode_ascii  # what json.dumps(ensure_ascii=True) uses
except ImportError:  # pragma: no cover - the C accelerator is part of CPython
    from json.encoder import py_encode_basestring_ascii as _encode_ascii
from pps_archive.errors import AuditChainBroken

GENESIS = "0" * 64
_SEAL_INFO = b"pps-archive/v1/audit-seal"
_SEAL_KEY = "pps_audit_seal_key"  # in Session.info: the derived seal key, never the master key


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode()


def event_hash(seq: int, at: str, actor: str, action: str, case_ref: str | None, subject: str | None, details: str, prev: str) -> str:
    if type(seq) is int:
        # the canonical JSON below, written out (the keys in sorted order): the same bytes, without
        # building an encoder per event (the audit check hashes every event of the log); a value
        # that is not text (or None where None may be) takes the general path
        e = _encode_ascii
        try:
            text = ('{"action":' + e(action) + ',"actor":' + e(actor) + ',"at":' + e(at) + ',"case_ref":'
                    + ("null" if case_ref is None else e(case_ref)) + ',"details":' + e(details) + ',"prev":' + e(prev)
                    + ',"seq":' + str(seq) + ',"subject":' + ("null" if subject is None else e(subject)) + "}")
        except TypeError:
            pass
        else:
            return hashlib.sha256(text.encode()).hexdigest()
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


# --- seals ----------------------------------------------------------------------------------


def seal_key(master_key: bytes) -> bytes:
    """The 32-byte HMAC key for seals, derived from the master key (HKDF-SHA256, its own label)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if len(master_key) != 32:
        raise ValueError("the master key is 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(master_key)


def seal_mac(key: bytes, archive: str, seq: int, digest: str, prev_mac: str) -> str:
    payload = _canonical({"v": 1, "archive": archive, "seq": seq, "hash": digest, "prev": prev_mac})
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def _archive(session: Session) -> str:
    row = session.get(Setting, "archive_id")
    if row is None:
        raise AuditChainBroken(problem="the archive id is missing, so the seals cannot be checked")
    return row.value


def seal(session: Session, master_key: bytes) -> AuditSeal | None:
    """Seal the chain's current head, in the caller's transaction (it commits with it).

    Returns the new seal, or ``None`` when the head is already sealed. Safe to call any number of
    times; every function that holds the unlocked master key may call it before it commits."""
    return _seal_with(session, seal_key(master_key))


def _seal_with(session: Session, key: bytes) -> AuditSeal | None:
    stmt = select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
    head = session.scalars(stmt).one()
    if head.seq == 0 or head.sealed_seq == head.seq:
        return None
    prev_mac = head.sealed_mac or GENESIS
    row = AuditSeal(seq=head.seq, hash=head.hash, mac=seal_mac(key, _archive(session), head.seq, head.hash, prev_mac), at=_now())
    session.add(row)
    head.sealed_seq, head.sealed_mac = row.seq, row.mac
    session.flush()
    return row


def seal_on_commit(session: Session, master_key: bytes) -> None:
    """Seal the head whenever this session commits (once per commit, after its own events).

    Keeps only the derived seal key in ``session.info``; a read-only session is not sealed."""
    first = _SEAL_KEY not in session.info
    session.info[_SEAL_KEY] = seal_key(master_key)
    if first:
        sa_event.listen(session, "before_commit", _seal_before_commit)


def _seal_before_commit(session: Session) -> None:
    key = session.info.get(_SEAL_KEY)
    if key is None or session.get_bind().get_execution_options().get("pps_read_only"):
        return
    _seal_with(session, key)


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    events: int
    head: str
    keyed: bool = False  # the seals were checked with the master key
    seals: int = 0
    sealed_seq: int = 0  # the last sealed event
    unsealed: int = 0  # events written after the last seal (by intake, say): not yet protected by a seal

    def as_dict(self) -> dict[str, Any]:
        return {"ok": True, "events": self.events, "head": self.head, "keyed": self.keyed, "seals": self.seals,
                "sealed_seq": self.sealed_seq, "unsealed": self.unsealed}


#: the last check of each database's log in this process, keyed or not: when it was made, what the
#: log looked like (:func:`_fingerprint`), and its report or the problem found
_RECENT: dict[tuple[str, bool], tuple[float, tuple, ChainReport | dict]] = {}


def _fingerprint(session: Session) -> tuple:
    """What moves whenever the log is appended to or sealed (or rows are deleted): the head row,
    and the number and the last of the events and of the seals."""
    from sqlalchemy import func

    head = session.get(AuditHead, 1)
    events = session.execute(select(func.count(), func.max(AuditEvent.seq))).one()
    seals = session.execute(select(func.count(), func.max(AuditSeal.seq), func.max(AuditSeal.mac))).one()
    return ((head.seq, head.hash, head.sealed_seq, head.sealed_mac) if head is not None else None,
            tuple(events), tuple(seals))


def verify_recent(session: Session, master_key: bytes | None = None, *, max_age: float) -> ChainReport:
    """:func:`verify`, or the answer of this process's last check of the same database's log (as
    keyed) if it is at most ``max_age`` seconds old and the log's head, seals and number of events
    are as they were then; a chain found broken raises again. For a page loaded often: a log
    changed in place (its head and seals untouched) shows as broken at the latest ``max_age``
    seconds after the change, at once if any other check ran since (the audit page's, say)."""
    import time

    key = (str(session.get_bind().url), master_key is not None)
    mark = _fingerprint(session)
    hit = _RECENT.get(key)
    if max_age > 0 and hit is not None and time.monotonic() - hit[0] <= max_age and hit[1] == mark:
        if isinstance(hit[2], dict):
            raise AuditChainBroken(**hit[2])
        return hit[2]
    return verify(session, master_key, _mark=mark)


def verify(session: Session, master_key: bytes | None = None, *, _mark: tuple | None = None) -> ChainReport:
    """Check the whole chain; raise :class:`AuditChainBroken` naming the first problem.

    With ``master_key`` every seal's MAC is checked, so events deleted or rewritten before the last
    seal (hashes recomputed or not) and removed seals are detected. Without it only the structure
    is checked (``keyed=False``): that proves nothing against someone who can write the database.
    Remembers its answer for :func:`verify_recent`."""
    import time

    key, at = (str(session.get_bind().url), master_key is not None), time.monotonic()
    mark = _mark if _mark is not None else _fingerprint(session)
    try:
        report = _verify(session, master_key)
    except AuditChainBroken as exc:
        _RECENT[key] = (at, mark, dict(exc.fields))
        if master_key is not None:  # broken under the key is broken: an unkeyed look must not say intact
            _RECENT[(key[0], False)] = (at, mark, dict(exc.fields))
        raise
    _RECENT[key] = (at, mark, report)
    return report


def _verify(session: Session, master_key: bytes | None) -> ChainReport:
    if session.autoflush:
        session.flush()
    conn = session.connection()  # plain rows, no ORM layer: every event of the log is read
    seals = {seq: (digest, mac) for seq, digest, mac in conn.execute(select(AuditSeal.seq, AuditSeal.hash, AuditSeal.mac))}
    expected_seq, prev = 1, GENESIS
    rows = conn.execute(
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
        if seq in seals and seals[seq][0] != digest:
            raise AuditChainBroken(problem=f"event {seq} is not the event that was sealed (the log was rewritten)")
        prev, expected_seq = digest, seq + 1
    last = expected_seq - 1
    head = session.get(AuditHead, 1)
    if head is None:
        raise AuditChainBroken(problem="the chain's head record is missing")
    if head.seq != last or head.hash != prev:
        raise AuditChainBroken(
            problem=f"the log ends at event {last} but {head.seq} were written (events deleted from the end?)"
        )
    beyond = [seq for seq in seals if seq > last]
    if beyond:
        raise AuditChainBroken(problem=f"event {min(beyond)} was sealed but is no longer in the log")
    last_seal = max(seals, default=0)
    if (head.sealed_seq or 0) != last_seal or (last_seal and head.sealed_mac != seals[last_seal][1]):
        raise AuditChainBroken(
            problem=f"the head record says the log was sealed up to event {head.sealed_seq or 0}, but the last seal "
            f"found is at event {last_seal} (seals removed?)"
        )
    keyed = master_key is not None
    if keyed:
        _check_seals(session, seals, seal_key(master_key), last)
    return ChainReport(events=last, head=prev, keyed=keyed, seals=len(seals), sealed_seq=last_seal, unsealed=last - last_seal)


def _check_seals(session: Session, seals: dict[int, tuple[str, str]], key: bytes, last: int) -> None:
    if not seals and last:
        # init seals as it creates the master key, and every keyed command seals: a keyed archive
        # whose log has events but no seal has had its seals removed
        raise AuditChainBroken(problem=f"the log has {last} events but no seal at all (seals removed?)")
    archive, prev_mac = _archive(session), GENESIS
    for seq in sorted(seals):
        digest, mac = seals[seq]
        if not hmac.compare_digest(seal_mac(key, archive, seq, digest, prev_mac), mac):
            raise AuditChainBroken(
                problem=f"the seal at event {seq} does not match (the log or its seals were rewritten or removed "
                "without the master key)"
            )
        prev_mac = mac


def require_intact(session: Session, master_key: bytes) -> ChainReport:
    """The check a destructive command makes first: the keyed :func:`verify`, which raises
    :class:`AuditChainBroken` unless the chain and every seal verify. Needs the master key: a
    structural check alone is worthless against someone who can write the database."""
    if not isinstance(master_key, bytes):
        raise TypeError("require_intact needs the unlocked master key")
    return verify(session, master_key)


# --- anchors outside the database: the head printed on each disc -----------------------------


def check_anchors(session: Session, anchors: Iterable[tuple[str, str]]) -> list[int]:
    """Each ``(where, head)``, an audit head recorded outside the database (a disc's signed index,
    a filed certificate), must still be an event of the chain: otherwise the log was rolled back
    or rewritten past that point. Raises :class:`AuditChainBroken` naming the first that is not;
    returns their ``seq``. Run it after :func:`verify` (that checks the chain itself)."""
    found = []
    for where, digest in anchors:
        seq = session.scalar(select(AuditEvent.seq).where(AuditEvent.hash == digest))
        if seq is None:
            raise AuditChainBroken(
                problem=f"{where} records the audit head {digest}, which is no longer in the log (events rewritten or "
                "the log rolled back since it was made)"
            )
        found.append(seq)
    return found


def disc_anchors(session: Session, sources: Iterable[Path], data_dir: Path) -> list[tuple[str, str]]:
    """``(disc label, audit head)`` of each disc or image, read from its signature-checked index."""
    from archive_media.iso import read_disc
    from pipeline import keystore
    from pipeline.media import public_key

    pub, archive = public_key(session, data_dir), keystore.archive_id(session)
    out = []
    for src in sources:
        with read_disc(Path(src), public_key=pub, archive_id=archive) as reader:
            out.append((f"disc {reader.index.label}", reader.index.audit_head))
    return out


def head(session: Session) -> ChainReport:
    row = session.get(AuditHead, 1)
    return ChainReport(events=row.seq, head=row.hash)


def events_for(session: Session, case_ref: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.case_ref == case_ref).order_by(AuditEvent.seq)))


# --- reading the log (for staff and any front-end) --------------------------------------------


def _since_text(since: dt.date | dt.datetime) -> str:
    """The lower bound in the stored form (ISO 8601 UTC text, which sorts as time does)."""
    if isinstance(since, dt.datetime):
        moment = since if since.tzinfo is not None else since.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return since.isoformat()  # a day: every event from its first moment, UTC


def read_log(
    session: Session, *, case_ref: str | None = None, since: dt.date | dt.datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The audit events, oldest first, as plain dicts: ``seq``, ``at`` (ISO 8601 UTC text),
    ``actor``, ``action``, ``case_ref``, ``subject``, ``details`` (a dict).

    Runs in the caller's session (read-only; a ``ws.reader()`` is enough). ``case_ref`` keeps the
    events of one case (references are compared in upper case; a disposed case's events remain);
    ``since`` keeps events at or after that day (00:00 UTC) or moment. The events hold staff names,
    case references and opaque ids only, never free text about a family. Reading does not check the
    chain: :func:`verify` does. With ``limit``, only the newest ``limit`` of those events (still
    oldest first)."""
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc() if limit is not None else AuditEvent.seq)
    if case_ref is not None:
        stmt = stmt.where(AuditEvent.case_ref == case_ref.strip().upper())
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= _since_text(since))
    if limit is not None:
        stmt = stmt.limit(max(0, limit))
    rows = [
        {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "case_ref": e.case_ref, "subject": e.subject,
         "details": json.loads(e.details)}
        for e in session.scalars(stmt.execution_options(yield_per=2000))
    ]
    return rows[::-1] if limit is not None else rows
