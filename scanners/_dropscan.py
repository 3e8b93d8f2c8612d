"""One listing of one drop folder: what is there, what is refused, what is ignored.

The walk starts at the folder's resolved path and never follows a symbolic link: a link (to a
file or to a folder) is refused, like FIFOs, sockets and devices, and so is a regular file whose
resolved path is outside the folder. Names matching an ignore pattern are skipped silently,
folders included (``.git``, ``.Trash-1000``). Subfolders are walked only for recursive profiles.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scanners._stability import FileFingerprint, is_inside

if TYPE_CHECKING:
    from scanners.watch import ScannerProfile


def glob_regex(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex for several fnmatch globs (scanners and Windows differ in case)."""
    parts = [fnmatch.translate(p) for p in patterns]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


@dataclass(frozen=True)
class SeenFile:
    path: Path
    rel: str  # relative to the drop folder, "/"-separated
    fp: FileFingerprint
    batch: str | None  # group key ("subfolder/" + batch) when the name matches group_pattern
    page: int | None


@dataclass(frozen=True)
class Refusal:
    path: Path
    rel: str
    reason: str
    identity: tuple[int, int, int]  # (dev, ino, file type): a new thing under the same name is new


@dataclass
class Listing:
    files: list[SeenFile]
    refused: list[Refusal]


_KINDS = (
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a file"),
    (stat.S_ISSOCK, "is a socket, not a file"),
    (stat.S_ISCHR, "is a device, not a file"),
    (stat.S_ISBLK, "is a device, not a file"),
)
LINK_REASON = "is a symbolic link: links are never followed; copy the file itself into the drop folder"
DIR_LINK_REASON = "is a symbolic link to a folder: links are never followed; move the files themselves in"
LINK_OUTSIDE_REASON = "is a symbolic link to a place outside the drop folder: links are never followed"
OUTSIDE_REASON = "resolves to a place outside the drop folder"


def list_folder(profile: ScannerProfile, root: Path, ignore: re.Pattern[str] | None) -> Listing:
    """List ``root`` (the profile's resolved folder). Raises OSError if the folder itself fails."""
    out = Listing([], [])
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = os.scandir(folder)
        except OSError:
            if not prefix:
                raise
            continue  # a subfolder that vanished or cannot be read: the next pass looks again
        with entries:
            for entry in entries:
                _classify(entry, prefix, profile, root, ignore, stack, out)
    return out


def _classify(entry, prefix, profile, root, ignore, stack, out) -> None:  # noqa: ANN001 - the private state of scan_folder's walk, passed flat for speed
    name = entry.name
    if ignore is not None and ignore.fullmatch(name):
        return
    rel = prefix + name
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return  # gone between listing and stat
    mode = st.st_mode
    identity = (st.st_dev, st.st_ino, stat.S_IFMT(mode))
    path = Path(entry.path)
    if stat.S_ISDIR(mode):
        if profile.recursive:
            stack.append((entry.path, rel + "/"))
        return
    if stat.S_ISLNK(mode):
        if profile.matches(name):
            outside = not is_inside(root, os.path.realpath(entry.path))
            reason = LINK_OUTSIDE_REASON if outside else LINK_REASON
            out.refused.append(Refusal(path, rel, reason, identity))
        elif profile.recursive and os.path.isdir(entry.path):
            out.refused.append(Refusal(path, rel, DIR_LINK_REASON, identity))
        return
    if not profile.matches(name):
        return
    for test, reason in _KINDS:
        if test(mode):
            out.refused.append(Refusal(path, rel, reason, identity))
            return
    if not stat.S_ISREG(mode):
        out.refused.append(Refusal(path, rel, "is not a regular file", identity))
        return
    if not is_inside(root, os.path.realpath(entry.path)):
        out.refused.append(Refusal(path, rel, OUTSIDE_REASON, identity))
        return
    batch, page = None, None
    grouped = profile.group_of(name)
    if grouped is not None:
        batch, page = prefix + grouped[0], grouped[1]
    out.files.append(SeenFile(path, rel, FileFingerprint.of(st), batch, page))
