"""Who may clean up, and which jobs are whose.

Processes that take files in or run jobs hold a shared lock on the data directory for their whole
life. Recovery (removing orphan spool copies and working folders, freeing the jobs of dead workers)
runs only in a process that first got the lock exclusively — that is, when no other process on this
machine is half-way through a take-in or a job — and then keeps it shared like everyone else.

Spool copies are local to a data directory: an input records the *spool id* of the data directory
that holds its copy (a random id made when the data directory is set up, kept in ``spool-id``), and
only workers of that data directory claim it. The hostname cannot serve: two data directories on one
machine, cloned virtual machines and containers share one. A worker's name carries the spool id,
this boot of the machine and its pid, so recovery can tell a dead worker of ours from a live one.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import re
import secrets
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_NAME = ".intake.lock"
ID_FILE = "spool-id"
_ID_RE = re.compile(r"[0-9a-f]{16}")


def legacy_host() -> str:
    """What inputs recorded before spool ids: the hostname."""
    return socket.gethostname()


@functools.cache
def _spool_id(data_dir: str) -> str:
    path = Path(data_dir) / ID_FILE
    try:
        value = path.read_text("ascii").strip()
    except FileNotFoundError:
        value = ""
    if _ID_RE.fullmatch(value):
        return value
    # create it once, atomically: two processes starting together agree on one id
    tmp = path.with_name(f".{ID_FILE}-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(8) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if value:  # present but damaged: replace it
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if another process made it first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    value = path.read_text("ascii").strip()
    if not _ID_RE.fullmatch(value):
        raise OSError(f"{path} does not hold a spool id")
    return value


def spool_id(data_dir: Path) -> str:
    """This data directory's spool id (made on first use, normally by ``init``)."""
    return _spool_id(str(Path(data_dir).absolute()))


def host(data_dir: Path) -> str:
    """What an input records as the place of its spool copy: the data directory's spool id."""
    return spool_id(data_dir)


@functools.cache
def boot_id() -> str:
    """This boot of this machine (a pid of an earlier boot, or of another machine, is not ours)."""
    try:
        raw = Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
    except OSError:
        raw = hashlib.sha256(socket.gethostname().encode()).hexdigest()
    return raw[:12]


def worker_name(data_dir: Path, n: int | str, pid: int | None = None) -> str:
    return f"{spool_id(data_dir)}:{boot_id()}:{os.getpid() if pid is None else pid}:{n}"


def worker_alive(data_dir: Path, name: str | None) -> bool:
    """For a worker of this data directory, whether its process still runs; True when it cannot
    tell (a worker of another data directory, or a name of an older version)."""
    if not name:
        return False
    parts = name.split(":")
    if len(parts) != 4 or parts[0] != spool_id(data_dir) or not parts[2].isdigit():
        return True
    if parts[1] != boot_id():
        return False  # it ran before this machine last started
    return pid_alive(int(parts[2]))


def pid_alive(pid: int) -> bool:
    """True while ``pid`` names a process that has not exited (a zombie — dead, not yet reaped by
    its parent — counts as exited: it holds no job any more)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")


@contextlib.contextmanager
def active(data_dir: Path, recover: Callable[[], None]) -> Iterator[None]:
    """Run ``recover`` if no other intake process is active here, then stay registered as active."""
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(fd, fcntl.LOCK_SH)  # others are active: no clean-up now
        else:
            try:
                recover()
            finally:
                fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_if_idle(data_dir: Path) -> Iterator[bool]:
    """True (holding the intake lock exclusively) when no intake process is active here, else
    False at once; an intake process starting meanwhile waits for the lock, then skips recovery."""
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)
