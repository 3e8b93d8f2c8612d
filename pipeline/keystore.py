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
        return keys.unwrap_master_key(row.record, passphrase, archive)
    master, wrapped = keys.create_master_key(passphrase, archive, kdf_params(cfg))
    session.add(WrappedKey(purpose="master", case_ref=None, record=wrapped, public=None, created_at=_now()))
    session.flush()
    audit.record(session, actor, "keys.master_created", subject=f"archive:{archive}")
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
