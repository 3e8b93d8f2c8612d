"""Quarantine: inputs that could not be processed, kept with a reason a person can act on.

A quarantined file is encrypted (age, to the archive's own key) from the spool into
``quarantine/<date>/q<entry id>/`` under opaque member names — never the name it had, which may say
something about a family — and the spool copy is removed, so a file that could not be processed does
not lie about in the clear. ``pps-archive quarantine export`` decrypts it for a person (passphrase).
The database keeps the original name for staff. Duplicates are recorded with the date of the first
copy; their bytes are not kept twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit, keystore
from pipeline.models import Input, QuarantineEntry
from pipeline.workspace import Workspace, make_private_dir

if TYPE_CHECKING:
    from pipeline.authority import Unlocked

log = logging.getLogger(__name__)


def stash(ws: Workspace, input_id: int, sha256: str, recipient: str, *, now: dt.datetime) -> str | None:
    """Encrypt an input's spool copy into quarantine (before any transaction: it may be large).
    The spool copy stays until the quarantine is committed. Returns the folder, relative."""
    source = ws.path("spool") / sha256
    if not source.exists():
        return None
    folder = make_private_dir(ws.path("quarantine") / now.date().isoformat()) / f"input{input_id}"
    if folder.exists():
        shutil.rmtree(folder)
    tmp = folder.with_name(folder.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    make_private_dir(tmp)
    from archive_media import envelope

    for member in sorted(source.iterdir()):
        envelope.encrypt_file(member, tmp / f"{member.name}.age", recipient)
    tmp.rename(folder)
    return str(folder.relative_to(ws.data_dir))


def quarantine_input(ws: Workspace, s: Session, row: Input, reason: str, *, now: dt.datetime, path: str | None,
                     actor: str = "intake") -> QuarantineEntry:
    """Record an input as quarantined (its copy already stashed at ``path``); caller's transaction."""
    entry = QuarantineEntry(input_id=row.id, file=row.display_name, profile=row.profile, reason=reason,
                            received_at=row.received_at, path=path)
    s.add(entry)
    s.flush()
    row.state, row.finished_at, row.claimed_by, row.lease_until = "quarantined", now, None, None
    audit.record(s, actor, "input.quarantined", subject=f"input:{row.id}", entry=entry.id)
    log.warning("input %s quarantined as entry %s", row.id, entry.id)
    return entry


def resolve_for_retry(ws: Workspace, s: Session, row: Input, *, now: dt.datetime, actor: str) -> None:
    """The same file was dropped in again: its quarantine entries are resolved, their copies go."""
    for entry in s.scalars(select(QuarantineEntry).where(QuarantineEntry.input_id == row.id, QuarantineEntry.resolved_at.is_(None))):
        entry.resolved_at = now
        if entry.path:
            shutil.rmtree(ws.data_dir / entry.path, ignore_errors=True)
            entry.path = None
        audit.record(s, actor, "quarantine.resolved", subject=f"quarantine:{entry.id}", by="dropped in again")


def export(ws: Workspace, s: Session, entry_id: int, out_dir: Path, *, auth: Unlocked) -> list[Path]:
    """Decrypt a quarantined file for a person to look at, as ``auth.actor`` (any staff login; the
    export is an audit event). Runs in the caller's transaction."""
    from archive_media import envelope
    from pipeline import authority
    from pipeline.jobcontext import sweep_stale
    from pps_archive.errors import NotFound

    how = authority.require(s, auth, f"exporting quarantine entry {entry_id}")
    sweep_stale(ws)  # plaintext a killed command left (rule 2)
    entry = s.get(QuarantineEntry, entry_id)
    if entry is None or not entry.path:
        raise NotFound(f"quarantine entry {entry_id} has no kept file: check the entry's id.",
                       cli_hint="See the entries with 'pps-archive quarantine list'.")
    members = sorted((ws.data_dir / entry.path).glob("*.age"))
    if not members:
        raise NotFound(f"the file of quarantine entry {entry_id} is missing from {entry.path}")
    identity = keystore.archive_identity(s, auth.master)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, member in enumerate(members, start=1):
        name = entry.file if len(members) == 1 else f"{i:04d}-{entry.file}"
        target = out_dir / Path(name).name
        envelope.decrypt_file(member, target, identity, what=f"quarantine entry {entry_id}")
        written.append(target)
    audit.record(s, auth.actor, "quarantine.exported", subject=f"quarantine:{entry_id}", **how)
    return written


def record_duplicate(
    ws: Workspace, s: Session, first: Input, paths: Sequence[Path], display_name: str, profile: str,
    *, now: dt.datetime, actor: str = "intake",
) -> QuarantineEntry:
    reason = (
        f"the same file was already received on {first.received_at:%Y-%m-%d %H:%M} as {first.display_name!r}: "
        f"nothing was filed twice and this copy was removed. No action needed unless you meant to scan "
        f"a different document."
    )
    entry = QuarantineEntry(input_id=None, file=display_name, profile=profile, reason=reason, received_at=now, path=None)
    s.add(entry)
    s.flush()
    audit.record(s, actor, "input.duplicate", subject=f"input:{first.id}", entry=entry.id)
    log.warning("duplicate of input %s recorded as quarantine entry %s", first.id, entry.id)
    return entry


def list_entries(s: Session, *, include_resolved: bool = False) -> list[dict]:
    stmt = select(QuarantineEntry).order_by(QuarantineEntry.id)
    if not include_resolved:
        stmt = stmt.where(QuarantineEntry.resolved_at.is_(None))
    return [
        {
            "id": e.id,
            "file": e.file,
            "reason": e.reason,
            "received_at": e.received_at.isoformat(timespec="seconds"),
            "profile": e.profile,
            "kept_at": e.path,
        }
        for e in s.scalars(stmt)
    ]


# --- for a front-end with a logged-in person (the web app) ---------------------------------------

def _open_entry(s: Session, entry_id: int) -> QuarantineEntry:
    from pps_archive.errors import NotFound

    entry = s.get(QuarantineEntry, entry_id)
    if entry is None or entry.resolved_at is not None:
        raise NotFound(f"quarantine entry {entry_id} is not in quarantine (resolved, or no such entry): check the "
                       f"list of entries")
    return entry


def export_file(ws: Workspace, auth, entry_id: int) -> tuple[str, bytes]:  # noqa: ANN001 - authority.Unlocked
    """A quarantined file decrypted in memory, for a manager to look at: ``(name, bytes)``. The name
    is the one it had in the drop folder; a group of single-page files comes as one ZIP archive
    (``entry-<id>.zip``). A manager's action, recorded (``quarantine.exported``). Its own transaction."""
    import io

    from archive_media import envelope
    from pipeline import authority
    from pps_archive.errors import NotFound

    with ws.transaction() as s:
        how = authority.require(s, auth, f"exporting quarantine entry {entry_id}", role=authority.MANAGER)
        entry = _open_entry(s, entry_id)
        if not entry.path:
            raise NotFound(f"quarantine entry {entry_id} kept no file (a duplicate's bytes are not kept twice): nothing "
                           f"to export")
        members = sorted((ws.data_dir / entry.path).glob("*.age"))
        if not members:
            raise NotFound(f"the file of quarantine entry {entry_id} is missing from {entry.path}")
        identity = keystore.archive_identity(s, auth.master)
        plain = []
        for member in members:
            out = io.BytesIO()
            envelope.decrypt_stream(member, out, identity, what=f"quarantine entry {entry_id}")
            plain.append(out.getvalue())
        audit.record(s, auth.actor, "quarantine.exported", subject=f"quarantine:{entry_id}", to="download", **how)
        name = Path(entry.file).name or f"entry-{entry_id}"
    if len(plain) == 1:
        return name, plain[0]
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i, data in enumerate(plain, start=1):
            z.writestr(f"{i:04d}-{name}", data)
    return f"entry-{entry_id}.zip", buf.getvalue()


def retry(ws: Workspace, auth, entry_id: int, *, now: dt.datetime) -> dict:  # noqa: ANN001 - authority.Unlocked
    """Queue a quarantined input again, as if it were dropped in again (after a tool was installed,
    say, or disk space freed): its kept copy is decrypted back into the spool, the input is queued
    with its attempts reset, and the entry is resolved (``input.requeued``). Refused for a duplicate
    (nothing was kept) and for an input no longer in quarantine. Returns ``input`` and ``entry``."""
    import secrets

    from archive_media import envelope
    from pipeline import authority, hostlock
    from pipeline.spool import spool_dir
    from pps_archive.errors import Conflict

    with ws.reader() as s:
        authority.require(s, auth, f"retrying quarantine entry {entry_id}")
        entry = _open_entry(s, entry_id)
        if entry.input_id is None or not entry.path:
            raise Conflict(f"quarantine entry {entry_id} is a duplicate of a file already taken in: there is nothing to "
                           f"process again")
        row = s.get(Input, entry.input_id)
        input_id, sha, folder = row.id, row.sha256, ws.data_dir / entry.path
        identity = keystore.archive_identity(s, auth.master)
    target = spool_dir(ws, sha)
    if not target.exists():  # decrypted into a private folder of the spool, then renamed (as take_in does)
        tmp = ws.path("spool") / f".incoming-retry-{secrets.token_hex(6)}"
        make_private_dir(tmp)
        try:
            for member in sorted(folder.glob("*.age")):
                envelope.decrypt_file(member, tmp / member.name.removesuffix(".age"), identity,
                                      what=f"quarantine entry {entry_id}")
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    with ws.transaction() as s:
        how = authority.require(s, auth, f"retrying quarantine entry {entry_id}")
        row = s.scalars(select(Input).where(Input.id == input_id).with_for_update()).one()
        if row.state != "quarantined":
            raise Conflict(f"input {input_id} is {row.state}, not in quarantine: nothing to retry")
        resolve_for_retry(ws, s, row, now=now, actor=auth.actor)
        row.state, row.attempts, row.last_error, row.host = "queued", 0, None, hostlock.host(ws.data_dir)
        row.finished_at = None
        audit.record(s, auth.actor, "input.requeued", subject=f"input:{input_id}", entry=entry_id, by="retry", **how)
    log.info("input %s queued again from quarantine entry %s", input_id, entry_id)
    return {"input": input_id, "entry": entry_id}
