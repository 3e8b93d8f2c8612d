"""Rule 8: one SQL UPDATE, without the passphrase, must not unlock shredding.

The shred interlock trusts two marks in the database: a disc's read from the drive
(``discs.medium_verified_at``) and an item's decryption and re-hash (``disc_items.checked_at``).
Before the marks carried a MAC under a master-derived key, setting those columns made retained
paper confirmable as shredded while its scan had never been read from a disc.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from pipeline.dates import utcnow
from pipeline.models import Disc, DiscItemRow
from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.test_archive_e2e import _states, archived, loop_device  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("archived")


def _tamper(tmp: Path, *statements) -> None:  # noqa: ANN002 - SQLAlchemy statements
    from pipeline.workspace import Workspace

    ws = Workspace.load(tmp / "home")
    try:
        with ws.transaction() as s:
            for stmt in statements:
                s.execute(stmt)
    finally:
        ws.close()


def test_a_read_from_the_drive_written_into_the_database_unlocks_no_shredding(archived) -> None:  # noqa: F811
    image, _batch, tmp = archived
    run("media", "verify", "--full", str(image), expect=ExitCode.NOT_READ_FROM_DISC)  # items re-hashed, from the image
    entry = _states()["PPS-LETTER"]["id"]
    run("shred", "confirm", str(entry), "--by", "alice", "--yes", expect=ExitCode.SHRED_BLOCKED)
    _tamper(tmp, update(Disc).values(medium_verified_at=utcnow(), verified_from="drive", status="verified"))
    r = run("shred", "confirm", str(entry), "--by", "alice", "--yes", expect=ExitCode.SHRED_BLOCKED)
    assert "not vouched for by the master key" in r.err
    assert _states()["PPS-LETTER"]["state"] == "blocked"  # the listing, without the key, is not fooled either


def test_a_re_hash_written_into_the_database_unlocks_no_shredding(archived, loop_device) -> None:  # noqa: F811
    image, _batch, tmp = archived
    drive = loop_device(image)
    r = run("media", "verify", str(drive), "--json").json()[0]  # a real read from the drive, with the passphrase
    assert (r["verified_from"], r["counts"]) == ("drive", True)
    entry = _states()["PPS-LETTER"]["id"]
    _tamper(tmp, update(DiscItemRow).values(checked_at=utcnow()))
    r = run("shred", "confirm", str(entry), "--by", "alice", "--yes", expect=ExitCode.SHRED_BLOCKED)
    assert "no re-hash vouched for by the master key" in r.err
    # an honest full verification makes the marks the key vouches for
    run("media", "verify", "--full", str(image), expect=ExitCode.NOT_READ_FROM_DISC)
    run("shred", "confirm", str(entry), "--by", "alice", "--yes")
    # a mark is bound to its item: another item's MAC copied over does not count
    _tamper(tmp, update(DiscItemRow).values(checked_at=None, checked_mac=None))
    run("media", "verify", "--full", str(image), expect=ExitCode.NOT_READ_FROM_DISC)
    entry2 = _states()["CONSENT"]["id"]
    from pipeline.workspace import Workspace

    ws = Workspace.load(tmp / "home")
    with ws.transaction() as s:
        items = s.scalars(select(DiscItemRow).order_by(DiscItemRow.id)).all()
        assert len(items) == 2
        items[0].checked_mac, items[1].checked_mac = items[1].checked_mac, items[0].checked_mac
        items[0].checked_at, items[1].checked_at = items[1].checked_at, items[0].checked_at
    ws.close()
    run("shred", "confirm", str(entry2), "--by", "alice", "--yes", expect=ExitCode.SHRED_BLOCKED)


def test_a_read_from_the_drive_without_the_passphrase_unlocks_no_shredding(archived, loop_device,  # noqa: F811
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    image, _batch, _tmp = archived
    run("media", "verify", "--full", str(image), expect=ExitCode.NOT_READ_FROM_DISC)
    drive = loop_device(image)
    monkeypatch.delenv("PPS_ARCHIVE_PASSPHRASE")
    r = run("media", "verify", str(drive), expect=ExitCode.NOT_READ_FROM_DISC)
    assert "without the passphrase" in r.err
    assert "not vouched for" in _states()["PPS-LETTER"]["blocked_reason"]
    # and nobody is recorded as having logged in for it: the name given is only a claim
    last = [e for e in run("audit", "log", "--json").json() if e["action"] == "media.verified"][-1]
    assert last["actor"] == "(no login)" and "unlocked_with" not in last["details"] and last["details"]["claimed_by"]
