"""What a disc was read from: the optical drive, a mounted CD, an image file, or a plain folder.

Only the first two are the archive medium itself. ``drive`` is a block device (``/dev/sr0``, which
pycdlib reads like an image; also a loop device); ``disc`` is a folder on a mounted iso9660 or udf
filesystem, as the desktop mounts a CD. ``image`` is a regular file, ``folder`` any other folder
(an extraction, a copy): reading those proves nothing about the disc in the cupboard.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

OPTICAL_FILESYSTEMS = frozenset({"iso9660", "udf"})
MOUNTINFO = Path("/proc/self/mountinfo")
READ_FROM_MEDIUM = ("drive", "disc")


def filesystem_type(path: Path, mountinfo: Path | None = None) -> str | None:
    """The type of the filesystem ``path`` lives on, from the mount table (None if not found)."""
    dev = os.stat(path).st_dev
    wanted = f"{os.major(dev)}:{os.minor(dev)}"
    try:
        lines = Path(mountinfo or MOUNTINFO).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        # id parent major:minor root mount-point options [optional fields...] - fstype source super-options
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if sep and len(fields) >= 3 and fields[2] == wanted:
            return right.split()[0] if right.split() else None
    return None


def read_from(path: Path, mountinfo: Path | None = None) -> str:
    """``drive`` | ``disc`` | ``image`` | ``folder`` for a disc source (see the module docstring)."""
    mode = os.stat(path).st_mode
    if stat.S_ISBLK(mode):
        return "drive"
    if stat.S_ISDIR(mode):
        return "disc" if filesystem_type(path, mountinfo) in OPTICAL_FILESYSTEMS else "folder"
    return "image"
