"""Keys: the passphrase-wrapped master key, per-case age keys, the signing key, the record format."""

from __future__ import annotations

import base64
import json

import pytest

from archive_media import _record, keys
from pps_archive.errors import ForeignArchive, IntegrityError, UnsupportedFormat, WrongPassphrase
from pps_archive.exec import run
from tests.archive_media.conftest import ARCHIVE_ID, CASE_A, CASE_B, OTHER_ARCHIVE_ID, PASSPHRASE, fast_kdf


def _edit(record: bytes, **changes: object) -> bytes:
    doc = json.loads(record)
    doc.update(changes)
    return json.dumps(doc).encode()


@pytest.fixture
def wrapped_master() -> tuple[bytes, bytes]:
    return keys.create_master_key(PASSPHRASE, ARCHIVE_ID, fast_kdf())


def test_master_key_round_trip_and_record_is_self_describing(wrapped_master: tuple[bytes, bytes]) -> None:
    master_key, wrapped = wrapped_master
    assert len(master_key) == 32
    assert keys.unwrap_master_key(wrapped, PASSPHRASE, ARCHIVE_ID) == master_key
    record = json.loads(wrapped)
    assert record["magic"] == "pps-archive/wrapped-key" and record["version"] == 1
    assert record["alg"] == "AES-256-GCM" and record["purpose"] == "master-key"
    assert record["kdf"]["name"] == "scrypt" and record["kdf"]["log2_n"] == keys.TEST_LOG2_N
    assert len(base64.b64decode(record["nonce"])) == 12
    assert master_key not in wrapped and base64.b64encode(master_key) not in wrapped


def test_wrong_passphrase(wrapped_master: tuple[bytes, bytes]) -> None:
    with pytest.raises(WrongPassphrase):
        keys.unwrap_master_key(wrapped_master[1], b"correct horse battery stapler", ARCHIVE_ID)


def test_record_of_another_archive_is_refused_by_name(wrapped_master: tuple[bytes, bytes]) -> None:
    with pytest.raises(ForeignArchive) as err:
        keys.unwrap_master_key(wrapped_master[1], PASSPHRASE, OTHER_ARCHIVE_ID)
    assert ARCHIVE_ID in str(err.value) and OTHER_ARCHIVE_ID in str(err.value)
    # relabelling the record does not help: the archive id is in the associated data
    relabelled = _edit(wrapped_master[1], archive=OTHER_ARCHIVE_ID)
    with pytest.raises(WrongPassphrase):
        keys.unwrap_master_key(relabelled, PASSPHRASE, OTHER_ARCHIVE_ID)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"version": 2}, UnsupportedFormat),
        ({"alg": "XChaCha20-Poly1305"}, UnsupportedFormat),
        ({"magic": "borg"}, IntegrityError),
        ({"nonce": base64.b64encode(bytes(8)).decode()}, IntegrityError),  # 8-byte nonces are refused
        ({"kdf": {"name": "argon2id"}}, UnsupportedFormat),
        ({"purpose": "case-key"}, IntegrityError),
    ],
)
def test_unknown_or_altered_record_gives_a_named_error(
    wrapped_master: tuple[bytes, bytes], change: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        keys.unwrap_master_key(_edit(wrapped_master[1], **change), PASSPHRASE, ARCHIVE_ID)


def test_crafted_kdf_cost_is_refused_before_deriving(wrapped_master: tuple[bytes, bytes]) -> None:
    record = json.loads(wrapped_master[1])
    record["kdf"]["log2_n"] = 40  # would need terabytes
    with pytest.raises(IntegrityError, match="log2_n"):
        keys.unwrap_master_key(json.dumps(record).encode(), PASSPHRASE, ARCHIVE_ID)


def test_garbage_is_not_a_record() -> None:
    with pytest.raises(IntegrityError, match="not a pps-archive key record"):
        keys.unwrap_master_key(b"\x00\xff not json", PASSPHRASE, ARCHIVE_ID)


def test_changing_the_passphrase_rewraps_the_same_key(wrapped_master: tuple[bytes, bytes]) -> None:
    master_key, wrapped = wrapped_master
    case_key = keys.new_case_key()
    wrapped_case = keys.wrap_case_key(master_key, ARCHIVE_ID, CASE_A, case_key.identity)

    rewrapped = keys.rewrap_master_key(wrapped, PASSPHRASE, b"new passphrase", ARCHIVE_ID, fast_kdf())
    assert json.loads(rewrapped)["kdf"]["salt"] != json.loads(wrapped)["kdf"]["salt"]
    assert keys.unwrap_master_key(rewrapped, b"new passphrase", ARCHIVE_ID) == master_key
    with pytest.raises(WrongPassphrase):
        keys.unwrap_master_key(rewrapped, PASSPHRASE, ARCHIVE_ID)
    # nothing under the master key needed re-encrypting
    assert keys.unwrap_case_key(master_key, ARCHIVE_ID, CASE_A, wrapped_case) == case_key.identity
    with pytest.raises(WrongPassphrase):
        keys.rewrap_master_key(wrapped, b"not it", b"x", ARCHIVE_ID, fast_kdf())


def test_case_key_round_trip(master_key: bytes) -> None:
    case_key = keys.new_case_key()
    assert case_key.identity.startswith("AGE-SECRET-KEY-1") and case_key.recipient.startswith("age1")
    assert case_key.identity not in repr(case_key)
    wrapped = keys.wrap_case_key(master_key, ARCHIVE_ID, CASE_A, case_key.identity)
    assert case_key.identity.encode() not in wrapped
    assert keys.unwrap_case_key(master_key, ARCHIVE_ID, CASE_A, wrapped) == case_key.identity
    assert keys.recipient_of(case_key.identity) == case_key.recipient
    assert keys.new_case_key().identity != case_key.identity


def test_case_key_swapped_to_another_case_is_detected(master_key: bytes) -> None:
    wrapped_a = keys.wrap_case_key(master_key, ARCHIVE_ID, CASE_A, keys.new_case_key().identity)
    with pytest.raises(IntegrityError, match=f"belongs to case {CASE_A}"):
        keys.unwrap_case_key(master_key, ARCHIVE_ID, CASE_B, wrapped_a)
    # editing the visible case field does not help: the case is in the associated data
    relabelled = _edit(wrapped_a, case=CASE_B)
    with pytest.raises(IntegrityError, match="does not open it"):
        keys.unwrap_case_key(master_key, ARCHIVE_ID, CASE_B, relabelled)


def test_case_key_of_another_archive_or_master(master_key: bytes) -> None:
    wrapped = keys.wrap_case_key(master_key, ARCHIVE_ID, CASE_A, keys.new_case_key().identity)
    with pytest.raises(ForeignArchive):
        keys.unwrap_case_key(master_key, OTHER_ARCHIVE_ID, CASE_A, wrapped)
    other_master, _ = keys.create_master_key(PASSPHRASE, ARCHIVE_ID, fast_kdf())
    with pytest.raises(IntegrityError):
        keys.unwrap_case_key(other_master, ARCHIVE_ID, CASE_A, wrapped)


def test_a_signing_key_record_is_not_a_case_key(master_key: bytes) -> None:
    signing = keys.new_signing_key(master_key, ARCHIVE_ID)
    with pytest.raises(IntegrityError):
        keys.unwrap_case_key(master_key, ARCHIVE_ID, CASE_A, signing.wrapped)


def test_chacha_records_open_too() -> None:
    ident = _record.Identity(archive=ARCHIVE_ID, purpose="case-key", case=CASE_A)
    key = bytes(range(32))
    blob = _record.seal(key, b"secret", ident, None, alg=_record.CHACHA)
    assert _record.open_sealed(key, _record.parse(blob, ident), ident) == b"secret"


def test_export_case_identity_is_an_age_identity_file() -> None:
    case_key = keys.new_case_key()
    text = keys.export_case_identity(case_key.identity, CASE_A)
    assert text.splitlines() == [f"# case {CASE_A}", f"# public key: {case_key.recipient}", case_key.identity]


def test_sign_and_verify(signing: tuple[bytes, bytes], master_key: bytes) -> None:
    private, public = signing
    assert keys.public_key_of(private) == public
    sig = keys.sign(private, b"index")
    assert len(sig) == 64
    keys.verify(public, b"index", sig)
    with pytest.raises(IntegrityError, match="signature"):
        keys.verify(public, b"indeX", sig)
    assert keys.public_key_from_pem(keys.public_key_pem(public)) == public
    assert keys.key_fingerprint(public).startswith("SHA256:")
    with pytest.raises(ForeignArchive):
        keys.unwrap_signing_key(master_key, OTHER_ARCHIVE_ID, keys.new_signing_key(master_key, ARCHIVE_ID).wrapped)


def test_an_identity_gives_its_recipient() -> None:
    """The case key's recipient is the public half of its identity, as pyrage and age compute it."""
    case_key = keys.new_case_key()
    assert keys.recipient_of(case_key.identity) == case_key.recipient
    assert run(["age-keygen", "-y"], input=case_key.identity.encode()).stdout.decode().strip() == case_key.recipient
