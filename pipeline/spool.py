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
import errno
import hashlib
import json
import logging
import os
import secrets
import shutil
import stat
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
from pps_archive.errors import InputRefused

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


#: open a drop-folder file: never through a symlink, never blocking on a FIFO, never a terminal
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


@dataclass(frozen=True)
class Opened:
    """One member of a unit, opened: the descriptor we copy from and what it was when opened."""

    fd: int
    path: Path
    stat: os.stat_result


def printable_name(name: str) -> str:
    """A file name as staff see it and the database stores it: bytes that are not UTF-8 (a name
    made on another system) are shown as ``\\xNN`` instead of breaking the database and the log."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")


def refusal(path: Path) -> str | None:
    """Why ``path`` cannot be taken in (it is missing, a link, a folder, a special file, or
    unreadable), or None if it is a regular file that opens. Only a check for a message:
    :func:`open_regular` decides on the opened descriptor."""
    try:
        close_opened([open_regular(path, str(path))])
    except InputRefused as exc:
        return str(exc.fields["reason"])
    return None


def open_regular(path: Path, display_name: str, expect: tuple[int, int, int, int] | None = None) -> Opened:
    """Open ``path`` for reading if, and only if, it is a regular file (checked on the opened
    descriptor, so a swap after a check cannot fool us); otherwise raise InputRefused. With
    ``expect`` (device, inode, size, mtime in ns, as the watcher saw the file when it was
    complete), the opened file must be that very version."""
    try:
        seen = os.lstat(path)
        if not stat.S_ISREG(seen.st_mode) and not stat.S_ISLNK(seen.st_mode):
            raise InputRefused(file=display_name, reason=_not_regular(seen.st_mode))  # not even opened
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise InputRefused(file=display_name, reason="does not exist (moved or deleted?): check the path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            reason = "is a symbolic link: give the file it points to instead"
        elif exc.errno == errno.EACCES:
            reason = "cannot be read (permission denied): let this program's user read it, or copy it somewhere it can"
        elif exc.errno == errno.ENXIO:
            reason = "is not a regular file (a socket or a device): only scanned files can be taken in"
        else:
            reason = f"cannot be opened ({os.strerror(exc.errno) if exc.errno else type(exc).__name__})"
        raise InputRefused(file=display_name, reason=reason) from None
    st = os.fstat(fd)  # what was opened decides, whatever the path pointed to a moment ago
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise InputRefused(file=display_name, reason=_not_regular(st.st_mode))
    if expect is not None and (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != tuple(expect):
        os.close(fd)
        raise InputRefused(file=display_name, reason="changed since it was found complete: it is taken once it settles")
    return Opened(fd, Path(path), st)


def _not_regular(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder: give the files in it instead"
    return "is not a regular file (a pipe, a socket or a device): only scanned files can be taken in"


def close_opened(opened: Sequence[Opened]) -> None:
    for o in opened:
        os.close(o.fd)


def _copy_hashing(src: Opened, dst: Path, display_name: str) -> str:
    """Copy one opened file and return its sha256. A file that grows while we read it is still
    being written: refused (taken later, once complete)."""
    h = hashlib.sha256()
    copied = 0
    os.lseek(src.fd, 0, os.SEEK_SET)
    with open(dst, "xb") as fout:
        while chunk := os.read(src.fd, CHUNK):
            copied += len(chunk)
            if copied > src.stat.st_size:
                raise InputRefused(file=display_name, reason="grew while it was read (still being written?): it is taken once complete")
            h.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    os.chmod(dst, 0o600)
    return h.hexdigest()


def _copy_into_spool(ws: Workspace, members: Sequence[Opened], names: Sequence[str]) -> tuple[str, bool]:
    """Copy the unit into the spool in one pass, name it by its content hash; return the hash and
    whether this call created the spool folder.

    A single file's hash is its sha256; a group's is the sha256 of its members' hashes in order."""
    tmp = ws.path("spool") / f".incoming-{os.getpid()}-{secrets.token_hex(6)}"
    tmp.mkdir(mode=0o700)
    try:
        digests = [_copy_hashing(src, tmp / member_name(i, src.path), name)
                   for i, (src, name) in enumerate(zip(members, names, strict=True), start=1)]
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
            return sha, False
        tmp.rename(final)
        fsync_dir(final.parent)
        return sha, True
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove_originals(members: Sequence[Opened]) -> None:
    """Unlink the drop-folder files we copied: only if the name still points to the very regular
    file we read (same device and inode), never a link, a device or a file put there since."""
    for m in members:
        try:
            now = m.path.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (m.stat.st_dev, m.stat.st_ino):
            log.warning("a taken-in file was replaced before it could be removed; the new one was left alone")
            continue
        try:
            m.path.unlink()
        except FileNotFoundError:
            pass
    for parent in {m.path.parent for m in members}:
        try:
            fsync_dir(parent)
        except OSError:
            pass


def take_in(
    ws: Workspace, paths: Sequence[Path], names: Sequence[str], profile: str, *, now: dt.datetime, actor: str = "intake",
    keep_originals: bool = False, expect: Sequence[tuple[int, int, int, int]] | None = None,
) -> Taken:
    """Take one ready unit (a file, or a group's files in page order) into the spool and queue it.

    ``names`` are the files' names in the drop folder (relative to it), shown to staff. Each file
    is opened once, without following links, and must be a regular file (:class:`InputRefused`
    otherwise, before anything is copied) and, given ``expect``, the version seen complete; only
    the files read are ever removed."""
    names = [printable_name(n) for n in names]
    members: list[Opened] = []
    try:
        for i, (p, name) in enumerate(zip(paths, names, strict=True)):
            members.append(open_regular(Path(p), name, expect[i] if expect is not None else None))
        return _take_in(ws, members, names, profile, now=now, actor=actor, keep_originals=keep_originals)
    finally:
        close_opened(members)


def _take_in(
    ws: Workspace, members: Sequence[Opened], names: Sequence[str], profile: str, *, now: dt.datetime, actor: str,
    keep_originals: bool,
) -> Taken:
    display_name = names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} more pages)"
    size = sum(m.stat.st_size for m in members)
    mtime_ns = max(m.stat.st_mtime_ns for m in members)
    here = hostlock.host(ws.data_dir)
    sha, created = _copy_into_spool(ws, members, names)
    try:
        with ws.transaction() as s:
            existing = s.scalars(select(Input).where(Input.sha256 == sha).with_for_update()).one_or_none()
            if existing is not None and existing.state == "quarantined":
                # dropped in again after it was quarantined (as the reason told staff to): try again
                from pipeline import quarantine

                quarantine.resolve_for_retry(ws, s, existing, now=now, actor=actor)
                existing.state, existing.attempts, existing.last_error, existing.host = "queued", 0, None, here
                existing.display_name = display_name
                existing.member_names = json.dumps(list(names)) if len(names) > 1 else None
                existing.received_at, existing.finished_at, existing.source_mtime_ns = now, None, mtime_ns
                audit.record(s, actor, "input.requeued", subject=f"input:{existing.id}")
                retried = existing.id
            elif existing is not None:
                if existing.state == "done" or (created and existing.host != here):
                    # our fresh copy is not needed (filed already, or queued from another data dir's spool)
                    shutil.rmtree(spool_dir(ws, sha), ignore_errors=True)
                return _already_have(ws, s, existing, members, display_name, profile, size, mtime_ns, now, actor, keep_originals)
            else:
                retried = None
    except BaseException:
        _drop_fresh_copy(ws, sha, created)
        raise
    if retried is not None:
        if not keep_originals:
            _remove_originals(members)
        return Taken(retried, "queued", sha)
    try:
        with ws.transaction() as s:
            row = Input(
                sha256=sha, display_name=display_name, profile=profile, members=len(members), size=size,
                member_names=json.dumps(list(names)) if len(names) > 1 else None,
                source_mtime_ns=mtime_ns, received_at=now, state="queued", attempts=0, host=here,
            )
            s.add(row)
            s.flush()
            audit.record(s, actor, "input.received", subject=f"input:{row.id}", profile=profile, members=len(members), size=size,
                         sha256=sha)
            input_id = row.id
    except IntegrityError:
        # another process took the same bytes in at the same moment: theirs counts
        with ws.transaction() as s:
            existing = s.scalars(select(Input).where(Input.sha256 == sha)).one()
            return _already_have(ws, s, existing, members, display_name, profile, size, mtime_ns, now, actor, keep_originals)
    except BaseException:
        _drop_fresh_copy(ws, sha, created)
        raise
    if not keep_originals:
        _remove_originals(members)
    log.info("input %s queued (%d file(s), %d bytes)", input_id, len(members), size)
    return Taken(input_id, "queued", sha)


def _drop_fresh_copy(ws: Workspace, sha: str, created: bool) -> None:
    """The database refused the row (disk full, a lost connection): remove the spool copy this
    call made, unless some input (taken in meanwhile by another process) refers to it. The
    originals stay in the drop folder, so nothing is lost."""
    if not created:
        return
    try:
        with ws.transaction() as s:
            if s.scalars(select(Input.id).where(Input.sha256 == sha)).first() is not None:
                return
    except Exception:  # noqa: BLE001 - cannot tell: recovery decides later
        return
    shutil.rmtree(spool_dir(ws, sha), ignore_errors=True)


def _already_have(
    ws: Workspace, s: Session, existing: Input, members: Sequence[Opened], display_name: str, profile: str,
    size: int, mtime_ns: int, now: dt.datetime, actor: str, keep_originals: bool = False,
) -> Taken:
    same_drop = (existing.display_name, existing.profile, existing.size, existing.source_mtime_ns) == (
        display_name, profile, size, mtime_ns
    )
    if same_drop:
        # the originals of an input we already committed (a crash came before they were removed)
        if not keep_originals:
            _remove_originals(members)
        return Taken(existing.id, "already-taken", existing.sha256)
    from pipeline import quarantine

    entry = quarantine.record_duplicate(ws, s, existing, [m.path for m in members], display_name, profile, now=now, actor=actor)
    if not keep_originals:
        _remove_originals(members)
    return Taken(existing.id, "duplicate", existing.sha256, entry.id)


#: an input in one of these states needs its spool copy no more
FINAL_STATES = ("done", "quarantined")


def free_dead_workers(ws: Workspace, s: Session) -> int:
    """Jobs held by workers of this data directory whose process is gone (kill -9, a crash, a dead
    process not yet reaped): queue them again now rather than when their lease runs out."""
    freed = 0
    here = hostlock.host(ws.data_dir)
    for row in s.scalars(select(Input).where(Input.state == "processing", Input.host == here).with_for_update()):
        if not hostlock.worker_alive(ws.data_dir, row.claimed_by):
            row.state, row.claimed_by, row.lease_until = "queued", None, None
            freed += 1
    if freed:
        log.info("freed %d job(s) of workers that are gone", freed)
    return freed


def recover(ws: Workspace) -> list[str]:
    """Remove half-copied spool folders and spool folders of no unfinished input (a crash before
    the row was committed: the originals are still in the drop folder; or an input finished since).
    A spool copy whose input is not in a final state is never removed, whichever data directory
    the input names. Inputs recorded by an older version under this machine's hostname whose copy
    is in this spool become this data directory's. Only while no other intake process runs on
    this data directory (see :mod:`pipeline.hostlock`)."""
    removed = []
    spool = ws.path("spool")
    here = hostlock.host(ws.data_dir)
    present = {e.name for e in spool.iterdir() if not e.name.startswith(".")}
    with ws.transaction() as s:
        unfinished = {sha: host for sha, host in s.execute(
            select(Input.sha256, Input.host).where(Input.state.not_in(FINAL_STATES)))}
        for row in s.scalars(select(Input).where(Input.state.not_in(FINAL_STATES), Input.host == hostlock.legacy_host(),
                                                 Input.sha256.in_(present)).with_for_update()):
            row.host = here
        free_dead_workers(ws, s)
    for entry in spool.iterdir():
        if entry.name.startswith(".incoming-") or (not entry.name.startswith(".") and entry.name not in unfinished):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed
