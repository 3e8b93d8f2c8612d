"""A telephone message to leave for a parent/carer: who it is for, who called, the service's number.

:func:`pipeline.messages.build_message` fills the configured template and refuses anything that
would carry a case reference, a forbidden word or a name from the case's names list (the case is
given only for that check and never appears in the message); the refusal is shown on the form.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline.messages import build_message
from pipeline.web.app import call, current, form, render, workspace
from pipeline.web.views._common import in_transaction, text
from pps_archive.errors import InvalidValue, NotFound, PolicyRefusal

nav = [("/message", "Message", None)]
FIELDS = ("recipient", "caller", "case", "avoid")


async def message_page(request: Request) -> Response:
    current(request)
    return render(request, "message.html", fields=dict.fromkeys(FIELDS, ""), message=None, error=None)


async def message_build(request: Request) -> Response:
    sess = current(request)
    request.state.back = "/message"  # the error page links back
    data = await form(request)
    ws = workspace(request)
    fields = {k: text(data, k) for k in FIELDS}
    avoid = [line.strip() for line in fields["avoid"].replace(",", "\n").splitlines() if line.strip()]
    try:
        msg = await call(in_transaction, ws, build_message, ws.config, sess.auth, recipient=fields["recipient"],
                         caller=fields["caller"], ref=fields["case"].strip() or None, avoid=avoid)
    except (PolicyRefusal, InvalidValue, NotFound) as exc:  # re-shown on the form, with what was typed
        return render(request, "message.html", status_code=exc.http_status, fields=fields, message=None, error=str(exc),
                      kind=type(exc).__name__)
    return render(request, "message.html", fields=fields, message=msg, error=None)


routes = [
    Route("/message", message_page, methods=["GET"]),
    Route("/message", message_build, methods=["POST"]),
]
