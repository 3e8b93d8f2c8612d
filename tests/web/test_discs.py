"""The Discs page (issue 11): the plan, a build in the background with its progress page, the image
to download, a verification from a path given on the form, the cupboard location, and recording a
disc destroyed (a manager, the label typed; refused while the disc holds live documents)."""

from __future__ import annotations

import hashlib
import threading

import pytest

from pipeline.progress import Progress
from tests.web.life_helpers import filed, flash, wait_job

LABEL = "PPS-2030-001"  # the case was last active in 2024: disposal year 2030


@pytest.fixture
def archive(office, tmp_path) -> dict[str, int]:  # noqa: ANN001
    return filed(office, tmp_path)


def _disc(ws) -> dict:  # noqa: ANN001
    from pipeline import media

    with ws.reader() as s:
        [disc] = media.register(s)
    return disc


def test_no_disc_page_or_image_without_login(browser) -> None:  # noqa: ANN001
    for url in ("/discs", f"/discs/{LABEL}/image", "/jobs/abc"):
        r = browser.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url


def test_build_download_verify_store_and_destroy(browser, make_browser, office, archive) -> None:  # noqa: ANN001
    browser.login("alice")
    r = browser.get("/discs")
    assert f"<td>{LABEL}</td><td>2030</td><td>1</td>" in r.text and "Build 1 disc image(s)" in r.text
    assert browser.post("/discs/build", csrf=False).status_code == 403
    assert browser.get("/discs").text.count("No discs yet") == 1  # the forged build did nothing
    done = wait_job(browser, browser.post("/discs/build", follow_redirects=False))
    assert 'data-state="done"' in done.text and "1 of 1" in done.text
    r = browser.get("/discs?flash=x")
    assert "Nothing to archive" in r.text and f'data-disc="{LABEL}"' in r.text
    disc = _disc(office)
    assert disc["status"] == "built"
    # the image, to burn: ciphertext only, as registered
    r = browser.get(f"/discs/{LABEL}/image")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment;") and f"{LABEL}.iso" in r.headers["content-disposition"]
    assert hashlib.sha256(r.content).hexdigest() == disc["iso_sha256"]
    assert browser.get("/discs/PPS-1999-001/image").status_code == 404
    # verify from a path given on the form: an image file verifies but unlocks no shredding
    from pipeline import media

    image = media.image_file(office, LABEL)
    browser.get("/discs")
    r = browser.post("/discs/verify", {"source": str(image)})
    assert r.status_code == 200 and 'data-counts="no"' in r.text and "read from an image file" in r.text
    r = browser.post("/discs/verify", {"source": str(image), "full": "1"})
    assert r.status_code == 200 and "Decrypted and re-hashed</th><td>1</td>" in r.text
    assert _disc(office)["items_rehashed"] == 1
    assert browser.post("/discs/verify", {"source": "/nonexistent/sr9"}).status_code == 403  # not a source a form may name
    assert browser.post("/discs/verify", {"source": ""}).status_code == 422
    # the cupboard
    r = browser.post(f"/discs/{LABEL}/store", {"location": "locked cupboard, shelf 2"})
    assert "in the cupboard at locked cupboard, shelf 2" in flash(r.text)
    assert (_disc(office)["status"], _disc(office)["location"]) == ("in-cupboard", "locked cupboard, shelf 2")
    # destruction: staff refused (403); a manager must type the label; a disc with live documents is refused
    r = browser.post(f"/discs/{LABEL}/destroy", {"confirm": LABEL})
    assert r.status_code == 403 and "needs a manager" in r.text
    manager = make_browser()
    manager.login("carol")
    manager.get("/discs")
    r = manager.post(f"/discs/{LABEL}/destroy", {"confirm": "PPS-2030-002"})
    assert r.status_code == 400 and "not confirmed" in r.text
    r = manager.post(f"/discs/{LABEL}/destroy", {"confirm": LABEL})
    assert r.status_code == 403 and "live item" in r.text
    assert _disc(office)["status"] == "in-cupboard"


def test_the_job_page_shows_progress_and_refreshes_itself(browser, app) -> None:  # noqa: ANN001
    from pipeline.web.jobs import JobStore

    browser.login("alice")
    store = app.state.jobs = JobStore()
    release = threading.Event()
    seen = threading.Event()

    def work(progress):  # noqa: ANN001, ANN202 - a long library call, standing in for a build
        progress(Progress("build", 0, 3))
        progress(Progress("build", 1, 3))
        seen.set()
        release.wait(10)
        return []

    job = store.start("Building discs", "alice", work, next_url=lambda _r: "/discs")
    assert seen.wait(10)
    r = browser.get(f"/jobs/{job.id}")
    assert '<meta http-equiv="refresh" content="2">' in r.text and '<progress value="1" max="3">' in r.text
    release.set()
    r = wait_job(browser, browser.get(f"/jobs/{job.id}"))
    assert '<meta http-equiv="refresh"' not in r.text and 'href="/discs"' in r.text
    assert browser.get("/jobs/nope").status_code == 404


def test_a_failed_job_shows_the_library_refusal(browser, app) -> None:  # noqa: ANN001
    from pipeline.web.jobs import JobStore
    from pps_archive.errors import MediaError

    browser.login("alice")
    store = app.state.jobs = JobStore()

    def work(progress):  # noqa: ANN001, ANN202
        raise MediaError(media="x", problem="another build of this archive is going on: wait for it to end")

    job = store.start("Building discs", "alice", work)
    r = wait_job(browser, browser.get(f"/jobs/{job.id}"))
    assert r.status_code == 400 and "another build" in r.text and 'data-kind="MediaError"' in r.text


