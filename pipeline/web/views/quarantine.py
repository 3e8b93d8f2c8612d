"""Quarantine: why each input is there and what to do; retry; a manager's export of the file."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePath

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import quarantine as lib
from pipeline.web.app import attachment, call, current, form, read, render, see_other, workspace

nav = [("/quarantine", "Quarantine", None)]


async def entries(request: Request) -> Response:
    current(request)
    return render(request, "quarantine.html", entries=await read(request, lib.list_entries))


async def retry(request: Request) -> Response:
    sess = current(request)
    request.state.back = "/quarantine"
    await form(request)
    done = await call(lib.retry, workspace(request), sess.auth, request.path_params["entry"],
                      now=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    return see_other(request, "/quarantine", flash=f"Input {done['input']} is queued again: intake will process it.")


async def export(request: Request) -> Response:
    sess = current(request, role="manager")
    await form(request)
    entry = request.path_params["entry"]
    name, data = await call(lib.export_file, workspace(request), sess.auth, entry)
    suffix = PurePath(name).suffix.lower()
    if not (len(suffix) <= 6 and suffix[1:].isascii() and suffix[1:].isalnum()):
        suffix = ".bin"  # the name a person gave the file may say anything after its last dot
    return attachment(data, f"quarantine-entry-{entry}{suffix}", "application/octet-stream")


routes = [
    Route("/quarantine", entries, methods=["GET"]),
    Route("/quarantine/{entry:int}/retry", retry, methods=["POST"]),
    Route("/quarantine/{entry:int}/export", export, methods=["POST"]),
]
