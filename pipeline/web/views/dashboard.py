"""The dashboard: what needs doing today."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline.web.app import current, render

nav = [("/", "Dashboard", None)]


async def dashboard(request: Request) -> Response:
    sess = current(request)
    return render(request, "dashboard.html", account=sess.account)


routes = [Route("/", dashboard, methods=["GET"])]
