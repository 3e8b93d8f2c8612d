"""Issue 13: 'media burn' through xorriso to pseudo-drives, read back and verified from the drive;
discs due for re-reading; a degraded disc found on re-read and replaced from the vault.

Loop block devices stand in for the CD writer (a real block device, as /dev/sr0 is); a regular
file is a pseudo-drive that must never count as a disc. Both databases (``archived``).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.archive_media.conftest import file_offset
from tests.cli_helpers import run
from tests.disc_drives import blank_drive, flip_byte_on  # noqa: F401 - fixture
from tests.test_archive_e2e import _states, archived  # noqa: F401 - fixture

pytestmark = pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso is not installed")


def _disc(label: str) -> dict:
    return {d["label"]: d for d in run("media", "list", "--json").json()}[label]


def test_burn_to_a_drive_reads_back_and_verifies_before_the_register_says_verified(archived, blank_drive) -> None:  # noqa: F811
    image, _batch, _tmp = archived
    label = image.stem
    assert _disc(label)["status"] == "built"
    dev = blank_drive(4096)
    # a tiny test image gets no dvdisaster data: the burn says so with its own warning
    r = run("media", "burn", label, "--device", str(dev), "--json", expect=ExitCode.NO_ERROR_CORRECTION)
    out = r.json()
    assert (out["burnt_to"], out["read_back"], out["status"], out["counts"]) == ("block", "identical", "verified", True)
    assert (out["verification"]["verified_from"], out["verification"]["level"], out["verification"]["decrypted"]) == ("drive", "full", 2)
    assert "no error-correction data" in r.err
    d = _disc(label)
    assert d["status"] == "verified" and d["read_from_disc_at"] and d["burnt_at"] and d["items_rehashed"] == 2
    assert d["error_correction"] is False
    # the burn was a read from the drive and a full re-hash: the retained paper may now be shredded
    entry = _states()["PPS-LETTER"]["id"]
    run("shred", "confirm", str(entry), "--by", "alice", "--yes")
    # a second burn onto the same (now written) disc is refused before anything is written
    r = run("media", "burn", label, "--device", str(dev), expect=ExitCode.DISC_NOT_BLANK)
    assert f"the disc in {dev} is not blank" in r.err and "blank CD-R" in r.err


def test_a_burn_to_a_file_pseudo_drive_never_counts_as_a_disc(archived, tmp_path: Path) -> None:  # noqa: F811
    image, _batch, _tmp = archived
    label = image.stem
    pseudo = tmp_path / "pseudo-drive.img"
    with open(pseudo, "wb") as fh:
        fh.truncate(4 << 20)  # longer than the image, as a real disc is
    r = run("media", "burn", label, "--device", str(pseudo), "--json", expect=ExitCode.NOT_READ_FROM_DISC)
    out = r.json()
    assert (out["burnt_to"], out["counts"], out["verification"]["verified_from"]) == ("file", False, "image")
    assert out["verification"]["media"] == str(pseudo)
    assert "is not a drive" in r.err
    d = _disc(label)
    assert d["read_from_disc_at"] is None and d["verified_from"] == "image"
    entry = _states()["PPS-LETTER"]["id"]
    run("shred", "confirm", str(entry), "--by", "alice", "--yes", expect=ExitCode.SHRED_BLOCKED)


def test_burn_errors_name_the_device_and_leave_the_register_unchanged(archived, blank_drive, tmp_path: Path) -> None:  # noqa: F811
    image, _batch, _tmp = archived
    label = image.stem
    r = run("media", "burn", label, "--device", "/dev/sr9", expect=ExitCode.NO_DRIVE)
    assert "no CD writer at /dev/sr9" in r.err
    r = run("media", "burn", label, "--device", str(blank_drive(24)), expect=ExitCode.DISC_TOO_SMALL)
    assert f"disc {label} needs" in r.err and "larger blank disc" in r.err
    locked = blank_drive(4096, read_only=True)
    r = run("media", "burn", label, "--device", str(locked), expect=ExitCode.BURN_FAILED)
    assert f"writing disc {label} to {locked} failed" in r.err and "new blank disc" in r.err
    r = run("media", "burn", "PPS-2099-001", "--device", str(locked), expect=ExitCode.DISC_NOT_FOUND)
    moved = tmp_path / "moved.iso"
    image.rename(moved)
    r = run("media", "burn", label, "--device", str(locked), expect=ExitCode.MEDIA_ERROR)
    assert "--image" in r.err
    moved.write_bytes(moved.read_bytes()[:-1] + b"x")
    run("media", "burn", label, "--device", str(locked), "--image", str(moved), expect=ExitCode.INTEGRITY_ERROR)
    d = _disc(label)
    assert (d["status"], d["burnt_at"], d["read_from_disc_at"]) == ("built", None, None)
    events = [e["action"] for e in run("audit", "log", "--json").json()]
    assert events.count("media.burn_failed") == 1 and "media.burnt" not in events


def test_build_and_list_say_when_a_disc_has_no_error_correction(archived) -> None:  # noqa: F811
    image, _batch, _tmp = archived
    listing = run("media", "list").out
    assert "NO" in listing and "without error-correction data" in listing and image.stem in listing


def test_a_disc_is_due_for_re_reading_a_year_after_its_last_read_from_the_drive(archived, blank_drive) -> None:  # noqa: F811
    image, _batch, _tmp = archived
    label = image.stem
    today = dt.date.today()
    run("media", "burn", label, "--device", str(blank_drive(4096)), expect=ExitCode.NO_ERROR_CORRECTION)
    run("media", "store", label, "--location", "cupboard, shelf 1")
    from pipeline.dates import add_months
    from pipeline.media import discs_due_for_reread
    from pipeline.workspace import Workspace

    ws = Workspace.load(Path(_tmp) / "home")
    try:
        with ws.reader() as s:
            assert discs_due_for_reread(s, ws.config, add_months(today, 11)) == []
            due = discs_due_for_reread(s, ws.config, add_months(today, 12) + dt.timedelta(days=1))
    finally:
        ws.close()
    assert [(d["label"], d["action"], d["last_read_from_disc"]) for d in due] == [(label, "reread", today.isoformat())]
    assert "due for re-reading" not in run("archive-due").out + run("archive-due").err
    later = (add_months(today, 12) + dt.timedelta(days=1)).isoformat()
    r = run("archive-due", "--as-of", later)
    assert f"{label} (cupboard, shelf 1): reread" in r.out
    r = run("archive-due", "--as-of", later, "--json")
    assert isinstance(r.json(), list) and f"{label} (cupboard, shelf 1): reread" in r.err


def test_a_degraded_disc_found_on_re_reading_is_replaced_from_the_vault(archived, blank_drive, tmp_path: Path) -> None:  # noqa: F811
    image, _batch, tmp = archived
    old = image.stem
    first = blank_drive(4096)
    run("media", "burn", old, "--device", str(first), expect=ExitCode.NO_ERROR_CORRECTION)
    run("media", "store", old, "--location", "cupboard, shelf 1")
    flip_byte_on(first, file_offset(image, "ITEMS/00000001.AGE") + 100)  # a year in the cupboard
    r = run("media", "verify", "--full", str(first), expect=ExitCode.MEDIA_ERROR)
    assert f"disc {old} failed verification" in r.err and f"media replace {old}" in r.err
    assert _disc(old)["status"] == "failed"
    assert f"{old} (cupboard, shelf 1): replace" in run("archive-due").out
    # no error-correction data on it: repair is refused with what to do instead
    r = run("media", "repair", old, "--device", str(first), "--out", str(tmp_path / "repaired"), expect=ExitCode.MEDIA_ERROR)
    assert "no error-correction data" in r.err and f"media replace {old}" in r.err
    r = run("media", "replace", old, "--out", str(tmp / "discs"), "--json")
    assert "built WITHOUT error-correction data" in r.err  # said on stderr, with --json too
    out = r.json()
    assert [b["replaces"] for b in out["built"]] == [old] and out["built"][0]["items"] == 2
    new = out["built"][0]["label"]
    assert new != old
    run("media", "replace", old, "--out", str(tmp / "discs"), expect=ExitCode.CONFLICT)  # one replacement at a time
    assert f"its replacement {new} is built: burn it" in run("archive-due").out  # reminded until it is burnt
    r = run("media", "burn", new, "--device", str(blank_drive(4096)), "--json", expect=ExitCode.NO_ERROR_CORRECTION).json()
    assert (r["status"], r["counts"], r["verification"]["decrypted"]) == ("verified", True, 2)
    assert (_disc(old)["replaced_by"], _disc(new)["replaces"]) == (new, old)
    assert "due for re-reading" not in run("archive-due").out  # replaced: no longer a reminder
    run("media", "destroy", old, "--yes")  # the new disc holds every live item: the old one may go
    assert _disc(old)["status"] == "destroyed"
    entry = _states()["PPS-LETTER"]["id"]
    run("shred", "confirm", str(entry), "--by", "alice", "--yes")  # archived on the replacement


@pytest.fixture
def archived_with_ecc(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A disc large enough (a 300 dpi letter) for dvdisaster's error-correction data."""
    if shutil.which("dvdisaster") is None:
        pytest.skip("dvdisaster is not installed")
    from tests.conftest import PASSPHRASE
    from tests.factory import Cover, Doc, ScanFactory

    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", "PPS-2024-0137", "--consent-to-store", "--as-of", "2024-01-10")
    batch = ScanFactory(seed=11).batch(tmp_path / "in", "scan_0001.pdf", [
        Cover("PPS-2024-0137", "retain", "PPS-LETTER"), Doc("pps-letter", "PPS-2024-0137", pages=3),
    ], container="pdf-text", dpi=300)
    assert run("ingest", str(batch.files[0]), "--json").json()["inputs"][0]["outcome"] == "done"
    r = run("media", "build", "--out", str(tmp_path / "discs"), "--json")
    built = r.json()
    assert len(built) == 1 and built[0]["error_correction"] is True and "WITHOUT error-correction" not in r.err
    return Path(built[0]["path"])


def test_a_degraded_disc_is_repaired_from_its_error_correction_data_and_burnt_again(archived_with_ecc, blank_drive,  # noqa: F811
                                                                                    tmp_path: Path) -> None:
    image = archived_with_ecc
    label = image.stem
    first = blank_drive(4096)
    r = run("media", "burn", label, "--device", str(first), "--json").json()  # with ECC data: no warning, exit 0
    assert (r["status"], r["counts"], r["error_correction"]) == ("verified", True, True)
    assert _disc(label)["error_correction"] is True and "without error-correction" not in run("media", "list").out
    flip_byte_on(first, file_offset(image, "ITEMS/00000001.AGE") + 100)
    run("media", "verify", "--full", str(first), expect=ExitCode.MEDIA_ERROR)
    assert _disc(label)["status"] == "failed"
    image.unlink()  # the image file is long gone; the disc's own ECC data brings it back
    out = run("media", "repair", label, "--device", str(first), "--out", str(tmp_path / "repaired"), "--json").json()
    assert out["repaired"] is True and Path(out["image"]).name == f"{label}.iso"
    assert (Path(out["image"]).stat().st_mode & 0o777) == 0o600
    r = run("media", "burn", label, "--device", str(blank_drive(4096)), "--json").json()  # the repaired image, recorded
    assert (r["status"], r["counts"], r["image"]) == ("verified", True, out["image"])
    d = _disc(label)
    assert d["status"] == "verified" and d["read_from_disc_at"] and d["items_rehashed"] == 1
    events = [e["action"] for e in run("audit", "log", "--json").json()]
    assert events.count("media.burnt") == 2 and "media.repaired" in events
