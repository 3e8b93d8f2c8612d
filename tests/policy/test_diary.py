"""Anonymised staff diaries: every slot seen by all staff, the case only by its adviser and managers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from pipeline import cases, diary
from pipeline.dates import utcnow
from pipeline.models import AuditEvent
from pps_archive.errors import AppointmentNotFound, ManagerRequired, NotAuthorised, WouldIdentify
from tests.policy.conftest import login

A, B = "PPS-2026-0501", "PPS-2026-0502"
MONDAY = dt.date(2026, 12, 7)


def test_everyone_sees_where_appointments_are_booked_but_not_who_with(office) -> None:  # noqa: ANN001
    """Policy: "Staff diaries are anonymised, so that others can see where appointments are booked, but
    not who with. This information is only available to PPS staff via the database." Every member of
    staff sees every slot; the case only its adviser and a manager; no login, no diary."""
    alice, bob, carol = (login(office, n) for n in ("alice", "bob", "carol"))
    now = utcnow()
    with office.transaction() as s:
        for ref in (A, B):
            cases.open_case(s, office.config, ref, today=dt.date(2026, 1, 5), actor="alice", consent_to_store=True)
        a = diary.book(s, office.config, alice, starts_at=dt.datetime(2026, 12, 8, 10, 0), minutes=60,
                       place="Galley Hill, room 2", ref=A, now=now)
        diary.book(s, office.config, bob, starts_at=dt.datetime(2026, 12, 9, 14, 30), minutes=45, place="School visit",
                   ref=B, now=now)
        with pytest.raises(ManagerRequired):
            diary.book(s, office.config, alice, starts_at=dt.datetime(2026, 12, 9, 9, 0), minutes=30, place="Office",
                       staff="bob", now=now)
        diary.book(s, office.config, carol, starts_at=dt.datetime(2026, 12, 10, 9, 0), minutes=30, place="Office",
                   staff="bob", now=now)  # a manager books for an adviser; a meeting, no case
        with pytest.raises(WouldIdentify):
            diary.book(s, office.config, alice, starts_at=dt.datetime(2026, 12, 11, 9, 0), minutes=30,
                       place=f"home visit {A}", now=now)
    with office.reader() as s:
        seen = {who: [(x.staff, x.place, x.case_ref) for x in diary.week(s, auth, MONDAY)]
                for who, auth in (("alice", alice), ("bob", bob), ("carol", carol))}
    assert seen["alice"] == [("alice", "Galley Hill, room 2", A), ("bob", "School visit", None), ("bob", "Office", None)]
    assert seen["bob"] == [("alice", "Galley Hill, room 2", None), ("bob", "School visit", B), ("bob", "Office", None)]
    assert seen["carol"] == [("alice", "Galley Hill, room 2", A), ("bob", "School visit", B), ("bob", "Office", None)]
    with office.reader() as s, pytest.raises(NotAuthorised):
        diary.week(s, None, MONDAY)  # only staff, logged in
    with office.transaction() as s:
        with pytest.raises(ManagerRequired):
            diary.cancel(s, bob, a.id, now=now)  # not bob's to cancel
        diary.cancel(s, alice, a.id, now=now)
        with pytest.raises(AppointmentNotFound):
            diary.cancel(s, alice, a.id, now=now)
        assert [x.place for x in diary.week(s, alice, MONDAY)] == ["School visit", "Office"]


def test_an_appointment_is_activity_on_its_case(office) -> None:  # noqa: ANN001
    """Policy: "Once a case has been inactive for 6 months it is archived": an appointment is activity
    on its case, so booking one moves the case's last activity (and its archive and disposal dates)."""
    alice = login(office, "alice")
    with office.transaction() as s:
        cases.open_case(s, office.config, A, today=dt.date(2026, 1, 5), actor="alice", consent_to_store=True)
        assert cases.status(office.config, cases.get_case(s, A), dt.date(2026, 12, 1)) == "inactive"
        slot = diary.book(s, office.config, alice, starts_at=dt.datetime(2026, 11, 30, 10, 0), minutes=60, place="Office",
                          ref=A, now=utcnow())
        case = cases.get_case(s, A)
        [touch] = [e for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "case.touch"))]
        assert json.loads(touch.details)["because"] == f"appointment:{slot.id}" and touch.case_ref == A
        assert case.last_activity == dt.date(2026, 11, 30)
        assert cases.status(office.config, case, dt.date(2026, 12, 1)) == "active"
        assert cases.case_dates(office.config, case.last_activity).archive_due == dt.date(2027, 5, 30)
