"""Issue 4 end to end, through the CLI, on real pipeline output and both databases.

Inputs are PDFs with a text layer (as a scanner with built-in OCR makes them), so the pipeline
reads their text without running Tesseract and the test stays fast. Images are checked with three
independent readers; Debian's ``age`` decrypts an item with the key from ``keys export-case``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

# The cover sheets are archiving sheets (issue 12): these tests set the cases' dates with --as-of, and a
# document filed today behind an ordinary sheet would be new activity, moving those dates to today.

REF_A, REF_B = "PPS-2024-0137", "PPS-2024-0138"


@pytest.fixture
def archived(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Two cases' documents ingested, one disc built; returns (image path, batch truth, tmp)."""
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", REF_A, "--consent-to-store", "--as-of", "2024-01-10")
    run("case", "open", REF_B, "--consent-to-store", "--as-of", "2024-02-10")
    batch = ScanFactory(seed=11).batch(tmp_path / "in", "scan_0001.pdf", [
        Cover(REF_A, "retain", "PPS-LETTER", archiving=True), Doc("pps-letter", REF_A, pages=2),
        Cover(REF_A, "shred", "EHCP", archiving=True), Doc("ehcp", REF_A),
        Cover(REF_B, "retain", "CONSENT", archiving=True), Doc("consent", REF_B),
    ], container="pdf-text", dpi=150)
    out = run("ingest", str(batch.files[0]), "--json").json()
    assert out["inputs"][0]["outcome"] == "done", out
    built = run("media", "build", "--out", str(tmp_path / "discs"), "--json").json()
    assert len(built) == 1 and built[0]["items"] == 2
    return Path(built[0]["path"]), batch, tmp_path


@pytest.fixture
def loop_device() -> Iterator[Callable[[Path], Path]]:
    """Attach an image to a read-only loop device: a real block device, as the optical drive is."""
    attached: list[str] = []

    def attach(image: Path) -> Path:
        if os.geteuid() != 0 or shutil.which("losetup") is None:
            pytest.skip("attaching a loop device needs root and losetup")
        r = subprocess.run(["losetup", "--find", "--show", "--read-only", str(image)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"losetup failed: {r.stderr.strip()}")
        attached.append(r.stdout.strip())
        return Path(attached[-1])

    yield attach
    for dev in attached:
        subprocess.run(["losetup", "--detach", dev], check=False)


def _states() -> dict[str, dict]:
    return {r["class"]: r for r in run("shred-list", "--json").json()}


def _unlock_shredding(image: Path, loop_device: Callable[[Path], Path]) -> Path:
    """Verify the disc as an office does: in full, and read from the drive."""
    run("media", "verify", "--full", str(image), expect=ExitCode.NOT_READ_FROM_DISC)
    drive = loop_device(image)
    run("media", "verify", str(drive))
    return drive


def _docs() -> dict[str, dict]:
    return {d["class"]: d for d in run("documents", "--json").json()}


def test_three_independent_readers_see_every_file_and_hash(archived) -> None:
    image, _batch, tmp = archived
    readers = {
        "osirrox": lambda d: ["osirrox", "-indev", str(image), "-extract", "/", str(d)],
        "7z": lambda d: ["7z", "x", "-y", f"-o{d}", str(image)],
    }
    trees = {}
    for name, argv in readers.items():
        d = tmp / name
        d.mkdir()
        subprocess.run(argv(d), check=True, capture_output=True)
        subprocess.run(["chmod", "-R", "u+w", str(d)], check=True)
        trees[name] = d
    # isoinfo reads the Joliet tree file by file
    d = tmp / "isoinfo"
    (d / "ITEMS").mkdir(parents=True)
    listing = subprocess.run(["isoinfo", "-J", "-f", "-i", str(image)], check=True, capture_output=True, text=True).stdout.split()
    for entry in listing:
        if "." in entry.rsplit("/", 1)[-1]:
            data = subprocess.run(["isoinfo", "-J", "-x", entry, "-i", str(image)], check=True, capture_output=True).stdout
            (d / entry.lstrip("/")).write_bytes(data)
    trees["isoinfo"] = d
    for name, tree in trees.items():
        check = subprocess.run(["sha256sum", "-c", "MANIFEST.TXT"], cwd=tree, capture_output=True, text=True)
        assert check.returncode == 0, f"{name}: {check.stdout}{check.stderr}"
        assert sorted(p.name for p in (tree / "ITEMS").iterdir()) == ["00000001.AGE", "00000002.AGE"], name
    # and Python's own reader, through the program: on the image, and on the disc's files as a
    # mounted disc shows them
    r = run("media", "verify", "--full", str(image), "--json", expect=ExitCode.NOT_READ_FROM_DISC).json()[0]
    assert (r["ok"], r["decrypted"], r["checked"], r["verified_from"], r["counts"]) == (True, 2, 2, "image", False)
    r = run("media", "verify", str(trees["osirrox"]), "--json", expect=ExitCode.NOT_READ_FROM_DISC).json()[0]
    assert (r["ok"], r["verified_from"], r["counts"]) == (True, "folder", False)
    assert run("media", "list", "--json").json()[0]["verified_from"] == "folder"


def test_age_decrypts_an_item_to_the_restored_pdf(archived) -> None:
    image, _batch, tmp = archived
    doc = _docs()["PPS-LETTER"]
    run("restore", "--media", str(image), "--document", str(doc["id"]), "-o", str(tmp / "restored.pdf"))
    run("keys", "export-case", REF_A, "--out", str(tmp / "case.key"), "--yes")
    subprocess.run(["osirrox", "-indev", str(image), "-extract", "/ITEMS", str(tmp / "items")], check=True, capture_output=True)
    plain = subprocess.run(["age", "-d", "-i", str(tmp / "case.key"), str(tmp / "items" / "00000001.AGE")], check=True,
                           capture_output=True).stdout
    assert plain == (tmp / "restored.pdf").read_bytes()
    assert plain.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(tmp / "restored.pdf"), "-"], capture_output=True, text=True).stdout
    assert "Parent Partnership Service" in text


def test_image_holds_no_document_text_and_no_name(archived) -> None:
    image, batch, _tmp = archived
    raw = image.read_bytes()
    ours = b"".join(  # the disc's own small files (README, index, ...) name the service: that is no leak
        subprocess.run(["isoinfo", "-J", "-x", f"/{name}", "-i", str(image)], capture_output=True, check=True).stdout
        for name in ("README.TXT", "INDEX.JSN", "MANIFEST.TXT", "AUDIT.TXT", "PUBKEY.TXT")
    )
    words = {w for p in batch.pages if p.kind != "coversheet" for w in p.words if len(w) >= 6 and w.isalpha()}
    words -= {w for w in words if w.encode() in ours}
    assert len(words) > 20
    leaked = [w for w in words if w.encode() in raw or w.encode("utf-16-be") in raw]
    assert leaked == []


def test_shred_entries_unblock_only_after_a_full_check_and_a_read_from_the_drive(archived, loop_device) -> None:
    image, _batch, _tmp = archived
    states = {c: r["state"] for c, r in _states().items()}
    assert states == {"PPS-LETTER": "blocked", "EHCP": "pending", "CONSENT": "blocked"}
    entry = _states()["PPS-LETTER"]["id"]
    r = run("shred", "confirm", str(entry), "--by", "alice", "--yes", expect=ExitCode.SHRED_BLOCKED)
    assert "built but not verified" in r.err
    # the image file on the hard disk is not the disc in the cupboard
    r = run("media", "verify", str(image), expect=ExitCode.NOT_READ_FROM_DISC)
    assert "unlocks no shredding" in r.err
    assert _states()["PPS-LETTER"]["state"] == "blocked"
    assert "verified from its image file" in _states()["PPS-LETTER"]["blocked_reason"]
    # read from the drive (a block device): but no item was ever decrypted and re-hashed
    drive = loop_device(image)
    r = run("media", "verify", str(drive), "--json").json()[0]
    assert (r["verified_from"], r["counts"]) == ("drive", True)
    assert "never been decrypted and re-hashed" in _states()["PPS-LETTER"]["blocked_reason"]
    run("shred", "confirm", str(entry), "--by", "alice", "--yes", expect=ExitCode.SHRED_BLOCKED)
    # a full verification of the same disc's image decrypts every item: the same ciphertext, by the signed index
    run("media", "verify", "--full", str(image), expect=ExitCode.NOT_READ_FROM_DISC)
    assert _states()["PPS-LETTER"]["state"] == "pending"
    [disc] = run("media", "list", "--json").json()
    assert (disc["verified_from"], disc["items_rehashed"]) == ("image", 2) and disc["read_from_disc_at"] is not None
    run("shred", "confirm", str(entry), "--by", "alice", "--yes")
    states = {c: r["state"] for c, r in _states().items()}
    assert states["PPS-LETTER"] == "confirmed" and states["CONSENT"] == "pending"


def test_a_mounted_cd_counts_and_a_plain_folder_does_not(archived, monkeypatch: pytest.MonkeyPatch) -> None:
    image, _batch, tmp = archived
    folder = tmp / "mnt"
    folder.mkdir()
    subprocess.run(["osirrox", "-indev", str(image), "-extract", "/", str(folder)], check=True, capture_output=True)
    run("media", "verify", "--full", str(folder), expect=ExitCode.NOT_READ_FROM_DISC)
    assert _states()["CONSENT"]["state"] == "blocked"
    # this kernel has no iso9660 driver to loop-mount the image, so the mount table is the edge we
    # stand in for: the folder's filesystem appears as a mounted CD (iso9660), as the desktop mounts one
    dev = folder.stat().st_dev
    table = tmp / "mountinfo"
    table.write_text(f"36 25 {os.major(dev)}:{os.minor(dev)} / {folder} ro,relatime - iso9660 /dev/sr0 ro\n")
    import archive_media.medium

    monkeypatch.setattr(archive_media.medium, "MOUNTINFO", table)
    r = run("media", "verify", str(folder), "--json").json()[0]
    assert (r["verified_from"], r["counts"]) == ("disc", True)
    assert _states()["CONSENT"]["state"] == "pending"


def test_an_office_may_declare_image_files_its_archive_medium(archived, monkeypatch: pytest.MonkeyPatch) -> None:
    image, _batch, _tmp = archived
    monkeypatch.setenv("PPS_ARCHIVE__MEDIA__ARCHIVE_MEDIUM", '"image-files"')
    r = run("media", "verify", str(image), "--json").json()[0]
    assert (r["verified_from"], r["counts"]) == ("image", True)
    assert "never been decrypted" in _states()["CONSENT"]["blocked_reason"]  # the full check is still required
    run("media", "verify", "--full", str(image))
    assert _states()["CONSENT"]["state"] == "pending"
    monkeypatch.setenv("PPS_ARCHIVE__MEDIA__ARCHIVE_MEDIUM", '"usb-stick"')
    r = run("media", "list", expect=ExitCode.CONFIG_INVALID)
    assert "media.archive_medium" in r.err


def _tampered(image: Path, out: Path, how: str) -> Path:
    data = bytearray(image.read_bytes())
    if how == "item":  # one flipped bit inside an encrypted item
        data[data.index(b"age-encryption.org/v1") + 200] ^= 0x01
    elif how == "signature":  # the signed index says another disposal date: valid JSON, bad signature
        at = data.index(b'"dispose_after"')
        at = data.index(b"20", at)
        data[at + 3] = ord("9") if data[at + 3] != ord("9") else ord("8")
    elif how == "structure":  # the primary volume descriptor is gone: no ISO 9660 reader can open it
        data[16 * 2048:17 * 2048] = bytes(2048)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("how", ["item", "signature", "structure"])
def test_a_failed_verification_revokes_the_disc_and_blocks_its_paper(archived, loop_device, how: str) -> None:
    image, _batch, tmp = archived
    _unlock_shredding(image, loop_device)
    assert _states()["CONSENT"]["state"] == "pending"
    label = run("media", "list", "--json").json()[0]["label"]
    bad = _tampered(image, tmp / "copy" / image.name, how)  # the name 'media build' gave it
    r = run("media", "verify", str(bad), expect=ExitCode.MEDIA_ERROR)
    assert f"disc {label} failed verification" in r.err and "Traceback" not in r.err
    assert "media build" in r.err  # what to do: re-burn from the vault
    [disc] = run("media", "list", "--json").json()
    assert (disc["status"], disc["read_from_disc_at"], disc["items_rehashed"]) == ("failed", None, 0)
    row = _states()["CONSENT"]
    assert row["state"] == "blocked" and f"disc {label} failed verification" in row["blocked_reason"]
    run("shred", "confirm", str(row["id"]), "--by", "alice", "--yes", expect=ExitCode.SHRED_BLOCKED)
    assert [e["action"] for e in _audit_actions() if e["action"].startswith("media.verify")][-1] == "media.verify_failed"
    # the failed disc's items are planned onto a new disc
    assert run("media", "plan", "--json").json()[0]["items"] == 2


def test_another_archives_disc_of_the_same_label_does_not_revoke_ours(archived, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image, _batch, tmp = archived
    run("media", "verify", str(image), expect=ExitCode.NOT_READ_FROM_DISC)
    ours = dict(os.environ)
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp / "other"))
    monkeypatch.setenv("PPS_ARCHIVE_DATABASE_URL", f"sqlite+pysqlite:///{tmp / 'other.sqlite3'}")
    run("init")
    run("case", "open", REF_A, "--consent-to-store", "--as-of", "2024-01-10")
    run("case", "open", REF_B, "--consent-to-store", "--as-of", "2024-02-10")
    again = ScanFactory(seed=11).batch(tmp / "in2", "scan_0001.pdf", [
        Cover(REF_A, "retain", "PPS-LETTER", archiving=True), Doc("pps-letter", REF_A, pages=2),
        Cover(REF_B, "retain", "CONSENT", archiving=True), Doc("consent", REF_B),
    ], container="pdf-text", dpi=150)
    run("ingest", str(again.files[0]))
    [theirs] = run("media", "build", "--out", str(tmp / "other-discs"), "--json").json()
    assert theirs["label"] == run("media", "list", "--json").json()[0]["label"]
    monkeypatch.setenv("PPS_ARCHIVE_HOME", ours["PPS_ARCHIVE_HOME"])
    monkeypatch.setenv("PPS_ARCHIVE_DATABASE_URL", ours["PPS_ARCHIVE_DATABASE_URL"])
    [disc] = run("media", "list", "--json").json()
    assert disc["label"] == theirs["label"]
    r = run("media", "verify", theirs["path"], expect=ExitCode.FOREIGN_ARCHIVE)
    assert "belongs to archive" in r.err
    assert run("media", "list", "--json").json()[0]["status"] == "verified"


def _audit_actions() -> list[dict]:
    from sqlalchemy import select

    from pipeline.models import AuditEvent
    from pipeline.workspace import Workspace

    ws = Workspace.load(None)
    try:
        with ws.reader() as s:
            return [{"action": e.action} for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    finally:
        ws.close()


def test_flipped_byte_and_unregistered_disc_give_named_errors(archived) -> None:
    image, _batch, tmp = archived
    bad = _tampered(image, tmp / "bad.iso", "item")
    r = run("media", "verify", str(bad), expect=ExitCode.MEDIA_ERROR)
    assert "failed verification" in r.err and "Traceback" not in r.err
    assert run("media", "list", "--json").json()[0]["status"] == "failed"
    run("media", "verify", str(image), expect=ExitCode.NOT_READ_FROM_DISC)  # the good image verifies again
    assert run("media", "list", "--json").json()[0]["status"] == "verified"


def test_destroyed_case_key_makes_every_item_of_the_case_unreadable(archived, database_url: str) -> None:
    image, _batch, tmp = archived
    from sqlalchemy import text

    from pipeline.db import make_engine

    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM wrapped_keys WHERE purpose = 'case' AND case_ref = :r"), {"r": REF_A})
    engine.dispose()
    doc = _docs()["PPS-LETTER"]
    r = run("restore", "--media", str(image), "--document", str(doc["id"]), "-o", str(tmp / "x.pdf"), expect=ExitCode.KEY_NOT_FOUND)
    assert REF_A in r.err
    r = run("media", "verify", "--full", str(image), "--json", expect=ExitCode.NOT_READ_FROM_DISC).json()[0]
    assert (r["decrypted"], r["without_key"]) == (1, 1)  # case B still reads; case A's item cannot


def test_key_backup_round_trip_and_refusals(archived, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _image, _batch, tmp = archived
    backup = tmp / "keys.backup"
    run("keys", "export", "--out", str(backup), "--yes")
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    r = run("keys", "import", str(backup))
    assert "imported 0 key(s)" in r.out  # everything is already there
    r = run("keys", "import", str(backup), "--as-of", "2099-01-01", expect=ExitCode.INVALID_VALUE)
    assert "real date" in r.err  # expiry is tested on the real date in tests/test_key_backup_cli.py
    # another archive refuses this backup
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "other"))
    monkeypatch.setenv("PPS_ARCHIVE_DATABASE_URL", f"sqlite+pysqlite:///{tmp_path / 'other.sqlite3'}")
    run("init")
    r = run("keys", "import", str(backup), expect=ExitCode.FOREIGN_ARCHIVE)
    assert "belongs to archive" in r.err


def test_wrong_passphrase_is_a_named_error(archived, monkeypatch: pytest.MonkeyPatch) -> None:
    image, _batch, tmp = archived
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", "wrong")
    r = run("restore", "--media", str(image), "--document", "1", "-o", str(tmp / "y.pdf"), expect=ExitCode.WRONG_PASSPHRASE)
    assert "passphrase does not open" in r.err


def test_changing_the_passphrase_rewraps_only(archived, monkeypatch: pytest.MonkeyPatch) -> None:
    image, _batch, tmp = archived
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    monkeypatch.setenv("PPS_ARCHIVE_NEW_PASSPHRASE", "a new passphrase for the office safe")
    run("keys", "change-passphrase")
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", "a new passphrase for the office safe")
    doc = _docs()["CONSENT"]
    run("restore", "--media", str(image), "--document", str(doc["id"]), "-o", str(tmp / "z.pdf"))
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
