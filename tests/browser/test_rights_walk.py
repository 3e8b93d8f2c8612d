"""Issue 12, in a real browser: the parent/carer's rights walked with the mouse and keyboard.

- a subject access request: a manager opens it, the case page shows its hold, a staff account is
  refused the export, the manager downloads the bundle encrypted to a passphrase typed twice (the
  download decrypted here with the same passphrase), then closes the request and the hold is gone;
- withdrawn consent: recorded on the case page, it leads to the erasure offer; a wrong typed
  confirmation erases nothing, the reference typed erases the case, and the certificate downloads;
- safeguarding: staff record a concern with hostile text, a manager reads it shown as text (never
  run), and a staff account is refused the records.

The cases and their documents are set up on the command line (``case open``, ``ingest`` of a factory
scan), as in the disposal walk; the server is a live ``pps-archive serve`` on SQLite. Screenshots of
each page go to ``$PPS_ARCHIVE_SCREENSHOTS/<test name>/``.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from tests.browser.conftest import Office, log_in, log_out, new_person
from tests.factory import Cover, Doc, ScanFactory

SAR_REF = "PPS-2026-0517"
ERASE_REF = "PPS-2026-0623"
SAFE_REF = "PPS-2026-0731"
EXPORT_PASSPHRASE = "walnut tractor origami 64 sleet"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'


def _case_with_a_letter(office: Office, tmp: Path, ref: str, seed: int) -> None:
    """A case opened with consent to store, and one kept letter filed to it by the pipeline."""
    office.cli("case", "open", ref, "--consent-to-store", user="carol")
    scans = tmp / ref
    scans.mkdir()
    ScanFactory(seed=seed).batch(scans, "scan_0001.pdf", [Cover(ref, "retain", "PPS-LETTER"), Doc("pps-letter", ref)],
                                 container="pdf-text", dpi=150)
    office.cli("ingest", str(scans / "scan_0001.pdf"))


def _menu_on_one_line(page) -> bool:  # noqa: ANN001
    """At 1280 px the whole menu (a manager's thirteen entries) fits on one line beside the account."""
    nav, link = page.locator("header.top nav"), page.locator("header.top nav a").first
    return nav.bounding_box()["height"] < 1.5 * link.bounding_box()["height"]


def _refused(page) -> bool:  # noqa: ANN001
    return "403" in page.title() and "Not allowed" in page.locator("h1").inner_text()


def test_a_subject_access_export_in_the_browser(chromium, office, server, shots, tmp_path) -> None:  # noqa: ANN001
    """"All information held by PPS will be handled in a way that conforms to the requirements of the
    Data Protection Act": the request's hold, the export refused to staff, downloaded by a manager and
    readable with the passphrase only, the hold lifted when the request is answered."""
    import pyrage

    _case_with_a_letter(office, tmp_path, SAR_REF, seed=5)
    carol, alice = new_person(chromium, server), new_person(chromium, server)
    log_in(carol, "carol")
    carol.goto(f"/cases/{SAR_REF}")
    carol.get_by_role("link", name="Subject access: requests and the export").click()
    carol.wait_for_url(f"**/cases/{SAR_REF}/subject-access")
    assert "No open subject access request" in carol.content()
    assert _menu_on_one_line(carol)
    box = carol.locator("input[name='close']").bounding_box()
    assert box["width"] < 2 * box["height"]  # a box beside its words, not stretched across the form and centred above them
    shots.take(carol, "subject access page")
    carol.get_by_label(re.compile("What was asked")).fill("asked by letter on the phone call, due in a month")
    carol.get_by_role("button", name="Record a subject access request").click()
    carol.wait_for_url(re.compile(r".*/subject-access\?flash=.*"))
    assert "Subject access request recorded" in carol.locator(".flash, [role=status]").first.inner_text()
    assert "asked by letter on the phone call" in carol.content()
    shots.take(carol, "request recorded")

    # the case page says a request is open, and its hold is in force
    carol.goto(f"/cases/{SAR_REF}")
    assert carol.get_by_text(re.compile(r"\(a request is open: hold \d+\)")).count() == 1
    hold_row = carol.locator("tr", has_text="subject access request")
    assert "in force" in hold_row.inner_text()
    shots.take(carol, "case page with the sar hold")

    # a staff account is refused the export: the page says so
    log_in(alice, "alice")
    alice.goto(f"/cases/{SAR_REF}/subject-access")
    export = alice.locator(f"form[action='/cases/{SAR_REF}/subject-access/export']")
    export.get_by_label("Passphrase for the export").fill(EXPORT_PASSPHRASE)
    export.get_by_label("The same passphrase again").fill(EXPORT_PASSPHRASE)
    export.get_by_role("button", name="Export and download").click()
    alice.wait_for_load_state()
    assert _refused(alice) and "needs a manager" in alice.locator("p.error").inner_text()
    shots.take(alice, "staff refused the export")

    # two different passphrases: nothing is exported, and the page says why
    carol.goto(f"/cases/{SAR_REF}/subject-access")
    export = carol.locator(f"form[action='/cases/{SAR_REF}/subject-access/export']")
    export.get_by_label("Passphrase for the export").fill(EXPORT_PASSPHRASE)
    export.get_by_label("The same passphrase again").fill(EXPORT_PASSPHRASE + "x")
    export.get_by_role("button", name="Export and download").click()
    carol.wait_for_load_state()
    assert "the two passphrases differ" in carol.locator("p.error").inner_text().lower()
    shots.take(carol, "passphrases differ")

    # the manager exports: the download, decrypted with the passphrase, holds the index and the letter
    carol.goto(f"/cases/{SAR_REF}/subject-access")
    export = carol.locator(f"form[action='/cases/{SAR_REF}/subject-access/export']")
    export.get_by_label("Passphrase for the export").fill(EXPORT_PASSPHRASE)
    export.get_by_label("The same passphrase again").fill(EXPORT_PASSPHRASE)
    with carol.expect_download() as got:
        export.get_by_role("button", name="Export and download").click()
    download = got.value
    assert re.fullmatch(rf"{SAR_REF}-subject-access-\d{{4}}-\d\d-\d\d\.zip\.age", download.suggested_filename)
    saved = tmp_path / "download" / download.suggested_filename
    download.save_as(saved)
    sealed = saved.read_bytes()
    assert sealed.startswith(b"age-encryption.org/v1") and SAR_REF.encode() not in sealed and b"%PDF" not in sealed
    with zipfile.ZipFile(io.BytesIO(pyrage.passphrase.decrypt(sealed, EXPORT_PASSPHRASE))) as z:
        names = z.namelist()
        assert names[0] == "index.html" and f"case {SAR_REF}" in z.read("index.html").decode()
        [letter] = [n for n in names if re.fullmatch(r"documents/document-\d+\.pdf", n)]
        assert z.read(letter).startswith(b"%PDF")
    shots.take(carol, "after the export download")

    # the request answered: the reference typed closes it, and the hold is gone
    close = carol.locator(f"form[action^='/cases/{SAR_REF}/subject-access/'][action$='/close']")
    close.get_by_label(re.compile(f"Type {SAR_REF} once the request is answered")).fill(SAR_REF)
    close.get_by_role("button", name=re.compile("Close request")).click()
    carol.wait_for_url(re.compile(r".*/subject-access\?flash=.*"))
    assert re.search(r"hold \d+ lifted", carol.content()) and "No open subject access request" in carol.content()
    shots.take(carol, "request closed")
    carol.goto(f"/cases/{SAR_REF}")
    assert "a request is open" not in carol.content()
    assert "in force" not in carol.locator("tr", has_text="subject access request").inner_text()
    shots.take(carol, "case page after the request")
    log_out(alice)
    log_out(carol)


def test_withdrawn_consent_leads_to_the_erasure(chromium, office, server, shots, tmp_path) -> None:  # noqa: ANN001
    """"Data is only entered once parents … have given permission for information to be kept": the
    withdrawal recorded on the case page leads to the erasure offer; nothing is erased without the
    reference typed; once erased, the certificate downloads as a PDF."""
    _case_with_a_letter(office, tmp_path, ERASE_REF, seed=7)
    alice, carol = new_person(chromium, server), new_person(chromium, server)
    log_in(alice, "alice")
    alice.goto(f"/cases/{ERASE_REF}")
    shots.take(alice, "case with consent given")
    alice.get_by_role("button", name="Record consent withdrawn").click()
    alice.wait_for_url(f"**/cases/{ERASE_REF}/erasure*")
    assert "Consent to store withdrawn" in alice.content()
    assert alice.locator("table.facts tr", has_text="Documents").locator("td").inner_text() == "1"
    shots.take(alice, "erasure offered after withdrawal")
    log_out(alice)

    log_in(carol, "carol")
    carol.goto(f"/cases/{ERASE_REF}/erasure")
    erase = carol.locator(f"form[action='/cases/{ERASE_REF}/erase']")
    erase.get_by_label(re.compile(f"Type {ERASE_REF} to erase it")).fill("YES")
    erase.get_by_role("button", name=f"Erase case {ERASE_REF} (manager)").click()
    carol.wait_for_load_state()
    assert f"type {ERASE_REF} exactly" in carol.locator("p.error").inner_text()
    shots.take(carol, "wrong confirmation refused")
    carol.get_by_role("link", name="Back").click()
    carol.wait_for_url(f"**/cases/{ERASE_REF}/erasure")
    assert carol.locator(f"form[action='/cases/{ERASE_REF}/erase']").count() == 1  # nothing erased: still offered

    erase = carol.locator(f"form[action='/cases/{ERASE_REF}/erase']")
    erase.get_by_label(re.compile(f"Type {ERASE_REF} to erase it")).fill(ERASE_REF)
    erase.get_by_role("button", name=f"Erase case {ERASE_REF} (manager)").click()
    carol.wait_for_url(re.compile(r".*/erasure\?flash=.*"))
    assert f"Case {ERASE_REF} erased" in carol.content() and "erased on" in carol.content()
    assert carol.locator(f"form[action='/cases/{ERASE_REF}/erase']").count() == 0
    shots.take(carol, "case erased with its certificate")
    with carol.expect_download() as got:
        carol.get_by_role("link", name="Certificate (PDF)").click()
    saved = tmp_path / "certificate" / got.value.suggested_filename
    got.value.save_as(saved)
    assert saved.suffix == ".pdf" and saved.read_bytes().startswith(b"%PDF")
    carol.goto(f"/cases/{ERASE_REF}")
    shots.take(carol, "the erased case")
    log_out(carol)


def test_safeguarding_recorded_by_staff_read_by_a_manager(chromium, office, server, shots) -> None:  # noqa: ANN001
    """"The only exception to keeping information confidential is where there is a concern about a
    child's safety": staff record a concern; only a manager reads it, and hostile text in it is shown
    as text, never run by the browser."""
    office.cli("case", "open", SAFE_REF, "--consent-to-store", user="carol")
    alice, carol = new_person(chromium, server), new_person(chromium, server)
    dialogs: list[str] = []
    for page in (alice, carol):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(alice, "alice")
    alice.goto(f"/cases/{SAFE_REF}")
    alice.get_by_role("link", name="Safeguarding: record a concern or a disclosure").click()
    alice.wait_for_url(f"**/cases/{SAFE_REF}/safeguarding")
    shots.take(alice, "safeguarding page")
    concern = alice.locator("form", has=alice.locator("input[name='kind'][value='concern']"))
    concern.get_by_label("The concern").fill(HOSTILE)
    concern.get_by_role("button", name="Record the concern").click()
    alice.wait_for_url(re.compile(r".*/safeguarding\?flash=.*"))
    assert "the case is on a safeguarding hold" in alice.content()
    shots.take(alice, "concern recorded")
    alice.get_by_role("link", name=re.compile("Read the safeguarding records")).click()
    alice.wait_for_load_state()
    assert _refused(alice) and HOSTILE not in alice.content()
    shots.take(alice, "staff refused the records")

    log_in(carol, "carol")
    carol.goto(f"/cases/{SAFE_REF}/safeguarding/records")
    shown = carol.locator("p.sealed")
    assert shown.count() == 1 and shown.inner_text() == HOSTILE  # the characters, as typed
    recorded = carol.locator("tbody tr td").nth(3).inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d by alice", recorded), recorded  # a time as a person reads it
    assert carol.locator("main script, td script, td img").count() == 0
    shots.take(carol, "manager reads the records")
    carol.goto(f"/cases/{SAFE_REF}")
    assert "in force" in carol.locator("tr", has_text="safeguarding").inner_text()
    shots.take(carol, "case on a safeguarding hold")
    assert dialogs == []
    log_out(carol)
    log_out(alice)
