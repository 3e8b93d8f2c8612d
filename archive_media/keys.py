"""Keys: the master key, the per-case age keys, the archive's disc-index signing key.

- The **master key** (32 random bytes) is stored only wrapped by a key derived from the passphrase
  (scrypt, :class:`KdfParams`). Changing the passphrase re-wraps it; nothing is re-encrypted.
- Each **case key** is an age X25519 identity. Documents are encrypted to its recipient
  (``age1...``). The pipeline stores the identity (``AGE-SECRET-KEY-1...``) as an age file sealed
  to the archive key, an age identity of the same kind that :func:`wrap_case_key` wraps under the
  master key (see docs/formats.md). Destroying the sealed record is the case's cryptographic erase.
- The **signing key** (Ed25519, one per archive) signs each disc's index and every public key the
  archive encrypts to (:func:`sign_public_key`); its private half is wrapped by the master key, its
  public half is pinned in the data directory and printed on every disc. Checking a public key
  (:func:`verify_public_key`) needs no passphrase, so the daemon checks each key before each use.

Every wrapped record is self-describing and bound to archive, purpose and case (``_record``).
Functions take and return plain bytes and strings; the caller stores them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from archive_media import _record
from archive_media._kdf import DEFAULT_LOG2_N, TEST_LOG2_N, KdfParams
from pps_archive.errors import IntegrityError, WrongPassphrase

__all__ = [
    "DEFAULT_LOG2_N",
    "TEST_LOG2_N",
    "CaseKey",
    "KdfParams",
    "SigningKey",
    "create_master_key",
    "export_case_identity",
    "key_fingerprint",
    "new_case_key",
    "new_signing_key",
    "public_key_from_pem",
    "public_key_pem",
    "public_key_statement",
    "recipient_of",
    "rewrap_master_key",
    "sign",
    "sign_public_key",
    "unwrap_case_key",
    "unwrap_master_key",
    "unwrap_signing_key",
    "unwrap_slot",
    "verify",
    "verify_public_key",
    "wrap_case_key",
    "wrap_slot",
]

MASTER_KEY_BYTES = 32
_CASE_WRAP_INFO = b"pps-archive/v1/wrap/case-key"
_SIGNING_WRAP_INFO = b"pps-archive/v1/wrap/signing-key"


# --- master key ------------------------------------------------------------------------------


def _master_ident(archive_id: str) -> _record.Identity:
    return _record.Identity(archive=archive_id, purpose="master-key")


def _wrap_master(master_key: bytes, passphrase: bytes, archive_id: str, kdf: KdfParams) -> bytes:
    return _record.seal(kdf.derive(passphrase), master_key, _master_ident(archive_id), kdf.to_record())


def create_master_key(passphrase: bytes, archive_id: str, kdf: KdfParams) -> tuple[bytes, bytes]:
    """A new random master key and its record wrapped under ``passphrase``: ``(master_key, wrapped)``."""
    master_key = os.urandom(MASTER_KEY_BYTES)
    return master_key, _wrap_master(master_key, passphrase, archive_id, kdf)


def unwrap_master_key(wrapped: bytes, passphrase: bytes, archive_id: str) -> bytes:
    """The master key; :class:`WrongPassphrase`, :class:`ForeignArchive` or :class:`UnsupportedFormat`."""
    return _open_master(wrapped, passphrase, _master_ident(archive_id))


def _open_master(wrapped: bytes, secret: bytes, ident: _record.Identity) -> bytes:
    """A copy of the master key sealed under a secret through the record's KDF (the recovery record
    or a staff slot)."""
    record = _record.parse(wrapped, ident)
    kdf = KdfParams.from_record(record.get("kdf"))
    try:
        master_key = _record.open_sealed(kdf.derive(secret), record, ident)
    except _record.OpenFailed:
        raise WrongPassphrase() from None
    if len(master_key) != MASTER_KEY_BYTES:
        raise IntegrityError(what=ident.describe(), problem="it does not hold a 32-byte key")
    return master_key


def rewrap_master_key(wrapped: bytes, old: bytes, new: bytes, archive_id: str, kdf: KdfParams) -> bytes:
    """The same master key wrapped under a new passphrase (and fresh KDF salt): nothing is re-encrypted."""
    return _wrap_master(unwrap_master_key(wrapped, old, archive_id), new, archive_id, kdf)


# --- key slots: one copy of the master key per staff account (as LUKS and borg key files) ----


def _slot_ident(archive_id: str, account: str, role: str, slot_version: int) -> _record.Identity:
    return _record.Identity(archive=archive_id, purpose="key-slot",
                            slot={"account": account, "role": role, "slot_version": slot_version})


def wrap_slot(master_key: bytes, password: bytes, archive_id: str, account: str, role: str, slot_version: int,
              kdf: KdfParams) -> bytes:
    """The master key wrapped under an account's password. The account, its role and the slot's
    version are in the associated data: a slot moved to another account, or whose role is edited,
    does not open."""
    if len(master_key) != MASTER_KEY_BYTES:
        raise ValueError("the master key is 32 bytes")
    ident = _slot_ident(archive_id, account, role, slot_version)
    return _record.seal(kdf.derive(password), master_key, ident, kdf.to_record())


def unwrap_slot(wrapped: bytes, password: bytes, archive_id: str, account: str, role: str, slot_version: int) -> bytes:
    """The master key from an account's slot; :class:`WrongPassphrase` if the password (or the
    slot's identity: account, role, version) does not open it."""
    return _open_master(wrapped, password, _slot_ident(archive_id, account, role, slot_version))


def _subkey(master_key: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if len(master_key) != MASTER_KEY_BYTES:
        raise ValueError("the master key is 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key)


def _hkdf_record(info: bytes) -> dict[str, object]:
    return {"name": "hkdf-sha256", "info": info.decode("ascii")}


def _unwrap_with_master(master_key: bytes, info: bytes, wrapped: bytes, ident: _record.Identity) -> bytes:
    record = _record.parse(wrapped, ident)
    if record.get("kdf") != _hkdf_record(info):
        raise IntegrityError(what=ident.describe(), problem="it is not wrapped by the master key")
    try:
        return _record.open_sealed(_subkey(master_key, info), record, ident)
    except _record.OpenFailed:
        raise IntegrityError(
            what=ident.describe(),
            problem="the master key does not open it (the record was altered, or belongs to another case)",
        ) from None


# --- case keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseKey:
    """A case's age key pair. ``identity`` is the secret; it never shows in a repr or a log."""

    recipient: str
    identity: str = field(repr=False)


def new_case_key() -> CaseKey:
    from pyrage import x25519

    identity = x25519.Identity.generate()
    return CaseKey(recipient=str(identity.to_public()), identity=str(identity))


def recipient_of(identity: str) -> str:
    """The ``age1...`` recipient of an ``AGE-SECRET-KEY-1...`` identity."""
    from pyrage import IdentityError, x25519

    try:
        return str(x25519.Identity.from_str(identity).to_public())
    except IdentityError as exc:
        raise IntegrityError(what="the case key", problem="it is not an age X25519 identity") from exc


def _case_ident(archive_id: str, case_ref: str) -> _record.Identity:
    return _record.Identity(archive=archive_id, purpose="case-key", case=case_ref)


def wrap_case_key(master_key: bytes, archive_id: str, case_ref: str, identity: str) -> bytes:
    recipient_of(identity)  # refuse to wrap something that is not an age identity
    ident = _case_ident(archive_id, case_ref)
    info = _CASE_WRAP_INFO
    return _record.seal(_subkey(master_key, info), identity.encode("ascii"), ident, _hkdf_record(info))


def unwrap_case_key(master_key: bytes, archive_id: str, case_ref: str, wrapped: bytes) -> str:
    """The case's age identity; :class:`IntegrityError` if the record is another case's or altered."""
    ident = _case_ident(archive_id, case_ref)
    identity = _unwrap_with_master(master_key, _CASE_WRAP_INFO, wrapped, ident).decode("ascii")
    recipient_of(identity)
    return identity


def export_case_identity(identity: str, case_ref: str) -> str:
    """The key as an age identity file (``age -d -i FILE``), with age-keygen's comment lines."""
    return f"# case {case_ref}\n# public key: {recipient_of(identity)}\n{identity}\n"


# --- signing key -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """A new archive signing key: the wrapped private half and the raw 32-byte public half."""

    wrapped: bytes
    public_key: bytes


def _signing_ident(archive_id: str) -> _record.Identity:
    return _record.Identity(archive=archive_id, purpose="signing-key")


def new_signing_key(master_key: bytes, archive_id: str) -> SigningKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    info = _SIGNING_WRAP_INFO
    wrapped = _record.seal(_subkey(master_key, info), raw, _signing_ident(archive_id), _hkdf_record(info))
    return SigningKey(wrapped=wrapped, public_key=public_key_of(raw))


def unwrap_signing_key(master_key: bytes, archive_id: str, wrapped: bytes) -> bytes:
    """The raw 32-byte Ed25519 private key."""
    return _unwrap_with_master(master_key, _SIGNING_WRAP_INFO, wrapped, _signing_ident(archive_id))


def public_key_of(private_key: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pub = Ed25519PrivateKey.from_private_bytes(private_key).public_key()
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign(private_key: bytes, data: bytes) -> bytes:
    """A 64-byte Ed25519 signature (``openssl pkeyutl -verify -rawin`` checks it too)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(private_key).sign(data)


def verify(public_key: bytes, data: bytes, signature: bytes, what: str = "the signed data") -> None:
    """Raise :class:`IntegrityError` unless ``signature`` is ``public_key``'s signature of ``data``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError) as exc:
        raise IntegrityError(what=what, problem="its signature does not match (it was changed after signing)") from exc


# --- signed public keys ----------------------------------------------------------------------

_STATEMENT = "pps-archive/v1/public-key"


def public_key_statement(purpose: str, archive_id: str, case_ref: str | None, public: str) -> bytes:
    """The exact bytes signed for a public key: one line of canonical JSON naming what it is for."""
    import json

    doc = {"archive": archive_id, "case": case_ref, "format": _STATEMENT, "public": public, "purpose": purpose}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign_public_key(private_key: bytes, purpose: str, archive_id: str, case_ref: str | None, public: str) -> bytes:
    """The signing key's 64-byte signature binding ``public`` to its purpose, archive and case."""
    return sign(private_key, public_key_statement(purpose, archive_id, case_ref, public))


def verify_public_key(
    signing_public: bytes, purpose: str, archive_id: str, case_ref: str | None, public: str | None,
    signature: bytes | None, what: str,
) -> None:
    """Raise :class:`KeyNotAuthentic` unless ``signature`` is the signing key's over this public key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from pps_archive.errors import KeyNotAuthentic

    if not public:
        raise KeyNotAuthentic(what=what, problem="it has no public half")
    if not signature:
        raise KeyNotAuthentic(what=what, problem="it carries no signature by the archive's signing key")
    try:
        Ed25519PublicKey.from_public_bytes(signing_public).verify(
            bytes(signature), public_key_statement(purpose, archive_id, case_ref, public))
    except (InvalidSignature, ValueError):
        raise KeyNotAuthentic(
            what=what, problem="its signature does not match (the key, or the signature, was changed after it was made)"
        ) from None


def public_key_pem(public_key: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pub = Ed25519PublicKey.from_public_bytes(public_key)
    return pub.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def public_key_from_pem(text: bytes | str) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

    data = text.encode("ascii") if isinstance(text, str) else text
    try:
        pub = load_pem_public_key(data)
    except ValueError as exc:
        raise IntegrityError(what="the public key", problem="it is not a PEM public key") from exc
    if not isinstance(pub, Ed25519PublicKey):
        raise IntegrityError(what="the public key", problem="it is not an Ed25519 key")
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_fingerprint(public_key: bytes) -> str:
    """``SHA256:<hex>`` of the raw public key, for READMEs and messages."""
    return "SHA256:" + hashlib.sha256(public_key).hexdigest()
