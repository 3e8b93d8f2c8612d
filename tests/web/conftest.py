"""The web app's fixtures: an office with staff accounts, and a test client that logs in."""

from __future__ import annotations

import re

import pytest

from tests.auth_helpers import PASSWORDS, ROLES, add_staff, unlocked
from tests.conftest import PASSPHRASE

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def office(workspace, monkeypatch):  # noqa: ANN001, ANN201
    """A keyed archive with two staff (alice, bob) and two manager (carol, dave) accounts."""
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "2")
    return add_staff(workspace)


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


# ---- an office with scans taken in (OCR once per backend, copied for each test) -------------------

import datetime as dt  # noqa: E402
import shutil  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

TODAY = dt.date.today()
REF_A = f"PPS-{TODAY.year}-0101"  # consent to store: its documents are filed
REF_B = f"PPS-{TODAY.year}-0102"  # no consent yet: its documents wait in review
REF_C = f"PPS-{TODAY.year}-0103"  # not in the register: the same
#: names an attacker could give a file in the drop folder (no "/": that is a path)
HOSTILE_SCAN = "scan <img src=x onerror=alert(1)>.pdf"
HOSTILE_BAD = "<script>alert(1)<script>.docx"

_BUILT: dict[str, tuple[Path, str]] = {}


def _build(request, backend: str, root: Path, monkeypatch) -> tuple[Path, str]:  # noqa: ANN001
    """Key an archive, add the staff, open cases and ingest one batch and one bad file (OCR)."""
    from sqlalchemy.engine import make_url

    from pipeline import authority, cases, intake, keystore, staff
    from pipeline.workspace import Workspace
    from tests.conftest import _pg_admin_url, _pg_exec
    from tests.factory import Cover, Doc, ScanFactory, Separator
    from tests.factory import _bad

    if backend == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        db = root / "db.sqlite3"
        shutil.copyfile(template, db)
        url, ref = f"sqlite+pysqlite:///{db}", str(db)
    else:
        template = request.getfixturevalue("_pg_template")
        admin = _pg_admin_url()
        ref = f"pps_webtpl_{uuid.uuid4().hex[:10]}"
        _pg_exec(admin, f'CREATE DATABASE "{ref}" TEMPLATE "{template}"')
        url = make_url(admin).set(database=ref).render_as_string(hide_password=False)
    monkeypatch.setenv("PPS_ARCHIVE_DATABASE_URL", url)
    ws = Workspace.load(root / "data")
    ws.create_dirs()
    try:
        with ws.transaction() as s:
            archive = keystore.ensure_archive_id(s)
            master = keystore.ensure_master_key(s, ws.config, PASSPHRASE.encode(), archive, actor="init")
            keystore.authenticate_keys(s, master, ws.data_dir, actor="init")  # as init: pins the signing key
        recovery = authority.recover(ws, PASSPHRASE.encode())
        for name, role in ROLES.items():
            staff.add(ws, recovery, name, role, PASSWORDS[name].encode())
        with ws.transaction() as s:
            cases.open_case(s, ws.config, REF_A, today=TODAY, auth=unlocked(s, None, "carol"), consent_to_store=True)
            cases.open_case(s, ws.config, REF_B, today=TODAY, auth=unlocked(s, None, "carol"))
        inbox = root / "in"
        batch = ScanFactory(seed=3).batch(inbox, HOSTILE_SCAN, [
            Cover(REF_A, "retain", "NOTE"), Doc("note", REF_A),
            Cover(REF_B, "retain", "PPS-LETTER"), Doc("pps-letter", REF_B, pages=2),
            Separator(), Doc("pps-letter", REF_C),
        ], container="pdf-text", dpi=150)
        (root / "bad").mkdir()
        bad = _bad.docx(root / "bad")
        hostile = bad.with_name(HOSTILE_BAD)
        bad.rename(hostile)
        results = intake.ingest(ws, None, [*batch.files, hostile], workers=1)
        assert sorted(r["outcome"] for r in results) == ["done", "quarantined"], results
    finally:
        ws.close()
    return root / "data", ref


@pytest.fixture(scope="session")
def _built_offices():  # noqa: ANN202
    yield _BUILT
    from tests.conftest import _pg_admin_url, pg_drop_database

    for backend, (_data, ref) in _BUILT.items():
        if backend == "postgresql":
            pg_drop_database(_pg_admin_url(), ref)


@pytest.fixture(params=["sqlite", "postgresql"])
def intake_office(request, _built_offices, tmp_path, tmp_path_factory, monkeypatch):  # noqa: ANN001, ANN201
    """An office (the staff of :func:`office`) with cases REF_A (consent), REF_B (none) and one scan
    taken in: a NOTE filed to REF_A, review items for REF_B (2 pages, cover sheet RETAIN) and
    REF_C (not registered), and a file with a hostile name in quarantine. Made once per backend
    (OCR is slow) and copied for each test: data dir and database."""
    from sqlalchemy.engine import make_url

    from pipeline.workspace import Workspace
    from tests.conftest import _pg_admin_url, _pg_exec, pg_drop_database

    backend = request.param
    if backend == "postgresql":
        _pg_admin_url()  # skips without a server
    if backend not in _BUILT:
        _BUILT[backend] = _build(request, backend, tmp_path_factory.mktemp(f"web-{backend}"), monkeypatch)
    data, ref = _BUILT[backend]
    shutil.copytree(data, tmp_path / "data", symlinks=True)
    name = None
    if backend == "sqlite":
        db = tmp_path / "db.sqlite3"
        shutil.copyfile(ref, db)
        url = f"sqlite+pysqlite:///{db}"
    else:
        admin = _pg_admin_url()
        name = f"pps_test_{uuid.uuid4().hex[:12]}"
        _pg_exec(admin, f'CREATE DATABASE "{name}" TEMPLATE "{ref}"')
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("PPS_ARCHIVE_DATABASE_URL", url)
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "2")
    ws = Workspace.load(tmp_path / "data")
    yield ws
    ws.close()
    if name is not None:
        pg_drop_database(_pg_admin_url(), name)


@pytest.fixture
def intake_app(intake_office):  # noqa: ANN001, ANN201
    from pipeline.web.app import create_app

    return create_app(intake_office)


@pytest.fixture
def intake_browser(intake_app):  # noqa: ANN001, ANN201
    """A logged-out client on :func:`intake_office`."""
    from starlette.testclient import TestClient

    with TestClient(intake_app, base_url="http://testserver") as client:
        yield Browser(client)


def review_items(ws) -> dict[str | None, dict]:  # noqa: ANN001
    """The review queue by suggested case reference (or, for the one with a cover sheet, its case)."""
    from pipeline import review

    with ws.reader() as s:
        return {row["suggested_case_ref"]: row for row in review.queue(s)}
