"""Issue 8, "records destroyed or shredded too early": what a disc was read from, the real date,
and documents for a case that is due for disposal or already disposed of."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from archive_media import medium
from pipeline import authority
from pps_archive.errors import ExitCode, FutureDate
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

# The cover sheets are archiving sheets (issue 12): these tests set the cases' dates with --as-of, and a
# document filed today behind an ordinary sheet would be new activity, moving those dates to today.

OLD, LIVE = "PPS-2019-0001", "PPS-2024-0001"  # inactive since 2019: due for disposal; active


def test_what_a_disc_is_read_from(tmp_path: Path) -> None:
    image = tmp_path / "x.iso"
    image.write_bytes(b"\0" * 4096)
    assert medium.read_from(image) == "image"
    assert medium.read_from(tmp_path) == "folder"
    dev = tmp_path.stat().st_dev
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        f"36 22 {os.major(dev)}:{os.minor(dev)} / /media/cdrom ro,nosuid shared:9 - udf /dev/sr0 ro,utf8\n")
    assert medium.read_from(tmp_path, table) == "disc"
    table.write_text(f"36 22 {os.major(dev)}:{os.minor(dev)} / /mnt rw - fuse.sshfs host:/x rw\n")
    assert medium.read_from(tmp_path, table) == "folder"
    assert medium.read_from(tmp_path, tmp_path / "no-such-table") == "folder"
    if os.geteuid() == 0 and shutil.which("losetup"):
        r = subprocess.run(["losetup", "--find", "--show", "--read-only", str(image)], capture_output=True, text=True)
        if r.returncode == 0:
            try:
                assert medium.read_from(Path(r.stdout.strip())) == "drive"
            finally:
                subprocess.run(["losetup", "--detach", r.stdout.strip()], check=False)


def test_a_later_date_is_refused_an_earlier_one_allowed() -> None:
    today = dt.date(2026, 12, 1)
    assert authority.ensure_real_date(today, today, "x") == today
    assert authority.ensure_real_date(dt.date(2020, 1, 1), today, "x") == dt.date(2020, 1, 1)
    with pytest.raises(FutureDate, match="runs on the real date: 2026-12-02 is later than today"):
        authority.ensure_real_date(dt.date(2026, 12, 2), today, "the disposal run")


def _ingest(tmp: Path, name: str, items: list) -> list[dict]:
    batch = ScanFactory(seed=len(name)).batch(tmp / "in", name, items, container="pdf-text", dpi=150)
    out = run("ingest", str(batch.files[0]), "--json").json()
    assert out["inputs"][0]["outcome"] == "done", out
    ids = set(out["inputs"][0]["documents"]) if "documents" in out["inputs"][0] else None
    return [d for d in run("documents", "--json").json() if ids is None or d["id"] in ids]


@pytest.fixture
def home(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "1")  # the one-person run, as before
    run("init")
    run("case", "open", OLD, "--consent-to-store", "--as-of", "2019-01-15")
    run("case", "open", LIVE, "--consent-to-store")
    return tmp_path / "home"


def test_filing_to_a_case_due_for_disposal_goes_to_review(home: Path, tmp_path: Path) -> None:
    docs = _ingest(tmp_path, "a.pdf", [Cover(OLD, "retain", "NOTE", archiving=True), Doc("note", OLD),
                                       Cover(LIVE, "retain", "NOTE", archiving=True), Doc("note", LIVE)])
    by_ref = {d["suggested_case_ref"] or d["case_ref"]: d for d in docs}
    old, live = by_ref[OLD], by_ref[LIVE]
    assert (live["decision"], live["case_ref"]) == ("retain", LIVE)
    assert (old["decision"], old["case_ref"], old["state"]) == ("review", None, "review")
    assert "due for disposal since 2025-01-15" in old["reason"] and "was the case reactivated?" in old["reason"]
    # nothing of it is on the shred list, nor filed to the case, so the next disposal run does not take it silently
    assert [r["case_ref"] for r in run("shred-list", "--json").json()] == [LIVE]
    assert run("documents", "--case", OLD, "--json").json() == []
    # without a cover sheet, matched by the reference in its text: the same
    [text_doc] = [d for d in _ingest(tmp_path, "bb.pdf", [Doc("pps-letter", OLD)]) if d["id"] not in (old["id"], live["id"])]
    assert text_doc["decision"] == "review" and "was the case reactivated?" in text_doc["reason"]
    # the disposal run keeps the case until staff have decided
    plan = _dry_run(home)
    assert plan["dispose"] == [] and [(k["case_ref"], k["documents"]) for k in plan["kept_in_review"]] == [
        (OLD, [old["id"], text_doc["id"]])]
    # staff decide: keeping a scan for it is refused until the activity is recorded
    r = run("review", "assign", str(old["id"]), "--case", OLD, "--retain", expect=ExitCode.POLICY_REFUSAL)
    assert f"case {OLD} is due for disposal" in r.err and "case touch" in r.err
    run("case", "touch", OLD)
    run("review", "assign", str(old["id"]), "--case", OLD, "--retain")
    assert [d["decision"] for d in run("documents", "--case", OLD, "--json").json()] == ["retain"]


def _dry_run(home: Path) -> dict:
    from pipeline import disposal
    from pipeline.workspace import Workspace

    ws = Workspace.load(home)
    try:
        return disposal.dry_run(ws, [], dt.date.today())
    finally:
        ws.close()


def test_a_case_not_reactivated_is_disposed_once_its_review_items_are_decided(home: Path, tmp_path: Path) -> None:
    [doc] = _ingest(tmp_path, "e.pdf", [Cover(OLD, "shred", "EHCP", archiving=True), Doc("ehcp", OLD)])
    assert doc["decision"] == "review"
    assert [k["case_ref"] for k in _dry_run(home)["kept_in_review"]] == [OLD]
    run("review", "assign", str(doc["id"]), "--case", OLD, "--shred")  # not reactivated: shred the paper
    plan = _dry_run(home)
    assert (plan["kept_in_review"], [x["case_ref"] for x in plan["dispose"]]) == ([], [OLD])


def test_filing_to_a_disposed_case_goes_to_review(home: Path, tmp_path: Path) -> None:
    from pipeline import disposal
    from pipeline.workspace import Workspace
    from tests.auth_helpers import unlocked

    ws = Workspace.load(home)
    try:
        with ws.transaction() as s:
            auth = unlocked(s, ws.config)
        cert = disposal.execute(ws, [], dt.date.today(), auth=auth, consent="--yes")
        with ws.reader() as s:
            from sqlalchemy import select

            from pipeline.models import AuditEvent

            [ev] = s.scalars(select(AuditEvent).where(AuditEvent.action == "disposal.authorised"))
            assert (ev.actor, json.loads(ev.details)["unlocked_with"]) == ("alice", "recovery passphrase")
    finally:
        ws.close()
    assert [d["case_ref"] for d in cert["destroyed"]] == [OLD]
    [doc] = _ingest(tmp_path, "c.pdf", [Cover(OLD, "retain", "NOTE", archiving=True), Doc("note", OLD)])
    assert doc["decision"] == "review" and "disposed of" in doc["reason"] and "was the case reactivated?" in doc["reason"]
    assert run("shred-list", "--json").json() == []


def test_paper_of_a_live_case_waits_on_the_list_and_on_the_printed_list(home: Path, tmp_path: Path) -> None:
    from pipeline.dates import add_months

    _ingest(tmp_path, "d.pdf", [Cover(LIVE, "shred", "EHCP", archiving=True), Doc("ehcp", LIVE)])
    due = add_months(dt.date.today(), 6).isoformat()
    [row] = run("shred-list", "--json").json()
    assert (row["state"], row["due_on"]) == ("waiting", due)
    assert "still active" in run("shred-list").out
    r = run("shred", "confirm", str(row["id"]), "--by", "alice", "--yes", expect=ExitCode.SHRED_NOT_DUE)
    assert due in r.err
    pdf = tmp_path / "shred.pdf"
    run("shred-list", "--pdf", str(pdf))
    printed = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "WAITING" in printed and due in printed
    # the day it becomes due it is pending (the listing's clock may be moved on)
    assert run("shred-list", "--json", "--as-of", due).json()[0]["state"] == "pending"
