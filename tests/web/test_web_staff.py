"""Staff accounts in the web app (managers only): add, reset, disable, unlock (issue 11)."""

from __future__ import annotations

import re

_OTP = re.compile(r"<code>([a-z0-9-]+)</code>")


def test_a_staff_account_sees_nothing_of_it(browser) -> None:  # noqa: ANN001
    browser.login("alice")
    assert 'href="/staff"' not in browser.get("/").text
    r = browser.get("/staff")
    assert r.status_code == 403 and "carol" not in r.text
    for url in ("/staff/add", "/staff/bob/reset", "/staff/bob/disable", "/staff/bob/unlock"):
        assert browser.post(url, {"name": "eve", "role": "manager"}).status_code == 403, url


def test_a_manager_adds_an_account_with_a_one_time_password(browser, make_browser) -> None:  # noqa: ANN001
    browser.login("carol")
    html = browser.get("/staff").text
    assert 'href="/staff"' in html and "<td>alice</td><td>staff</td><td>active</td>" in html
    assert browser.post("/staff/add", {"name": "erin", "role": "staff"}, csrf=False).status_code == 403
    r = browser.post("/staff/add", {"name": "erin", "role": "staff"})
    assert r.status_code == 200 and "Account erin added" in r.text
    otp = _OTP.search(r.text).group(1)
    erin = make_browser()
    assert "Change your password" in erin.login("erin", otp).text  # it opens only a password change
    assert "<td>erin</td><td>staff</td><td>must change password</td>" in browser.get("/staff").text
    r = browser.post("/staff/add", {"name": "<script>x</script>", "role": "staff"})
    assert r.status_code == 422 and "<script>x" not in r.text


def test_reset_and_disable_end_the_accounts_sessions(browser, make_browser, app) -> None:  # noqa: ANN001
    bob = make_browser()
    bob.login("bob")
    alice = make_browser()
    alice.login("alice")
    browser.login("carol")
    browser.get("/staff")
    r = browser.post("/staff/bob/reset")
    assert r.status_code == 200 and "Account bob reset" in r.text and "session of this account has ended" in r.text
    otp = _OTP.search(r.text).group(1)
    assert bob.get("/", follow_redirects=False).status_code == 303  # logged out at once
    assert alice.get("/").status_code == 200  # the others stay
    assert "Change your password" in bob.login("bob", otp).text
    browser.get("/staff")
    r = browser.post("/staff/alice/disable")
    assert r.status_code == 200 and "Account alice is disabled (1 session(s) ended)" in r.text
    assert alice.get("/", follow_redirects=False).status_code == 303
    assert alice.login("alice").status_code == 401
    assert "<td>alice</td><td>staff</td><td>disabled</td>" in browser.get("/staff").text


def test_a_locked_account_is_unlocked_by_a_manager(browser, make_browser, office) -> None:  # noqa: ANN001
    from pipeline import staff
    from pipeline.models import StaffAccount

    bob = make_browser()
    for _ in range(staff.login_limits(office.config).max_failures):
        bob.login("bob", "wrong password number 1234")
        with office.transaction() as s:
            s.query(StaffAccount).filter_by(name="bob").update({"next_attempt_at": None})
    assert bob.login("bob").status_code == 401
    browser.login("dave")
    html = browser.get("/staff").text
    assert 'action="/staff/bob/unlock"' in html
    r = browser.post("/staff/bob/unlock")
    assert r.status_code == 200 and "Account bob is unlocked" in r.text
    assert bob.login("bob").status_code == 200
