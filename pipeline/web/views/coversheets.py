"""Cover sheets: print one, or a batch for a case file (pipeline.coversheets), as one PDF."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import coversheets as lib
from pipeline.web.app import attachment, call, current, form, render, workspace

nav = [("/coversheets", "Cover sheets", None)]
MAX_ROWS = lib.MAX_BATCH


async def page(request: Request) -> Response:
    current(request)
    try:
        count = max(1, min(int(request.query_params.get("count", "5")), MAX_ROWS))
    except ValueError:
        count = 5
    classes = [(c.name, c.description, c.rule) for c in workspace(request).config.classes.values()]
    return render(request, "coversheets.html", classes=classes, count=count,
                  ref=request.query_params.get("ref", "")[:40])


async def one(request: Request) -> Response:
    current(request)
    request.state.back = "/coversheets"
    data = await form(request)
    sheet = (str(data.get("ref", "")), str(data.get("class", "")), str(data.get("decision", "")))
    _sheets, pdf = await call(lib.cover_sheets_pdf, workspace(request).config, [sheet])
    return attachment(pdf, "cover-sheet.pdf", "application/pdf", inline=True)


async def batch(request: Request) -> Response:
    current(request)
    request.state.back = "/coversheets"
    data = await form(request)
    ref = str(data.get("ref", ""))
    rows = []
    for i in range(MAX_ROWS):
        cls, decision = data.get(f"class_{i}"), data.get(f"decision_{i}")
        if cls is None and decision is None:
            continue
        if str(cls or "") == "":  # a row left empty is no document
            continue
        rows.append((ref, str(cls), str(decision or "")))
    _sheets, pdf = await call(lib.cover_sheets_pdf, workspace(request).config, rows)
    return attachment(pdf, "cover-sheets.pdf", "application/pdf", inline=True)


routes = [
    Route("/coversheets", page, methods=["GET"]),
    Route("/coversheets/one", one, methods=["POST"]),
    Route("/coversheets/batch", batch, methods=["POST"]),
]
