"""Intake: each input with its state and what it produced (pipeline.dashboard.list_inputs)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import dashboard as lib
from pipeline.web.app import call, current, render, workspace

nav = [("/intake", "Intake", None)]


async def intake(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    return render(request, "intake.html", inputs=await call(lib.list_inputs, ws), live=await call(lib.live, ws))


routes = [Route("/intake", intake, methods=["GET"])]
