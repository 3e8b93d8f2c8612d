"""Issue 4 end to end, through the CLI, on real pipeline output and both databases.

Inputs are PDFs with a text layer (as a scanner with built-in OCR makes them), so the pipeline
reads their text without running Tesseract and the test stays fast. Images are checked with three
independent readers; Debian's ``age`` decrypts an item with the key from ``keys export-case``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

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
        Cover(REF_A, "retain", "PPS-LETTER"), Doc("pps-letter", REF_A, pages=2),
        Cover(REF_A, "shred", "EHCP"), Doc("ehcp", REF_A),
        Cover(REF_B, "retain", "CONSENT"), Doc("consent", REF_B),
    ], container="pdf-text", dpi=150)
    out = run("ingest", str(batch.files[0]), "--json").json()
    assert out["inputs"][0]["outcome"] == "done", out
    built = run("media", "build", "--out", str(tmp_path / "discs"), "--json").json()
    assert len(built) == 1 and built[0]["items"] == 2
    return Path(built[0]["path"]), batch, tmp_path


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
    r = run("media", "verify", "--full", str(image), "--json").json()[0]
    assert (r["ok"], r["decrypted"], r["checked"], r["verified_from"]) == (True, 2, 2, "image")
    r = run("media", "verify", str(trees["osirrox"]), "--json").json()[0]
    assert (r["ok"], r["verified_from"]) == (True, "disc")
    assert run("media", "list", "--json").json()[0]["verified_from"] == "disc"


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


def test_shred_entries_unblock_only_after_verification(archived) -> None:
    image, _batch, _tmp = archived
    states = {r["class"]: r["state"] for r in run("shred-list", "--json").json()}
    assert states == {"PPS-LETTER": "blocked", "EHCP": "pending", "CONSENT": "blocked"}
    entry = next(r["id"] for r in run("shred-list", "--json").json() if r["class"] == "PPS-LETTER")
    r = run("shred", "confirm", str(entry), "--by", "alice", "--yes", expect=ExitCode.SHRED_BLOCKED)
    assert "not yet on a verified disc" in r.err
    run("media", "verify", str(image))
    run("shred", "confirm", str(entry), "--by", "alice", "--yes")
    states = {r["class"]: r["state"] for r in run("shred-list", "--json").json()}
    assert states["PPS-LETTER"] == "confirmed" and states["CONSENT"] == "pending"


def test_flipped_byte_and_unregistered_disc_give_named_errors(archived) -> None:
    image, _batch, tmp = archived
    bad = tmp / "bad.iso"
    shutil.copy(image, bad)
    data = bytearray(bad.read_bytes())
    offset = data.index(b"age-encryption.org/v1") + 200
    data[offset] ^= 0x01
    bad.write_bytes(bytes(data))
    r = run("media", "verify", str(bad), expect=ExitCode.MEDIA_ERROR)
    assert "failed verification" in r.err and "Traceback" not in r.err
    assert run("media", "list", "--json").json()[0]["status"] == "failed"
    run("media", "verify", str(image))  # the good image verifies again
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
    r = run("media", "verify", "--full", str(image), "--json").json()[0]
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
