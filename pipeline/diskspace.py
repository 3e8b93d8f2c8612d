"""Telling a full disk from a bad file.

A full data directory shows up in many shapes: ``OSError(ENOSPC)`` from our own writes, SQLite's
"database or disk is full", PostgreSQL's ``disk_full`` (SQLSTATE 53100), or a tool's own error that
merely quotes "No space left on device" (OCRmyPDF reports it as an unreadable input file). None of
them is the scan's fault: the job is put back, not counted as a failed attempt, and never
quarantined; the front-end says to free space.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

from pps_archive.errors import DiskFull

_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded", "could not extend file")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack.extend((e.__cause__, e.__context__, getattr(e, "orig", None)))


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or anything that caused it) says the disk is full."""
    for e in _chain(exc):
        if isinstance(e, DiskFull):
            return True
        if isinstance(e, OSError) and e.errno in _ERRNOS:
            return True
        if getattr(e, "sqlstate", None) == "53100":
            return True
        if any(t in str(e).lower() for t in _TEXTS):
            return True
    return False


def disk_full(data_dir: Path) -> DiskFull:
    return DiskFull(path=data_dir)
