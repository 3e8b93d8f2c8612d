"""The dashboard: what needs doing today (pipeline.dashboard.summary), and its live counts."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline import dashboard as lib
from pipeline.web.app import call, current, render, workspace

nav = [("/", "Dashboard", None)]

#: seconds the dashboard reuses its last keyed check of the audit log while the log's head and
#: last seal are unchanged (the audit page always checks afresh); see docs/web.md
AUDIT_CHECK_MAX_AGE = 60
#: cases due for archiving listed on the dashboard (all of them with ``?archive_due=all``)
DUE_ROWS = 100


async def dashboard(request: Request) -> Response:
    sess = current(request)
    data = await call(lib.summary, workspace(request), dt.date.today(), auth=sess.auth, audit_max_age=AUDIT_CHECK_MAX_AGE)
    due_rows = None if request.query_params.get("archive_due") == "all" else DUE_ROWS
    return render(request, "dashboard.html", account=sess.account, s=data, due_rows=due_rows)


async def live_json(request: Request) -> Response:
    """Counts only (no names, no references), for static/live.js."""
    current(request)
    return JSONResponse(await call(lib.live, workspace(request)))


routes = [Route("/", dashboard, methods=["GET"]), Route("/live.json", live_json, methods=["GET"])]
