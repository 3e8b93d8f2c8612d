"""``keys export`` / ``keys import`` as a user runs them: the expiry cannot be edited or dodged.

Before the backup was authenticated and import ran on the real date, an expired backup imported
after its ``expires`` was edited in the JSON, or with ``--as-of`` set to a day before it expired.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE


@pytest.fixture
def archive(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    return tmp_path


def _expired_backup(tmp: Path) -> Path:
    """A backup made a year ago that was valid for 30 days (a past date is allowed for an export)."""
    out = tmp / "old.backup"
    made = (dt.date.today() - dt.timedelta(days=365)).isoformat()
    run("keys", "export", "--out", str(out), "--valid-days", "30", "--as-of", made, "--yes")
    return out


def test_an_expired_backup_is_refused_on_the_real_date(archive: Path) -> None:
    r = run("keys", "import", str(_expired_backup(archive)), expect=ExitCode.INVALID_VALUE)
    assert "expired" in r.err


def test_an_expired_backup_cannot_be_imported_with_an_earlier_date(archive: Path) -> None:
    backup = _expired_backup(archive)
    then = (dt.date.today() - dt.timedelta(days=360)).isoformat()  # inside its 30 days
    r = run("keys", "import", str(backup), "--as-of", then, expect=ExitCode.INVALID_VALUE)
    assert "real date" in r.err and "imported" not in r.out


def test_an_edited_expiry_is_refused(archive: Path) -> None:
    backup = _expired_backup(archive)
    doc = json.loads(backup.read_text())
    doc["expires"] = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    backup.write_text(json.dumps(doc))
    r = run("keys", "import", str(backup), expect=ExitCode.INTEGRITY_ERROR)
    assert "changed after it was made" in r.err


def test_an_export_cannot_be_dated_later_than_today(archive: Path) -> None:
    later = (dt.date.today() + dt.timedelta(days=3000)).isoformat()
    r = run("keys", "export", "--out", str(archive / "long.backup"), "--as-of", later, "--yes", expect=ExitCode.FUTURE_DATE)
    assert "real date" in r.err
    assert not (archive / "long.backup").exists()


def test_a_fresh_backup_imports(archive: Path) -> None:
    backup = archive / "keys.backup"
    run("keys", "export", "--out", str(backup), "--yes")
    r = run("keys", "import", str(backup))
    assert "imported 0 key(s)" in r.out
