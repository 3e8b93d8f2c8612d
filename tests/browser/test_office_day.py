"""Issue 11, in a real browser: an adviser's day, and the annual disposal by two managers.

Each walk is what a person does with the mouse and keyboard in Chromium against a live
``pps-archive serve`` on SQLite (the daemon ``pps-archive watch`` beside it for the dropped scans).
Where months must pass, :func:`tests.auth_helpers.backdate` moves the case's dates in the register
and the sealed audit log, as only the key holder could (the server is idle meanwhile). Screenshots of
each page go to ``$PPS_ARCHIVE_SCREENSHOTS/<test name>/``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.browser.conftest import Office, log_in, log_out, new_person
from tests.factory import Cover, Doc, ScanFactory

REF = "PPS-2026-0412"
OLD_REF = "PPS-2019-0077"


def _drop(office: Office, tmp: Path, name: str, items: list) -> None:
    """A scanner writes the file elsewhere, then renames it into the drop folder, as scanners do."""
    staging = tmp / "staging"
    staging.mkdir(exist_ok=True)
    ScanFactory(seed=len(name)).batch(staging, name, items, container="pdf-text", dpi=150)
    folder = office.home / "drop" / "office"
    folder.mkdir(parents=True, exist_ok=True)
    os.replace(staging / name, folder / name)


def _reload_until(page, pattern: str, timeout: float = 180.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not re.search(pattern, page.content()):
        assert time.monotonic() < deadline, f"{pattern!r} never appeared on {page.url}"
        time.sleep(1.0)
        page.reload()


def _backdate(office: Office, day: dt.date, refs: list[str]) -> None:
    from pipeline.workspace import Workspace
    from tests.auth_helpers import backdate

    ws = Workspace.load(office.home, environ=office.env)
    try:
        with ws.transaction() as s:
            backdate(s, day, refs)
    finally:
        ws.close()


class Loop:
    """A read-only loop device over a disc image: to the program, a CD in a drive (block device)."""

    def __init__(self, image: Path) -> None:
        r = subprocess.run(["losetup", "--find", "--show", "--read-only", str(image)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"losetup could not attach {image}: {r.stderr.strip()} (the browser walks run as root)")
        self.device = r.stdout.strip()

    def close(self) -> None:
        subprocess.run(["losetup", "--detach", self.device], check=False)


@pytest.fixture
def loop_devices():  # noqa: ANN201
    if os.geteuid() != 0 or not shutil.which("losetup"):
        pytest.skip("reading a disc from a drive needs root and losetup (a read-only loop device stands in for the CD drive)")
    loops: list[Loop] = []
    yield loops
    for lo in loops:
        lo.close()


def test_an_advisers_day(chromium, office, server, daemon, shots, tmp_path, loop_devices) -> None:  # noqa: ANN001, PLR0915
    page = new_person(chromium, server)
    log_in(page, "alice")
    shots.take(page, "dashboard")

    # a new parent rings: open the case, anonymous name-wise (there is no name field), consent recorded
    page.goto("/cases")
    page.get_by_label("Reference", exact=True).fill(REF)
    page.get_by_label("The parent/carer consents to information being kept").check()
    page.get_by_role("button", name="Open case").click()
    page.wait_for_url(f"**/cases/{REF}*")
    assert REF in page.content()
    shots.take(page, "case opened")

    # print a cover sheet for the letter going into the scanner
    page.goto(f"/coversheets?ref={REF}")
    shots.take(page, "cover sheets")
    page.locator("form[action='/coversheets/one']").get_by_label("Case reference").fill(REF)
    page.locator("form[action='/coversheets/one'] select[name='class']").select_option("PPS-LETTER")
    page.locator("form[action='/coversheets/one'] select[name='decision']").select_option("retain")
    with page.expect_response("**/coversheets/one") as sheet:
        page.locator("form[action='/coversheets/one']").get_by_role("button", name="Print").click()
    assert sheet.value.status == 200 and sheet.value.headers["content-type"] == "application/pdf"  # Chromium's viewer shows it
    shots.take(page, "cover sheet in the browser's PDF viewer")

    # the scanner drops two scans: one behind that cover sheet, one with nothing to go on
    _drop(office, tmp_path, "scan_0001.pdf", [Cover(REF, "retain", "PPS-LETTER"), Doc("pps-letter", REF)])
    _drop(office, tmp_path, "scan_0002.pdf", [Doc("school-letter", None, ref_in_text=False)])
    page.goto("/intake")
    _reload_until(page, r"scan_0001\.pdf")
    _reload_until(page, r"(?s)scan_0002\.pdf.*?(done|quarantined)|(done|quarantined).*?scan_0002\.pdf")
    _reload_until(page, r"(?s)scan_0001\.pdf.*?done|done.*?scan_0001\.pdf")
    shots.take(page, "intake")

    # the second one waits in review: look at it, and file it to the case as a scan to keep
    page.goto("/review")
    shots.take(page, "review queue")
    page.locator("tr", has_text="scan_0002").get_by_role("link").first.click()
    page.wait_for_url(re.compile(r".*/review/\d+$"))
    preview = page.locator("img").first
    preview.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", preview.element_handle())
    shots.take(page, "review item with preview")
    form = page.locator("form[action$='/assign']")
    form.get_by_label("Case reference").fill(REF)
    form.locator("input[name='decision'][value='retain']").check()
    form.get_by_role("button", name="File it").click()
    page.wait_for_load_state()
    assert "error" not in (page.locator("p.error").all_inner_texts() or [""])[0].lower()
    page.goto("/review")
    assert "scan_0002" not in page.content()

    # ... months pass without contact: the case is due for archiving
    _backdate(office, dt.date.today() - dt.timedelta(days=220), [REF])

    # build the disc, download the image, "burn" it (a read-only loop device is the CD in the drive),
    # verify it from the drive in full, and record where it is kept
    page.goto("/discs")
    shots.take(page, "discs plan")
    page.locator("form[action='/discs/build'] button").click()
    _reload_until(page, r'data-state="(done|failed)"')
    assert 'data-state="done"' in page.content(), page.content()
    shots.take(page, "disc built")
    page.goto("/discs")
    link = page.get_by_role("link", name="Download image").first
    label = re.search(r"/discs/([^/]+)/image", link.get_attribute("href")).group(1)
    image = page.request.get(f"/discs/{label}/image")
    assert image.status == 200
    iso = tmp_path / f"{label}.iso"
    iso.write_bytes(image.body())
    drive = Loop(iso)
    loop_devices.append(drive)
    verify = page.locator("form[action='/discs/verify']")
    verify.get_by_label("Drive or mounted disc").fill(drive.device)
    verify.locator("input[name='full']").check()
    verify.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    assert "verified" in page.content() and "drive" in page.content()
    shots.take(page, "disc verified from the drive")
    page.goto("/discs")
    store = page.locator(f"form[action='/discs/{label}/store']")
    store.get_by_label("Where kept").fill("locked cupboard, shelf 2")
    store.get_by_role("button", name="Record location").click()
    page.wait_for_load_state()

    # the paper can go: tick it on the shred list, confirm as alice, print the record
    page.goto("/shred")
    shots.take(page, "shred list")
    boxes = page.locator("input[name='entry']")
    assert boxes.count() == 2, page.content()
    for i in range(boxes.count()):
        boxes.nth(i).check()
    page.get_by_label(re.compile("Type .* to confirm")).fill("SHREDDED")
    page.get_by_role("button", name="Confirm shredded").click()
    page.wait_for_load_state()
    page.goto("/shred/record")
    assert page.content().count("alice") >= 2
    shots.take(page, "shredding record")

    page.goto("/")
    shots.take(page, "dashboard at the end of the day")
    log_out(page)
    page.goto("/shred")
    assert "/login" in page.url


def test_the_annual_disposal_by_two_managers(chromium, office, server, shots, tmp_path) -> None:  # noqa: ANN001
    # a case, one kept letter, its disc built and verified (set up on the command line), then seven
    # years without contact
    office.cli("case", "open", OLD_REF, "--consent-to-store", user="carol")
    scans = tmp_path / "old"
    scans.mkdir()
    ScanFactory(seed=3).batch(scans, "old_0001.pdf", [Cover(OLD_REF, "retain", "PPS-LETTER"), Doc("pps-letter", OLD_REF)],
                              container="pdf-text", dpi=150)
    office.cli("ingest", str(scans / "old_0001.pdf"))
    _backdate(office, dt.date(2019, 6, 1), [OLD_REF])
    discs = office.home / "media" / "images"  # the web app's image folder: the files a web form may name as discs
    office.cli("media", "build", "--out", str(discs))
    (iso,) = discs.glob("*.iso")
    office.cli("media", "verify", "--full", str(iso), expect=None)

    carol, dave = new_person(chromium, server), new_person(chromium, server)
    log_in(carol, "carol")
    carol.goto("/disposal")
    shots.take(carol, "disposal")
    prepare = carol.locator("form[action='/disposal/prepare']")
    prepare.locator("textarea[name='media']").fill(str(iso))
    prepare.get_by_role("button", name="Prepare the plan for today").click()
    carol.wait_for_url(re.compile(r".*/disposal/plans/\d+.*"))
    assert OLD_REF in carol.content()
    plan_url = re.sub(r"\?.*$", "", carol.url)
    shots.take(carol, "plan prepared by carol")

    # the one who prepared it cannot approve it
    carol.get_by_label(re.compile("Type .* to approve")).fill("APPROVE")
    carol.get_by_role("button", name=re.compile("Approve plan")).click()
    carol.wait_for_load_state()
    assert "403" in carol.title() or "Not allowed" in carol.content()
    shots.take(carol, "carol refused approving her own plan")

    # a different manager approves exactly that plan, then executes it
    log_in(dave, "dave")
    dave.goto(plan_url)
    dave.get_by_label(re.compile("Type .* to approve")).fill("APPROVE")
    dave.get_by_role("button", name=re.compile("Approve plan")).click()
    dave.wait_for_load_state()
    shots.take(dave, "plan approved by dave")
    dave.goto(plan_url)
    dave.get_by_label(re.compile("Type .* to destroy")).fill("DESTROY")
    dave.get_by_role("button", name=re.compile("Execute plan")).click()
    _reload_until(dave, r'data-state="(done|failed)"')
    assert 'data-state="done"' in dave.content(), dave.content()
    shots.take(dave, "disposal done")
    dave.goto("/disposal")
    cert = dave.get_by_role("link", name="PDF").first
    pdf = dave.request.get(cert.get_attribute("href"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    shots.take(dave, "disposal runs")
    dave.goto(f"/cases/{OLD_REF}")
    shots.take(dave, "the disposed case")
    log_out(dave)
    log_out(carol)
