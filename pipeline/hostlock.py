"""Who may clean up, and which jobs are whose.

Processes that take files in or run jobs hold a shared lock on the data directory for their whole
life. Recovery (removing orphan spool copies and working folders, freeing the jobs of dead workers)
runs only in a process that first got the lock exclusively — that is, when no other process on this
machine is half-way through a take-in or a job — and then keeps it shared like everyone else.
Spool copies are local to a machine: an input records the host that holds its copy, and only
workers on that host claim it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_NAME = ".intake.lock"


def host() -> str:
    return socket.gethostname()


def worker_name(n: int | str) -> str:
    return f"{host()}:{os.getpid()}:{n}"


def worker_alive(name: str | None) -> bool:
    """For a worker of this machine, whether its process still runs; True when it cannot tell."""
    if not name:
        return False
    parts = name.split(":")
    if len(parts) != 3 or parts[0] != host() or not parts[1].isdigit():
        return True
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
