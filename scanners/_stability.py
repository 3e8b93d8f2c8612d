"""Is a file in a drop folder finished? Fingerprints and the last check before a file is reported.

The rule is the one every "scan to folder" intake uses: a file is finished when its size and
mtime (nanoseconds) have not changed for a while. Before a file is reported we also open it
(without following links, without blocking on a FIFO that replaced it), check through the open
descriptor that it is still the same regular file inside the drop folder, read a byte, and on
Linux ask the kernel whether any process still has it open for writing (a read lease is refused
with EAGAIN while a writer holds the file: cheap, and no /proc walk).
"""

from __future__ import annotations

import enum
import errno
import fcntl
import os
import stat
from dataclasses import dataclass
from pathlib import Path

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
)
_F_SETLEASE = getattr(fcntl, "F_SETLEASE", None)


@dataclass(frozen=True)
class FileFingerprint:
    """What identifies one version of one file: device, inode, size and mtime in nanoseconds.

    The caller that takes a reported file should open it with ``O_NOFOLLOW`` and check
    ``fingerprint.matches(os.fstat(fd))``, so the file it takes is the one that was found stable.
    """

    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileFingerprint:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def matches(self, st: os.stat_result) -> bool:
        return self == FileFingerprint.of(st)


class Verdict(enum.Enum):
    READY = "ready"
    CHANGED = "changed"  # not the file we saw stable any more: wait for it to settle again
    BUSY = "busy"  # still open for writing, or cannot be read just now: try again later
    GONE = "gone"


def is_inside(root: Path, candidate: str) -> bool:
    """True if the resolved ``candidate`` lies under the resolved folder ``root``."""
    root_s = str(root)
    try:
        return os.path.commonpath([root_s, candidate]) == root_s
    except ValueError:
        return False


def final_check(path: Path, expected: FileFingerprint, root: Path) -> tuple[Verdict, str]:
    """Open ``path`` and decide whether it can be reported now. Returns the verdict and why."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return Verdict.GONE, "gone"
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.ENOTDIR):
            return Verdict.CHANGED, "replaced by something that is not a regular file"
        return Verdict.BUSY, f"cannot be opened for reading ({errno.errorcode.get(exc.errno, exc.errno)})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not expected.matches(st):
            return Verdict.CHANGED, "changed since it was last seen"
        if not is_inside(root, os.path.realpath(path)):
            return Verdict.CHANGED, "no longer inside the drop folder"
        if open_for_writing(fd):
            return Verdict.BUSY, "still open for writing by another program"
        if st.st_size:
            try:
                os.read(fd, 1)
            except OSError as exc:
                return Verdict.BUSY, f"cannot be read ({errno.errorcode.get(exc.errno, exc.errno)})"
        return Verdict.READY, "ready"
    finally:
        os.close(fd)


def open_for_writing(fd: int) -> bool:
    """Linux only: does any process hold this file open for writing?

    Taking a read lease fails with EAGAIN exactly then. Any other failure (no lease support on
    a network file system, not the file's owner without CAP_LEASE, leases disabled) means "not
    known", and the size/mtime rule alone decides.
    """
    if _F_SETLEASE is None:
        return False
    try:
        fcntl.fcntl(fd, _F_SETLEASE, fcntl.F_RDLCK)
    except OSError as exc:
        return exc.errno == errno.EAGAIN
    try:
        fcntl.fcntl(fd, _F_SETLEASE, fcntl.F_UNLCK)
    except OSError:
        pass
    return False
