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
    """What ``pps-archive status --json`` says (:func:`pipeline.status.collect`), less the data
    directory's path, plus the live intake counts of the dashboard."""
    from pipeline import dashboard, status
    from pps_archive.errors import PPSArchiveError

    try:
        found = status.collect(ws)
        counts = dashboard.live(ws)
    except PPSArchiveError as exc:
        return {"ok": False, "problem": type(exc).__name__}
    found.pop("data_dir", None)
    return {**found, "inputs": {k: counts[k] for k in ("queued", "processing", "finished_recently")},
            "review": counts["review"], "quarantine": counts["quarantine"], "audit_events": found["audit_chain"]["events"]}


async def health(request: Request) -> Response:
    # through the TLS proxy (which says whom it forwards for) is not from this machine, even when
    # the proxy itself connects from 127.0.0.1
    proxied = any(h in request.headers for h in PROXY_HEADERS)
    if request.client is None or request.client.host not in LOCAL or proxied:
        return JSONResponse({"ok": False, "problem": "only from this machine"}, status_code=403)
    data = await call(_collect, workspace(request))
    return JSONResponse(data, status_code=200 if data.get("ok") else 503)


routes = [Route("/health", health, methods=["GET"])]
