"""The review queue: look at an item (pages drawn in memory from the encrypted copy), file it to a
case as retain or shred, split it, drop a separator page (pipeline.review, pipeline.previews)."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import previews, review
from pipeline.web.app import attachment, call, current, form, read, render, see_other, workspace

nav = [("/review", "Review", None)]


def _doc_id(request: Request) -> int:
    from pipeline.db import check_id

    doc = check_id(request.path_params["doc"], "a document's id")
    request.state.back = f"/review/{doc}"
    return doc


async def queue(request: Request) -> Response:
    current(request)
    return render(request, "review_list.html", items=await read(request, review.queue))


async def item(request: Request) -> Response:
    sess = current(request)
    ws = workspace(request)
    found = await call(previews.details, ws, sess.auth, _doc_id(request))
    try:
        page = max(1, min(int(request.query_params.get("page", "1")), found["pages"] or 1))
    except ValueError:
        page = 1
    return render(request, "review_item.html", d=found, page=page, classes=list(ws.config.classes))


async def page_png(request: Request) -> Response:
    sess = current(request)
    png = await call(previews.page_png, workspace(request), sess.auth, _doc_id(request), request.path_params["page"],
                     size=request.query_params.get("size", "large"))
    return Response(png, media_type="image/png")


async def download(request: Request) -> Response:
    sess = current(request)
    await form(request)
    copy = await call(previews.read_document, workspace(request), sess.auth, _doc_id(request))
    return attachment(copy.pdf, copy.file_name, "application/pdf")


async def assign(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    doc = _doc_id(request)
    decision = str(data.get("decision", "")) or None  # empty: the cover sheet's decision
    row = await call(review.assign, workspace(request), doc, str(data.get("case", "")), decision,
                     str(data.get("class", "")) or None, auth=sess.auth, today=dt.date.today())
    return see_other(request, "/review", flash=f"Document {row['id']} filed to {row['case_ref']} as "
                                                f"{row['decision'].upper()} {row['class']}.")


async def split(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    parts = review.parse_ranges(str(data.get("parts", "")), "the parts")
    drop = str(data.get("drop", "")).strip()
    dropped = tuple(n for r in review.parse_ranges(drop, "the pages to drop") for n in r) if drop else ()
    rows = await call(review.split, workspace(request), _doc_id(request), parts, dropped, auth=sess.auth,
                      today=dt.date.today())
    return see_other(request, "/review", flash="Split into documents " + ", ".join(str(r["id"]) for r in rows) + ".")


async def drop(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    pages = tuple(n for r in review.parse_ranges(str(data.get("pages", "")), "the pages to drop") for n in r)
    row = await call(review.drop_pages, workspace(request), _doc_id(request), pages, auth=sess.auth,
                     today=dt.date.today())
    return see_other(request, f"/review/{row['id']}", flash=f"Dropped; document {row['id']} has {row['pages']} page(s).")


routes = [
    Route("/review", queue, methods=["GET"]),
    Route("/review/{doc:int}", item, methods=["GET"]),
    Route("/review/{doc:int}/page/{page:int}.png", page_png, methods=["GET"]),
    Route("/review/{doc:int}/download", download, methods=["POST"]),
    Route("/review/{doc:int}/assign", assign, methods=["POST"]),
    Route("/review/{doc:int}/split", split, methods=["POST"]),
    Route("/review/{doc:int}/drop", drop, methods=["POST"]),
]
