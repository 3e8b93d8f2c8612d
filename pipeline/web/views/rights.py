"""The parent/carer's rights on a case: withdrawn consent and erasure, subject access, safeguarding.

- **Erasure** (``/cases/{ref}/erasure``): once consent to store is withdrawn, what is held, or the
  hold that keeps it (:func:`pipeline.erasure.offer`); a manager erases it by typing the case's
  reference (:func:`pipeline.erasure.erase_case`); the certificate to download.
- **Subject access** (``/cases/{ref}/subject-access``): any member of staff opens a request (a
  ``sar`` hold); a manager exports the bundle, encrypted in memory to a passphrase typed twice and
  streamed as a download (:func:`pipeline.subject_access.export_bytes`: nothing is written), and
  closes the request by typing the reference (the hold is lifted).
- **Safeguarding** (``/cases/{ref}/safeguarding``): any member of staff records a concern or a
  disclosure; only a manager reads the records (every read, and every refused read, is an audit
  event written by :func:`pipeline.safeguarding.read_records`).

Every refusal is the library's: a staff login gets its 403 from ``authority.require``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import authority, cases, erasure, safeguarding, subject_access
from pipeline.db import check_id
from pipeline.web.app import call, current, form, render, see_other, workspace
from pipeline.web.views._common import day, in_transaction, paths, reading, text, today
from pps_archive.errors import InvalidValue

nav: list = []


def _ref(request: Request) -> str:
    return cases.check_ref(workspace(request).config, request.path_params["ref"])


# ---- withdrawn consent: the erasure ---------------------------------------------------------------

async def erasure_page(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    ref = _ref(request)

    def look(s) -> tuple[dict, dict | None]:  # noqa: ANN001 - a Session
        return erasure.offer(s, ref), erasure.certificate(s, ref)

    offer, cert = await call(reading, ws, look)
    return render(request, "rights_erasure.html", offer=offer, cert=cert, ref=offer["case_ref"])


async def erase(request: Request) -> Response:
    sess = current(request)
    request.state.back = f"/cases/{request.path_params['ref']}/erasure"  # the error page links back
    data = await form(request)
    ws = workspace(request)
    ref = _ref(request)
    consent = authority.typed_confirmation(text(data, "confirm"), ref, f"erasing everything held about case {ref}")
    cert = await call(erasure.erase_case, ws, ref, auth=sess.auth, today=today(), consent=consent)
    return see_other(request, f"/cases/{ref}/erasure",
                     flash=f"Case {ref} erased (erasure run {cert['run']}): download the certificate and keep it.")


# ---- subject access ------------------------------------------------------------------------------

async def sar_page(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    ref = _ref(request)

    def look(s) -> list[dict]:  # noqa: ANN001 - a Session
        return [{"id": h.id, "note": h.note, "placed_on": h.placed_on.isoformat(), "placed_by": h.placed_by}
                for h in subject_access.open_requests(s, ref)]

    return render(request, "rights_sar.html", ref=ref, requests=await call(reading, ws, look))


async def sar_open(request: Request) -> Response:
    sess = current(request)
    request.state.back = f"/cases/{request.path_params['ref']}/subject-access"  # the error page links back
    data = await form(request)
    ws = workspace(request)
    ref = _ref(request)
    hold = await call(in_transaction, ws, lambda s: subject_access.open_request(s, ref, text(data, "note"), today=today(),
                                                                                auth=sess.auth).id)
    return see_other(request, f"/cases/{ref}/subject-access",
                     flash=f"Subject access request recorded: hold {hold} placed (nothing about the case is destroyed meanwhile).")


async def sar_export(request: Request) -> Response:
    sess = current(request)
    request.state.back = f"/cases/{request.path_params['ref']}/subject-access"  # the error page links back
    data = await form(request)
    ws = workspace(request)
    ref = _ref(request)
    secret = text(data, "passphrase")
    if secret != text(data, "passphrase2"):
        raise InvalidValue("the two passphrases differ: type the same passphrase twice. Nothing was exported.")
    close = bool(data.get("close"))
    consent = (authority.typed_confirmation(text(data, "confirm"), ref, f"closing the subject access request of case {ref}")
               if close else "not closed")
    result, sealed = await call(subject_access.export_bytes, ws, ref, secret, auth=sess.auth, today=today(),
                                media=paths(ws, text(data, "media")), close=close, consent=consent)
    name = f"{result['case_ref']}-subject-access-{today().isoformat()}.zip.age"
    return Response(sealed, media_type="application/octet-stream",
                    headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store",
                             "x-bundle-sha256": result["sha256"]})


async def sar_close(request: Request) -> Response:
    sess = current(request)
    request.state.back = f"/cases/{request.path_params['ref']}/subject-access"  # the error page links back
    data = await form(request)
    ws = workspace(request)
    ref = _ref(request)
    hold_id = check_id(int(request.path_params["hold"]), "a hold")
    consent = authority.typed_confirmation(text(data, "confirm"), ref, f"closing the subject access request of case {ref}")
    await call(in_transaction, ws, lambda s: subject_access.close_request(s, ref, today=today(), auth=sess.auth,
                                                                          consent=consent, hold_id=hold_id).id)
    return see_other(request, f"/cases/{ref}/subject-access",
                     flash=f"Subject access request answered: hold {hold_id} lifted.")


# ---- safeguarding --------------------------------------------------------------------------------

async def safeguarding_page(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    ref = _ref(request)
    await call(reading, ws, cases.get_case, ref)  # NotFound for no such case
    return render(request, "rights_safeguarding.html", ref=ref, today=today().isoformat())


async def safeguarding_record(request: Request) -> Response:
    sess = current(request)
    request.state.back = f"/cases/{request.path_params['ref']}/safeguarding"  # the error page links back
    data = await form(request)
    ws = workspace(request)
    ref = _ref(request)
    kind = text(data, "kind")
    decided_on = day(text(data, "decided_on"), "the date of the decision", default=today())
    decided_by = text(data, "decided_by").strip() or None
    if kind == "concern":
        def record(s):  # noqa: ANN001, ANN202 - a Session; a Record
            return safeguarding.record_concern(s, ref, text(data, "concern"), today=today(), auth=sess.auth,
                                               decided_by=decided_by, decided_on=decided_on)
    elif kind == "disclosure":
        def record(s):  # noqa: ANN001, ANN202 - a Session; a Record
            return safeguarding.record_disclosure(s, ref, to_whom=text(data, "to_whom"), what_shared=text(data, "what_shared"),
                                                  why=text(data, "why"), decided_by=decided_by or sess.account,
                                                  decided_on=decided_on, today=today(), auth=sess.auth)
    else:
        raise InvalidValue("a safeguarding record is a concern or a disclosure")
    rec = await call(in_transaction, ws, lambda s: record(s).as_dict())
    return see_other(request, f"/cases/{ref}/safeguarding",
                     flash=f"Safeguarding {rec['kind']} recorded (record {rec['id']}); the case is on a safeguarding hold.")


async def safeguarding_records(request: Request) -> Response:
    sess = current(request)
    ws = workspace(request)
    ref = _ref(request)
    rows = [r.as_dict() for r in await call(safeguarding.read_records, ws, ref, auth=sess.auth)]
    return render(request, "rights_safeguarding_records.html", ref=ref, rows=rows)


routes = [
    Route("/cases/{ref}/erasure", erasure_page, methods=["GET"]),
    Route("/cases/{ref}/erase", erase, methods=["POST"]),
    Route("/cases/{ref}/subject-access", sar_page, methods=["GET"]),
    Route("/cases/{ref}/subject-access", sar_open, methods=["POST"]),
    Route("/cases/{ref}/subject-access/export", sar_export, methods=["POST"]),
    Route("/cases/{ref}/subject-access/{hold:int}/close", sar_close, methods=["POST"]),
    Route("/cases/{ref}/safeguarding", safeguarding_page, methods=["GET"]),
    Route("/cases/{ref}/safeguarding", safeguarding_record, methods=["POST"]),
    Route("/cases/{ref}/safeguarding/records", safeguarding_records, methods=["GET"]),
]
