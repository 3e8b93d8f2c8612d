"""Which paths typed on a web form the server may open as a disc (the disc verification's source,
the discs presented to a disposal run or a subject access export).

The command line runs as the person who types it, with their own rights on this machine; the web
app runs as the service's account for people who have no shell here. So a path from a web form is
read only when it is one of:

- a block device (the optical drive, ``/dev/sr0``; a loop device): what the service account may
  open is the operating system's business (the ``cdrom`` group);
- a folder that is a mount point on an iso9660 or udf filesystem (a CD as the desktop mounts it);
- a regular file or folder under the data directory's image folder (:func:`pipeline.media.images_dir`:
  the images the web app built, ciphertext only), or a name there that does not exist (the reader
  then says it is not there).

Anything else (a file elsewhere, ``/etc``, a FIFO, ``/dev/zero``, a symbolic link out of the image
folder, a path that is not there) is refused with :class:`SourceRefused` and one message for all,
so a form cannot be used to find out which files exist on the server.

The one path a web form may have *written* is the CD writer a disc is burnt to
(:func:`check_device`): a block device only, never a file (which xorriso would otherwise write as
a pseudo-drive).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from archive_media.medium import OPTICAL_FILESYSTEMS, filesystem_type
from pipeline.workspace import Workspace
from pps_archive.errors import SourceRefused


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def check_source(ws: Workspace, given: str | Path) -> Path:
    """``given`` as a path the server may read as a disc for a web form (see the module
    docstring), else :class:`SourceRefused`. Returns the path as given (its real path checked)."""
    from pipeline.media import images_dir

    text = str(given)
    shown = text[:120]
    if not text.strip() or "\x00" in text:
        raise SourceRefused(given=repr(shown))
    path = Path(text)
    if not path.is_absolute():
        raise SourceRefused(given=shown)
    real = Path(os.path.realpath(path))
    folder = Path(os.path.realpath(images_dir(ws)))
    try:
        mode = os.stat(real).st_mode
    except OSError:
        if _inside(real, folder):
            return path  # not there, in the image folder: the reader says so
        raise SourceRefused(given=shown) from None
    if _inside(real, folder) and (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return path
    if stat.S_ISBLK(mode):
        return path
    if stat.S_ISDIR(mode) and os.path.ismount(real) and filesystem_type(real) in OPTICAL_FILESYSTEMS:
        return path
    raise SourceRefused(given=shown)


def check_sources(ws: Workspace, given: list[Path] | list[str]) -> list[Path]:
    """:func:`check_source` of each."""
    return [check_source(ws, g) for g in given]


def check_device(given: str | Path) -> Path:
    """``given`` as the CD writer a web form burns to: an absolute path that is a block device, or
    that is not there at all (the burn then says there is no drive); anything else (a file, a
    folder, a FIFO) is :class:`SourceRefused`: a form must not make the server write a file."""
    text = str(given)
    shown = text[:120]
    path = Path(text)
    if not text.strip() or "\x00" in text or not path.is_absolute():
        raise SourceRefused(given=repr(shown))
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return path  # no such device: pipeline.burning says NoDrive
    if stat.S_ISBLK(mode):
        return path
    raise SourceRefused(given=shown)
