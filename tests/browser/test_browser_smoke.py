"""The browser harness itself: a real Chromium logs in to a live server and is refused without it."""

from __future__ import annotations

from tests.browser.conftest import log_in, log_out, new_person


def test_a_person_logs_in_and_out_in_a_real_browser(chromium, server, shots) -> None:  # noqa: ANN001
    page = new_person(chromium, server)
    page.goto("/")
    assert "/login" in page.url  # no page without a login
    shots.take(page, "login")
    log_in(page, "alice")
    assert page.get_by_role("heading", name="What needs doing today").is_visible()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["pps_session"]["httpOnly"] and cookies["pps_session"]["sameSite"] == "Strict"
    shots.take(page, "dashboard")
    log_out(page)
    page.goto("/")
    assert "/login" in page.url
