"""Cases: find and open cases, record consents, activity and holds, read a case's documents.

A case has no name field at all (an anonymous case is simply one whose parent/carer asked for
nothing else to be kept). Third-party consents name a role from the configuration. Lifting a hold
asks the person to type the case's reference, and the library refuses anyone but a manager.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import authority, cases, documents
from pipeline.db import check_id
from pipeline.models import HOLD_REASON_WORDS, HOLD_REASONS
from pipeline.web.app import call, current, form, render, see_other, workspace
from pipeline.web.views._common import day, in_transaction, reading, text, today

nav = [("/cases", "Cases", None)]


def _url(ref: str) -> str:
    return f"/cases/{ref}"


async def case_list(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    q = request.query_params.get("q", "")[:40]
    rows = await call(reading, ws, cases.list_cases, ws.config, today(), ref_contains=q or None)
    return render(request, "cases_list.html", rows=rows, q=q, pattern=ws.config.raw["cases"]["reference_pattern"])


async def case_open(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)

    def open_it(s, ref: str) -> str:  # noqa: ANN001 - a Session
        return cases.open_case(s, ws.config, ref, today=today(), auth=sess.auth, anonymous=bool(data.get("anonymous")),
                               consent_to_store=bool(data.get("consent_to_store"))).ref

    ref = await call(in_transaction, ws, open_it, text(data, "ref"))
    return see_other(request, _url(ref), flash=f"Case {ref} opened.")


async def case_show(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    case = await call(reading, ws, cases.case_detail, ws.config, request.path_params["ref"], today())
    return render(request, "cases_show.html", case=case, reasons=[(r, HOLD_REASON_WORDS[r]) for r in HOLD_REASONS],
                  today=today().isoformat())


async def consent_store(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    granted = text(data, "store") == "yes"
    ref = await call(in_transaction, ws, lambda s: cases.set_store_consent(
        s, request.path_params["ref"], granted, today=today(), auth=sess.auth).ref)
    if not granted:  # withdrawal leads to the erasure offer (or the hold that keeps the data)
        return see_other(request, _url(ref) + "/erasure", flash="Consent to store withdrawn: nothing more is filed to the case.")
    return see_other(request, _url(ref), flash="Consent to store recorded.")


async def consent_party(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    allowed = text(data, "allowed") == "yes"
    def record(s) -> tuple[str, str]:  # noqa: ANN001 - a Session
        tp = cases.set_third_party_consent(s, ws.config, request.path_params["ref"], text(data, "party"), allowed,
                                           today=today(), auth=sess.auth)
        return tp.case.ref, tp.party

    ref, party = await call(in_transaction, ws, record)
    return see_other(request, _url(ref), flash=f"Contact with {party} {'allowed' if allowed else 'withdrawn'}.")


async def consent_la_identify(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    granted = text(data, "identify") == "yes"
    ref = await call(in_transaction, ws, lambda s: cases.set_la_identify_consent(
        s, request.path_params["ref"], granted, today=today(), auth=sess.auth).ref)
    return see_other(request, _url(ref), flash="Permission to be identified to the Local Authority "
                                                + ("recorded." if granted else "withdrawn: reports to the LA stay anonymous."))


async def touch(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    on = day(text(data, "on"), "the date of the activity", default=today())
    ref = await call(in_transaction, ws, lambda s: cases.touch(s, request.path_params["ref"], on, auth=sess.auth).ref)
    return see_other(request, _url(ref), flash=f"Activity on {on.isoformat()} recorded.")


async def hold_place(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    def place(s) -> tuple[str, int]:  # noqa: ANN001 - a Session
        hold = cases.place_hold(s, request.path_params["ref"], text(data, "reason"), text(data, "note"), today=today(),
                                auth=sess.auth)
        return hold.case.ref, hold.id

    ref, hold = await call(in_transaction, ws, place)
    return see_other(request, _url(ref), flash=f"Hold {hold} placed.")


async def hold_lift(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    ref = cases.check_ref(ws.config, request.path_params["ref"])
    hold_id = check_id(int(request.path_params["hold"]), "a hold")
    consent = authority.typed_confirmation(text(data, "confirm"), ref, f"lifting hold {hold_id} of case {ref}")
    await call(in_transaction, ws, lambda s: cases.release_hold(s, ref, hold_id, today=today(), auth=sess.auth,
                                                                consent=consent).id)
    return see_other(request, _url(ref), flash=f"Hold {hold_id} lifted: its paper may be shredded and its records disposed of when due.")


async def document_pdf(request: Request) -> Response:
    sess = current(request)
    doc_id = check_id(int(request.path_params["doc"]), "a document")
    copy = await call(documents.read_document, workspace(request), doc_id, auth=sess.auth)
    return Response(copy.pdf, media_type="application/pdf",
                    headers={"content-disposition": f'inline; filename="{copy.filename}"', "cache-control": "no-store"})


routes = [
    Route("/cases", case_list, methods=["GET"]),
    Route("/cases", case_open, methods=["POST"]),
    Route("/cases/{ref}", case_show, methods=["GET"]),
    Route("/cases/{ref}/consent", consent_store, methods=["POST"]),
    Route("/cases/{ref}/third-party", consent_party, methods=["POST"]),
    Route("/cases/{ref}/la-identify", consent_la_identify, methods=["POST"]),
    Route("/cases/{ref}/touch", touch, methods=["POST"]),
    Route("/cases/{ref}/holds", hold_place, methods=["POST"]),
    Route("/cases/{ref}/holds/{hold:int}/lift", hold_lift, methods=["POST"]),
    Route("/documents/{doc:int}/pdf", document_pdf, methods=["GET"]),
]
