"""The web app's fixtures: an office with staff accounts, and a test client that logs in."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSPHRASE

PASSWORDS = {
    "alice": "violet harbour cinnamon 42",
    "bob": "tangerine glacier pylon 17",
    "carol": "moss lantern quarry 93 owl",
    "dave": "brass kettle meadow 58 fern",
}
ROLES = {"alice": "staff", "bob": "staff", "carol": "manager", "dave": "manager"}

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def office(workspace, monkeypatch):  # noqa: ANN001, ANN201
    """A keyed archive with two staff (alice, bob) and two manager (carol, dave) accounts."""
    from pipeline import authority, keystore, staff

    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "2")
    with workspace.transaction() as s:
        archive = keystore.ensure_archive_id(s)
        keystore.ensure_master_key(s, workspace.config, PASSPHRASE.encode(), archive, actor="init")
    recovery = authority.recover(workspace, PASSPHRASE.encode())
    for name, role in ROLES.items():
        staff.add(workspace, recovery, name, role, PASSWORDS[name].encode())
    return workspace


@pytest.fixture
def app(office):  # noqa: ANN001, ANN201
    from pipeline.web.app import create_app

    return create_app(office)


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


class Browser:
    """A Starlette TestClient that keeps the last page's CSRF token (for posting forms)."""

    def __init__(self, client) -> None:  # noqa: ANN001
        self.client = client
        self.csrf: str | None = None

    def get(self, url: str, **kw):  # noqa: ANN003, ANN201
        r = self.client.get(url, **kw)
        m = _CSRF.search(r.text)
        if m:
            self.csrf = m.group(1)
        return r

    def post(self, url: str, data: dict | None = None, *, csrf: bool = True, **kw):  # noqa: ANN003, ANN201
        data = dict(data or {})
        if csrf and "csrf" not in data:
            data["csrf"] = self.csrf
        r = self.client.post(url, data=data, **kw)
        m = _CSRF.search(r.text)
        if m:
            self.csrf = m.group(1)
        return r

    def login(self, name: str, password: str | None = None):  # noqa: ANN201
        self.get("/login")
        return self.post("/login", {"name": name, "password": password or PASSWORDS[name]})


@pytest.fixture
def browser(app):  # noqa: ANN001, ANN201
    """A logged-out client; ``browser.login("alice")`` logs in."""
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as client:
        yield Browser(client)


@pytest.fixture
def make_browser(app):  # noqa: ANN001, ANN201
    """Several people at once: ``make_browser()`` is another client on the same server."""
    from starlette.testclient import TestClient

    clients = []

    def make() -> Browser:
        c = TestClient(app, base_url="http://testserver")
        c.__enter__()
        clients.append(c)
        return Browser(c)

    yield make
    for c in clients:
        c.__exit__(None, None, None)
