"""The key-store backup: wrapped records only, refused for another archive and once expired."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from archive_media import keys
from archive_media.keystore import KeyBackup, dump_backup, load_backup
from pps_archive.errors import ForeignArchive, IntegrityError, InvalidValue, UnsupportedFormat
from tests.archive_media.conftest import ARCHIVE_ID, CASE_A, OTHER_ARCHIVE_ID, PASSPHRASE, fast_kdf

TODAY = dt.date(2025, 6, 30)


@pytest.fixture
def backup() -> tuple[KeyBackup, bytes, keys.CaseKey]:
    master_key, wrapped = keys.create_master_key(PASSPHRASE, ARCHIVE_ID, fast_kdf())
    case_key = keys.new_case_key()
    b = KeyBackup(
        archive_id=ARCHIVE_ID, created=TODAY, expires=TODAY + dt.timedelta(days=90), master=wrapped,
        signing=keys.new_signing_key(master_key, ARCHIVE_ID).wrapped,
        cases={CASE_A: keys.wrap_case_key(master_key, ARCHIVE_ID, CASE_A, case_key.identity)},
    )  # fmt: skip
    return b, master_key, case_key


def test_round_trip_keeps_every_record_usable(backup: tuple[KeyBackup, bytes, keys.CaseKey]) -> None:
    b, master_key, case_key = backup
    data = dump_backup(b)
    assert case_key.identity.encode() not in data and master_key not in data
    loaded = load_backup(data, ARCHIVE_ID, TODAY)
    assert loaded == b
    assert keys.unwrap_master_key(loaded.master, PASSPHRASE, ARCHIVE_ID) == master_key
    assert keys.unwrap_case_key(master_key, ARCHIVE_ID, CASE_A, loaded.cases[CASE_A]) == case_key.identity


def test_backup_of_another_archive_is_refused(backup: tuple[KeyBackup, bytes, keys.CaseKey]) -> None:
    with pytest.raises(ForeignArchive):
        load_backup(dump_backup(backup[0]), OTHER_ARCHIVE_ID, TODAY)


def test_expired_backup_is_refused(backup: tuple[KeyBackup, bytes, keys.CaseKey]) -> None:
    with pytest.raises(InvalidValue, match="expired"):
        load_backup(dump_backup(backup[0]), ARCHIVE_ID, TODAY + dt.timedelta(days=90))


@pytest.mark.parametrize(("change", "error"), [({"version": 9}, UnsupportedFormat), ({"format": "x"}, IntegrityError),
                                                ({"created": "yesterday"}, IntegrityError)])  # fmt: skip
def test_bad_backups_are_named_errors(backup: tuple[KeyBackup, bytes, keys.CaseKey], change: dict, error: type) -> None:
    doc = json.loads(dump_backup(backup[0]))
    doc.update(change)
    with pytest.raises(error):
        load_backup(json.dumps(doc).encode(), ARCHIVE_ID, TODAY)
    with pytest.raises(IntegrityError):
        load_backup(b"\x89PNG", ARCHIVE_ID, TODAY)
