"""``/health``: JSON for a monitor on this machine (no login; refused from anywhere else). Counts
and states only: no case reference, no name, no file name."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.web.app import call, workspace
from pipeline.workspace import Workspace

nav: list[tuple[str, str, str | None]] = []
LOCAL = ("127.0.0.1", "::1")
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-proto", "x-forwarded-host")


def _collect(ws: Workspace) -> dict:
    # TODO(lead): switch to pipeline.status.collect(ws) (branch ops-service) once merged.
    from pipeline import audit, dashboard
    from pps_archive.errors import PPSArchiveError

    try:
        counts = dashboard.live(ws)
        with ws.reader() as s:
            head = audit.head(s)
    except PPSArchiveError as exc:
        return {"ok": False, "problem": type(exc).__name__}
    return {"ok": True, "inputs": {k: counts[k] for k in ("queued", "processing", "finished_recently")},
            "review": counts["review"], "quarantine": counts["quarantine"], "audit_events": head.events}


async def health(request: Request) -> Response:
    # through the TLS proxy (which says whom it forwards for) is not from this machine, even when
    # the proxy itself connects from 127.0.0.1
    proxied = any(h in request.headers for h in PROXY_HEADERS)
    if request.client is None or request.client.host not in LOCAL or proxied:
        return JSONResponse({"ok": False, "problem": "only from this machine"}, status_code=403)
    data = await call(_collect, workspace(request))
    return JSONResponse(data, status_code=200 if data.get("ok") else 503)


routes = [Route("/health", health, methods=["GET"])]
