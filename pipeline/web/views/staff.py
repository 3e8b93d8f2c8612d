"""Staff accounts (managers only): add, disable, reset, unlock (pipeline.staff). Disabling or
resetting an account ends its live sessions here at once."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import staff as lib
from pipeline.web.app import call, current, form, read, render, see_other, sessions, workspace

nav = [("/staff", "Staff", "manager")]


async def accounts(request: Request) -> Response:
    current(request, role="manager")
    return render(request, "staff.html", accounts=await read(request, lib.list_accounts))


def _one_time(request: Request, name: str, password: str, what: str) -> Response:
    return render(request, "staff_password.html", name=name, password=password, what=what)


async def add(request: Request) -> Response:
    sess = current(request, role="manager")
    request.state.back = "/staff"
    data = await form(request)
    password = lib.one_time_password()
    row = await call(lib.add, workspace(request), sess.auth, str(data.get("name", "")), str(data.get("role", "")),
                     password.encode(), one_time=True)
    return _one_time(request, row["name"], password, "added")


async def reset(request: Request) -> Response:
    sess = current(request, role="manager")
    await form(request)
    password = lib.one_time_password()
    row = await call(lib.reset, workspace(request), sess.auth, request.path_params["name"], password.encode())
    sessions(request).close_account(row["name"])
    return _one_time(request, row["name"], password, "reset")


async def disable(request: Request) -> Response:
    sess = current(request, role="manager")
    await form(request)
    row = await call(lib.disable, workspace(request), sess.auth, request.path_params["name"])
    ended = sessions(request).close_account(row["name"])
    return see_other(request, "/staff", flash=f"Account {row['name']} is disabled ({ended} session(s) ended).")


async def unlock(request: Request) -> Response:
    sess = current(request, role="manager")
    await form(request)
    row = await call(lib.unlock_account, workspace(request), sess.auth, request.path_params["name"])
    return see_other(request, "/staff", flash=f"Account {row['name']} is unlocked.")


routes = [
    Route("/staff", accounts, methods=["GET"]),
    Route("/staff/add", add, methods=["POST"]),
    Route("/staff/{name}/reset", reset, methods=["POST"]),
    Route("/staff/{name}/disable", disable, methods=["POST"]),
    Route("/staff/{name}/unlock", unlock, methods=["POST"]),
]
