"""Issue 8 ("records destroyed or shredded too early") and issue 9 #2/#5: one short regression test
a defect, through the CLI only, written so that it also runs on the code before the fix (where each
of them fails: checked on commit 3c13434)."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

# The cover sheets are archiving sheets (issue 12): these tests set the cases' dates with --as-of, and a
# document filed today behind an ordinary sheet would be new activity, moving those dates to today.

T0 = dt.date(dt.date.today().year - 5, 1, 15).isoformat()
A = f"PPS-{T0[:4]}-0001"


@pytest.fixture
def home(database_url, tmp_path, monkeypatch):  # noqa: ANN001, ANN201 - the built image
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", A, "--consent-to-store", "--as-of", T0)
    batch = ScanFactory(seed=3).batch(tmp_path / "in", "p.pdf", [Cover(A, "retain", "NOTE", archiving=True), Doc("note", A),
                                                                  Cover(A, "shred", "EHCP", archiving=True), Doc("ehcp", A)],
                                      container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]))
    built = run("media", "build", "--out", str(tmp_path / "discs"), "--json").json()
    return Path(built[0]["path"])


def test_1_dispose_far_future_refused(home):
    r = run("dispose", "--media", str(home), "--as-of", "2099-01-01", "--yes", expect=None)
    assert r.code != 0
    assert [c["status"] for c in run("case", "list", "--json").json()] == ["inactive"]


def test_2_release_needs_passphrase(home, monkeypatch):
    run("case", "hold", A, "--reason", "sar", "--note", "x")
    monkeypatch.delenv("PPS_ARCHIVE_PASSPHRASE")
    r = run("case", "release", A, "--hold", "1", expect=None)
    assert r.code != 0
    assert run("case", "list", "--json").json()[0]["holds"] != []


def test_3_live_case_paper_waits(home, tmp_path):
    run("case", "touch", A)  # active again
    states = {r["class"]: r["state"] for r in run("shred-list", "--json").json()}
    assert states["EHCP"] == "waiting"


def test_4_image_file_does_not_unlock(home):
    run("media", "verify", "--full", str(home), expect=None)
    states = {r["class"]: r["state"] for r in run("shred-list", "--json").json()}
    assert states["NOTE"] == "blocked"


def test_4b_quick_from_drive_without_full_does_not_unlock(home):
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.skip("attaching a loop device needs root and losetup")
    r = subprocess.run(["losetup", "--find", "--show", "--read-only", str(home)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"losetup failed: {r.stderr.strip()}")
    dev = r.stdout.strip()
    try:
        run("media", "verify", dev, expect=None)
        states = {r["class"]: r["state"] for r in run("shred-list", "--json").json()}
        assert states["NOTE"] == "blocked"
    finally:
        subprocess.run(["losetup", "--detach", dev])


def test_5_filing_to_dispose_due_case_goes_to_review(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", "PPS-2018-0001", "--consent-to-store", "--as-of", "2018-01-15")
    batch = ScanFactory(seed=3).batch(tmp_path / "in", "q.pdf", [Cover("PPS-2018-0001", "retain", "NOTE", archiving=True),
                                                                  Doc("note", "PPS-2018-0001")],
                                      container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]))
    assert [d["decision"] for d in run("documents", "--json").json()] == ["review"]


@pytest.mark.parametrize("how", ["signature", "structure"])
def test_6_failed_verify_revokes(home, tmp_path, how):
    run("media", "verify", "--full", str(home), expect=None)
    data = bytearray(home.read_bytes())
    if how == "signature":
        at = data.index(b"20", data.index(b'"dispose_after"'))
        data[at + 3] = ord("9") if data[at + 3] != ord("9") else ord("8")
    else:
        data[16 * 2048:17 * 2048] = bytes(2048)
    bad = tmp_path / "copy" / home.name
    bad.parent.mkdir()
    bad.write_bytes(bytes(data))
    r = run("media", "verify", str(bad), expect=None)
    assert r.code == ExitCode.MEDIA_ERROR
    assert run("media", "list", "--json").json()[0]["status"] == "failed"


def test_7_broken_chain_refuses_shred_confirm(home, database_url):
    from pipeline.db import make_engine

    entry = next(r for r in run("shred-list", "--json").json() if r["class"] == "EHCP")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    engine.dispose()
    r = run("shred", "confirm", str(entry["id"]), "--by", "alice", "--yes", expect=None)
    assert r.code == ExitCode.AUDIT_CHAIN_BROKEN
