"""The audit log: filter by case or date (pipeline.audit.read_log), verify the chain with the
logged-in person's key (pipeline.authority.audit_chain_report)."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import audit as lib
from pipeline import authority
from pipeline.web.app import call, current, form, read, render, workspace
from pps_archive.errors import InvalidValue

nav = [("/audit", "Audit log", None)]
SHOWN = 500


def _filters(request: Request) -> tuple[str | None, dt.date | None]:
    case = request.query_params.get("case", "").strip() or None
    since_text = request.query_params.get("since", "").strip()
    try:
        since = dt.date.fromisoformat(since_text) if since_text else None
    except ValueError:
        raise InvalidValue(f"{since_text!r} is not a date: write it as YYYY-MM-DD") from None
    return case, since


async def log(request: Request, report: dict | None = None) -> Response:
    current(request)
    case, since = _filters(request)
    events = await read(request, lib.read_log, case_ref=case, since=since, limit=SHOWN)
    return render(request, "audit.html", events=events, case=case or "", since=since.isoformat() if since else "",
                  shown=SHOWN, report=report)


async def verify(request: Request) -> Response:
    sess = current(request)
    await form(request)
    report = await call(authority.audit_chain_report, workspace(request), sess.auth)
    return await log(request, report)


routes = [Route("/audit", log, methods=["GET"]), Route("/audit/verify", verify, methods=["POST"])]
