"""Going through the cupboard disc by disc: a *round* of discs for a disposal run or a read-back.

An office has one CD drive and a cupboard of discs. A round collects the discs put in, one at a
time, over one sitting or several days apart: each disc is read and checked as it goes in (its
index's signature, the archive it belongs to; for a read-back, the whole verification of
:func:`pipeline.media.verify`), then recorded as presented for the round, a persistent record, so
the next sitting continues where the last one stopped. A disc put in a second time is recognised
(``again``); a wrong disc (another archive's, unreadable, forged, or a different disc under a
label already presented) is refused and recorded only as an audit event. Once the discs are in,
the plan is made from the round (:func:`pipeline.disposal_plans.prepare` with ``round``), and lists
the registered discs that were not presented.

One open round per purpose (``dispose`` or ``verify``); a disposal round closes when the run
made from it is executed, a read-back round once every registered disc has been read in it.
Each presented disc's row carries a MAC made with the master key (:mod:`pipeline.verify_marks`),
so a row written into the database by hand does not count as a disc read.

Every function here runs in the caller's session (``s``): a web handler may call
:func:`present_disc` inside its own transaction, one disc a request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit, keystore
from pipeline import verify_marks as marks
from pipeline.dates import utcnow
from pipeline.models import ROUND_PURPOSES, Disc, DiscRound, PresentedDiscRow
from pipeline.workspace import Workspace
from pps_archive.errors import DiscRefused, PPSArchiveError, RoundClosed, RoundNotFound

DISPOSE, VERIFY = ROUND_PURPOSES
#: the register's discs a round expects: for a disposal run those that count as archived (as its
#: plan's "not presented" list), for a read-back every disc not destroyed
_EXPECTED = {DISPOSE: ("verified", "in-cupboard"), VERIFY: ("built", "verified", "in-cupboard", "failed")}


@dataclass(frozen=True)
class Presented:
    """What happened to one disc put in. ``outcome``: ``presented`` (recorded), ``again`` (it was
    presented before in this round), ``not_registered`` (this archive's, but not in the register:
    recorded, and the plan says so) or ``refused`` (``problem`` says why; nothing recorded)."""

    round: int
    purpose: str
    source: str
    outcome: str
    label: str | None
    items: int
    problem: str | None
    presented: int  # discs presented in the round so far
    not_presented: tuple[str, ...]  # registered discs the round still expects
    verification: dict | None = None  # a read-back's report (pipeline.media.verify)
    error: PPSArchiveError | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict:
        return {"round": self.round, "purpose": self.purpose, "media": self.source, "outcome": self.outcome,
                "label": self.label, "items": self.items, "problem": self.problem, "presented": self.presented,
                "not_presented": list(self.not_presented), "verification": self.verification,
                "error": type(self.error).__name__ if self.error is not None else None}


def current_round(s: Session, purpose: str) -> DiscRound | None:
    """The open round for ``purpose``, if any."""
    _check_purpose(purpose)
    return s.scalars(select(DiscRound).where(DiscRound.purpose == purpose, DiscRound.closed_at.is_(None))
                     .order_by(DiscRound.id.desc())).first()


def open_round(s: Session, purpose: str, *, actor: str, new: bool = False) -> DiscRound:
    """The open round for ``purpose``, or a new one (``new``: close the open one first)."""
    found = current_round(s, purpose)
    if found is not None and not new:
        return found
    if found is not None:
        close_round(s, found, "a new round was started", actor=actor)
    row = DiscRound(purpose=purpose, opened_by=actor, opened_at=utcnow())
    s.add(row)
    s.flush()
    audit.record(s, actor, "disc_round.opened", subject=_subject(row.id), purpose=purpose)
    return row


def get_round(s: Session, run: int | DiscRound, purpose: str | None = None) -> DiscRound:
    row = run if isinstance(run, DiscRound) else s.get(DiscRound, run)
    if row is None or (purpose is not None and row.purpose != purpose):
        raise RoundNotFound(round=run if not isinstance(run, DiscRound) else run.id,
                            purpose=f" for {'a disposal run' if purpose == DISPOSE else 'a read-back'}" if purpose else "")
    return row


def close_round(s: Session, run: int | DiscRound, why: str, *, actor: str) -> None:
    row = get_round(s, run)
    if row.closed_at is None:
        row.closed_at, row.closed_because = utcnow(), why
        audit.record(s, actor, "disc_round.closed", subject=_subject(row.id), why=why, discs=len(row.discs))


def present_disc(s: Session, ws: Workspace, run: int | DiscRound, source: Path | str, *, auth=None,  # noqa: ANN001
                 actor: str | None = None, full: bool = False) -> Presented:
    """Read the disc in ``source`` (the drive, a mounted disc, an image) for round ``run`` and
    record it as presented; returns what happened (a refused disc is a result, not an exception,
    so a loop goes on to the next disc; ``error`` holds the reason as a typed error).

    ``auth``: a :class:`pipeline.authority.Unlocked` (a login), required for a disposal round;
    for a read-back it may also be the recovery passphrase or None, as :func:`pipeline.media.verify`
    takes it, and ``full`` decrypts and re-hashes every item. The caller's session."""
    from archive_media.medium import read_from

    from pipeline import authority
    from pipeline.media import verify

    row = get_round(s, run)
    if row.closed_at is not None:
        raise RoundClosed(round=row.id, why=row.closed_because or "closed")
    if row.purpose == DISPOSE or isinstance(auth, authority.Unlocked):
        authority.require(s, auth, "presenting discs for a disposal run" if row.purpose == DISPOSE else "reading discs back")
    who = auth.actor if isinstance(auth, authority.Unlocked) else actor or "unknown"
    source = Path(source)
    try:
        kind = read_from(source)
        # a read-back verifies first: a damaged or forged disc of the register is marked failed there
        report = verify(ws, source, full=full, auth=auth if isinstance(auth, authority.Unlocked) else None,
                                claimed_by=actor) if row.purpose == VERIFY else None
        index = _read_index(s, ws, source)
        digest = _digest(index)
        earlier = s.scalars(select(PresentedDiscRow).where(PresentedDiscRow.round_id == row.id,
                                                           PresentedDiscRow.label == index.label)).one_or_none()
        if earlier is not None and earlier.index_sha256 != digest:
            raise DiscRefused(media=str(source), problem=(
                f"it is labelled {index.label}, but it is not the disc of that label presented in this round on "
                f"{earlier.presented_at.date()}: two different discs carry the same label. Set it aside and tell a manager"))
    except (PPSArchiveError, OSError) as exc:
        if isinstance(exc, OSError):
            exc = DiscRefused(media=str(source), problem=f"it cannot be read ({exc.strerror or exc}): is a disc in the drive?")
        audit.record(s, who, "disc_round.refused", subject=_subject(row.id), problem=type(exc).__name__)
        return _result(s, row, source, "refused", None, 0, exc)
    master = _master(s, auth)
    now = utcnow()
    dates = json.dumps(_case_dates(index), sort_keys=True, separators=(",", ":"))
    if earlier is not None:
        earlier.times += 1
        outcome = "again"
        if earlier.mac is None and master is not None:  # now vouched for by someone holding the key
            earlier.mac = marks.presented_mac(marks.mark_key(master), keystore.archive_id(s), row.id, earlier.label,
                                              earlier.index_sha256, earlier.case_dates, earlier.presented_at)
    else:
        mac = (marks.presented_mac(marks.mark_key(master), keystore.archive_id(s), row.id, index.label, digest, dates, now)
               if master is not None else None)
        s.add(PresentedDiscRow(round_id=row.id, label=index.label, items=len(index.entries), index_sha256=digest,
                               case_dates=dates, read_from=kind, presented_by=who, presented_at=now, times=1, mac=mac))
        s.flush()
        registered = s.scalars(select(Disc.id).where(Disc.label == index.label, Disc.status != "destroyed")).first()
        outcome = "presented" if registered is not None else "not_registered"
    audit.record(s, who, "disc_round.presented", subject=_subject(row.id), disc=index.label, outcome=outcome, read_from=kind)
    s.expire(row, ["discs"])
    result = _result(s, row, source, outcome, index.label, len(index.entries), None, report)
    if row.purpose == VERIFY and not result.not_presented:
        close_round(s, row, "every registered disc was read", actor=who)
    return result


def status(s: Session, run: int | DiscRound, *, mark_key: bytes | None = None) -> dict:
    """The round: the discs presented (``trusted``: its MAC checks, given ``mark_key``) and the
    registered discs not presented yet."""
    row = get_round(s, run)
    archive = keystore.archive_id(s)
    registered = set(s.scalars(select(Disc.label).where(Disc.status != "destroyed")))
    return {"round": row.id, "purpose": row.purpose, "opened_by": row.opened_by,
            "opened_at": row.opened_at.isoformat(timespec="seconds"),
            "closed_at": row.closed_at.isoformat(timespec="seconds") if row.closed_at else None,
            "closed_because": row.closed_because,
            "presented": [{"label": d.label, "items": d.items, "read_from": d.read_from, "presented_by": d.presented_by,
                           "presented_at": d.presented_at.isoformat(timespec="seconds"), "times": d.times,
                           "registered": d.label in registered,
                           "trusted": None if mark_key is None else _trusted(mark_key, archive, d)} for d in row.discs],
            "not_presented": list(_not_presented(s, row))}


def presented_discs(s: Session, run: int | DiscRound, mark_key: bytes) -> tuple[list, dict[str, dt.date]]:
    """The round's discs as :func:`pipeline.disposal.read_presented` gives discs read at once:
    ``(presented, per case the earliest disposal date a disc gives)``. Only rows whose MAC checks
    under ``mark_key`` count; one that does not is left out (so the plan lists it as not presented)."""
    from pipeline.disposal import PresentedDisc

    row = get_round(s, run, DISPOSE)
    archive = keystore.archive_id(s)
    discs, dates = [], {}
    for d in row.discs:
        if not _trusted(mark_key, archive, d):
            continue
        discs.append(PresentedDisc(f"round {row.id}: {d.read_from}", d.label, d.items))
        for ref, day in json.loads(d.case_dates).items():
            day = dt.date.fromisoformat(day)
            dates[ref] = min(dates.get(ref, day), day)
    return discs, dates


# --- helpers ---------------------------------------------------------------------------------------

def _check_purpose(purpose: str) -> None:
    if purpose not in ROUND_PURPOSES:
        raise ValueError(f"a round is for one of {ROUND_PURPOSES}, not {purpose!r}")


def _subject(round_id: int) -> str:
    return f"disc-round:{round_id}"


def _read_index(s: Session, ws: Workspace, source: Path):  # noqa: ANN202 - an archive_media DiscIndex
    from archive_media.iso import read_disc

    from pipeline.media import public_key

    pub, archive = public_key(s, ws.data_dir), keystore.archive_id(s)
    try:
        with read_disc(source, public_key=pub, archive_id=archive) as reader:
            return reader.index
    except OSError as exc:
        raise DiscRefused(media=str(source), problem=f"it cannot be read ({exc.strerror or exc}): is a disc in the drive?") from exc
    except PPSArchiveError as exc:  # its signature failed: say so plainly when it is another archive's disc
        from archive_media.disc_reader import claimed_identity
        from pps_archive.errors import ForeignArchive

        label, theirs = claimed_identity(source)
        if theirs is not None and theirs != archive and not isinstance(exc, ForeignArchive):
            raise ForeignArchive(what=f"disc {label or source}", theirs=theirs, ours=archive) from exc
        raise


def _digest(index) -> str:  # noqa: ANN001 - a DiscIndex
    """Which disc this is: its signed index's content (two burns of one image agree)."""
    body = {"label": index.label, "archive": index.archive_id, "created": index.created, "audit": index.audit_head,
            "items": [[e.item_id, e.sha256, e.case_ref, e.dispose_after.isoformat()] for e in index.entries]}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _case_dates(index) -> dict[str, str]:  # noqa: ANN001
    out: dict[str, dt.date] = {}
    for e in index.entries:
        out[e.case_ref] = min(out.get(e.case_ref, e.dispose_after), e.dispose_after)
    return {k: v.isoformat() for k, v in out.items()}


def _master(s: Session, auth) -> bytes | None:  # noqa: ANN001
    from pipeline import authority

    if isinstance(auth, authority.Unlocked):
        return auth.master
    if auth is not None:
        return keystore.unlock(s, auth)
    return None


def _trusted(key: bytes, archive: str, d: PresentedDiscRow) -> bool:
    return marks.presented_ok(key, archive, d.round_id, d.label, d.index_sha256, d.case_dates, d.presented_at, d.mac)


def _not_presented(s: Session, row: DiscRound) -> tuple[str, ...]:
    seen = {d.label for d in s.scalars(select(PresentedDiscRow).where(PresentedDiscRow.round_id == row.id))}
    expected = s.scalars(select(Disc.label).where(Disc.status.in_(_EXPECTED[row.purpose])).order_by(Disc.label))
    return tuple(label for label in expected if label not in seen)


def _result(s: Session, row: DiscRound, source: Path, outcome: str, label: str | None, items: int,
            error: PPSArchiveError | None, report: dict | None = None) -> Presented:
    count = len(list(s.scalars(select(PresentedDiscRow.id).where(PresentedDiscRow.round_id == row.id))))
    return Presented(row.id, row.purpose, str(source), outcome, label, items, str(error) if error else None, count,
                     _not_presented(s, row), report, error)



# --- for a page: one disc a request --------------------------------------------------------------

def overview(ws: Workspace, purpose: str, *, auth=None) -> dict:  # noqa: ANN001
    """The open round for ``purpose`` as :func:`status` gives it (``trusted`` checked when ``auth``
    is a login), or, when none is open, ``round`` None, nothing presented, and the register's
    discs a new round would expect as ``not_presented``. Its own read transaction."""
    from pipeline import authority

    _check_purpose(purpose)
    with ws.reader() as s:
        row = current_round(s, purpose)
        if row is not None:
            key = marks.mark_key(auth.master) if isinstance(auth, authority.Unlocked) else None
            return status(s, row, mark_key=key)
        expected = s.scalars(select(Disc.label).where(Disc.status.in_(_EXPECTED[purpose])).order_by(Disc.label))
        return {"round": None, "purpose": purpose, "opened_by": None, "opened_at": None, "closed_at": None,
                "closed_because": None, "presented": [], "not_presented": list(expected)}


def present_next(ws: Workspace, purpose: str, source: Path | str, *, auth, full: bool = False) -> dict:  # noqa: ANN001
    """One disc put in the drive (a page's "Read"): presented into the open round for ``purpose``
    (a new round when none is open), in its own transaction, as ``auth`` (a login). Returns
    ``{"result": Presented.as_dict(), "round": status}``: a refused disc is a result (its
    ``problem`` says why), so the next disc can go in."""
    from pipeline import authority

    if not isinstance(auth, authority.Unlocked):
        raise TypeError("present_next takes a login (pipeline.authority.Unlocked)")
    with ws.transaction() as s:
        row = open_round(s, purpose, actor=auth.actor)
        result = present_disc(s, ws, row, source, auth=auth, full=full)
        return {"result": result.as_dict(), "round": status(s, row, mark_key=marks.mark_key(auth.master))}


def restart(ws: Workspace, purpose: str, *, auth) -> int:  # noqa: ANN001
    """Close the open round for ``purpose`` (if any) and open a new one, as ``auth`` (a login):
    the discs presented so far no longer count. Returns the new round's id. Its own transaction."""
    from pipeline import authority

    with ws.transaction() as s:
        authority.require(s, auth, "starting a new round of discs")
        return open_round(s, purpose, actor=auth.actor, new=True).id
