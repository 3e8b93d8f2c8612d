"""Quarantine: why each input is there and what to do; retry; a manager's export of the file."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePath

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import quarantine as lib
from pipeline.web.app import attachment, call, current, form, read, render, see_other, workspace

nav: list[tuple[str, str, str | None]] = []  # reached from the dashboard and the intake page (the menu stays one line)


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
    return attachment(data, download_name(entry, name), "application/octet-stream")


#: the endings a download keeps (anything else after the last dot may be a person's words)
KNOWN_SUFFIXES = frozenset({".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png", ".zip", ".docx", ".doc", ".odt", ".txt",
                            ".heic", ".gif", ".bmp", ".eml", ".msg", ".rtf", ".xlsx", ".pptx"})


def download_name(entry: int | str, name: str) -> str:
    """The name of an exported quarantine file: its entry number and, if it is a known one, its
    ending; never the name it was dropped in with."""
    suffix = PurePath(name).suffix.lower()
    return f"quarantine-entry-{entry}{suffix if suffix in KNOWN_SUFFIXES else '.bin'}"


routes = [
    Route("/quarantine", entries, methods=["GET"]),
    Route("/quarantine/{entry:int}/retry", retry, methods=["POST"]),
    Route("/quarantine/{entry:int}/export", export, methods=["POST"]),
]
