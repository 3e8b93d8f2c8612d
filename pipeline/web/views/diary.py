"""The staff diary: a week of every booked slot (Monday to Sunday), booking and cancelling.

Every member of staff sees every slot (who, when, where); the case of a slot is what
:func:`pipeline.diary.week` returns: shown to the adviser it belongs to and to managers, and
``None`` ("booked") for everyone else. A booking moves its case's last activity
(:func:`pipeline.diary.book`); only its adviser or a manager may cancel one (the library refuses
anyone else).
"""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import diary
from pipeline.dates import utcnow
from pipeline.db import check_id
from pipeline.web.app import call, current, form, render, see_other, workspace
from pipeline.web.views._common import day, in_transaction, text, today
from pps_archive.errors import InvalidValue

nav = [("/diary", "Diary", None)]
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _monday(d: dt.date) -> dt.date:
    return d - dt.timedelta(days=d.weekday())


def _url(monday: dt.date) -> str:
    return f"/diary?week={monday.isoformat()}"


def _starts(date: str, time: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(f"{date.strip()} {time.strip()}", "%Y-%m-%d %H:%M")
    except ValueError:
        raise InvalidValue(f"{date.strip()[:12]!r} {time.strip()[:8]!r} is not a time: give the day as YYYY-MM-DD "
                           "and the time as HH:MM") from None


def _minutes(value: str) -> int:
    if not value.strip().isdigit():
        raise InvalidValue(f"{value.strip()[:12]!r} is not a number of minutes")
    return int(value.strip())


async def week_page(request: Request) -> Response:
    sess = current(request)
    ws = workspace(request)
    monday = _monday(day(request.query_params.get("week"), "the week", default=today(), days_ahead=3660))
    slots = await call(in_transaction, ws, diary.week, sess.auth, monday, 7)
    days = []
    for n, name in enumerate(DAYS):
        on = monday + dt.timedelta(days=n)
        days.append({"name": name, "date": on.isoformat(), "today": on == today(),
                     "slots": [x for x in slots if x.starts_at.date() == on]})
    return render(request, "diary.html", days=days, monday=monday.isoformat(), count=len(slots),
                  sunday=(monday + dt.timedelta(days=6)).isoformat(),
                  prev=_url(monday - dt.timedelta(days=7)), next=_url(monday + dt.timedelta(days=7)),
                  this_week=_url(_monday(today())), today=today().isoformat())


async def book(request: Request) -> Response:
    sess = current(request)
    request.state.back = "/diary"  # the error page links back
    data = await form(request)
    ws = workspace(request)
    starts = _starts(text(data, "date"), text(data, "time"))
    request.state.back = _url(_monday(starts.date()))
    minutes = _minutes(text(data, "minutes") or "60")
    ref = text(data, "case").strip() or None  # never put in the redirect's URL (nor in the server's log)
    staff = text(data, "staff").strip() or None
    slot = await call(in_transaction, ws, diary.book, ws.config, sess.auth, starts_at=starts, minutes=minutes,
                      place=text(data, "place"), ref=ref, staff=staff, now=utcnow())
    return see_other(request, _url(_monday(slot.starts_at.date())),
                     flash=f"Appointment {slot.id} booked for {slot.staff}: {slot.starts_at:%Y-%m-%d %H:%M}-"
                           f"{slot.ends_at:%H:%M}, {slot.place}" + (", for the case given" if slot.case_ref else "") + ".")


async def cancel(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    back = _url(_monday(day(text(data, "week"), "the week", default=today(), days_ahead=3660)))
    request.state.back = back
    appointment = check_id(int(request.path_params["appointment"]), "an appointment")
    slot = await call(in_transaction, ws, diary.cancel, sess.auth, appointment, now=utcnow())
    return see_other(request, back, flash=f"Appointment {slot.id} cancelled.")


routes = [
    Route("/diary", week_page, methods=["GET"]),
    Route("/diary", book, methods=["POST"]),
    Route("/diary/{appointment:int}/cancel", cancel, methods=["POST"]),
]
