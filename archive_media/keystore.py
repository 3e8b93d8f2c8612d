"""The key-store backup file (``keys export`` / ``keys import``): wrapped records only, and it expires.

A backup holds the archive's wrapped records exactly as stored (master, signing, one per case), so
it is no more readable than the database without the passphrase. It names its archive, and loading
a backup of another archive fails with :class:`ForeignArchive`. It also carries an expiry date: a
case key destroyed at disposal survives in every older backup, so backups must die too (NIST SP
800-88: crypto-erase fails where a copy of the key survives). Loading refuses an expired backup,
and the importer must skip cases whose key the database records as destroyed.

The whole document, expiry included, is authenticated: ``mac`` is HMAC-SHA256, with a key derived
from the master key, over the canonical JSON of every other field. Editing the expiry (or any
record) breaks it; loading needs the passphrase, opens the backup's master key with it, and checks
the MAC before it looks at anything else. Version 1 backups carried no MAC and are refused.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass, field

from pps_archive.errors import ForeignArchive, IntegrityError, InvalidValue, UnsupportedFormat

__all__ = ["KeyBackup", "dump_backup", "load_backup"]

FORMAT = "pps-archive/key-backup"
VERSION = 2
_MAC_INFO = b"pps-archive/v2/key-backup-mac"


@dataclass(frozen=True)
class KeyBackup:
    archive_id: str
    created: dt.date
    expires: dt.date
    master: bytes
    signing: bytes | None = None
    cases: dict[str, bytes] = field(default_factory=dict)  # case ref -> wrapped case key
    archive: bytes | None = None  # the archive key pair's wrapped identity (case keys are sealed to it)


def _mac(master_key: bytes, doc: dict) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_MAC_INFO).derive(master_key)
    body = {k: v for k, v in doc.items() if k != "mac"}
    return hmac.new(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii"), hashlib.sha256).hexdigest()


def dump_backup(backup: KeyBackup, master_key: bytes) -> bytes:
    """The backup file, authenticated under ``master_key`` (the key ``backup.master`` wraps)."""
    if backup.expires <= backup.created:
        raise InvalidValue("a key backup must expire after the day it is made")
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "archive": backup.archive_id,
        "created": backup.created.isoformat(),
        "expires": backup.expires.isoformat(),
        "master": _b64(backup.master),
        "signing": _b64(backup.signing) if backup.signing is not None else None,
        "archive_key": _b64(backup.archive) if backup.archive is not None else None,
        "cases": {ref: _b64(record) for ref, record in sorted(backup.cases.items())},
    }
    doc["mac"] = _mac(master_key, doc)
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("ascii")


def load_backup(data: bytes, archive_id: str, as_of: dt.date, passphrase: bytes) -> tuple[KeyBackup, bytes]:
    """Parse and authenticate a backup: ``(backup, master key)``.

    :class:`ForeignArchive` if it is another archive's, :class:`WrongPassphrase` if the passphrase
    does not open its master key, :class:`IntegrityError` if anything in it was changed, and
    :class:`InvalidValue` once it has expired (on ``as_of``: the caller passes the real date)."""
    from archive_media.keys import unwrap_master_key

    what = "the key backup"
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise IntegrityError(what=what, problem="it is not a pps-archive key backup (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise IntegrityError(what=what, problem="it is not a pps-archive key backup")
    if doc.get("version") == 1:
        raise IntegrityError(what=what, problem="it was made by an older pps-archive and its expiry is not authenticated; "
                             "make a new backup and destroy this one")
    if doc.get("version") != VERSION:
        raise UnsupportedFormat(what=what, version=doc.get("version"))
    if doc.get("archive") != archive_id:
        raise ForeignArchive(what=what, theirs=doc.get("archive"), ours=archive_id)
    try:
        backup = KeyBackup(
            archive_id=archive_id,
            created=dt.date.fromisoformat(doc["created"]),
            expires=dt.date.fromisoformat(doc["expires"]),
            master=_unb64(doc["master"]),
            signing=_unb64(doc["signing"]) if doc.get("signing") is not None else None,
            archive=_unb64(doc["archive_key"]) if doc.get("archive_key") is not None else None,
            cases={str(ref): _unb64(rec) for ref, rec in dict(doc.get("cases") or {}).items()},
        )
        mac = str(doc["mac"])
    except (KeyError, TypeError, ValueError, UnicodeEncodeError, binascii.Error) as exc:
        raise IntegrityError(what=what, problem=f"it is malformed ({exc!r})") from None
    master_key = unwrap_master_key(backup.master, passphrase, archive_id)
    if not hmac.compare_digest(_mac(master_key, doc).encode("ascii"), mac.encode("utf-8")):
        raise IntegrityError(what=what, problem="it was changed after it was made (its expiry or its records); "
                             "nothing was imported")
    if as_of >= backup.expires:
        raise InvalidValue(
            f"the key backup made on {backup.created} expired on {backup.expires}: it may still hold keys destroyed "
            "since, so it cannot be imported. Destroy it, and use a newer backup."
        )
    return backup, master_key


def _b64(record: bytes) -> str:
    """Records are stored as they are; base64 keeps binary ones (sealed case keys) in the JSON."""
    return base64.b64encode(record).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(str(text).encode("ascii"), validate=True)
