"""The envelope: a plain age file that Debian's age tool opens with the exported case key."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tracemalloc
from pathlib import Path

import pytest

from archive_media import envelope, keys
from pps_archive.errors import IntegrityError, MediaError
from pps_archive.exec import run
from tests.archive_media.conftest import CASE_A, SECRET_WORDS, make_pdf

CHUNK = 64 * 1024  # age's STREAM chunk
BLOCK = 16 * CHUNK
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7]


@pytest.fixture
def case_key() -> keys.CaseKey:
    return keys.new_case_key()


def _identity_file(tmp_path: Path, case_key: keys.CaseKey) -> Path:
    path = tmp_path / "case.key"
    path.write_text(keys.export_case_identity(case_key.identity, CASE_A))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_and_hashes(tmp_path: Path, case_key: keys.CaseKey, size: int) -> None:
    data = os.urandom(size)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(data)
    sealed = envelope.encrypt_file(plain, tmp_path / "c.age", case_key.recipient)
    ciphertext = (tmp_path / "c.age").read_bytes()
    assert ciphertext.startswith(b"age-encryption.org/v1\n-> X25519 ")
    assert sealed.plaintext_size == size and sealed.size == len(ciphertext)
    assert sealed.plaintext_sha256 == hashlib.sha256(data).hexdigest()
    assert sealed.ciphertext_sha256 == hashlib.sha256(ciphertext).hexdigest()
    assert stat.S_IMODE((tmp_path / "c.age").stat().st_mode) == 0o600
    digest = envelope.decrypt_file(tmp_path / "c.age", tmp_path / "out.bin", case_key.identity)
    assert (tmp_path / "out.bin").read_bytes() == data and digest == sealed.plaintext_sha256


@pytest.mark.parametrize("size", SIZES)
def test_debian_age_decrypts_our_output_with_the_exported_key(tmp_path: Path, case_key: keys.CaseKey, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "p").write_bytes(data)
    envelope.encrypt_file(tmp_path / "p", tmp_path / "c.age", case_key.recipient)
    proc = run(["age", "-d", "-i", _identity_file(tmp_path, case_key), tmp_path / "c.age"])
    assert proc.stdout == data


def test_a_pdf_comes_back_identical_through_debian_age(tmp_path: Path, case_key: keys.CaseKey) -> None:
    pdf = tmp_path / "letter.pdf"
    data = make_pdf(pdf, ["Letter to Mrs Rosalind Featherstonehaugh", "re: dyspraxia"])
    assert b"Featherstonehaugh" in data  # the test means something only if the word is in the PDF
    envelope.encrypt_file(pdf, tmp_path / "letter.age", case_key.recipient)
    ciphertext = (tmp_path / "letter.age").read_bytes()
    assert not any(w.encode() in ciphertext for w in SECRET_WORDS)
    run(["age", "-d", "-i", _identity_file(tmp_path, case_key), "-o", tmp_path / "back.pdf", tmp_path / "letter.age"])
    assert (tmp_path / "back.pdf").read_bytes() == data


def test_wrong_key_is_a_named_error_and_leaves_nothing(tmp_path: Path, case_key: keys.CaseKey) -> None:
    (tmp_path / "p").write_bytes(b"x" * 1000)
    envelope.encrypt_file(tmp_path / "p", tmp_path / "c.age", case_key.recipient)
    with pytest.raises(IntegrityError, match="does not open it"):
        envelope.decrypt_file(tmp_path / "c.age", tmp_path / "out", keys.new_case_key().identity)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.age", "p"]


@pytest.mark.parametrize("damage", ["flip", "truncate", "not-age", "empty"])
def test_damaged_ciphertext_is_a_named_error_and_leaves_nothing(tmp_path: Path, case_key: keys.CaseKey, damage: str) -> None:
    (tmp_path / "p").write_bytes(os.urandom(3 * CHUNK))
    envelope.encrypt_file(tmp_path / "p", tmp_path / "c.age", case_key.recipient)
    data = bytearray((tmp_path / "c.age").read_bytes())
    if damage == "flip":
        data[2 * CHUNK] ^= 1  # in the second payload chunk: the first chunk was already written out
    elif damage == "truncate":
        del data[-100:]
    elif damage == "not-age":
        data = bytearray(b"%PDF-1.7 not encrypted at all")
    else:
        data = bytearray()
    (tmp_path / "c.age").write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        envelope.decrypt_file(tmp_path / "c.age", tmp_path / "out", case_key.identity)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_decrypt_verified_refuses_another_documents_blob(tmp_path: Path, case_key: keys.CaseKey) -> None:
    """A blob moved under another document's id: same case key, so only the recorded hash can tell."""
    (tmp_path / "a").write_bytes(b"document A" * 100)
    (tmp_path / "b").write_bytes(b"document B" * 100)
    sealed_a = envelope.encrypt_file(tmp_path / "a", tmp_path / "a.age", case_key.recipient)
    sealed_b = envelope.encrypt_file(tmp_path / "b", tmp_path / "b.age", case_key.recipient)
    envelope.decrypt_verified(tmp_path / "a.age", tmp_path / "ok", case_key.identity, sealed_a.plaintext_sha256)
    with pytest.raises(IntegrityError, match="belongs to another document"):
        envelope.decrypt_verified(tmp_path / "a.age", tmp_path / "out", case_key.identity, sealed_b.plaintext_sha256)
    assert not (tmp_path / "out").exists()


def test_bad_keys_are_named_errors(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"x")
    low_order = _bech32_encode("age", bytes(32))  # the all-zero point: X25519 would give a zero secret
    for bad in ("age1notarecipient", low_order):
        with pytest.raises(IntegrityError, match="not a usable age recipient"):
            envelope.encrypt_file(tmp_path / "p", tmp_path / "c.age", bad)
    assert not (tmp_path / "c.age").exists()
    envelope.encrypt_file(tmp_path / "p", tmp_path / "c.age", keys.new_case_key().recipient)
    with pytest.raises(IntegrityError, match="not an age X25519 identity"):
        envelope.decrypt_file(tmp_path / "c.age", tmp_path / "out", "AGE-SECRET-KEY-1NOPE")


def _bech32_encode(hrp: str, data: bytes) -> str:
    """BIP 173 encoding, test-side only (to build a degenerate recipient)."""
    acc = bits = 0
    values = []
    for byte in data:
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            values.append((acc >> bits) & 31)
    if bits:
        values.append((acc << (5 - bits)) & 31)
    check = _polymod(_hrp_expand(hrp) + values + [0] * 6) ^ 1
    values += [(check >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[v] for v in values)


_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i, gen in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def test_debian_age_reads_what_we_write_and_we_read_what_it_writes(tmp_path: Path, case_key: keys.CaseKey) -> None:
    data = os.urandom(3 * CHUNK + 11)
    (tmp_path / "p").write_bytes(data)
    run(["age", "-r", case_key.recipient, "-o", tmp_path / "by-age.age", tmp_path / "p"])
    envelope.decrypt_file(tmp_path / "by-age.age", tmp_path / "back", case_key.identity,
                          expected_sha256=hashlib.sha256(data).hexdigest())
    assert (tmp_path / "back").read_bytes() == data


def test_encryption_streams_in_constant_memory(tmp_path: Path, case_key: keys.CaseKey) -> None:
    plain = tmp_path / "big.bin"
    with open(plain, "wb") as fh:
        for _ in range(32):
            fh.write(os.urandom(1 << 20))
    tracemalloc.start()
    try:
        envelope.encrypt_file(plain, tmp_path / "big.age", case_key.recipient)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB for a 32 MiB file"


class _ScratchedDisc:
    """A disc that fails to read (EIO) part-way, as a scratched CD does."""

    def __init__(self, data: bytes, fail_at: int) -> None:
        self.data, self.pos, self.fail_at = data, 0, fail_at

    def read(self, size: int = -1) -> bytes:
        if self.pos >= self.fail_at:
            raise OSError(errno.EIO, "Input/output error")
        chunk = self.data[self.pos : self.pos + (size if size >= 0 else len(self.data))]
        self.pos += len(chunk)
        return chunk


def test_a_read_error_is_a_media_error_and_leaves_nothing(tmp_path: Path, case_key: keys.CaseKey) -> None:
    (tmp_path / "p").write_bytes(os.urandom(4 * CHUNK))
    envelope.encrypt_file(tmp_path / "p", tmp_path / "c.age", case_key.recipient)
    disc = _ScratchedDisc((tmp_path / "c.age").read_bytes(), fail_at=2 * CHUNK)
    with pytest.raises(MediaError, match="cannot be read"):
        envelope.decrypt_file(disc, tmp_path / "out", case_key.identity)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.age", "p"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_while_decrypting_is_reported_as_such(tmp_path: Path, case_key: keys.CaseKey) -> None:
    (tmp_path / "p").write_bytes(os.urandom(4 * CHUNK))
    envelope.encrypt_file(tmp_path / "p", tmp_path / "c.age", case_key.recipient)
    with open("/dev/full", "wb") as full, pytest.raises(OSError) as err:
        envelope.decrypt_stream(tmp_path / "c.age", full, case_key.identity)
    assert err.value.errno == errno.ENOSPC
