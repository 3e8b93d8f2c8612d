"""Bad inputs: each quarantined with a reason a person can act on, kept encrypted, exportable."""

from __future__ import annotations

from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import ScanFactory

EXPECTED = {
    "empty": "is empty (0 bytes)",
    "truncated-pdf": "truncated or damaged",
    "encrypted-pdf": "password-protected",
    "bomb-png": "over the limit",
    "docx": "not a scan",
    "random-pdf": "not a PDF, TIFF, JPEG or PNG",
    "corrupt-jpeg": "truncated or damaged",
    "corrupt-tiff-frame": "the image data of a page is corrupt",
}


def test_every_bad_input_is_quarantined_encrypted_with_a_reason(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    bad = ScanFactory(seed=4).bad_inputs(tmp_path / "bad")
    originals = {kind: path.read_bytes() for kind, path in bad.items()}
    report = run("ingest", *map(str, bad.values()), "--json", expect=ExitCode.QUARANTINED).json()["inputs"]
    assert {r["outcome"] for r in report} == {"quarantined"}
    entries = {e["file"]: e for e in run("quarantine", "list", "--json").json()}
    for kind, path in bad.items():
        assert EXPECTED[kind] in entries[path.name]["reason"], (kind, entries[path.name]["reason"])
        assert "Traceback" not in entries[path.name]["reason"]
    kept = [p for p in (home / "quarantine").rglob("*") if p.is_file()]
    assert kept and all(p.read_bytes().startswith(b"age-encryption.org/v1") for p in kept)
    assert not any(path.name in str(p) for p in kept for path in bad.values())  # no family's file name on disk
    assert list((home / "spool").iterdir()) == [] and list((home / "work").iterdir()) == []
    entry = entries[bad["encrypted-pdf"].name]
    run("quarantine", "export", str(entry["id"]), "--out", str(tmp_path / "look"))
    assert (tmp_path / "look" / bad["encrypted-pdf"].name).read_bytes() == originals["encrypted-pdf"]
