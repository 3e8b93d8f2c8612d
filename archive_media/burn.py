"""Write a finished image to a CD-R with xorriso, read it back from the device, and recover a
degraded disc's image with its dvdisaster data.

A device is one of: an optical drive (a block device of the SCSI CD-ROM major, ``/dev/sr0``),
addressed as xorriso's own MMC drive; any other block device (a loop device, a USB stick),
addressed as the pseudo-drive ``stdio:DEV``; or a regular file, the pseudo-drive ``stdio:FILE``.
The last is for tests and rehearsals only: what is read back from a file is an image, not a disc
(:mod:`archive_media.medium`), and the caller must never count it as one.

``probe`` asks xorriso for the medium's state (``-outdev ADDR -toc``); ``write`` burns in the
cdrecord emulation (``xorriso -as cdrecord -v dev=ADDR -dao -pad padsize=300k IMAGE``: one
closed session, as a CD-R of the archive must be, with 300 KiB of padding); ``read_back_sha256`` hashes exactly the image's bytes read from
the device. Errors: :class:`NoDrive`, :class:`DiscNotBlank`, :class:`DiscTooSmall`,
:class:`BurnFailed`, each naming the device and saying what to do.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from pps_archive.errors import BurnFailed, DiscNotBlank, DiscTooSmall, IntegrityError, NoDrive

SECTOR = 2048
#: zeros written after the image (``padsize=300k``): Linux reads ahead past the end of a CD track,
#: and xorriso refuses an image whose sectors plus this padding exceed the free space
PAD_SECTORS = 150
#: the Linux major number of SCSI CD-ROM devices (/dev/sr*)
SCSI_CDROM_MAJOR = 11

__all__ = ["DriveState", "Recovered", "address_of", "check_writable", "probe", "read_back_sha256", "recover_image",
           "repair_with_ecc", "sectors", "write"]


def sectors(size: int) -> int:
    return -(-size // SECTOR)


@dataclass(frozen=True)
class DriveState:
    """What xorriso reports about the device and the medium in it."""

    device: str
    address: str  # as xorriso is given it: /dev/sr0, or stdio:PATH for a pseudo-drive
    kind: str  # "optical" (an MMC drive), "block" (another block device), "file" (a regular file)
    medium: str  # xorriso's "Media current", e.g. "CD-R", "stdio file, overwriteable", "is not present"
    status: str  # xorriso's "Media status", e.g. "is blank", "is written , is closed"
    writable_sectors: int | None  # free 2,048-byte sectors, when xorriso says

    @property
    def blank(self) -> bool:
        return self.status.startswith("is blank")

    @property
    def is_drive(self) -> bool:
        """A block device: what is read back from it is the medium itself (an optical drive or a loop device)."""
        return self.kind in ("optical", "block")


def address_of(device: Path) -> tuple[str, str]:
    """``(xorriso address, kind)`` for a device path; :class:`NoDrive` when there is nothing to write to."""
    device = Path(device)
    try:
        st = os.stat(device)
    except FileNotFoundError:
        raise NoDrive(device=str(device), problem="there is no such device") from None
    except OSError as exc:
        raise NoDrive(device=str(device), problem=f"it cannot be opened ({exc.strerror})") from None
    if stat.S_ISBLK(st.st_mode):
        if os.major(st.st_rdev) == SCSI_CDROM_MAJOR:
            return str(device), "optical"
        return f"stdio:{device}", "block"
    if stat.S_ISREG(st.st_mode):
        return f"stdio:{device}", "file"
    raise NoDrive(device=str(device), problem="it is neither an optical drive nor a block device")


def _field(text: str, name: str) -> str | None:
    m = re.search(rf"^{re.escape(name)}\s*:\s*(.*?)\s*$", text, re.MULTILINE)
    return m.group(1) if m else None


def probe(device: Path) -> DriveState:
    """Ask xorriso about the drive and its medium (nothing is written)."""
    from pps_archive.exec import run

    address, kind = address_of(device)
    proc = run(["xorriso", "-abort_on", "FAILURE", "-outdev", address, "-toc"], check=False, timeout=300)
    out = proc.stdout.decode("utf-8", "replace") + "\n" + proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0 and _field(out, "Media current") is None:
        problem = next((line.split(":", 2)[-1].strip() for line in out.splitlines() if "FAILURE" in line), "xorriso cannot use it")
        raise NoDrive(device=str(device), problem=problem)
    medium = _field(out, "Media current") or "unknown"
    status = _field(out, "Media status") or medium
    writable = None
    blocks = _field(out, "Media blocks")
    if blocks:
        m = re.search(r"(\d+)\s+writable", blocks)
        writable = int(m.group(1)) if m else None
    return DriveState(str(device), address, kind, medium, status, writable)


def check_writable(state: DriveState, image_size: int, label: str) -> None:
    """:class:`DiscNotBlank` unless the medium is blank; :class:`DiscTooSmall` if the image does not fit."""
    if "not present" in state.medium or "not present" in state.status:
        raise DiscNotBlank(device=state.device, status="no disc in the drive")
    if not state.blank:
        raise DiscNotBlank(device=state.device, status=f"{state.medium}, {state.status}")
    needed = sectors(image_size) + PAD_SECTORS
    if state.writable_sectors is not None and state.writable_sectors < needed:
        raise DiscTooSmall(label=label, device=state.device, needed=needed, free=state.writable_sectors)


def write(image: Path, state: DriveState, label: str) -> None:
    """Burn ``image`` as one closed session (:class:`BurnFailed` with xorriso's words on failure)."""
    from pps_archive.exec import run

    proc = run(["xorriso", "-as", "cdrecord", "-v", f"dev={state.address}", "-dao", "-pad", f"padsize={PAD_SECTORS * 2}k",
               str(image)], check=False, timeout=3 * 3600)
    if proc.returncode != 0:
        text = proc.stderr.decode("utf-8", "replace") + proc.stdout.decode("utf-8", "replace")
        full = re.search(r"Image size (\d+)s exceeds free space on media (\d+)s", text)
        if full:  # refused before writing anything: xorriso counts a little more room than -toc shows
            raise DiscTooSmall(label=label, device=state.device, needed=int(full.group(1)), free=int(full.group(2)))
        reasons = [line.strip() for line in text.splitlines() if "FAILURE" in line or "SORRY" in line]
        raise BurnFailed(label=label, device=state.device,
                         problem=f"xorriso exited {proc.returncode}: {'; '.join(reasons[-3:]) or text.strip()[-300:]}")


def read_back_sha256(device: Path, size: int) -> tuple[str, int]:
    """The SHA-256 of the first ``size`` bytes read from ``device``, and how many bytes it gave."""
    digest, got = hashlib.sha256(), 0
    with open(device, "rb", buffering=0) as fh:
        while got < size:
            chunk = fh.read(min(1 << 20, size - got))
            if not chunk:
                break
            digest.update(chunk)
            got += len(chunk)
    return digest.hexdigest(), got


@dataclass(frozen=True)
class Recovered:
    path: Path
    unreadable_sectors: int  # sectors the device would not give (written as zeros for dvdisaster to rebuild)
    repaired: bool  # dvdisaster's error-correction data was used
    sha256: str


def _copy_sectors(device: Path, size: int, out: Path) -> int:
    """Copy the first ``size`` bytes of ``device`` to ``out`` sector by sector; unreadable sectors are zeros."""
    bad = 0
    chunk = 512  # sectors (1 MiB) at a time; sector by sector only where a chunk will not read
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with open(device, "rb", buffering=0) as src:
            for first in range(0, sectors(size), chunk):
                want = min(chunk * SECTOR, size - first * SECTOR)
                try:
                    src.seek(first * SECTOR)
                    data = src.read(want)
                except OSError:
                    data = b""
                if len(data) == want:
                    os.write(fd, data)
                    continue
                for n in range(first, first + sectors(want)):
                    one = min(SECTOR, size - n * SECTOR)
                    try:
                        src.seek(n * SECTOR)
                        data = src.read(one)
                    except OSError:
                        data = b""
                    if len(data) < one:
                        bad += 1
                        data = data + bytes(one - len(data))
                    os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return bad


def recover_image(device: Path, size: int, out: Path, expected_sha256: str, *, ecc: bool) -> Recovered:
    """Read a disc's image back from ``device`` into ``out`` and, if it differs from
    ``expected_sha256`` and the disc carries dvdisaster RS02 data (``ecc``), repair it with that
    data. :class:`IntegrityError` when the image cannot be brought back to the registered hash
    (``out`` is removed then)."""
    bad = _copy_sectors(Path(device), size, out)
    sha, _got = read_back_sha256(out, size)
    repaired = False
    if sha != expected_sha256:
        if not ecc:
            out.unlink(missing_ok=True)
            raise IntegrityError(what=f"the disc in {device}", problem=(
                f"it reads back differently from its registered image ({bad} unreadable sectors) and carries no "
                f"error-correction data to repair it from: make a replacement disc from the vault copies"))
        repair_with_ecc(out)
        repaired = True
        sha, _got = read_back_sha256(out, size)
        if sha != expected_sha256:
            out.unlink(missing_ok=True)
            raise IntegrityError(what=f"the disc in {device}", problem=(
                "its error-correction data could not repair it to the registered image: make a replacement disc "
                "from the vault copies"))
    return Recovered(Path(out), bad, repaired, sha)


def repair_with_ecc(image: Path) -> str:
    """Repair ``image`` in place from its RS02 data (``dvdisaster -f``); returns dvdisaster's summary."""
    from pps_archive.errors import ExternalProgramFailed
    from pps_archive.exec import run

    try:
        proc = run(["dvdisaster", "-f", "-i", str(image)], timeout=3600)
    except ExternalProgramFailed as exc:
        raise IntegrityError(what=f"image {Path(image).name}", problem=f"dvdisaster could not repair it ({exc})") from exc
    text = proc.stdout.decode("utf-8", "replace").replace("\r", "\n")
    lines = [line.strip() for line in text.splitlines() if "epaired" in line]
    return lines[-1] if lines else "repaired"
