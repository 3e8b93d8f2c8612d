"""Verification marks: the database rows that unlock shredding, made checkable (rule 8).

A disc's read from the archive medium (``discs.medium_verified_at``) and an item's decryption and
re-hash (``disc_items.checked_at``) are what let retained paper be shredded. Anyone who can write
the database could set those columns with one ``UPDATE``; so each mark carries an HMAC-SHA256 under
a key derived (HKDF) from the master key, made by the verification that holds it, over the
archive, the disc's label and image hash, and (for an item) the document and its vault item, with
the mark's time. Confirming paper shredded holds the master key and trusts a mark only if its MAC
matches; a listing without the key trusts only marks that carry one.

What a MAC cannot stop: marks saved before a verification failed can be written back (a replay);
the audit event of that failure is the record that shows it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

_INFO = b"pps-archive/v1/verify-mark"


def mark_key(master_key: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if len(master_key) != 32:
        raise ValueError("the master key is 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master_key)


def _when(at: dt.datetime) -> str:
    return at.replace(tzinfo=None).isoformat(timespec="seconds")  # as both databases store it


def _mac(key: bytes, payload: dict) -> str:
    return hmac.new(key, json.dumps(payload, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256).hexdigest()


def medium_mac(key: bytes, archive: str, label: str, iso_sha256: str, at: dt.datetime) -> str:
    return _mac(key, {"v": 1, "mark": "medium", "archive": archive, "label": label, "iso": iso_sha256, "at": _when(at)})


def item_mac(key: bytes, archive: str, label: str, iso_sha256: str, document_id: int, vault_item: str,
             at: dt.datetime) -> str:
    return _mac(key, {"v": 1, "mark": "item", "archive": archive, "label": label, "iso": iso_sha256,
                      "document": document_id, "item": vault_item, "at": _when(at)})


def medium_ok(key: bytes, archive: str, label: str, iso_sha256: str, at: dt.datetime | None, mac: str | None) -> bool:
    return at is not None and mac is not None and hmac.compare_digest(medium_mac(key, archive, label, iso_sha256, at), mac)


def item_ok(key: bytes, archive: str, label: str, iso_sha256: str, document_id: int, vault_item: str,
            at: dt.datetime | None, mac: str | None) -> bool:
    return at is not None and mac is not None and hmac.compare_digest(
        item_mac(key, archive, label, iso_sha256, document_id, vault_item, at), mac)


def release_proof(key: bytes, archive: str, case_ref: str, hold_id: int) -> str:
    """In a hold's release event: made with the master key, so an event appended to the log's
    unsealed tail (which the next keyed command seals, whoever wrote it) does not lift a hold."""
    return _mac(key, {"v": 1, "mark": "hold.release", "archive": archive, "case": case_ref, "hold": hold_id})


def presented_mac(key: bytes, archive: str, round_id: int, label: str, index_sha256: str, case_dates: str,
                  at: dt.datetime) -> str:
    """A disc presented in a round of discs (pipeline.disc_rounds): what its signed index said."""
    return _mac(key, {"v": 1, "mark": "presented", "archive": archive, "round": round_id, "label": label,
                      "index": index_sha256, "cases": case_dates, "at": _when(at)})


def presented_ok(key: bytes, archive: str, round_id: int, label: str, index_sha256: str, case_dates: str,
                 at: dt.datetime, mac: str | None) -> bool:
    return mac is not None and hmac.compare_digest(
        presented_mac(key, archive, round_id, label, index_sha256, case_dates, at), mac)
