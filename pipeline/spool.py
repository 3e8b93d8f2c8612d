"""Taking inputs in: drop folder -> private spool -> one row in the job queue, exactly once.

The order of steps is what makes a crash at any point safe (rule 1):

1. copy the file(s) into ``spool/.incoming-*``, hashing as we go, and fsync;
2. rename that folder to ``spool/<sha256>`` (atomic) — the content is now safe;
3. insert the input row (``sha256`` unique) and commit — the job is queued;
4. only then remove the original(s) from the drop folder.

A crash before 3 leaves the originals in the drop folder (taken again later) and at most an orphan
spool folder (removed by :func:`recover`). A crash between 3 and 4 leaves originals whose hash is
already recorded: they are recognised as the same drop and removed, not filed twice. The same bytes
dropped again later are a duplicate: recorded in quarantine with the date of the first copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline import audit, hostlock
from pipeline.models import Input
from pipeline.workspace import Workspace
from pps_archive.atomic import fsync_dir

log = logging.getLogger(__name__)
CHUNK = 1 << 20


@dataclass(frozen=True)
class Taken:
    input_id: int
    outcome: str  # "queued" | "already-taken" | "duplicate"
    sha256: str
    quarantine_entry: int | None = None  # the entry recording a duplicate


def member_name(index: int, source: Path) -> str:
    """Our name for a member in the spool: its position and lower-case extension, nothing else."""
    ext = source.suffix.lower()[:8] if source.suffix.isascii() else ""
    return f"{index:04d}{ext}"


def spool_dir(ws: Workspace, sha256: str) -> Path:
    return ws.path("spool") / sha256


def spool_members(ws: Workspace, sha256: str) -> list[Path]:
    return sorted(spool_dir(ws, sha256).iterdir())


def _copy_hashing(src: Path, dst: Path) -> str:
    """Copy one file (never through a symlink) and return its sha256."""
    h = hashlib.sha256()
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fin, open(dst, "xb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    os.chmod(dst, 0o600)
    return h.hexdigest()


def _copy_into_spool(ws: Workspace, paths: Sequence[Path]) -> str:
    """Copy the unit into the spool in one pass, name it by its content hash, return the hash.

    A single file's hash is its sha256; a group's is the sha256 of its members' hashes in order."""
    tmp = ws.path("spool") / f".incoming-{os.getpid()}-{secrets.token_hex(6)}"
    tmp.mkdir(mode=0o700)
    try:
        digests = [_copy_hashing(src, tmp / member_name(i, src)) for i, src in enumerate(paths, start=1)]
        fsync_dir(tmp)
        if len(digests) == 1:
            sha = digests[0]
        else:
            h = hashlib.sha256(b"pps-archive group v1\n")
            for d in digests:
                h.update(d.encode() + b"\n")
            sha = h.hexdigest()
        final = spool_dir(ws, sha)
        if final.exists():
            shutil.rmtree(tmp)
        else:
            tmp.rename(final)
            fsync_dir(final.parent)
        return sha
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove_originals(paths: Sequence[Path]) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
    for parent in {p.parent for p in paths}:
        try:
            fsync_dir(parent)
        except OSError:
            pass


def take_in(
    ws: Workspace, paths: Sequence[Path], names: Sequence[str], profile: str, *, now: dt.datetime, actor: str = "intake",
    keep_originals: bool = False,
) -> Taken:
    """Take one ready unit (a file, or a group's files in page order) into the spool and queue it.

    ``names`` are the files' names in the drop folder (relative to it), shown to staff."""
    paths = [Path(p) for p in paths]
    display_name = names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} more pages)"
    stats = [p.lstat() for p in paths]
    size = sum(s.st_size for s in stats)
    mtime_ns = max(s.st_mtime_ns for s in stats)
    sha = _copy_into_spool(ws, paths)
    with ws.transaction() as s:
        existing = s.scalars(select(Input).where(Input.sha256 == sha).with_for_update()).one_or_none()
        if existing is not None and existing.state == "quarantined":
            # dropped in again after it was quarantined (as the reason told staff to): try again
            from pipeline import quarantine

            quarantine.resolve_for_retry(ws, s, existing, now=now, actor=actor)
            existing.state, existing.attempts, existing.last_error, existing.host = "queued", 0, None, hostlock.host()
            existing.display_name = display_name
            existing.member_names = json.dumps(list(names)) if len(names) > 1 else None
            existing.received_at, existing.finished_at, existing.source_mtime_ns = now, None, mtime_ns
            audit.record(s, actor, "input.requeued", subject=f"input:{existing.id}")
            retried = existing.id
        elif existing is not None:
            if existing.state == "done":
                shutil.rmtree(spool_dir(ws, sha), ignore_errors=True)  # our fresh copy is not needed
            return _already_have(ws, s, existing, paths, display_name, profile, size, mtime_ns, now, actor, keep_originals)
        else:
            retried = None
    if retried is not None:
        if not keep_originals:
            _remove_originals(paths)
        return Taken(retried, "queued", sha)
    try:
        with ws.transaction() as s:
            row = Input(
                sha256=sha, display_name=display_name, profile=profile, members=len(paths), size=size,
                member_names=json.dumps(list(names)) if len(names) > 1 else None,
                source_mtime_ns=mtime_ns, received_at=now, state="queued", attempts=0, host=hostlock.host(),
            )
            s.add(row)
            s.flush()
            audit.record(s, actor, "input.received", subject=f"input:{row.id}", profile=profile, members=len(paths), size=size, sha256=sha)
            input_id = row.id
    except IntegrityError:
        # another process took the same bytes in at the same moment: theirs counts
        with ws.transaction() as s:
            existing = s.scalars(select(Input).where(Input.sha256 == sha)).one()
            return _already_have(ws, s, existing, paths, display_name, profile, size, mtime_ns, now, actor, keep_originals)
    if not keep_originals:
        _remove_originals(paths)
    log.info("input %s queued (%d file(s), %d bytes)", input_id, len(paths), size)
    return Taken(input_id, "queued", sha)


def _already_have(
    ws: Workspace, s: Session, existing: Input, paths: Sequence[Path], display_name: str, profile: str,
    size: int, mtime_ns: int, now: dt.datetime, actor: str, keep_originals: bool = False,
) -> Taken:
    same_drop = (existing.display_name, existing.profile, existing.size, existing.source_mtime_ns) == (
        display_name, profile, size, mtime_ns
    )
    if same_drop:
        # the originals of an input we already committed (a crash came before they were removed)
        if not keep_originals:
            _remove_originals(paths)
        return Taken(existing.id, "already-taken", existing.sha256)
    from pipeline import quarantine

    entry = quarantine.record_duplicate(ws, s, existing, paths, display_name, profile, now=now, actor=actor)
    if not keep_originals:
        _remove_originals(paths)
    return Taken(existing.id, "duplicate", existing.sha256, entry.id)


def free_dead_workers(s: Session) -> int:
    """Jobs held by workers of this machine whose process is gone (kill -9, a crash): queue them
    again now rather than when their lease runs out."""
    freed = 0
    for row in s.scalars(select(Input).where(Input.state == "processing", Input.host == hostlock.host()).with_for_update()):
        if not hostlock.worker_alive(row.claimed_by):
            row.state, row.claimed_by, row.lease_until = "queued", None, None
            freed += 1
    return freed


def recover(ws: Workspace) -> list[str]:
    """Remove half-copied spool folders and spool folders that no waiting input refers to (a crash
    before the row was committed: the originals are still in the drop folder). Only while no other
    intake process runs on this machine (see :mod:`pipeline.hostlock`)."""
    removed = []
    spool = ws.path("spool")
    with ws.transaction() as s:
        known = set(s.scalars(select(Input.sha256).where(Input.state.in_(("queued", "processing")))))
        free_dead_workers(s)
    for entry in spool.iterdir():
        if entry.name.startswith(".incoming-") or entry.name not in known:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed
