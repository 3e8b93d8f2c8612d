"""The shred list: what may be shredded now, what waits and what is blocked (and why); confirming
entries shredded as the logged-in person; the printed list and the printed record of who shredded
what. The interlock (holds, a verified disc) is the library's: a page only shows its answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import authority, shredding
from pipeline.web.app import call, current, form, render, see_other, workspace
from pipeline.web.views._common import ids, in_transaction, reading, text, today

nav = [("/shred", "Shred list", None)]

#: what the person types to confirm paper shredded
WORD = "SHREDDED"
#: rows shown per state on one page of the list (``?page=2`` the next ones; every state's count is
#: always the whole count)
PAGE_SIZE = 200


def _rows(ws, states=None) -> list[dict]:  # noqa: ANN001
    return reading(ws, shredding.shred_list, ws.config, today=today(), states=states)


async def shred_page(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    wanted = request.query_params.getlist("state") or None
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    rows = await call(_rows, ws, wanted)
    groups = {st: [r for r in rows if r["state"] == st] for st in shredding.STATES}
    totals = {st: len(g) for st, g in groups.items()}
    start = (page - 1) * PAGE_SIZE
    groups = {st: g[start:start + PAGE_SIZE] for st, g in groups.items()}  # a page of each: thousands of rows are no list
    shown = wanted or list(shredding.STATES)
    pages = max(1, -(-max((totals[st] for st in shown if st in totals), default=0) // PAGE_SIZE))
    query = "&".join(f"state={st}" for st in wanted or ())
    return render(request, "shred_list.html", groups=groups, totals=totals, states=shredding.STATES, word=WORD,
                  shown=shown, page=page, pages=pages, start=start, query=query)


async def shred_confirm(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    entries = ids(data, "entry")
    what = f"confirming the paper of shred-list entr{'y' if len(entries) == 1 else 'ies'} {', '.join(map(str, entries))} shredded"
    consent = authority.typed_confirmation(text(data, "confirm"), WORD, what)
    done = await call(in_transaction, ws, shredding.confirm, ws.config, entries, auth=sess.auth, today=today(), consent=consent)
    return see_other(request, "/shred", flash=f"Recorded as shredded by {sess.account}: {', '.join(map(str, done)) or 'nothing'}.")


async def shred_print(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    rows = await call(_rows, ws, shredding.OPEN_STATES)
    return render(request, "shred_print.html", rows=rows, service=ws.config.section("service")["name"], today=today())


async def shred_record(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    rows = await call(_rows, ws, ("confirmed",))
    return render(request, "shred_record.html", rows=rows, service=ws.config.section("service")["name"], today=today())


routes = [
    Route("/shred", shred_page, methods=["GET"]),
    Route("/shred/confirm", shred_confirm, methods=["POST"]),
    Route("/shred/print", shred_print, methods=["GET"]),
    Route("/shred/record", shred_record, methods=["GET"]),
]
