"""The archive's identity and its master key, kept in the database only in wrapped form.

The master key never touches disk in the clear and is never passed to a child process. Case keys
and the disc-index signing key are wrapped by it (see ``archive_media.keys``).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit
from pipeline.config import Config
from pipeline.models import Setting, WrappedKey

ARCHIVE_ID = "archive_id"


def ensure_archive_id(session: Session) -> str:
    row = session.get(Setting, ARCHIVE_ID)
    if row is None:
        row = Setting(key=ARCHIVE_ID, value=uuid.uuid4().hex)
        session.add(row)
        session.flush()
    return row.value


def archive_id(session: Session) -> str:
    row = session.get(Setting, ARCHIVE_ID)
    if row is None:
        from pps_archive.errors import NotInitialised

        raise NotInitialised(what="the archive", data_dir="this data directory")
    return row.value


def _master_row(session: Session) -> WrappedKey | None:
    return session.scalars(select(WrappedKey).where(WrappedKey.purpose == "master")).one_or_none()


def master_key_exists(session: Session) -> bool:
    return _master_row(session) is not None


def kdf_params(cfg: Config):  # noqa: ANN201 - archive_media imported lazily
    from archive_media.keys import KdfParams

    c = cfg.section("crypto")
    return KdfParams(log2_n=c["kdf_log2_n"], r=c["kdf_r"], p=c["kdf_p"], salt=os.urandom(16))


def ensure_master_key(session: Session, cfg: Config, passphrase: bytes, archive: str, *, actor: str) -> bytes:
    """Create the master key on first use; afterwards check the passphrase opens it. Returns it."""
    from archive_media import keys

    row = _master_row(session)
    if row is not None:
        master = keys.unwrap_master_key(row.record, passphrase, archive)
    else:
        master, wrapped = keys.create_master_key(passphrase, archive, kdf_params(cfg))
        session.add(WrappedKey(purpose="master", case_ref=None, record=wrapped, public=None, created_at=_now()))
        session.flush()
        audit.record(session, actor, "keys.master_created", subject=f"archive:{archive}")
    ensure_archive_keys(session, master, archive, actor=actor)
    return master


def unlock(session: Session, passphrase: bytes) -> bytes:
    """The master key, or :class:`WrongPassphrase`."""
    from archive_media import keys
    from pps_archive.errors import NotInitialised

    row = _master_row(session)
    if row is None:
        raise NotInitialised(what="the master key", data_dir="this data directory")
    return keys.unwrap_master_key(row.record, passphrase, archive_id(session))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# --- the archive key pair and case keys ------------------------------------------------------
#
# Intake must encrypt without the passphrase (the daemon does not hold it), so case keys are
# sealed with public-key encryption: each case's age identity is encrypted (age format) to the
# archive's own recipient, whose identity is wrapped by the master key. Creating a case key and
# encrypting a document need only public keys; reading anything needs the passphrase.

ARCHIVE_KEY_REF = "(archive)"


def _row(session: Session, purpose: str, case_ref: str | None = None, *, for_update: bool = False) -> WrappedKey | None:
    stmt = select(WrappedKey).where(WrappedKey.purpose == purpose)
    stmt = stmt.where(WrappedKey.case_ref.is_(None) if case_ref is None else WrappedKey.case_ref == case_ref)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def ensure_archive_keys(session: Session, master: bytes, archive: str, *, actor: str) -> None:
    """The archive key pair (for sealing case keys and review copies) and the disc-signing key."""
    from archive_media import keys

    if _row(session, "archive") is None:
        ident = keys.new_case_key()
        record = keys.wrap_case_key(master, archive, ARCHIVE_KEY_REF, ident.identity)
        session.add(WrappedKey(purpose="archive", case_ref=None, record=record, public=ident.recipient, created_at=_now()))
        audit.record(session, actor, "keys.archive_created", subject=f"archive:{archive}")
    if _row(session, "signing") is None:
        sk = keys.new_signing_key(master, archive)
        session.add(WrappedKey(purpose="signing", case_ref=None, record=sk.wrapped, public=keys.public_key_pem(sk.public_key), created_at=_now()))
        audit.record(session, actor, "keys.signing_created", subject=f"archive:{archive}", fingerprint=keys.key_fingerprint(sk.public_key))
    session.flush()


def signing_record(session: Session) -> WrappedKey:
    """The disc-index signing key's row: ``record`` wrapped by the master key, ``public`` in PEM."""
    row = _row(session, "signing")
    if row is None:
        from pps_archive.errors import NotInitialised

        raise NotInitialised(what="the disc-signing key", data_dir="this data directory")
    return row


def archive_recipient(session: Session) -> str:
    row = _row(session, "archive")
    if row is None or not row.public:
        from pps_archive.errors import NotInitialised

        raise NotInitialised(what="the archive key", data_dir="this data directory")
    return row.public


def archive_identity(session: Session, master: bytes) -> str:
    from archive_media import keys

    row = _row(session, "archive")
    return keys.unwrap_case_key(master, archive_id(session), ARCHIVE_KEY_REF, row.record)


def _seal(recipient: str, payload: bytes) -> bytes:
    import io

    from archive_media import envelope

    out = io.BytesIO()
    envelope.encrypt_stream(io.BytesIO(payload), out, recipient)
    return out.getvalue()


def case_recipient(session: Session, case_ref: str) -> str:
    """The case's public key; the case key is made (and sealed) the first time it is needed."""
    import json

    from archive_media import keys

    row = _row(session, "case", case_ref, for_update=True)
    if row is not None:
        return row.public
    ident = keys.new_case_key()
    archive = archive_id(session)
    payload = json.dumps({"v": 1, "archive": archive, "case": case_ref, "identity": ident.identity}).encode()
    session.add(WrappedKey(purpose="case", case_ref=case_ref, record=_seal(archive_recipient(session), payload), public=ident.recipient, created_at=_now()))
    session.flush()
    audit.record(session, "intake", "keys.case_created", case_ref=case_ref)
    return ident.recipient


def case_identity(session: Session, master: bytes, case_ref: str) -> str:
    """The case's secret key (needs the master key); a record sealed for another case is refused."""
    import io
    import json

    from archive_media import envelope
    from pps_archive.errors import IntegrityError, KeyNotFound

    row = _row(session, "case", case_ref)
    if row is None:
        raise KeyNotFound(ref=case_ref)
    out = io.BytesIO()
    envelope.decrypt_stream(io.BytesIO(row.record), out, archive_identity(session, master), what=f"the key of case {case_ref}")
    data = json.loads(out.getvalue())
    if data.get("v") != 1 or data.get("archive") != archive_id(session) or data.get("case") != case_ref:
        raise IntegrityError(what=f"the key record of case {case_ref}", problem="it was sealed for another case or archive")
    return data["identity"]


def has_case_key(session: Session, case_ref: str) -> bool:
    return _row(session, "case", case_ref) is not None


# --- backup, import, passphrase change, export of one case's key --------------------------------

def export_backup(session: Session, *, today: dt.date, valid_days: int, auth, consent: str) -> bytes:  # noqa: ANN001
    """The wrapped key store as a backup file that expires (old backups must not outlive disposal).
    Needs the key store unlocked (``auth``, a :class:`pipeline.authority.Unlocked`) by whoever exports."""
    from archive_media.keystore import KeyBackup, dump_backup
    from pipeline import authority

    how = authority.require(session, auth, "exporting the key store")
    actor = auth.actor

    rows = session.scalars(select(WrappedKey)).all()
    by = {r.purpose: r for r in rows if r.case_ref is None}
    backup = KeyBackup(
        archive_id=archive_id(session), created=today, expires=today + dt.timedelta(days=valid_days),
        master=by["master"].record, signing=by["signing"].record if "signing" in by else None,
        archive=by["archive"].record if "archive" in by else None,
        cases={r.case_ref: r.record for r in rows if r.purpose == "case"},
    )
    audit.record(session, actor, "keys.exported", subject=f"archive:{backup.archive_id}", cases=len(backup.cases),
                 expires=backup.expires, consent=consent, **how)
    return dump_backup(backup)


def import_backup(session: Session, data: bytes, passphrase: bytes, *, today: dt.date, actor: str) -> dict:
    """Restore missing wrapped keys from a backup of this archive. Keys of cases disposed of since
    are never brought back; a record that differs from the one stored is refused. The passphrase
    must open the backup's master key (that also proves the backup belongs to this archive)."""
    from archive_media import keys
    from archive_media.keystore import load_backup
    from pipeline.models import Case
    from pps_archive.errors import IntegrityError

    backup = load_backup(data, archive_id(session), today)
    master = keys.unwrap_master_key(backup.master, passphrase, backup.archive_id)

    def public_of(purpose: str, ref: str | None, record: bytes) -> str | None:
        if purpose == "signing":
            return keys.public_key_pem(keys.public_key_of(keys.unwrap_signing_key(master, backup.archive_id, record)))
        if purpose == "archive":
            return keys.recipient_of(keys.unwrap_case_key(master, backup.archive_id, ARCHIVE_KEY_REF, record))
        if purpose == "case":
            return None  # filled in below, once the archive key is in place
        return None

    disposed = set(session.scalars(select(Case.ref).where(Case.disposed_on.is_not(None))))
    wanted = [("master", None, backup.master), ("signing", None, backup.signing), ("archive", None, backup.archive)]
    wanted += [("case", ref, rec) for ref, rec in backup.cases.items()]
    added = skipped = 0
    for purpose, ref, record in wanted:
        if record is None:
            continue
        if ref is not None and ref in disposed:
            skipped += 1
            continue
        row = _row(session, purpose, ref)
        if row is None:
            row = WrappedKey(purpose=purpose, case_ref=ref, record=record, public=public_of(purpose, ref, record), created_at=_now())
            session.add(row)
            session.flush()
            if purpose == "case":
                row.public = keys.recipient_of(case_identity(session, master, ref))
            added += 1
        elif row.record != record:
            raise IntegrityError(what=f"the backup's {purpose} key{f' of case {ref}' if ref else ''}",
                                 problem="it differs from the one in the database; nothing was imported")
    session.flush()
    audit.record(session, actor, "keys.imported", subject=f"archive:{backup.archive_id}", added=added, skipped_disposed=skipped)
    return {"added": added, "skipped_disposed": skipped, "backup_created": backup.created.isoformat()}


def change_passphrase(session: Session, cfg: Config, old: bytes, new: bytes, *, actor: str) -> None:
    """Re-wrap the master key under a new passphrase; nothing else is re-encrypted."""
    from archive_media import keys

    row = _master_row(session)
    row.record = keys.rewrap_master_key(row.record, old, new, archive_id(session), kdf_params(cfg))
    audit.record(session, actor, "keys.passphrase_changed", subject=f"archive:{archive_id(session)}")


def export_case_key(session: Session, master: bytes, case_ref: str, *, actor: str, consent: str) -> str:
    """The case's key in age's own identity-file format, for an independent ``age -d -i``."""
    from archive_media import keys

    text = keys.export_case_identity(case_identity(session, master, case_ref), case_ref)
    audit.record(session, actor, "keys.case_exported", case_ref=case_ref, consent=consent)
    return text
