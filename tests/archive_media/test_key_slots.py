"""Key slots: the master key wrapped under a staff password, bound to account, role and version."""

from __future__ import annotations

import json
import os

import pytest

from archive_media import keys
from archive_media._kdf import TEST_LOG2_N, KdfParams
from pps_archive.errors import ForeignArchive, IntegrityError, WrongPassphrase

ARCHIVE = "a" * 32
PASSWORD = b"violet harbour cinnamon 42"


def _slot(master: bytes, version: int = 1) -> bytes:
    return keys.wrap_slot(master, PASSWORD, ARCHIVE, "alice", "staff", version, KdfParams.generate(log2_n=TEST_LOG2_N))


def test_a_slot_opens_only_with_its_password_and_identity() -> None:
    master = os.urandom(32)
    rec = _slot(master)
    assert keys.unwrap_slot(rec, PASSWORD, ARCHIVE, "alice", "staff", 1) == master
    header = json.loads(rec)
    assert header["purpose"] == "key-slot" and header["slot"] == {"account": "alice", "role": "staff", "slot_version": 1}
    assert header["kdf"]["name"] == "scrypt" and header["kdf"]["log2_n"] == TEST_LOG2_N
    with pytest.raises(WrongPassphrase):
        keys.unwrap_slot(rec, b"not the password at all", ARCHIVE, "alice", "staff", 1)
    for account, role, version in (("bob", "staff", 1), ("alice", "manager", 1), ("alice", "staff", 2)):
        with pytest.raises(IntegrityError):
            keys.unwrap_slot(rec, PASSWORD, ARCHIVE, account, role, version)
    with pytest.raises(ForeignArchive):
        keys.unwrap_slot(rec, PASSWORD, "b" * 32, "alice", "staff", 1)


def test_editing_the_visible_identity_does_not_help() -> None:
    header = json.loads(_slot(os.urandom(32)))
    header["slot"]["role"] = "manager"
    edited = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(WrongPassphrase):  # the associated data no longer matches the ciphertext
        keys.unwrap_slot(edited, PASSWORD, ARCHIVE, "alice", "manager", 1)


def test_a_crafted_slot_cannot_ask_for_a_huge_kdf() -> None:
    header = json.loads(_slot(os.urandom(32)))
    header["kdf"]["log2_n"] = 24
    header["kdf"]["r"] = 32
    with pytest.raises(IntegrityError, match="memory"):
        keys.unwrap_slot(json.dumps(header).encode(), PASSWORD, ARCHIVE, "alice", "staff", 1)


def test_other_records_carry_no_slot_field() -> None:
    master = os.urandom(32)
    _m, wrapped = keys.create_master_key(PASSWORD, ARCHIVE, KdfParams.generate(log2_n=TEST_LOG2_N))
    assert "slot" not in json.loads(wrapped)
    assert "slot" not in json.loads(keys.wrap_case_key(master, ARCHIVE, "PPS-2024-0001", keys.new_case_key().identity))
