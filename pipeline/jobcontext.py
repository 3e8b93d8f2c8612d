"""A job's private working directory: every intermediate file of a job is named here.

``work/j<input id>-<attempt>/`` is created 0700 and removed when the job ends or fails, so the
plaintext of a scan exists only inside it (rule 2). Working folders left by a killed worker are
removed by :func:`sweep` before workers start.

Commands that decrypt outside intake (the review queue's assign, undo and split; restore) keep
plaintext in memory; if one ever needs a folder it takes :func:`private_folder`, which holds an
exclusive ``flock`` on the folder for its life. :func:`sweep_stale` runs at the start of every such
command: it removes a folder whose lock is free (its process died) and, only when no intake process
is active on this machine (the intake lock can be taken exclusively, as intake recovery decides),
intake jobs' folders too. A live worker's folder is never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from pipeline.workspace import Workspace, make_private_dir


class JobContext:
    def __init__(self, work_root: Path, input_id: int, attempt: int) -> None:
        self.root = work_root / f"j{input_id}-{attempt}"

    def __enter__(self) -> JobContext:
        # folders of this input's earlier attempts (a worker killed mid-job) go first
        for old in self.root.parent.glob(f"{self.root.name.split('-')[0]}-*"):
            shutil.rmtree(old, ignore_errors=True)
        make_private_dir(self.root)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def segment_pdf(self, n: int) -> Path:
        """The pages of document ``n`` as the scanner made them."""
        return self.root / f"seg{n:03d}.pdf"

    def tmp(self, name: str) -> Path:
        return self.root / name


def sweep(work_root: Path, keep: set[str] = frozenset()) -> list[str]:
    """Remove working folders of jobs no longer running (a worker was killed)."""
    removed = []
    for entry in work_root.iterdir():
        if entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


#: a private folder's name while it is being created and locked (see :func:`private_folder`)
_NEW_PREFIX = ".new-"
#: a folder that is still being created is left alone for this long
_NEW_GRACE_SECONDS = 60.0


def _is_intake_job(name: str) -> bool:
    head, _, attempt = name.partition("-")
    return head[:1] == "j" and head[1:].isdigit() and attempt.isdigit()


def _lock_free(path: Path) -> bool:
    """Whether nobody holds ``path``'s flock (its owner died); False when it cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops the lock we may have taken
    return True


@contextlib.contextmanager
def private_folder(work_root: Path, kind: str) -> Iterator[Path]:
    """A 0700 folder under ``work/`` locked by this process for its life, removed in ``finally``.

    It is created under a temporary name and renamed once locked, so a sweeper never sees it
    unlocked under its real name."""
    tmp = work_root / f"{_NEW_PREFIX}{secrets.token_hex(8)}"
    make_private_dir(tmp)
    fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    final = work_root / f"{kind}-{secrets.token_hex(8)}"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(tmp, final)
        yield final
    finally:
        shutil.rmtree(final, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(fd)


def _live_jobs(ws: Workspace) -> set[str]:
    """``j<input id>`` of inputs a live worker of this machine holds (a worker whose parent died
    holds no intake lock, but its job is still running)."""
    from sqlalchemy import select

    from pipeline.hostlock import worker_alive
    from pipeline.models import Input

    with ws.reader() as s:
        rows = s.execute(select(Input.id, Input.claimed_by).where(Input.state == "processing")).all()
    return {f"j{input_id}" for input_id, worker in rows if worker_alive(ws.data_dir, worker)}


def sweep_stale(ws: Workspace) -> list[str]:
    """Remove working folders left by killed processes (plaintext, rule 2), never a live one's.

    Intake jobs' folders ``j<input>-<attempt>`` go only while no intake process is active on this
    machine (its shared lock on the data dir is what says so, as for intake recovery) and no live
    worker holds their input; other folders go when their own lock is free."""
    from pipeline.hostlock import exclusive_if_idle

    work_root = ws.path("work")
    if not work_root.is_dir():
        return []
    removed: list[str] = []
    with exclusive_if_idle(ws.data_dir) as intake_idle:
        live = _live_jobs(ws) if intake_idle else set()
        now = time.time()
        for entry in sorted(work_root.iterdir()):
            name = entry.name
            if _is_intake_job(name):
                stale = intake_idle and name.partition("-")[0] not in live
            elif name.startswith(_NEW_PREFIX):
                try:
                    young = now - entry.lstat().st_mtime < _NEW_GRACE_SECONDS
                except FileNotFoundError:
                    continue
                stale = not young and (not entry.is_dir() or _lock_free(entry))
            elif entry.is_dir() and not entry.is_symlink():
                stale = _lock_free(entry)
            else:
                stale = True  # a stray file: nothing of ours is a bare file in work/
            if not stale:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(name)
    return removed
