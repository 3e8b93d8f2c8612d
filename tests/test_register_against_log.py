"""Rule 8: a case is not made due early by editing the register without the passphrase.

Disposal and shred confirmation decide what is due from ``cases.last_activity`` and the ``holds``
rows. Before they were compared with the keyed audit log, one ``UPDATE cases SET last_activity``
(or one ``DELETE FROM holds``) made a live or held case's key destroyed by the next run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from pipeline.models import Case, Hold
from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

# The cover sheets are archiving sheets (issue 12): these tests set the cases' dates with --as-of, and a
# document filed today behind an ordinary sheet would be new activity, moving those dates to today.

LIVE, DUE = "PPS-2025-0001", "PPS-2019-0002"


@pytest.fixture
def home(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "1")  # about the register, not the approval
    run("init")
    recent = (dt.date.today() - dt.timedelta(days=30)).isoformat()
    run("case", "open", LIVE, "--consent-to-store", "--as-of", recent)
    run("case", "open", DUE, "--consent-to-store", "--as-of", "2019-03-01")
    batch = ScanFactory(seed=5).batch(tmp_path / "in", "scan_0001.pdf", [
        Cover(LIVE, "retain", "NOTE", archiving=True), Doc("note", LIVE), Cover(LIVE, "shred", "EHCP", archiving=True), Doc("ehcp", LIVE),
    ], container="pdf-text", dpi=150)
    assert run("ingest", str(batch.files[0]), "--json").json()["inputs"][0]["outcome"] == "done"
    [disc] = run("media", "build", "--out", str(tmp_path / "discs"), "--json").json()
    (tmp_path / "media").symlink_to(disc["path"])
    return tmp_path


def _tamper(tmp: Path, *statements) -> None:  # noqa: ANN002 - SQLAlchemy statements, run without the passphrase
    from pipeline.workspace import Workspace

    ws = Workspace.load(tmp / "home")
    try:
        with ws.transaction() as s:
            for stmt in statements:
                s.execute(stmt)
    finally:
        ws.close()


def _disposed(tmp: Path) -> set[str]:
    from pipeline.workspace import Workspace

    ws = Workspace.load(tmp / "home")
    try:
        with ws.transaction() as s:
            return set(s.scalars(select(Case.ref).where(Case.disposed_on.is_not(None))))
    finally:
        ws.close()


def test_a_live_case_backdated_in_the_register_is_not_disposed(home: Path) -> None:
    _tamper(home, update(Case).where(Case.ref == LIVE).values(last_activity=dt.date(2019, 1, 1)))
    r = run("dispose", "--media", str(home / "media"), "--yes", expect=ExitCode.REGISTER_DISAGREES)
    assert f"case {LIVE}'s last activity is 2019-01-01 in the register" in r.err
    assert _disposed(home) == set()  # nothing at all was destroyed
    _tamper(home, update(Case).where(Case.ref == LIVE).values(last_activity=dt.date.today() - dt.timedelta(days=30)))
    run("dispose", "--media", str(home / "media"), "--yes")  # put right: the due case goes, the live one stays
    assert _disposed(home) == {DUE}


def test_a_hold_deleted_from_the_register_still_stops_disposal(home: Path) -> None:
    run("case", "hold", DUE, "--reason", "safeguarding", "--note", "a concern", "--as-of", "2019-04-01")
    run("keys", "export", "--out", str(home / "keys.backup"), "--yes")  # a keyed command: the hold is sealed
    _tamper(home, delete(Hold))
    r = run("dispose", "--media", str(home / "media"), "--yes", expect=ExitCode.REGISTER_DISAGREES)
    assert f"of case {DUE} is in force by the log but not in the register" in r.err
    assert _disposed(home) == set()


def test_paper_of_a_live_case_backdated_in_the_register_is_not_confirmed_shredded(home: Path) -> None:
    [entry] = [e for e in run("shred-list", "--json").json() if e["class"] == "EHCP"]
    assert entry["state"] == "waiting"
    _tamper(home, update(Case).where(Case.ref == LIVE).values(last_activity=dt.date(2019, 1, 1)))
    r = run("shred", "confirm", str(entry["id"]), "--by", "alice", "--yes", expect=ExitCode.REGISTER_DISAGREES)
    assert "disagrees with the audit log" in r.err


def test_a_release_appended_to_the_log_without_the_passphrase_does_not_lift_a_hold(home: Path) -> None:
    from pipeline import audit
    from pipeline.workspace import Workspace

    run("case", "hold", DUE, "--reason", "safeguarding", "--note", "a concern", "--as-of", "2019-04-01")
    run("keys", "export", "--out", str(home / "keys.backup"), "--yes")
    ws = Workspace.load(home / "home")
    try:
        with ws.transaction() as s:  # what intake could write: an unsealed event at the end of the chain
            [hold] = s.scalars(select(Hold)).all()
            audit.record(s, "alice", "hold.release", case_ref=DUE, subject=f"hold:{hold.id}", reason=hold.reason,
                         on=dt.date(2019, 5, 1), consent="yes", unlocked_with="master passphrase")
            s.delete(hold)
    finally:
        ws.close()
    run("dispose", "--media", str(home / "media"), "--yes", expect=ExitCode.REGISTER_DISAGREES)
    assert _disposed(home) == set()


def test_a_hold_lifted_with_the_passphrase_lets_the_case_go(home: Path) -> None:
    run("case", "hold", DUE, "--reason", "safeguarding", "--note", "a concern", "--as-of", "2019-04-01")
    run("case", "release", DUE, "--hold", "1", "--by", "alice", "--yes")
    run("dispose", "--media", str(home / "media"), "--yes")
    assert _disposed(home) == {DUE}
