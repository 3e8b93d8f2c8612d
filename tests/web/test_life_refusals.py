"""Every action of the case, shred-list, disc and disposal pages (issue 11): refused without a
login (401, nothing done) and, logged in, refused without the form's CSRF token (403)."""

from __future__ import annotations

from sqlalchemy import func, select

ACTIONS = [
    "/cases", "/cases/PPS-2026-0001/consent", "/cases/PPS-2026-0001/third-party", "/cases/PPS-2026-0001/touch",
    "/cases/PPS-2026-0001/holds", "/cases/PPS-2026-0001/holds/1/lift",
    "/shred/confirm",
    "/discs/build", "/discs/verify", "/discs/PPS-2030-001/store", "/discs/PPS-2030-001/destroy",
    "/disposal/dry-run", "/disposal/prepare", "/disposal/plans/1/approve", "/disposal/plans/1/execute",
]
DOWNLOADS = ["/documents/1/pdf", "/discs/PPS-2030-001/image", "/disposal/runs/1/certificate.pdf",
             "/disposal/runs/1/certificate.json", "/disposal/runs/1", "/disposal/plans/1", "/statistics", "/jobs/x"]


def _events(ws) -> int:  # noqa: ANN001
    from pipeline.models import AuditEvent

    with ws.reader() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(~AuditEvent.action.like("auth.%")))


def test_no_action_or_download_without_login_and_no_action_without_its_token(browser, office) -> None:  # noqa: ANN001
    before = _events(office)
    for url in DOWNLOADS:
        r = browser.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
    form = {"ref": "PPS-2026-0001", "confirm": "YES", "media": "", "source": "/dev/sr0", "location": "x", "note": "x",
            "reason": "sar", "store": "yes", "party": "School", "allowed": "yes", "entry": "1"}
    for url in ACTIONS:
        r = browser.post(url, form | {"csrf": "anything"})
        assert r.status_code == 401 and "log in again" in r.text.lower(), url
    browser.login("carol")
    for url in ACTIONS:
        r = browser.post(url, form, csrf=False)
        assert r.status_code == 403 and "did not come from this site" in r.text, url
        r = browser.post(url, form | {"csrf": "forged"})
        assert r.status_code == 403, url
    assert _events(office) == before  # nothing was done
