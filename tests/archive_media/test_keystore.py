"""The key-store backup: wrapped records only, authenticated, refused for another archive, once
expired or once altered; its KDF parameters cannot make the reader allocate gigabytes."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from archive_media import _kdf, keys
from archive_media.keystore import KeyBackup, dump_backup, load_backup
from pps_archive.errors import ForeignArchive, IntegrityError, InvalidValue, UnsupportedFormat, WrongPassphrase
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
    data = dump_backup(b, master_key)
    assert case_key.identity.encode() not in data and master_key not in data
    loaded, opened = load_backup(data, ARCHIVE_ID, TODAY, PASSPHRASE)
    assert loaded == b and opened == master_key
    assert keys.unwrap_master_key(loaded.master, PASSPHRASE, ARCHIVE_ID) == master_key
    assert keys.unwrap_case_key(master_key, ARCHIVE_ID, CASE_A, loaded.cases[CASE_A]) == case_key.identity


def test_backup_of_another_archive_is_refused(backup: tuple[KeyBackup, bytes, keys.CaseKey]) -> None:
    with pytest.raises(ForeignArchive):
        load_backup(dump_backup(backup[0], backup[1]), OTHER_ARCHIVE_ID, TODAY, PASSPHRASE)


def test_expired_backup_is_refused(backup: tuple[KeyBackup, bytes, keys.CaseKey]) -> None:
    with pytest.raises(InvalidValue, match="expired"):
        load_backup(dump_backup(backup[0], backup[1]), ARCHIVE_ID, TODAY + dt.timedelta(days=90), PASSPHRASE)


@pytest.mark.parametrize(("change", "error"), [({"version": 9}, UnsupportedFormat), ({"format": "x"}, IntegrityError),
                                                ({"created": "yesterday"}, IntegrityError)])  # fmt: skip
def test_bad_backups_are_named_errors(backup: tuple[KeyBackup, bytes, keys.CaseKey], change: dict, error: type) -> None:
    doc = json.loads(dump_backup(backup[0], backup[1]))
    doc.update(change)
    with pytest.raises(error):
        load_backup(json.dumps(doc).encode(), ARCHIVE_ID, TODAY, PASSPHRASE)
    with pytest.raises(IntegrityError):
        load_backup(b"\x89PNG", ARCHIVE_ID, TODAY, PASSPHRASE)


@pytest.mark.parametrize("field", ["expires", "created"])
def test_an_edited_date_breaks_the_backup_s_mac(backup: tuple[KeyBackup, bytes, keys.CaseKey], field: str) -> None:
    doc = json.loads(dump_backup(backup[0], backup[1]))
    doc[field] = "2099-12-31" if field == "expires" else "2025-06-29"
    with pytest.raises(IntegrityError, match="changed after it was made"):
        load_backup(json.dumps(doc).encode(), ARCHIVE_ID, TODAY, PASSPHRASE)


def test_a_removed_or_swapped_record_breaks_the_mac(backup: tuple[KeyBackup, bytes, keys.CaseKey]) -> None:
    doc = json.loads(dump_backup(backup[0], backup[1]))
    del doc["cases"][CASE_A]
    with pytest.raises(IntegrityError, match="changed after it was made"):
        load_backup(json.dumps(doc).encode(), ARCHIVE_ID, TODAY, PASSPHRASE)
    doc = json.loads(dump_backup(backup[0], backup[1]))
    del doc["mac"]
    with pytest.raises(IntegrityError, match="malformed"):
        load_backup(json.dumps(doc).encode(), ARCHIVE_ID, TODAY, PASSPHRASE)


def test_a_version_1_backup_without_a_mac_is_refused(backup: tuple[KeyBackup, bytes, keys.CaseKey]) -> None:
    doc = json.loads(dump_backup(backup[0], backup[1]))
    doc["version"] = 1
    del doc["mac"]
    with pytest.raises(IntegrityError, match="not authenticated"):
        load_backup(json.dumps(doc).encode(), ARCHIVE_ID, TODAY, PASSPHRASE)


def test_the_wrong_passphrase_opens_nothing(backup: tuple[KeyBackup, bytes, keys.CaseKey]) -> None:
    with pytest.raises(WrongPassphrase):
        load_backup(dump_backup(backup[0], backup[1]), ARCHIVE_ID, TODAY, b"another passphrase entirely")


# --- KDF bounds: one place, for the configuration and the reader -----------------------------


@pytest.mark.parametrize(("log2_n", "r", "p"), [(22, 32, 1), (20, 16, 1), (24, 1, 1), (21, 8, 1), (20, 8, 16)])
def test_a_crafted_kdf_record_cannot_ask_for_more_than_a_gibibyte(log2_n: int, r: int, p: int) -> None:
    """Each of these was within the old per-parameter limits or the config's (up to 16 GiB)."""
    record = {"name": "scrypt", "log2_n": log2_n, "r": r, "p": p, "salt": "AAAAAAAAAAAAAAAAAAAAAA=="}
    with pytest.raises(IntegrityError, match="MiB of memory|more work"):
        keys.KdfParams.from_record(record)  # refused before any derivation


def test_the_bounds_allow_the_default_and_a_gibibyte() -> None:
    assert _kdf.bounds_problem(17, 8, 1) is None
    assert _kdf.bounds_problem(20, 8, 1) is None  # exactly 1 GiB
    assert _kdf.memory_bytes(20, 8) == _kdf.MAX_MEMORY
    assert _kdf.bounds_problem(20, 8, 4) is None and _kdf.bounds_problem(20, 8, 5) is not None
    assert _kdf.bounds_problem(True, 8, 1) is not None


def test_the_floor_applies_to_new_records_unless_the_test_switch_is_given() -> None:
    assert "floor" in _kdf.weakness_problem(10, 8, 1)
    assert "floor" in _kdf.weakness_problem(17, 1, 1)
    assert _kdf.weakness_problem(10, 8, 1, insecure_test=True) is None
    assert _kdf.weakness_problem(16, 8, 1) is None
