"""The wrapped-key record: self-describing, bound to its identity (borg ``crypto/key.py`` style).

A record is one line of compact JSON (sorted keys, ASCII)::

    {"alg":"AES-256-GCM","archive":"<archive id>","case":"PPS-2024-0137"|null,
     "ct":"<base64 ciphertext+tag>","kdf":{...}|null,"magic":"pps-archive/wrapped-key",
     "nonce":"<base64, 12 bytes>","purpose":"master-key"|"case-key"|"signing-key"|"key-slot","version":1}

A key slot (a staff account's copy of the master key) also carries
``"slot":{"account":NAME,"role":"staff"|"manager","slot_version":N}``.

The AEAD associated data is the same JSON without ``ct``, built from the identity the *caller*
expects (archive, purpose, case), so a record moved to another case or archive fails to open even
if someone edits its visible fields. See docs/formats.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass

from pps_archive.errors import ForeignArchive, IntegrityError, UnsupportedFormat

MAGIC = "pps-archive/wrapped-key"
VERSION = 1
NONCE_BYTES = 12
AES_GCM = "AES-256-GCM"
CHACHA = "ChaCha20-Poly1305"
ALGORITHMS = (AES_GCM, CHACHA)


class OpenFailed(Exception):
    """The AEAD tag did not verify (wrong key or altered record); callers name the error."""


@dataclass(frozen=True)
class Identity:
    """Who a record belongs to; goes into the associated data."""

    archive: str
    purpose: str
    case: str | None = None
    #: a key slot's identity (account, role, slot version); only key slots carry it, and only then
    #: is it in the header, so older records keep their exact bytes and associated data
    slot: dict[str, object] | None = None

    def describe(self) -> str:
        kind = self.purpose.replace("-", " ")
        if self.slot is not None:
            return f"the {kind} of account {self.slot.get('account')}"
        return f"the wrapped {kind}" + (f" of case {self.case}" if self.case else "")


def _aead(alg: str, key: bytes):  # noqa: ANN202 - cryptography's AEAD classes share no base
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

    if len(key) != 32:
        raise ValueError("wrapping keys are 32 bytes")
    return AESGCM(key) if alg == AES_GCM else ChaCha20Poly1305(key)


def _aad(header: dict[str, object]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def seal(key: bytes, plaintext: bytes, ident: Identity, kdf: dict[str, object] | None, alg: str = AES_GCM) -> bytes:
    if alg not in ALGORITHMS:
        raise UnsupportedFormat(what="wrapping algorithm", version=alg)
    nonce = os.urandom(NONCE_BYTES)
    header: dict[str, object] = {
        "magic": MAGIC,
        "version": VERSION,
        "alg": alg,
        "kdf": kdf,
        "archive": ident.archive,
        "purpose": ident.purpose,
        "case": ident.case,
        "nonce": base64.b64encode(nonce).decode("ascii"),
    }
    if ident.slot is not None:
        header["slot"] = ident.slot
    ct = _aead(alg, key).encrypt(nonce, plaintext, _aad(header))
    return _aad({**header, "ct": base64.b64encode(ct).decode("ascii")})


def parse(blob: bytes, expected: Identity) -> dict[str, object]:
    """Check a record's shape and identity before any key is derived; return its header."""
    what = expected.describe()
    try:
        record = json.loads(blob)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(what=what, problem="it is not a pps-archive key record (not JSON)") from exc
    if not isinstance(record, dict) or record.get("magic") != MAGIC:
        raise IntegrityError(what=what, problem="it is not a pps-archive key record (wrong magic)")
    if record.get("version") != VERSION:
        raise UnsupportedFormat(what=what, version=record.get("version"))
    if record.get("alg") not in ALGORITHMS:
        raise UnsupportedFormat(what=f"{what} (algorithm)", version=record.get("alg"))
    if record.get("archive") != expected.archive:
        raise ForeignArchive(what=what, theirs=record.get("archive"), ours=expected.archive)
    if record.get("purpose") != expected.purpose:
        raise IntegrityError(what=what, problem=f"it holds a {record.get('purpose')}, not a {expected.purpose}")
    if record.get("case") != expected.case:
        raise IntegrityError(what=what, problem=f"it belongs to case {record.get('case')}, not to {expected.case}")
    if record.get("slot") != expected.slot:
        raise IntegrityError(what=what, problem="it belongs to another account, role or slot version")
    try:
        nonce = base64.b64decode(str(record["nonce"]), validate=True)
        base64.b64decode(str(record["ct"]), validate=True)
    except (KeyError, binascii.Error) as exc:
        raise IntegrityError(what=what, problem="its nonce or ciphertext is missing or not base64") from exc
    if len(nonce) != NONCE_BYTES:
        raise IntegrityError(what=what, problem=f"its nonce is {len(nonce)} bytes, not {NONCE_BYTES}")
    return record


def open_sealed(key: bytes, record: dict[str, object], expected: Identity) -> bytes:
    """Decrypt a record already checked by :func:`parse`; raise :class:`OpenFailed` on a bad tag."""
    from cryptography.exceptions import InvalidTag

    header = {k: v for k, v in record.items() if k != "ct"}
    header.update(archive=expected.archive, purpose=expected.purpose, case=expected.case)
    if expected.slot is not None or "slot" in header:
        header["slot"] = expected.slot
    nonce = base64.b64decode(str(record["nonce"]))
    ct = base64.b64decode(str(record["ct"]))
    try:
        return _aead(str(record["alg"]), key).decrypt(nonce, ct, _aad(header))
    except InvalidTag as exc:
        raise OpenFailed from exc
