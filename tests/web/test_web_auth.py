"""The web app's door: login with a staff account's key slot, sessions, CSRF, headers (issue 11)."""

from __future__ import annotations

import datetime as dt

from tests.web.conftest import PASSWORDS


def test_no_page_without_login_and_a_login_opens_the_dashboard(browser) -> None:  # noqa: ANN001
    r = browser.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = browser.login("alice")
    assert r.status_code == 200 and "What needs doing today" in r.text and "alice (staff)" in r.text
    cookie = next(c for c in browser.client.cookies.jar if c.name == "pps_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    set_cookie = [v for k, v in r.history[0].headers.multi_items() if k == "set-cookie"]
    assert any("pps_session=" in v and "samesite=strict" in v.lower() and "httponly" in v.lower() for v in set_cookie)


def test_a_wrong_password_is_refused_and_counted(browser, office) -> None:  # noqa: ANN001
    from sqlalchemy import func, select

    from pipeline.models import AuditEvent

    r = browser.login("alice", "not her password at all 1")
    assert r.status_code == 401 and "login as alice failed" in r.text
    assert browser.get("/", follow_redirects=False).status_code == 303
    with office.reader() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "auth.login_failed")) >= 1


def test_a_locked_account_cannot_log_in(browser, office) -> None:  # noqa: ANN001
    from pipeline import staff

    for _ in range(staff.login_limits(office.config).max_failures):
        browser.login("bob", "wrong password number 1234")
        with office.transaction() as s:  # skip the backoff wait: only the lock is under test
            from pipeline.models import StaffAccount

            s.query(StaffAccount).filter_by(name="bob").update({"next_attempt_at": None})
    r = browser.login("bob")
    assert r.status_code == 401 and "locked" in r.text
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_a_form_without_its_csrf_token_is_refused(browser) -> None:  # noqa: ANN001
    browser.get("/login")
    r = browser.post("/login", {"name": "alice", "password": PASSWORDS["alice"]}, csrf=False)
    assert r.status_code == 403 and "did not come from this site" in r.text
    browser.login("alice")
    r = browser.post("/logout", {"csrf": "forged"})
    assert r.status_code == 403
    assert browser.get("/").status_code == 200  # still logged in: the forged logout did nothing


def test_an_expired_session_is_refused(browser, app) -> None:  # noqa: ANN001
    browser.login("alice")
    store = app.state.sessions
    (sess,) = store._sessions.values()  # noqa: SLF001 - the clock of this one session
    sess.last_seen -= dt.timedelta(minutes=16)
    r = browser.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert len(store) == 0  # the keyring is dropped, not just hidden
    browser.login("alice")
    (sess,) = store._sessions.values()  # noqa: SLF001
    sess.created -= dt.timedelta(hours=8, minutes=1)  # busy, but past the absolute limit
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_logout_drops_the_keyring(browser, app) -> None:  # noqa: ANN001
    browser.login("carol")
    assert len(app.state.sessions) == 1
    r = browser.post("/logout")
    assert r.status_code == 200 and "logged out" in r.text
    assert len(app.state.sessions) == 0
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_every_response_has_the_strict_headers(browser) -> None:  # noqa: ANN001
    for url in ("/login", "/static/style.css"):
        r = browser.get(url)
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
    browser.login("alice")
    assert browser.get("/").headers["cache-control"] == "no-store"


def test_a_redirect_after_login_stays_on_this_site(browser) -> None:  # noqa: ANN001
    browser.get("/login?next=//evil.example/x")
    r = browser.post("/login", {"name": "alice", "password": PASSWORDS["alice"], "next": "//evil.example/x"},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_a_one_time_password_opens_only_the_password_change(browser, office) -> None:  # noqa: ANN001
    from pipeline import staff

    manager = staff.login(office, "carol", PASSWORDS["carol"].encode())
    staff.reset(office, manager, "bob", b"ephemeral quartz 88 window")
    r = browser.login("bob", "ephemeral quartz 88 window")
    assert "Change your password" in r.text and "one-time password" in r.text
    assert browser.get("/", follow_redirects=False).headers["location"] == "/account/password"
    r = browser.post("/account/password", {"new": "saffron copper 71 ridge", "again": "saffron copper 71 ridge"})
    assert "Password changed" in r.text
    assert "What needs doing today" in browser.login("bob", "saffron copper 71 ridge").text
