"""Encrypted, expiring backups of the database (``pps-archive backup``) and their restore.

What a backup file is (docs/formats.md)::

    pps-archive database backup\\n        magic line
    {header JSON}\\n                       one line: format, version, archive, engine, schema, created,
                                          expires, counts, audit head, the recovery slot, the archive key
    age ciphertext                        to the archive's public key: the header line again, then the dump

The dump is SQLite's own online backup of the database (``sqlite3.Connection.backup``, a consistent
copy while the daemon writes) or ``pg_dump --format=custom`` run on an exported snapshot, whose
table counts are taken in that same snapshot. It never touches the disk as plaintext: it is made in
memory and encrypted to the archive key (age X25519), the key the daemon already encrypts review and
quarantine copies to, after checking that key's signature. So a backup needs no login: a timer can
make one every night as the service's user, who can read the database file anyway.

Opening it needs the **recovery passphrase**: the header carries the master key's recovery slot
(wrapped by the passphrase, as in the database and in ``keys export``) and the archive key's private
half wrapped by the master key. Staff slots are not in the header, so a staff password (a leaver's)
opens no backup file; once restored, the database holds its staff slots again.

It **expires** (30 days by default), like a key backup: a case key destroyed at disposal lives on in
every older copy of the database (NIST SP 800-88), so a restore refuses a backup on or after its
expiry day, on the real date. The expiry is authenticated: it is checked again inside the
ciphertext, which only the archive key opens and only someone holding the master key could re-make
with another date; a forged backup (made with the public key alone) fails the restore's keyed check
of the audit chain, whose seals only the master key makes.

A restore goes only into an empty database (a new data directory, or an empty PostgreSQL database)
of the same engine; it then checks the archive id, the table counts and the audit head against the
header, verifies the audit chain with the master key, migrates to this version's schema and pins the
signing key, as ``init`` does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url

from pipeline.workspace import Workspace
from pps_archive.errors import BackupExpired, IntegrityError, InvalidValue, RestoreTargetInUse, UnsupportedFormat

__all__ = ["DEFAULT_VALID_DAYS", "MAX_VALID_DAYS", "make_backup", "read_header", "restore_backup"]

log = logging.getLogger(__name__)

MAGIC = b"pps-archive database backup\n"
FORMAT = "pps-archive/database-backup"
VERSION = 1
DEFAULT_VALID_DAYS = 30
MAX_VALID_DAYS = 365  # never longer than a key backup
ACTOR = "backup"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _tables(names: list[str]) -> list[str]:
    from pipeline.models import Base

    known = {t.name for t in Base.metadata.sorted_tables}
    return sorted(n for n in names if n in known)


def _counts_sa(conn: Connection) -> tuple[dict[str, int], dict[str, Any]]:
    names = _tables(inspect(conn).get_table_names())
    counts = {n: int(conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names}
    return counts, _head(conn.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).first())


def _counts_sqlite(db: sqlite3.Connection) -> tuple[dict[str, int], dict[str, Any]]:
    names = _tables([r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")])
    counts = {n: int(db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}
    return counts, _head(db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone())


def _head(row) -> dict[str, Any]:  # noqa: ANN001 - a result row or None
    return {"events": int(row[0]), "hash": row[1]} if row is not None else {"events": 0, "hash": None}


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URL without the password (argv is logged), and the password as PGPASSWORD."""
    u = make_url(url)
    env = {"PGPASSWORD": u.password} if u.password else {}
    return u.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _dump_sqlite(ws: Workspace) -> tuple[bytes, dict[str, int], dict[str, Any]]:
    src = sqlite3.connect(ws.engine.url.database)
    copy = sqlite3.connect(":memory:")
    try:
        src.backup(copy)  # the online backup API: a consistent copy while others write
        counts, head = _counts_sqlite(copy)
        return copy.serialize(), counts, head
    finally:
        copy.close()
        src.close()


def _dump_postgresql(ws: Workspace) -> tuple[bytes, dict[str, int], dict[str, Any]]:
    from pps_archive import exec as tools

    url, env = _libpq(ws.database_url)
    with ws.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts, head = _counts_sa(conn)  # the same snapshot pg_dump reads
            proc = tools.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                              f"--dbname={url}"], env=env, timeout=3600)
    return proc.stdout, counts, head


def make_backup(ws: Workspace, out: Path, *, today: dt.date, valid_days: int = DEFAULT_VALID_DAYS,
                actor: str = ACTOR) -> dict[str, Any]:
    """Write an encrypted backup of the database to ``out`` (atomically, 0600) that expires
    ``valid_days`` after ``today``; return its header (without the wrapped keys). Needs no login.
    Opens its own transactions; call it at the top level. Recorded in the audit log afterwards."""
    from archive_media.envelope import encrypt_stream
    from pipeline import audit, db, keystore
    from pps_archive.atomic import atomic_writer

    if not 1 <= valid_days <= MAX_VALID_DAYS:
        raise InvalidValue(f"a database backup is valid for 1 to {MAX_VALID_DAYS} days, not {valid_days}")
    ws.ensure_ready()
    with ws.reader() as s:
        archive = keystore.archive_id(s)
        recipient = keystore.archive_recipient(s, data_dir=ws.data_dir)  # authenticated before use
        recovery = keystore._master_row(s).record  # noqa: SLF001 - the recovery slot only, never staff slots
        archive_key = keystore._row(s, "archive").record  # noqa: SLF001
    engine = ws.engine.dialect.name
    schema = db.current_revision(ws.engine)
    dump, counts, head = _dump_sqlite(ws) if engine == "sqlite" else _dump_postgresql(ws)
    header = {
        "format": FORMAT, "version": VERSION, "archive": archive, "engine": engine, "schema": schema,
        "created": today.isoformat(), "expires": (today + dt.timedelta(days=valid_days)).isoformat(),
        "counts": counts, "audit_head": head,
        "recovery_slot": _b64(recovery), "archive_key": _b64(archive_key),
    }
    line = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"
    import io

    with atomic_writer(Path(out), 0o600) as fh:
        fh.write(MAGIC + line)
        sealed = encrypt_stream(io.BytesIO(line + dump), fh, recipient)
    summary = {k: v for k, v in header.items() if k not in ("recovery_slot", "archive_key")}
    with ws.transaction() as s:
        audit.record(s, actor, "database.backup", subject=f"archive:{archive}", engine=engine, created=header["created"],
                     expires=header["expires"], events=head["events"], sha256=sealed.ciphertext_sha256)
    log.info("database backup written (%s, %d bytes, expires %s)", engine, len(dump), header["expires"])
    return summary


def _split(data: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    what = "the database backup"
    if not data.startswith(MAGIC):
        raise IntegrityError(what=what, problem="it is not a pps-archive database backup")
    rest = data[len(MAGIC):]
    end = rest.find(b"\n")
    if end < 0:
        raise IntegrityError(what=what, problem="its header is cut short")
    line = rest[:end + 1]
    try:
        header = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise IntegrityError(what=what, problem="its header is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise IntegrityError(what=what, problem="it is not a pps-archive database backup")
    if header.get("version") != VERSION:
        raise UnsupportedFormat(what=what, version=header.get("version"))
    return header, line, rest[end + 1:]


def read_header(data: bytes) -> dict[str, Any]:
    """The backup's plain header (what it is, when it expires), unauthenticated: for showing only."""
    header, _line, _body = _split(data)
    return {k: v for k, v in header.items() if k not in ("recovery_slot", "archive_key")}


def _check_expiry(header: dict[str, Any], today: dt.date) -> None:
    try:
        created, expires = dt.date.fromisoformat(header["created"]), dt.date.fromisoformat(header["expires"])
    except (KeyError, TypeError, ValueError):
        raise IntegrityError(what="the database backup", problem="its dates are malformed") from None
    if today >= expires:
        raise BackupExpired(created=created.isoformat(), expires=expires.isoformat())


def _target_empty(ws: Workspace, engine: str) -> None:
    from pipeline import db

    if engine == "sqlite":
        path = Path(ws.engine.url.database)
        if path.exists() and path.stat().st_size > 0:
            raise RestoreTargetInUse(target=str(path))
        return
    if _tables(inspect(ws.engine).get_table_names()) or inspect(ws.engine).has_table("alembic_version"):
        raise RestoreTargetInUse(target=db.redact(ws.database_url))


def _write_sqlite(ws: Workspace, dump: bytes) -> None:
    from pps_archive.atomic import atomic_write_bytes

    path = Path(ws.engine.url.database)
    ws.engine.dispose()
    atomic_write_bytes(path, dump, 0o600)
    with sqlite3.connect(path) as check:  # the serialised copy is a plain database file
        row = check.execute("PRAGMA integrity_check").fetchone()
    if row[0] != "ok":
        raise IntegrityError(what="the restored database", problem=f"SQLite's integrity check says {row[0]}")


def _write_postgresql(ws: Workspace, dump: bytes) -> None:
    from pps_archive import exec as tools

    url, env = _libpq(ws.database_url)
    ws.engine.dispose()
    tools.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
               f"--dbname={url}"], env=env, input=dump, timeout=3600)


def restore_backup(ws: Workspace, data: bytes, passphrase: bytes, *, today: dt.date, actor: str) -> dict[str, Any]:
    """Restore a backup into this workspace's empty database and verify it; return what was
    checked. ``today`` must be the real date (an expired backup is refused). Opens its own
    transactions; call it at the top level."""
    import io

    from archive_media import keys
    from archive_media.envelope import decrypt_stream
    from pipeline.keystore import ARCHIVE_KEY_REF, _require_real_date, pin_path

    _require_real_date(today, "a database restore", past_ok=False)
    header, line, body = _split(data)
    _check_expiry(header, today)  # early and cheap; checked again on the authenticated copy below
    engine = ws.engine.dialect.name
    if header.get("engine") != engine:
        raise InvalidValue(f"the backup is of a {header.get('engine')} database and this data directory uses {engine}: "
                           "restore it into one of the same kind")
    archive = str(header.get("archive"))
    try:
        recovery, archive_key = base64.b64decode(header["recovery_slot"]), base64.b64decode(header["archive_key"])
    except (KeyError, TypeError, binascii.Error):
        raise IntegrityError(what="the database backup", problem="its wrapped keys are malformed") from None
    master = keys.unwrap_master_key(recovery, passphrase, archive)
    identity = keys.unwrap_case_key(master, archive, ARCHIVE_KEY_REF, archive_key)
    plain = io.BytesIO()
    decrypt_stream(io.BytesIO(body), plain, identity, what="the database backup")
    payload = plain.getvalue()
    if not payload.startswith(line):
        raise IntegrityError(what="the database backup", problem="its header was changed after it was made "
                             "(its expiry, say); nothing was restored")
    _check_expiry(header, today)
    dump = payload[len(line):]

    ws.create_dirs()
    _target_empty(ws, engine)
    pinned_before = pin_path(ws.data_dir).exists()
    (_write_sqlite if engine == "sqlite" else _write_postgresql)(ws, dump)
    try:
        report = _check_restored(ws, header, master, archive, actor)
    except BaseException:
        # a database that failed its checks must not look like a restored archive
        _undo(ws, engine, None if pinned_before else pin_path(ws.data_dir))
        raise
    counts = header["counts"]
    return {
        "engine": engine, "created": header["created"], "expires": header["expires"], "counts": counts,
        "audit_events": report.events, "audit_head": report.head,
        "disposal_runs_since": _disposal_runs_since(ws.data_dir, dt.date.fromisoformat(header["created"])),
    }


def _check_restored(ws: Workspace, header: dict[str, Any], master: bytes, archive: str, actor: str):  # noqa: ANN202
    from pipeline import audit, db, keystore

    with ws.engine.connect() as conn:
        counts, head = _counts_sa(conn)
    if counts != header["counts"] or head != header["audit_head"]:
        raise IntegrityError(what="the restored database", problem="its table counts or audit head differ from "
                             "those recorded in the backup; nothing was restored")
    db.migrate(ws.engine)
    with ws.transaction() as s:
        if keystore.archive_id(s) != archive:
            raise IntegrityError(what="the restored database", problem="it belongs to another archive than its backup "
                                 "says; nothing was restored")
        report = audit.verify(s, master)  # keyed: a backup forged with the public key alone fails here
        keystore.authenticate_keys(s, master, ws.data_dir, actor=actor)  # pins the signing key, as init does
        audit.seal_on_commit(s, master)
        audit.record(s, actor, "database.restored", subject=f"archive:{archive}", created=header["created"],
                     expires=header["expires"], events=report.events)
    return report


def _undo(ws: Workspace, engine: str, pin: Path | None) -> None:
    """Leave the target as empty as it was: the SQLite file emptied, or the tables dropped (and
    the signing key's pin removed if the restore wrote it)."""
    from sqlalchemy import MetaData

    from pps_archive.atomic import atomic_write_bytes

    ws.engine.dispose()
    if pin is not None:
        pin.unlink(missing_ok=True)
    if engine == "sqlite":
        path = Path(ws.engine.url.database)
        for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            extra.unlink(missing_ok=True)
        atomic_write_bytes(path, b"", 0o600)
        return
    meta = MetaData()
    meta.reflect(ws.engine)
    meta.drop_all(ws.engine)
    ws.engine.dispose()


def _disposal_runs_since(data_dir: Path, created: dt.date) -> list[str]:
    """Destruction certificates in the data directory dated on or after the backup's day: the keys
    those runs destroyed are back in the restored database until the disposal is run again."""
    import re

    out = []
    folder = data_dir / "certificates"
    for name in sorted(os.listdir(folder)) if folder.is_dir() else []:
        m = re.fullmatch(r"disposal-(\d{4}-\d{2}-\d{2})-run\d+\.json", name)
        if m and dt.date.fromisoformat(m.group(1)) >= created:
            out.append(name)
    return out
