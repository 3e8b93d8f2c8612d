"""Logging in and out, and changing one's own password (a one-time password opens only this)."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import staff
from pipeline.web.app import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    call,
    current,
    form,
    render,
    safe_next,
    see_other,
    sessions,
    workspace,
)
from pps_archive.errors import AccountLocked, LoginFailed, PPSArchiveError

nav: list[tuple[str, str, str | None]] = []


def _login_page(request: Request, *, status_code: int = 200, error: str | None = None, name: str = "") -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    request.state.login_csrf = token
    response = render(request, "login.html", status_code=status_code, error=error, name=name,
                      next=safe_next(request.query_params.get("next")))
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        path="/login")
    return response


async def login_get(request: Request) -> Response:
    return _login_page(request)


async def login_post(request: Request) -> Response:
    data = await form(request)
    name, password = str(data.get("name", "")), str(data.get("password", ""))
    try:
        auth = await call(staff.login, workspace(request), name, password.encode())
    except (LoginFailed, AccountLocked) as exc:
        return _login_page(request, status_code=401, error=str(exc), name=name)
    old = request.cookies.get(SESSION_COOKIE)
    sessions(request).close(old)  # a new id at every login (no session fixation)
    sess = sessions(request).open(auth)
    target = "/account/password" if auth.must_change else safe_next(str(data.get("next", "/")))
    response = see_other(request, target)
    response.set_cookie(SESSION_COOKIE, sess.id, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    await form(request)
    sessions(request).close(request.cookies.get(SESSION_COOKIE))
    response = see_other(request, "/login", flash="You are logged out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def password_get(request: Request) -> Response:
    sess = current(request, allow_must_change=True)
    return render(request, "password.html", must_change=sess.auth.must_change)


async def password_post(request: Request) -> Response:
    sess = current(request, allow_must_change=True)
    data = await form(request)
    new, again = str(data.get("new", "")), str(data.get("again", ""))
    if new != again:
        return render(request, "password.html", status_code=422, must_change=sess.auth.must_change,
                      error="The two new passwords differ. Nothing was changed.")
    try:
        await call(staff.change_password, workspace(request), sess.auth, new.encode())
    except PPSArchiveError as exc:
        return render(request, "password.html", status_code=exc.http_status if exc.http_status != 500 else 422,
                      must_change=sess.auth.must_change, error=str(exc))
    # the keyring of this session was opened with the old slot: log in again with the new password
    sessions(request).close_account(sess.account)
    response = see_other(request, "/login", flash="Password changed: log in with the new one.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


routes = [
    Route("/login", login_get, methods=["GET"]),
    Route("/login", login_post, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/account/password", password_get, methods=["GET"]),
    Route("/account/password", password_post, methods=["POST"]),
]
