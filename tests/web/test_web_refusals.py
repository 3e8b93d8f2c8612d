"""Every page and action of the web app refuses a request without a login, and every form
without its CSRF token (issue 11)."""

from __future__ import annotations

from tests.web.conftest import review_items

PAGES = ["/", "/live.json", "/intake", "/review", "/review/{doc}", "/review/{doc}/page/1.png", "/quarantine",
         "/coversheets", "/audit", "/staff"]
ACTIONS = ["/review/{doc}/assign", "/review/{doc}/split", "/review/{doc}/drop", "/review/{doc}/download",
           "/quarantine/1/retry", "/quarantine/1/export", "/coversheets/one", "/coversheets/batch", "/audit/verify",
           "/staff/add", "/staff/bob/reset", "/staff/bob/disable", "/staff/bob/unlock", "/logout"]


def test_nothing_without_login(intake_browser, intake_office) -> None:  # noqa: ANN001
    doc = min(r["id"] for r in review_items(intake_office).values())
    for url in PAGES:
        r = intake_browser.get(url.format(doc=doc), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), url
    intake_browser.get("/login")  # a login form's token is no session
    for url in ACTIONS:
        r = intake_browser.post(url.format(doc=doc), {"ref": "PPS-2026-0001", "pages": "1"}, follow_redirects=False)
        assert r.status_code in (401, 403), (url, r.status_code)
        assert "application/pdf" not in r.headers.get("content-type", "")


def test_no_form_without_its_csrf_token(intake_browser, intake_office) -> None:  # noqa: ANN001
    from pipeline import audit

    doc = min(r["id"] for r in review_items(intake_office).values())
    intake_browser.login("carol")  # a manager: only the token is missing
    with intake_office.reader() as s:
        before = len(audit.read_log(s))
    for url in ACTIONS:
        for token in (None, "forged"):
            data = {"ref": "PPS-2026-0001", "pages": "1", "name": "erin", "role": "staff"}
            if token:
                data["csrf"] = token
            r = intake_browser.post(url.format(doc=doc), data, csrf=False)
            assert r.status_code == 403 and "did not come from this site" in r.text, (url, token)
    with intake_office.reader() as s:
        assert len(audit.read_log(s)) == before  # nothing was done, nothing viewed
    assert intake_browser.get("/").status_code == 200  # still logged in


def test_every_page_renders_for_a_manager(intake_browser, intake_office) -> None:  # noqa: ANN001
    doc = min(r["id"] for r in review_items(intake_office).values())
    intake_browser.login("dave")
    for url in PAGES:
        r = intake_browser.get(url.format(doc=doc))
        assert r.status_code == 200, url
        assert r.headers["cache-control"] == "no-store"
        if r.headers["content-type"].startswith("text/html"):
            for href in ("/intake", "/review", "/coversheets", "/audit", "/staff"):  # the menu (quarantine: from / and /intake)
                assert f'href="{href}"' in r.text, (url, href)
