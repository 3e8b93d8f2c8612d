"""Issue 13 on the web: burning a disc to the server's drive (in the background: written, read back
and verified from the drive, or the typed error), the discs put in the server's drive one at a time
over several sittings (for the disposal run and for the yearly read-back), and the reminders on
the Discs page and the dashboard (discs due for re-reading, discs without error-correction data,
documents waiting for a fuller disc). Both databases (``office``)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.auth_helpers import backdate
from tests.conftest import PASSPHRASE
from tests.disc_drives import blank_drive  # noqa: F401 - fixture
from tests.factory import Cover, Doc, ScanFactory
from tests.web.life_helpers import OPENED, REF, filed, flash, open_case, pin, recovery, wait_job

LABEL = "PPS-2030-001"  # REF was last active in 2024: disposal year 2030
TODAY = dt.date.today()
#: three cases a disposal year apart: one disc each
CASES = [(REF, OPENED), ("PPS-2025-0001", dt.date(2025, 1, 10)), ("PPS-2026-0001", dt.date(2026, 6, 1))]

needs_xorriso = pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso is not installed")


def _register(ws) -> dict[str, dict]:  # noqa: ANN001
    from pipeline import media

    with ws.reader() as s:
        return {d["label"]: d for d in media.register(s)}


def _built(ws, tmp_path: Path) -> str:  # noqa: ANN001
    """REF's letter filed and its disc built: the disc's label."""
    from pipeline import media

    filed(ws, tmp_path)
    [built] = media.build(ws, media.images_dir(ws), auth=recovery(ws), today=TODAY)
    assert built["label"] == LABEL
    return LABEL


def _ingest_and_build(ws, tmp_path: Path, cases: list[tuple[str, dt.date]], seed: int, out: Path | None = None) -> list[Path]:  # noqa: ANN001
    from pipeline import intake, media

    parts = []
    for ref, day in cases:
        open_case(ws, ref, day)
        parts += [Cover(ref, "retain", "NOTE", archiving=True), Doc("note", ref)]  # archiving: keeps the dates
    batch = ScanFactory(seed=seed).batch(tmp_path / f"in-{seed}", "p.pdf", parts, container="pdf-text", dpi=150)
    assert [r["outcome"] for r in intake.ingest(ws, None, list(batch.files), workers=1)] == ["done"]
    built = media.build(ws, out or tmp_path / f"discs-{seed}", auth=recovery(ws), today=TODAY)
    return [Path(b["path"]) for b in built]


def _foreign_disc(tmp_path: Path, request) -> Path:  # noqa: ANN001
    """A disc of another archive (its own data dir and SQLite database)."""
    from pipeline.workspace import Workspace

    db = tmp_path / "other.sqlite3"
    shutil.copyfile(request.getfixturevalue("_sqlite_template"), db)
    with pytest.MonkeyPatch.context() as mp:  # the intake workers read it from the environment
        mp.setenv("PPS_ARCHIVE_DATABASE_URL", f"sqlite+pysqlite:///{db}")
        return _other_archive(Workspace.load(tmp_path / "other-data"), tmp_path)


def _other_archive(other, tmp_path: Path) -> Path:  # noqa: ANN001
    from pipeline import authority, keystore, staff

    other.create_dirs()
    try:
        with other.transaction() as s:
            archive = keystore.ensure_archive_id(s)
            master = keystore.ensure_master_key(s, other.config, PASSPHRASE.encode(), archive, actor="init")
            keystore.authenticate_keys(s, master, other.data_dir, actor="init")
        staff.add(other, authority.recover(other, PASSPHRASE.encode()), "carol", "manager", b"moss lantern quarry 93 owl")
        [image] = _ingest_and_build(other, tmp_path, [("PPS-2024-0900", OPENED)], seed=4)
    finally:
        other.close()
    return image


@pytest.fixture
def cupboard(office, tmp_path, request) -> dict:  # noqa: ANN001
    """Three discs of this archive, verified (from their images, so the register expects them), and
    a disc of another archive."""
    from pipeline import media

    pin(office)
    # in the web app's image folder: the only files a web form may name as a disc (pipeline.source_paths)
    images = _ingest_and_build(office, tmp_path, CASES, seed=3, out=media.images_dir(office))
    assert len(images) == 3
    for image in images:
        media.verify(office, image, full=False, auth=recovery(office))
    foreign = media.images_dir(office) / "foreign-disc.iso"
    shutil.copyfile(_foreign_disc(tmp_path, request), foreign)
    return {"images": images, "labels": [p.stem for p in images], "foreign": foreign}


def _ended(browser, response):  # noqa: ANN001, ANN202
    """The job's page fetched once more after the job has ended (its status is the ended job's)."""
    last = wait_job(browser, response)
    return browser.get(last.url.path)


def _media_field(html: str) -> str:
    """What the execute form sends as ``media``, as the page has it filled in."""
    form = html[html.index('/execute" class="stack'):]
    m = re.search(r'<textarea name="media"[^>]*>([^<]*)</textarea>', form) or re.search(r'name="media" value="([^"]*)"', form)
    assert m, "no media field on the execute form"
    return m.group(1)


def _outcome(html: str) -> str:
    m = re.search(r'data-outcome="([a-z_]+)"', html)
    return m.group(1) if m else ""


# ---- burning from the web -----------------------------------------------------------------------

@needs_xorriso
def test_burn_to_the_drive_reads_back_and_verifies_from_it(browser, office, tmp_path, blank_drive) -> None:  # noqa: ANN001, F811
    label = _built(office, tmp_path)
    dev = blank_drive(4096)
    browser.login("alice")
    r = browser.get("/discs")
    assert f'data-burn-form="{label}"' in r.text and 'name="device" value="/dev/sr0"' in r.text
    assert browser.post(f"/discs/{label}/burn", {"device": str(dev)}, csrf=False).status_code == 403
    assert _register(office)[label]["burnt_at"] is None  # the forged form burnt nothing
    done = wait_job(browser, browser.post(f"/discs/{label}/burn", {"device": str(dev)}, follow_redirects=False))
    assert 'data-state="done"' in done.text
    link = re.search(r'href="(/discs/burns/[^"]+)"', done.text).group(1)
    r = browser.get(link)
    assert r.status_code == 200 and 'data-burn="verified"' in r.text and 'data-counts="yes"' in r.text
    assert "from the drive" in r.text and "Decrypted and re-hashed</th><td>1</td>" in r.text
    assert 'data-ecc="no"' in r.text  # a tiny test image gets no dvdisaster data: said so
    d = _register(office)[label]
    assert d["status"] == "verified" and d["read_from_disc_at"] and d["burnt_at"] and d["items_rehashed"] == 1
    assert f'data-burn-form="{label}"' not in browser.get("/discs").text  # burnt and read from the drive: no more to burn
    # the same (now written) disc again: refused before anything is written, with its typed error
    browser.get("/discs")
    r = _ended(browser, browser.post(f"/discs/{label}/burn", {"device": str(dev)}, follow_redirects=False))
    assert r.status_code == 409 and 'data-kind="DiscNotBlank"' in r.text and "not blank" in r.text


def test_burn_without_a_drive_shows_the_typed_error_and_changes_nothing(browser, office, tmp_path) -> None:  # noqa: ANN001
    label = _built(office, tmp_path)
    browser.login("alice")
    browser.get("/discs")
    r = browser.post(f"/discs/{label}/burn", {"device": "/dev/sr9"}, follow_redirects=False)
    job_url = r.headers["location"]
    r = _ended(browser, r)
    assert r.status_code == 503 and 'data-kind="NoDrive"' in r.text and "no CD writer at /dev/sr9" in r.text, r.text[-1500:]
    r = browser.get(job_url.replace("/jobs/", "/discs/burns/"))
    assert r.status_code == 503 and 'data-burn="failed"' in r.text and 'data-kind="NoDrive"' in r.text
    assert browser.get("/discs/burns/nope").status_code == 404
    browser.get("/discs")
    assert browser.post(f"/discs/{label}/burn", {"device": " "}).status_code == 422
    d = _register(office)[label]
    assert (d["status"], d["burnt_at"], d["read_from_disc_at"]) == ("built", None, None)


# ---- the disposal run: discs one at a time, over two sittings ---------------------------------------

def test_discs_presented_one_at_a_time_over_two_sittings_make_the_plan(make_browser, office, cupboard) -> None:  # noqa: ANN001
    from pipeline import disc_rounds, disposal, disposal_plans

    first, second, third = cupboard["labels"]
    images = cupboard["images"]
    # sitting 1: alice logs in, puts in the first disc
    alice = make_browser()
    alice.login("alice")
    r = alice.get("/disposal/round")
    assert r.status_code == 200 and "No round is open" in r.text and 'name="source" value="/dev/sr0"' in r.text
    assert all(f'data-not-presented="{label}"' in r.text for label in cupboard["labels"])
    assert alice.post("/disposal/round/read", {"source": str(images[0])}, csrf=False).status_code == 403
    r = alice.post("/disposal/round/read", {"source": str(images[0])})
    assert r.status_code == 200 and _outcome(r.text) == "presented" and f"Disc {first} read and recorded" in r.text
    rid = int(re.search(r'data-round="(\d+)"', r.text).group(1))
    assert f'data-presented="{first}"' in r.text and f'data-not-presented="{first}"' not in r.text
    alice.post("/logout")
    # sitting 2, another login (bob): the same round goes on
    bob = make_browser()
    bob.login("bob")
    r = bob.get("/disposal/round")
    assert f'data-round="{rid}"' in r.text and f'data-presented="{first}"' in r.text
    r = bob.post("/disposal/round/read", {"source": str(images[1])})
    assert _outcome(r.text) == "presented" and "2 disc(s) presented, 1 still to come" in r.text
    r = bob.post("/disposal/round/read", {"source": str(images[0])})  # the first disc put in again
    assert _outcome(r.text) == "again" and f"Disc {first} was presented before" in r.text
    r = bob.post("/disposal/round/read", {"source": str(cupboard["foreign"])})  # another archive's disc
    assert r.status_code == 200 and _outcome(r.text) == "refused" and 'data-kind="ForeignArchive"' in r.text
    assert "belongs to archive" in r.text
    junk = images[0].parent / "junk.iso"
    junk.write_bytes(b"not a disc" * 1000)
    r = bob.post("/disposal/round/read", {"source": str(junk)})
    assert _outcome(r.text) == "refused"
    assert bob.post("/disposal/round/read", {"source": ""}).status_code == 422
    with office.reader() as s:
        st = disc_rounds.status(s, rid)
    assert [(d["label"], d["times"], d["presented_by"]) for d in st["presented"]] == [(first, 2, "alice"), (second, 1, "bob")]
    assert st["not_presented"] == [third]
    # the plan from the discs presented: it lists the disc not presented
    with office.transaction() as s:
        backdate(s, dt.date(2018, 3, 1), [CASES[0][0]])  # six years inactive: due
    r = bob.get("/disposal/round")
    assert f'name="round" value="{rid}"' in r.text
    r = bob.post("/disposal/round/prepare", {"round": str(rid)})
    [plan] = disposal_plans.list_plans(office)
    assert r.status_code == 200 and r.url.path == f"/disposal/plans/{plan['id']}"
    assert f"prepared from round {rid}" in flash(r.text)
    assert f"disc {third} is in the register but was not read" in r.text
    p = disposal_plans.show(office, plan["id"])["plan"]
    assert p["round"] == rid and sorted(d["label"] for d in p["presented"]) == [first, second]
    assert p["not_presented"] == [third] and p["not_registered"] == []
    assert bob.post("/disposal/round/prepare", {"round": ""}).status_code == 422
    # approved by a manager, executed from the same round's discs (nothing to type in)
    carol = make_browser()
    carol.login("carol")
    r = carol.get(f"/disposal/plans/{plan['id']}")
    assert f'data-round-plan="{rid}"' in r.text and '<textarea name="media"' not in r.text
    carol.post(f"/disposal/plans/{plan['id']}/approve", {"sha256": plan["sha256"], "confirm": "APPROVE"})
    dave = make_browser()
    dave.login("dave")
    page = dave.get(f"/disposal/plans/{plan['id']}").text
    done = wait_job(dave, dave.post(f"/disposal/plans/{plan['id']}/execute", {"media": _media_field(page), "confirm": "DESTROY"},
                                    follow_redirects=False))
    assert 'data-state="done"' in done.text, done.text[-800:]
    with office.reader() as s:
        [run] = disposal.finished_runs(s)
    cert = json.loads(disposal.certificate_file(office, run["run"], "json").read_text())
    assert cert["discs_not_presented"] == [third] and [d["case_ref"] for d in cert["destroyed"]] == [CASES[0][0]]
    with office.reader() as s:
        assert disc_rounds.current_round(s, disc_rounds.DISPOSE) is None  # the round closed with its run
    bob.get("/disposal/round")
    # a new round: the discs presented so far no longer count
    bob.get("/disposal/round")
    r = bob.post("/disposal/round/new", {})
    assert "started" in flash(r.text) and "data-presented=" not in r.text


def test_the_yearly_read_back_disc_by_disc_closes_once_every_disc_is_read(browser, office, cupboard) -> None:  # noqa: ANN001
    first, second, third = cupboard["labels"]
    images = cupboard["images"]
    browser.login("alice")
    r = browser.get("/discs/reread")
    assert r.status_code == 200 and "Insert the next disc, then press Read" in r.text
    r = browser.post("/discs/reread/read", {"source": str(images[0]), "full": "1"})
    assert _outcome(r.text) == "presented" and "Verified (full) from image: verified" in r.text
    assert _register(office)[first]["items_rehashed"] == 1
    r = browser.post("/discs/reread/read", {"source": str(images[0])})
    assert _outcome(r.text) == "again"
    r = browser.post("/discs/reread/read", {"source": str(cupboard["foreign"])})
    assert _outcome(r.text) == "refused"
    for image in images[1:]:
        r = browser.post("/discs/reread/read", {"source": str(image)})
        assert _outcome(r.text) == "presented"
    assert "every registered disc was read" in r.text and "Insert the next disc" not in r.text


# ---- reminders: re-reading, error-correction data, documents waiting ------------------------------

@needs_xorriso
def test_discs_due_for_re_reading_and_without_error_correction_are_shown_and_counted(browser, office, tmp_path) -> None:  # noqa: ANN001
    label = _built(office, tmp_path)
    browser.login("alice")
    r = browser.get("/")
    assert 'data-reread-due="0"' in r.text
    # burnt to a file pseudo-drive: never read back from a disc, so due for re-reading at once
    pseudo = tmp_path / "pseudo-drive.img"
    with open(pseudo, "wb") as fh:
        fh.truncate(4 << 20)
    browser.get("/discs")
    # a web form may burn only to a block device (pipeline.source_paths.check_device) ...
    r = browser.post(f"/discs/{label}/burn", {"device": str(pseudo)})
    assert r.status_code == 403 and "SourceRefused" in r.text
    # ... the command line may burn to a file (xorriso's stdio: pseudo-drive), which counts for nothing
    from pipeline import burning

    result = burning.burn(office, label, pseudo, auth=recovery(office))
    assert not result["counts"]
    r = browser.get("/discs")
    assert f'data-reread="{label}"' in r.text and "never read back from the drive" in r.text
    assert f'data-no-ecc="{label}"' in r.text
    r = browser.get("/")
    assert 'data-reread-due="1"' in r.text and f"{label}: read back, due {TODAY.isoformat()}" in r.text
    assert "Without error-correction data: <strong>1</strong>" in r.text
    from pipeline import dashboard

    s = dashboard.summary(office, TODAY)
    assert s["reread_due"]["count"] == 1 and s["reread_due"]["discs"][0]["label"] == label
    assert s["discs"]["without_error_correction"] == [label]
    assert {"today", "live", "processing", "archive_due", "discs", "shred", "disposal", "audit"} <= set(s)


def test_the_discs_page_says_what_waits_for_a_fuller_disc_and_until_when(office, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from starlette.testclient import TestClient

    from pipeline import media
    from pipeline.web.app import create_app
    from pipeline.workspace import Workspace
    from tests.web.conftest import Browser

    filed(office, tmp_path)
    monkeypatch.setenv("PPS_ARCHIVE__MEDIA__PLANNING", "fill-or-wait")
    ws = Workspace.load(office.data_dir)
    try:
        with ws.reader() as s:
            report = media.plan_report(s, ws.config)
        assert report.discs == [] and len(report.waiting) == 1
        with TestClient(create_app(ws), base_url="http://testserver") as client:
            b = Browser(client)
            b.login("alice")
            r = b.get("/discs")
    finally:
        ws.close()
    assert 'data-waiting="1"' in r.text and f"built on\n  {report.due_on.isoformat()} at the latest" in r.text
    assert "Build 1 disc image(s)" not in r.text
