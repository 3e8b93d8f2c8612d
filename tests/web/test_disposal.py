"""The Disposal page (issue 11): a dry run, a plan prepared by one person and approved by a
different manager (by its hash, with a typed word), its execution in the background, and the
certificate to download; then the disc it emptied, recorded destroyed on the Discs page."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from tests.auth_helpers import backdate, unlocked
from tests.web.life_helpers import OLD1, OLD_OPENED, REF, filed, open_case, recovery, wait_job

LABEL = "PPS-2030-001"


@pytest.fixture
def due(office, tmp_path):  # noqa: ANN001, ANN201
    """REF (a disc of its letter built) six years inactive, and OLD1 as old but under a hold: the image's path."""
    from pipeline import cases, media

    filed(office, tmp_path)
    [built] = media.build(office, media.images_dir(office), auth=recovery(office), today=dt.date.today())
    open_case(office, OLD1, OLD_OPENED)
    with office.transaction() as s:
        cases.place_hold(s, OLD1, "tribunal", "hearing listed", today=dt.date.today(), auth=unlocked(s, None, "carol"))
        backdate(s, OLD_OPENED, [REF])
    return built["path"]


def _disposed(ws) -> list[str]:  # noqa: ANN001
    from pipeline.models import Case

    with ws.reader() as s:
        return sorted(s.scalars(select(Case.ref).where(Case.disposed_on.is_not(None))))


def test_no_disposal_page_or_certificate_without_login(browser) -> None:  # noqa: ANN001
    for url in ("/disposal", "/disposal/plans/1", "/disposal/runs/1", "/disposal/runs/1/certificate.pdf"):
        r = browser.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url


def test_the_two_person_disposal_from_plan_to_certificate(browser, make_browser, office, due) -> None:  # noqa: ANN001
    from pipeline import disposal_plans

    carol, dave, alice = browser, make_browser(), make_browser()
    carol.login("carol")
    dave.login("dave")
    alice.login("alice")
    assert "It takes two people" in carol.get("/disposal").text
    # the dry run: shown, nothing saved
    r = carol.post("/disposal/dry-run", {"media": due})
    assert r.status_code == 200 and "Nothing was changed" in r.text
    assert f'data-dispose="{REF}"' in r.text and f'data-held="{OLD1}"' in r.text and "tribunal" in r.text
    assert f"{LABEL} (location not recorded)" in r.text
    assert disposal_plans.list_plans(office) == []
    # prepared by carol, without its token: refused
    carol.get("/disposal")
    assert carol.post("/disposal/prepare", {"media": due}, csrf=False).status_code == 403
    assert disposal_plans.list_plans(office) == []
    r = carol.post("/disposal/prepare", {"media": due})
    [plan] = disposal_plans.list_plans(office)
    assert r.status_code == 200 and r.url.path == f"/disposal/plans/{plan['id']}" and plan["sha256"] in r.text
    url = f"/disposal/plans/{plan['id']}"
    approve = {"sha256": plan["sha256"], "confirm": "APPROVE"}
    # refusals, each shown with its status; nothing approved
    r = carol.post(f"{url}/approve", approve)
    assert r.status_code == 403 and "carol prepared it" in r.text
    alice.get(url)
    r = alice.post(f"{url}/approve", approve)
    assert r.status_code == 403 and "needs a manager" in r.text
    dave.get(url)
    r = dave.post(f"{url}/approve", approve | {"confirm": "approve"})
    assert r.status_code == 400 and "not confirmed" in r.text
    dave.get(url)
    r = dave.post(f"{url}/approve", approve | {"sha256": "0" * 64})
    assert r.status_code == 403 and "is not the plan" in r.text
    assert disposal_plans.show(office, plan["id"])["approved_by"] is None
    dave.get(url)
    r = dave.post(f"{url}/approve", approve)
    assert r.status_code == 200 and f"Plan {plan['id']} approved by dave" in r.text
    # executing: staff refused by the library (the job ends with 403), a wrong word refused at once
    alice.get(url)
    r = wait_job(alice, alice.post(f"{url}/execute", {"media": due, "confirm": "DESTROY"}, follow_redirects=False))
    assert r.status_code == 403 and "needs a manager" in r.text
    dave.get(url)
    r = dave.post(f"{url}/execute", {"media": due, "confirm": "destroy"})
    assert r.status_code == 400 and _disposed(office) == []
    dave.get(url)
    done = wait_job(dave, dave.post(f"{url}/execute", {"media": due, "confirm": "DESTROY"}, follow_redirects=False))
    assert 'data-state="done"' in done.text, done.text
    assert _disposed(office) == [REF]
    run = disposal_plans.show(office, plan["id"])["run"]
    r = dave.get(f"/disposal/runs/{run}")
    assert "Cases destroyed</th><td>1</td>" in r.text and "carol, dave" in r.text
    pdf = dave.get(f"/disposal/runs/{run}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]
    cert = json.loads(dave.get(f"/disposal/runs/{run}/certificate.json").content)
    assert cert["approvers"] == ["carol", "dave"] and [d["case_ref"] for d in cert["destroyed"]] == [REF]
    assert dave.get("/disposal/runs/999/certificate.pdf").status_code == 404
    assert dave.get(f"/disposal/runs/{run}/certificate.exe").status_code == 422
    listing = dave.get("/disposal").text
    assert f"/disposal/runs/{run}/certificate.pdf" in listing and "executed" in listing
    # a plan runs once
    dave.get(url)
    r = wait_job(dave, dave.post(f"{url}/execute", {"media": due, "confirm": "DESTROY"}, follow_redirects=False))
    assert "executed already" in r.text
    # the disc now holds only a disposed case: the Discs page lists it, a manager records it destroyed
    r = dave.get("/discs")
    assert f'data-retire="{LABEL}"' in r.text and "Destroy: every case on it has been disposed of" in r.text
    r = dave.post(f"/discs/{LABEL}/destroy", {"confirm": LABEL})
    assert r.status_code == 200 and f"Disc {LABEL}: recorded as destroyed" in r.text
    from pipeline import media

    with office.reader() as s:
        assert [d["status"] for d in media.register(s)] == ["destroyed"]
