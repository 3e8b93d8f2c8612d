"""The web app's security pass (issue 11, "How it is built"): every route guarded once for all,
sessions that end when the account changes, signed flash messages, headers on every response,
disc paths confined, /health only from this machine, the real date in the library."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from tests.web.conftest import PASSWORDS, Browser, csrf_of

TODAY = dt.date.today()
#: a value for each path parameter, so that every route can be asked for
PARAMS = {"ref": f"PPS-{TODAY.year}-0001", "name": "bob", "label": "PPS-2030-001", "kind": "pdf", "job": "abc",
          "doc": "1", "page": "1", "entry": "1", "hold": "1", "plan": "1", "run": "1", "appointment": "1"}


def _url(route: Route) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PARAMS[m.group(1)], route.path)


def _routes(app) -> list[Route]:  # noqa: ANN001
    return [r for r in app.routes if isinstance(r, Route)]


def _audit_count(ws) -> int:  # noqa: ANN001
    from pipeline import audit

    with ws.reader() as s:
        return len(audit.read_log(s))


def _unguarded_view(monkeypatch) -> None:  # noqa: ANN001
    """A page and an action added later by someone who forgot ``current()`` and ``form()``."""
    from starlette.responses import PlainTextResponse

    from pipeline.web.views import stats

    async def careless(request):  # noqa: ANN001, ANN202
        return PlainTextResponse("case data")

    monkeypatch.setattr(stats, "routes", [*stats.routes, Route("/careless", careless, methods=["GET"]),
                                          Route("/careless", careless, methods=["POST"])])


def _client(app, **kw) -> TestClient:  # noqa: ANN001, ANN003
    return TestClient(app, base_url=kw.pop("base_url", "http://testserver"), **kw)


# ---- every route: a login, and a CSRF token for anything but GET --------------------------------

def test_every_page_needs_a_login_even_one_added_later(office, monkeypatch) -> None:  # noqa: ANN001
    from pipeline.web.app import create_app

    PUBLIC_PATHS = {"/login", "/health"}  # noqa: N806 - the only routes open without a login
    _unguarded_view(monkeypatch)
    app = create_app(office)
    pages = [r for r in _routes(app) if "GET" in r.methods and r.path not in PUBLIC_PATHS]
    assert len(pages) > 20 and any(r.path == "/careless" for r in pages)
    with _client(app) as c:
        for route in pages:
            r = c.get(_url(route), follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), route.path
            assert "case data" not in r.text
        for route in [r for r in _routes(app) if r.methods - {"GET", "HEAD"} and r.path not in PUBLIC_PATHS]:
            r = c.post(_url(route), data={"csrf": "x"}, follow_redirects=False)
            assert r.status_code == 401, route.path
    assert {r.path for r in _routes(app) if r.path in PUBLIC_PATHS} == {"/login", "/health"}
    assert [m.path for m in app.routes if isinstance(m, Mount)] == ["/static"]


def test_every_action_refuses_a_missing_or_forged_token_and_does_nothing(office, monkeypatch) -> None:  # noqa: ANN001
    from pipeline.web.app import create_app

    _unguarded_view(monkeypatch)
    app = create_app(office)
    actions = [(m, r) for r in _routes(app) for m in sorted(r.methods - {"GET", "HEAD"})]
    assert len(actions) > 30 and any(r.path == "/careless" for _m, r in actions)
    with _client(app) as c:
        b = Browser(c)
        b.login("carol")  # a manager: only the token is missing
        before, sessions = _audit_count(office), len(app.state.sessions)
        for method, route in actions:
            for token in (None, "forged", ""):
                data = {"ref": PARAMS["ref"], "name": "erin", "role": "staff", "confirm": "DESTROY", "location": "x",
                        "pages": "1", "parts": "1", "note": "n", "new": "x", "again": "x", "password": PASSWORDS["carol"]}
                if token is not None:
                    data["csrf"] = token
                r = c.request(method, _url(route), data=data, follow_redirects=False)
                assert r.status_code == 403 and "did not come from this site" in r.text, (route.path, token)
                assert "case data" not in r.text
        assert _audit_count(office) == before  # nothing was done, nothing viewed
        assert len(app.state.sessions) == sessions and b.get("/").status_code == 200  # nobody was logged out


# ---- sessions -------------------------------------------------------------------------------------

def test_a_login_gets_a_new_session_id(browser, app) -> None:  # noqa: ANN001
    browser.client.cookies.set("pps_session", "chosen-by-an-attacker", domain="testserver.local")
    browser.login("alice")
    sid = browser.client.cookies.get("pps_session")
    assert sid and sid != "chosen-by-an-attacker" and len(sid) >= 40
    assert app.state.sessions.get("chosen-by-an-attacker") is None
    browser.login("bob")  # another login on the same browser: the old id ends
    assert browser.client.cookies.get("pps_session") != sid and app.state.sessions.get(sid) is None
    assert len(app.state.sessions) == 1


def test_an_account_disabled_elsewhere_ends_its_sessions_at_the_next_request(browser, app, office) -> None:  # noqa: ANN001
    from pipeline import staff

    browser.login("alice")
    assert browser.get("/cases").status_code == 200
    staff.disable(office, staff.login(office, "carol", PASSWORDS["carol"].encode()), "alice")  # the command line
    r = browser.get("/cases", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert len(app.state.sessions) == 0  # the keyring is dropped, not just refused


def test_a_password_changed_elsewhere_ends_the_other_sessions(make_browser, app, office) -> None:  # noqa: ANN001
    from pipeline import staff

    here, there = make_browser(), make_browser()
    here.login("bob")
    there.login("bob")
    assert len(app.state.sessions) == 2
    staff.change_password(office, staff.login(office, "bob", PASSWORDS["bob"].encode()), b"walnut comet 55 harbour")
    for b in (here, there):
        assert b.get("/", follow_redirects=False).status_code == 303
    assert len(app.state.sessions) == 0
    # a manager's reset from the command line ends them too
    here.login("bob", "walnut comet 55 harbour")
    staff.reset(office, staff.login(office, "carol", PASSWORDS["carol"].encode()), "bob", b"one time 77 pebble")
    assert here.get("/", follow_redirects=False).status_code == 303


def test_a_keyring_of_an_old_password_is_refused_by_the_library(office) -> None:  # noqa: ANN001
    from pipeline import authority, staff
    from pps_archive.errors import NotAuthorised

    old = staff.login(office, "bob", PASSWORDS["bob"].encode())
    staff.change_password(office, staff.login(office, "bob", PASSWORDS["bob"].encode()), b"walnut comet 55 harbour")
    with office.reader() as s, pytest.raises(NotAuthorised, match="changed or reset"):
        authority.require(s, old, "confirming paper shredded")


def test_ended_sessions_are_swept_not_only_the_one_asked_for(make_browser, app) -> None:  # noqa: ANN001
    idle, busy = make_browser(), make_browser()
    idle.login("alice")
    busy.login("bob")
    store = app.state.sessions
    gone = next(s for s in store._sessions.values() if s.account == "alice")  # noqa: SLF001
    gone.last_seen -= dt.timedelta(minutes=16)
    assert busy.get("/").status_code == 200
    assert [s.account for s in store._sessions.values()] == ["bob"]  # noqa: SLF001 - alice's keyring dropped


def _set_cookie(r) -> str:  # noqa: ANN001
    hops = [*r.history, r]
    return " | ".join(v for h in hops for k, v in h.headers.multi_items() if k == "set-cookie" and "pps_session=" in v)


@pytest.mark.parametrize("how", ["http", "https", "forwarded-by-proxy", "forwarded-by-stranger"])
def test_the_session_cookie_is_secure_behind_tls(app, how) -> None:  # noqa: ANN001
    base = "https://testserver" if how == "https" else "http://testserver"
    client = ("127.0.0.1", 40000) if how == "forwarded-by-proxy" else ("203.0.113.9", 40000)
    headers = {"x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.7"} if how.startswith("forwarded") else {}
    with _client(app, base_url=base, client=client, headers=headers) as c:
        page = c.get("/login")
        token = csrf_of(page.text)
        login_cookie = " | ".join(v for k, v in page.headers.multi_items() if k == "set-cookie").lower()
        assert ("; secure" in login_cookie) == (how in ("https", "forwarded-by-proxy"))
        r = c.post("/login", data={"name": "alice", "password": PASSWORDS["alice"], "csrf": token},
                   headers={"cookie": f"pps_login_csrf={token}"}, follow_redirects=False)
        assert r.status_code == 303
        cookie = _set_cookie(r).lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert ("; secure" in cookie) == (how in ("https", "forwarded-by-proxy"))
        hsts = r.headers.get("strict-transport-security")
        assert (hsts is not None) == (how in ("https", "forwarded-by-proxy"))


def test_login_backoff_and_lock_hold_on_the_web(browser, office) -> None:  # noqa: ANN001
    from sqlalchemy import update

    from pipeline import staff
    from pipeline.models import StaffAccount

    assert browser.login("bob", "not the password of bob 1").status_code == 401
    with office.transaction() as s:  # the backoff the failure set, made long enough for a slow machine
        acct = s.query(StaffAccount).filter_by(name="bob").one()
        assert acct.failures == 1 and acct.next_attempt_at is not None
        acct.next_attempt_at += dt.timedelta(minutes=10)
    r = browser.login("bob")  # the right password, during the backoff: refused
    assert r.status_code == 401 and "try again after" in r.text
    with office.transaction() as s:  # as if the wait were over, seven more failures: the lock
        s.execute(update(StaffAccount).where(StaffAccount.name == "bob").values(failures=staff.login_limits(office.config).max_failures - 1,
                                                                                 next_attempt_at=None))
    browser.login("bob", "not the password of bob 2")
    with office.transaction() as s:
        s.execute(update(StaffAccount).where(StaffAccount.name == "bob").values(next_attempt_at=None))
    r = browser.login("bob")
    assert r.status_code == 401 and "locked" in r.text and browser.client.cookies.get("pps_session") is None


# ---- flash messages, redirects, reflected input --------------------------------------------------

def test_a_link_made_elsewhere_cannot_put_words_on_a_page(browser) -> None:  # noqa: ANN001
    fake = "Security notice from the office manager: your account is compromised, call 0800 000 000"
    r = browser.get("/login?flash=" + fake.replace(" ", "+"))
    assert "compromised" not in r.text
    browser.login("alice")
    assert "compromised" not in browser.get("/cases?flash=" + fake.replace(" ", "+") + "&fs=0123456789abcdef").text
    r = browser.post("/logout")  # the server's own message is still shown
    assert r.status_code == 200 and "You are logged out." in r.text


def test_no_redirect_leaves_the_site(browser) -> None:  # noqa: ANN001
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example", "\\\\evil.example", "http:/evil.example",
                   "/\t/evil.example", " //evil.example", "javascript:alert(1)"):
        browser.get("/login")
        r = browser.post("/login", {"name": "alice", "password": PASSWORDS["alice"], "next": target}, follow_redirects=False)
        location = r.headers["location"]
        assert r.status_code == 303 and location.startswith("/") and not location.startswith(("//", "/\\", "/\t")), target
        assert "evil.example" not in location or location.startswith("/%09"), target
        browser.post("/logout")


def test_input_shown_back_on_an_error_page_is_escaped(browser) -> None:  # noqa: ANN001
    browser.login("alice")
    for url in ("/cases/<script>alert(1)<script>", "/audit?since=<script>alert(1)</script>",
                "/cases?q=<script>alert(1)</script>", "/nowhere/<script>alert(1)</script>"):
        r = browser.get(url)
        assert "<script>alert" not in r.text, url
        assert r.headers["content-security-policy"].startswith("default-src 'self'")


# ---- headers on every response ------------------------------------------------------------------

def _strict(r) -> None:  # noqa: ANN001
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"


def test_the_headers_are_on_errors_and_downloads_too(office, monkeypatch) -> None:  # noqa: ANN001
    from pipeline.web.app import create_app
    from pipeline.web.views import stats

    async def broken(request):  # noqa: ANN001, ANN202
        raise RuntimeError("PPS-2026-0001 Ada Lovelace")  # an unexpected error's text never reaches the page

    monkeypatch.setattr(stats, "routes", [*stats.routes, Route("/broken", broken, methods=["GET"])])
    app = create_app(office)
    with _client(app, raise_server_exceptions=False) as c:
        b = Browser(c)
        _strict(b.get("/nowhere"))
        b.login("alice")
        r = b.get("/broken")
        assert r.status_code == 500 and "Lovelace" not in r.text and "PPS-2026" not in r.text
        _strict(r)
        _strict(b.post("/cases", {"csrf": "forged"}))
        _strict(b.client.put("/cases"))
        b.get("/coversheets")
        r = b.post("/coversheets/one", {"ref": f"PPS-{TODAY.year}-0001", "class": "NOTE", "decision": "retain"})
        assert r.headers["content-type"] == "application/pdf"
        _strict(r)
        assert re.fullmatch(r'inline; filename="[A-Za-z0-9._-]+"', r.headers["content-disposition"])


def test_a_quarantine_download_is_named_without_the_file_s_own_words() -> None:
    from pipeline.web.views.quarantine import download_name

    assert download_name(3, "scan.pdf") == "quarantine-entry-3.pdf"
    assert download_name(3, "letter.Jane Smith") == "quarantine-entry-3.bin"
    assert download_name(3, "note.Smithfamily") == "quarantine-entry-3.bin"
    assert download_name(3, "no-suffix") == "quarantine-entry-3.bin"
    assert download_name(4, "entry-4.zip") == "quarantine-entry-4.zip"


# ---- /health ---------------------------------------------------------------------------------------

def test_health_only_from_this_machine_and_not_through_the_proxy(app) -> None:  # noqa: ANN001
    with _client(app, client=("127.0.0.1", 40000)) as c:
        r = c.get("/health")
        assert r.status_code == 200 and r.json()["ok"] is True
        # pipeline.status.collect's counts and states (no data dir path), and the live counts: no reference, no name
        assert set(r.json()) <= {"ok", "inputs", "review", "quarantine", "audit_events", "queue_depth", "oldest_queued_at",
                                 "last_done_at", "quarantine_count", "free_bytes", "total_bytes", "discs_due_for_reread",
                                 "audit_chain"}
        _strict(r)
        for headers in ({"x-forwarded-for": "203.0.113.5"}, {"x-forwarded-proto": "https"}, {"forwarded": "for=1.2.3.4"}):
            assert c.get("/health", headers=headers).status_code == 403, headers
    with _client(app, client=("192.0.2.10", 40000)) as c:
        assert c.get("/health").status_code == 403
        assert c.get("/health", headers={"x-forwarded-for": "127.0.0.1"}).status_code == 403  # a stranger's header


# ---- paths typed on forms ------------------------------------------------------------------------

def test_a_form_cannot_make_the_server_read_its_own_files(browser, office, tmp_path) -> None:  # noqa: ANN001
    from pipeline import media

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    outside = tmp_path / "elsewhere.iso"
    outside.write_bytes(b"\0" * 4096)
    link = media.images_dir(office) / "escape.iso"
    link.symlink_to("/etc/passwd")
    browser.login("carol")
    before = _audit_count(office)
    bad = ["/etc/passwd", "/etc", "/dev/zero", str(fifo), str(outside), str(link), "relative/disc.iso", "/nonexistent/sr9",
           str(media.images_dir(office) / ".." / ".." / "database.sqlite3")]
    for source in bad:  # one answer for all: a form tells nothing about which files exist
        browser.get("/discs")
        r = browser.post("/discs/verify", {"source": source})
        assert r.status_code == 403 and "not a disc this server reads" in r.text, source
    for field_url in ("/disposal/dry-run", "/disposal/prepare"):
        browser.get("/disposal")
        r = browser.post(field_url, {"media": "/etc/passwd\n/dev/zero"})
        assert r.status_code == 403, field_url
    browser.get(f"/cases/{PARAMS['ref']}/subject-access")
    r = browser.post(f"/cases/{PARAMS['ref']}/subject-access/export",
                     {"passphrase": "x", "passphrase2": "x", "media": "/etc/shadow"})
    assert r.status_code == 403
    assert _audit_count(office) == before


def test_the_source_rule_lives_in_the_library(office, tmp_path) -> None:  # noqa: ANN001
    from pipeline import media
    from pipeline.source_paths import check_source
    from pps_archive.errors import SourceRefused

    image = media.images_dir(office) / "PPS-2030-001.iso"
    image.write_bytes(b"\0" * 2048)
    assert check_source(office, str(image)) == image
    for path in ("/etc/passwd", str(tmp_path), "/dev/null", "", "x\0y"):
        with pytest.raises(SourceRefused) as e:
            check_source(office, path)
        assert e.value.exit_code == 46 and e.value.http_status == 403
    block = next((f"/dev/{n}" for n in ("sr0", "loop0") if os.path.exists(f"/dev/{n}")), None)
    if block:
        assert str(check_source(office, block)) == block


# ---- the real date, in the library ----------------------------------------------------------------

def test_a_disposal_plan_refuses_a_later_date_in_the_library(office) -> None:  # noqa: ANN001
    from sqlalchemy import update

    from pipeline import disposal_plans, staff
    from pipeline.models import DisposalPlanRecord
    from pps_archive.errors import FutureDate

    carol = staff.login(office, "carol", PASSWORDS["carol"].encode())
    dave = staff.login(office, "dave", PASSWORDS["dave"].encode())
    with pytest.raises(FutureDate):
        disposal_plans.prepare(office, [], TODAY + dt.timedelta(days=1), auth=carol)
    assert disposal_plans.list_plans(office) == []
    saved = disposal_plans.prepare(office, [], TODAY, auth=carol)
    with office.transaction() as s:  # a plan whose date was moved on (by hand, in the database)
        s.execute(update(DisposalPlanRecord).where(DisposalPlanRecord.id == saved["id"])
                  .values(as_of=TODAY + dt.timedelta(days=400)))
    with pytest.raises(FutureDate):
        disposal_plans.approve(office, saved["id"], saved["sha256"], auth=dave, consent="typed")
    with pytest.raises(FutureDate):
        disposal_plans.execute(office, saved["id"], [], auth=dave, consent="typed")


def test_the_other_destructive_steps_refuse_a_later_date_in_the_library(office) -> None:  # noqa: ANN001
    from pipeline import cases, erasure, media, shredding, staff
    from pps_archive.errors import FutureDate

    carol = staff.login(office, "carol", PASSWORDS["carol"].encode())
    later = TODAY + dt.timedelta(days=30)
    with office.transaction() as s:
        cases.open_case(s, office.config, PARAMS["ref"], today=TODAY, auth=carol)
        hold = cases.place_hold(s, PARAMS["ref"], "sar", "a request", today=TODAY, auth=carol).id
    steps = [lambda s: shredding.confirm(s, office.config, [1], auth=carol, today=later, consent="typed"),
             lambda s: cases.release_hold(s, PARAMS["ref"], hold, today=later, auth=carol, consent="typed"),
             lambda s: media.destroy(s, office.config, "PPS-2030-001", auth=carol, today=later, consent="typed")]
    for step in steps:
        with office.transaction() as s, pytest.raises(FutureDate):
            step(s)
    with pytest.raises(FutureDate):
        erasure.erase_case(office, PARAMS["ref"], auth=carol, today=later, consent="typed")
    with office.reader() as s:
        assert [h.id for h in cases.active_holds(cases.get_case(s, PARAMS["ref"]))] == [hold]


# ---- background jobs ------------------------------------------------------------------------------

def test_no_route_controls_a_job_and_its_page_needs_a_login(app) -> None:  # noqa: ANN001
    job_routes = [r for r in _routes(app) if r.path.startswith("/jobs")]
    assert [(r.path, sorted(r.methods)) for r in job_routes] == [("/jobs/{job}", ["GET", "HEAD"])]
    with _client(app) as c:
        assert c.get("/jobs/anything", follow_redirects=False).status_code == 303


# ---- no plaintext on disk -------------------------------------------------------------------------

MAGIC = (b"%PDF", b"\x89PNG", b"PK\x03\x04")


def _files(*roots) -> dict:  # noqa: ANN002
    out = {}
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            for n in names:
                p = os.path.join(dirpath, n)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                out[p] = (st.st_size, st.st_mtime_ns)
    return out


def _top_level_tmp() -> dict:
    out = {}
    for e in os.scandir("/tmp"):
        try:
            if e.is_file(follow_symlinks=False):
                out[e.path] = (e.stat().st_size, e.stat().st_mtime_ns)
        except OSError:
            continue
    return out


def test_no_plaintext_is_written_while_documents_are_shown_or_exported(intake_browser, intake_office, tmp_path,  # noqa: ANN001
                                                                       monkeypatch) -> None:
    """Previews, document views and downloads, the quarantine export and a subject access export:
    no new or changed file under the data directory, TMPDIR or /tmp holds a PDF, PNG or ZIP."""
    import tempfile

    from pipeline.quarantine import list_entries
    from tests.web.conftest import REF_A, review_items

    private_tmp = tmp_path / "tmpdir"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    doc = min(r["id"] for r in review_items(intake_office).values())
    with intake_office.reader() as s:
        (entry,) = list_entries(s)
        from sqlalchemy import select

        from pipeline.models import Case, Document

        filed = s.scalars(select(Document.id).join(Case).where(Case.ref == REF_A, Document.vault_item.is_not(None))).first()
    roots = (str(intake_office.data_dir), str(private_tmp))
    before, tmp_before = _files(*roots), _top_level_tmp()
    b = intake_browser
    b.login("carol")
    seen = []
    for url in (f"/review/{doc}", f"/review/{doc}/page/1.png?size=thumb", f"/review/{doc}/page/1.png?size=large",
                f"/documents/{filed}/pdf"):
        r = b.get(url)
        assert r.status_code == 200, url
        seen.append(r.content[:4])
    names = [b.get(f"/documents/{filed}/pdf").headers["content-disposition"]]
    b.get(f"/review/{doc}")
    r = b.post(f"/review/{doc}/download")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    names.append(r.headers["content-disposition"])
    _strict(r)
    b.get("/quarantine")
    r = b.post(f"/quarantine/{entry['id']}/export")
    assert r.status_code == 200 and len(r.content) > 100
    names.append(r.headers["content-disposition"])
    _strict(r)
    b.get(f"/cases/{REF_A}/subject-access")
    secret = "walnut tractor origami 64 sleet"
    r = b.post(f"/cases/{REF_A}/subject-access/export", {"passphrase": secret, "passphrase2": secret})
    assert r.status_code == 200 and r.content.startswith(b"age-encryption.org/v1")
    names.append(r.headers["content-disposition"])
    _strict(r)
    # the names say the document, entry or case reference and nothing else (the file was "<script>...docx")
    assert names == [f'inline; filename="document-{filed}.pdf"', f'attachment; filename="document-{doc}.pdf"',
                     f'attachment; filename="quarantine-entry-{entry["id"]}.docx"',
                     f'attachment; filename="{REF_A}-subject-access-{TODAY.isoformat()}.zip.age"'], names
    assert b"\x89PNG" in seen and b"%PDF" in seen
    after = {**_files(*roots), **_top_level_tmp()}
    changed = [p for p, v in after.items() if before.get(p, tmp_before.get(p)) != v]
    plain = []
    for p in changed:
        try:
            with open(p, "rb") as f:
                head = f.read(4)
        except OSError:
            continue
        if head.startswith(MAGIC):
            plain.append(p)
    assert plain == [], plain
