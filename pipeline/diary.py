"""Anonymised staff diaries: every booked slot is seen by all staff, whose case it is only by its
adviser and managers.

The policy: "Staff diaries are anonymised, so that others can see where appointments are booked,
but not who with. This information is only available to PPS staff via the database."

Every function takes a login (``auth``) and checks it (:func:`pipeline.authority.require`): the
diary is read through the database by staff only. :func:`week` (any span) lists every booked slot
with its adviser, time and place; the case is shown only to the adviser the appointment belongs to
and to managers, and is ``None`` for everyone else. An appointment is activity on its case: booking
it moves the case's last activity to the appointment's day (:func:`pipeline.cases.touch`), so its
archive and disposal dates move on; a cancellation does not move them back (the activity log only
grows), which is why bookings go at most :data:`MAX_DAYS_AHEAD` ahead. The place is seen by
everyone, so it may carry no case reference or forbidden word (:func:`pipeline.messages.check_text`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit, authority
from pipeline.authority import Unlocked
from pipeline.config import Config
from pipeline.models import Appointment, StaffAccount
from pps_archive.errors import AccountNotFound, AppointmentNotFound, InvalidValue, ManagerRequired

MAX_DAYS_AHEAD = 366
MAX_MINUTES = 12 * 60


@dataclass(frozen=True)
class Slot:
    """One booked slot as the viewer may see it: ``case_ref`` is None unless it is theirs to see."""

    id: int
    staff: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str
    case_ref: str | None
    mine: bool  # the viewer's own appointment

    def as_dict(self) -> dict:
        d = asdict(self)
        d["starts_at"], d["ends_at"] = self.starts_at.isoformat(timespec="minutes"), self.ends_at.isoformat(timespec="minutes")
        return d


def _account(s: Session, name: str) -> StaffAccount:
    acct = s.scalars(select(StaffAccount).where(StaffAccount.name == name)).one_or_none()
    if acct is None or acct.disabled_at is not None:
        raise AccountNotFound(account=name, problem=" (or it is disabled)")
    return acct


def _may_see_case(auth: Unlocked, appt: Appointment) -> bool:
    return auth.is_manager or appt.account.name == auth.actor


def _slot(auth: Unlocked, appt: Appointment) -> Slot:
    see = _may_see_case(auth, appt)
    return Slot(id=appt.id, staff=appt.account.name, starts_at=appt.starts_at, ends_at=appt.ends_at, place=appt.place,
                case_ref=appt.case.ref if see and appt.case is not None else None, mine=appt.account.name == auth.actor)


def book(s: Session, cfg: Config, auth: Unlocked, *, starts_at: dt.datetime, minutes: int, place: str,
         now: dt.datetime, ref: str | None = None, staff: str | None = None) -> Slot:
    """Book an appointment in ``staff``'s diary (default: the one logged in; another's needs a
    manager) at ``starts_at`` for ``minutes`` at ``place``, for case ``ref`` (or none: a meeting).
    The case's last activity moves to the appointment's day. Runs in the caller's transaction."""
    from pipeline import cases
    from pipeline.messages import check_text

    how = authority.require(s, auth, "booking an appointment", role=authority.STAFF)
    staff = " ".join((staff or auth.actor).split())
    if staff != auth.actor and not auth.is_manager:
        raise ManagerRequired(what="booking an appointment in another's diary", actor=auth.actor, role=auth.role)
    acct = _account(s, staff)
    if not 1 <= minutes <= MAX_MINUTES:
        raise InvalidValue(f"an appointment lasts from 1 to {MAX_MINUTES} minutes, not {minutes}")
    if starts_at.date() > now.date() + dt.timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidValue(f"appointments are booked at most {MAX_DAYS_AHEAD} days ahead")
    place = " ".join(place.split())
    if not place or len(place) > 120:
        raise InvalidValue("an appointment needs its place (at most 120 characters): where it is, never who with")
    check_text(place, "the place of an appointment (every member of staff sees it)", cfg)
    case = cases.get_case(s, cases.check_ref(cfg, ref), for_update=True) if ref is not None else None
    start = starts_at.replace(second=0, microsecond=0)
    appt = Appointment(account_id=acct.id, starts_at=start, ends_at=start + dt.timedelta(minutes=minutes), place=place,
                       case_id=case.id if case else None, booked_by=auth.actor, booked_at=now)
    s.add(appt)
    s.flush()
    if case is not None:  # an appointment is activity on its case, on its day
        cases.touch(s, case.ref, start.date(), actor=auth.actor, because=f"appointment:{appt.id}")
    audit.record(s, auth.actor, "diary.book", case_ref=case.ref if case else None, subject=f"appointment:{appt.id}",
                 staff=staff, on=starts_at.date(), **how)
    return _slot(auth, appt)


def week(s: Session, auth: Unlocked, start: dt.date, days: int = 7) -> list[Slot]:
    """Every booked (not cancelled) slot from ``start`` for ``days`` days, in time order, as the
    one logged in may see it. Needs a staff login. Reads only (the login check seals nothing new)."""
    from sqlalchemy.orm import selectinload

    authority.require(s, auth, "reading the diary", role=authority.STAFF)
    if not 1 <= days <= 366:
        raise InvalidValue("the diary is shown from 1 to 366 days at a time")
    lo = dt.datetime.combine(start, dt.time.min)
    hi = lo + dt.timedelta(days=days)
    rows = s.scalars(select(Appointment).where(Appointment.starts_at >= lo, Appointment.starts_at < hi,
                                               Appointment.cancelled_at.is_(None))
                     .options(selectinload(Appointment.account), selectinload(Appointment.case))
                     .order_by(Appointment.starts_at, Appointment.id))
    return [_slot(auth, a) for a in rows]


def cancel(s: Session, auth: Unlocked, appointment_id: int, *, now: dt.datetime) -> Slot:
    """Cancel an appointment: its adviser, or a manager. The case's activity stays as it was."""
    how = authority.require(s, auth, "cancelling an appointment", role=authority.STAFF)
    appt = s.get(Appointment, appointment_id)
    if appt is None or appt.cancelled_at is not None:
        raise AppointmentNotFound(appointment=appointment_id)
    if not _may_see_case(auth, appt):
        raise ManagerRequired(what="cancelling an appointment in another's diary", actor=auth.actor, role=auth.role)
    appt.cancelled_at = now
    audit.record(s, auth.actor, "diary.cancel", case_ref=appt.case.ref if appt.case else None,
                 subject=f"appointment:{appt.id}", **how)
    return _slot(auth, appt)
