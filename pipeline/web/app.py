"""The ASGI application: sessions, CSRF, security headers, error pages, and the helpers views use.

A view module in :mod:`pipeline.web.views` exposes ``routes`` (a list of Starlette routes) and
``nav`` (menu entries: ``(path, label, role)``, role ``None`` for everyone logged in, or
``"manager"``). :data:`VIEWS` lists them in menu order. A view:

- gets the logged-in person with ``sess = current(request)`` (or ``current(request, role="manager")``
  to hide a manager's page from staff: the library refuses the action anyway),
- reads a POST with ``data = await form(request)`` (which checks the CSRF token),
- calls the library with ``await call(fn, ...)``, passing ``sess.auth`` where it needs a login,
- answers with ``render(request, "page.html", ...)`` or ``see_other(request, url, flash=...)``;
  ``request.state.back = url`` first gives an error page a link back to the form's page.
The library's typed errors need no handling in a view: they become an error page with the error's
``http_status`` (a view may catch one to re-show its form with the message).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib
import logging
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.web.sessions import SessionStore, WebSession
from pipeline.workspace import Workspace
from pps_archive.errors import PasswordChangeRequired, PPSArchiveError

log = logging.getLogger("pps_archive.web")

HERE = Path(__file__).parent
SESSION_COOKIE = "pps_session"
LOGIN_COOKIE = "pps_login_csrf"
CSRF_FIELD = "csrf"
FLASH_SIG = "fs"
#: the only routes open without a login (and /static, the stylesheet and script)
PUBLIC_PATHS = frozenset({"/login", "/health"})
#: the reverse proxy whose X-Forwarded-* headers are believed (it runs on this machine)
TRUSTED_PROXIES = "127.0.0.1"

#: the view modules, in menu order
VIEWS = ("auth", "dashboard", "intake", "review", "quarantine", "cases", "coversheets", "shred", "discs", "disposal", "stats",
         "diary", "reports", "messages", "audit", "staff", "health", "jobs", "rights")

#: every response; pages that need a little script load it from /static ('self')
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cache-control": "no-store",
}

T = TypeVar("T")


class LoginRequired(Exception):
    """No live session (never logged in, logged out, idle too long, or past the absolute limit),
    or one ended because its account changed (``reason`` says how)."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "")
        self.reason = reason


class CsrfRefused(Exception):
    """A form without the session's CSRF token."""


class HeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every response (static files included), plus
    ``Strict-Transport-Security`` when the request came over TLS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in SECURITY_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if tls:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:  # an unexpected error: a bare 500 with the same headers (Starlette's own has none)
            log.exception("unexpected error in the web app")
            if started:
                raise
            body = b"An unexpected error: nothing more is shown here; see the server's log."
            await send_with_headers({"type": "http.response.start", "status": 500,
                                     "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                                 (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


# ---- helpers for views --------------------------------------------------------------------------

def workspace(request: Request) -> Workspace:
    return request.app.state.ws


def sessions(request: Request) -> SessionStore:
    return request.app.state.sessions


def current(request: Request, *, role: str | None = None, allow_must_change: bool = False) -> WebSession:
    """The logged-in person of this request; :class:`LoginRequired` if none. With ``role="manager"``
    a staff account gets a 403 page (the library would refuse the action too)."""
    sess = getattr(request.state, "web_session", None)
    if sess is None:
        sess = sessions(request).get(request.cookies.get(SESSION_COOKIE))
        if sess is None:
            raise LoginRequired()
        request.state.web_session = sess
    if sess.auth.must_change and not allow_must_change:
        raise PasswordChangeRequired(account=sess.account)
    if role == "manager" and not sess.is_manager:
        raise HTTPException(403, "This page is for managers.")
    return sess


async def form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token is checked against the session (or, before login,
    against the login cookie): :class:`CsrfRefused` otherwise."""
    data = await request.form()
    token = data.get(CSRF_FIELD)
    token = token if isinstance(token, str) else None
    sess = sessions(request).get(request.cookies.get(SESSION_COOKIE), touch=False)
    if sess is not None and sess.csrf_ok(token):
        return data
    cookie = request.cookies.get(LOGIN_COOKIE)  # sent to /login only (its path): the login form's own token
    if not (cookie and token and secrets.compare_digest(cookie, token)):
        raise CsrfRefused()
    return data


async def call(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a (synchronous) library function in a worker thread."""
    return await run_in_threadpool(fn, *args, **kwargs)


async def read(request: Request, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a library function that reads in the caller's session (``fn(s, *args)``) in a read
    transaction of its own, in a worker thread."""
    ws = workspace(request)

    def run() -> T:
        with ws.reader() as s:
            return fn(s, *args, **kwargs)

    return await run_in_threadpool(run)


def attachment(data: bytes, file_name: str, media_type: str, *, inline: bool = False) -> Response:
    """A download (or, ``inline``, a document the browser shows): never cached (the headers say
    ``no-store``), its name ASCII letters, digits, dots and dashes only."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in ".-_") else "_" for c in file_name)[:80] or "download"
    disposition = f'{"inline" if inline else "attachment"}; filename="{safe}"'
    return Response(data, media_type=media_type, headers={"content-disposition": disposition})


def _nav(sess: WebSession | None) -> list[tuple[str, str]]:
    if sess is None or sess.auth.must_change:
        return []
    entries = []
    for name in VIEWS:
        for path, label, role in getattr(importlib.import_module(f"pipeline.web.views.{name}"), "nav", ()):
            if role is None or (role == "manager" and sess.is_manager):
                entries.append((path, label))
    return entries


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page from ``templates/`` with the session, its CSRF token, the menu and any flash message."""
    sess = getattr(request.state, "web_session", None)
    csrf = sess.csrf if sess is not None else request.state.login_csrf if hasattr(request.state, "login_csrf") else None
    context.update(request=request, session=sess, csrf=csrf, csrf_field=CSRF_FIELD, nav=_nav(sess),
                   path=request.url.path, flash=_flash(request))
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


def when(value: object) -> object:
    """A stored timestamp as a person reads it: ``2026-12-01T12:21:10.123+00:00`` shows as
    ``2026-12-01 12:21`` (dates and anything else unchanged)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d)(:\d\d(\.\d+)?)?([+-]\d\d:?\d\d|Z)?", str(value or ""))
    return f"{m.group(1)} {m.group(2)}" if m else value


def _flash_sig(request: Request, message: str) -> str:
    return hmac.new(request.app.state.flash_key, message.encode(), hashlib.sha256).hexdigest()[:32]


def flash_url(request: Request, url: str, flash: str) -> str:
    """``url`` with a one-line message for the next page, signed with this server's key: a link
    made elsewhere cannot put words on a page (see :func:`_flash`)."""
    flash = flash[:300]
    return url + ("&" if "?" in url else "?") + "flash=" + quote(flash) + f"&{FLASH_SIG}=" + _flash_sig(request, flash)


def _flash(request: Request) -> str | None:
    """The flash message of this request, if this server signed it (else none is shown)."""
    flash, sig = request.query_params.get("flash"), request.query_params.get(FLASH_SIG)
    if not flash or not sig or not hmac.compare_digest(sig.encode(), _flash_sig(request, flash[:300]).encode()):
        return None
    return flash[:300]


def see_other(request: Request, url: str, *, flash: str | None = None) -> RedirectResponse:
    """Redirect after a POST (303), with an optional one-line message shown on the next page."""
    if flash:
        url = flash_url(request, url, flash)
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no //) may be a redirect target."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# ---- error pages ---------------------------------------------------------------------------------

async def _login_required(request: Request, exc: Exception) -> Response:
    reason = getattr(exc, "reason", None)
    if request.method in ("GET", "HEAD"):
        url = "/login?next=" + quote(request.url.path)
        return RedirectResponse(flash_url(request, url, f"Your session has ended: {reason}.") if reason else url,
                                status_code=303)
    why = f" ({reason})" if reason else ""
    return _error(request, 401, f"Your session has ended{why}: log in again. Nothing was done.")


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return _error(request, 403, "This form has expired or did not come from this site: go back, reload the page "
                                "and try again. Nothing was done.")


async def _library_error(request: Request, exc: PPSArchiveError) -> Response:
    if isinstance(exc, PasswordChangeRequired):
        return RedirectResponse("/account/password", status_code=303)
    return _error(request, exc.http_status if exc.http_status != 500 else 400, str(exc), kind=type(exc).__name__)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return _error(request, exc.status_code, exc.detail or "")


def _error(request: Request, status: int, message: str, *, kind: str | None = None) -> Response:
    back = getattr(request.state, "back", None)  # the page the form was on (set by a view)
    return render(request, "error.html", status_code=status, status=status, message=message, kind=kind,
                  back=safe_next(back) if back else None)


# ---- the app -------------------------------------------------------------------------------------

def create_app(ws: Workspace) -> Starlette:
    """The web app over one data directory (opened and at the newest schema)."""
    web = ws.config.section("web")
    idle = dt.timedelta(minutes=web["idle_timeout_minutes"])
    absolute = dt.timedelta(hours=web["absolute_timeout_hours"])
    routes: list = []
    for name in VIEWS:
        routes.extend(_guarded(r) for r in importlib.import_module(f"pipeline.web.views.{name}").routes)
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    app = Starlette(
        routes=routes,
        exception_handlers={LoginRequired: _login_required, CsrfRefused: _csrf_refused,
                            PPSArchiveError: _library_error, HTTPException: _http_error},
    )
    app.state.ws = ws
    app.state.sessions = SessionStore(idle=idle, absolute=absolute)
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescapes (Starlette sets it)
    app.state.templates.env.filters["when"] = when
    app.state.flash_key = secrets.token_bytes(32)  # signs flash messages; a restart forgets it
    app.add_middleware(HeadersMiddleware)
    # the TLS proxy on this machine says the scheme and the client (Secure cookies, HSTS, /health);
    # anyone else's X-Forwarded-* headers are ignored
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=TRUSTED_PROXIES)
    return app


def _guarded(route: Any) -> Any:
    """The route with the two checks no view may forget, made here once for every route: a live
    session (except :data:`PUBLIC_PATHS`) and, for anything but GET, the form's CSRF token."""
    if not isinstance(route, Route):
        return route
    endpoint, methods = route.endpoint, set(route.methods or ())
    public, unsafe = route.path in PUBLIC_PATHS, bool(methods - {"GET", "HEAD"})

    async def guarded(request: Request) -> Response:
        if not public:
            await live_session(request)
        if unsafe:
            await form(request)
        return await endpoint(request)

    return Route(route.path, guarded, methods=sorted(methods), name=route.name)


async def live_session(request: Request) -> WebSession:
    """The request's session, checked against the account in the database: a session whose
    account was disabled, locked, given another role or a new password since the login (from
    the command line too) ends here, its keyring dropped (:class:`LoginRequired`)."""
    from pipeline.authority import account_problem

    store = sessions(request)
    sess = store.get(request.cookies.get(SESSION_COOKIE))
    if sess is None:
        raise LoginRequired()
    ws = workspace(request)

    def problem() -> str | None:
        with ws.reader() as s:
            return account_problem(s, sess.auth)

    reason = await run_in_threadpool(problem)
    if reason is not None:
        store.close_account(sess.account)
        raise LoginRequired(reason)
    request.state.web_session = sess
    return sess
