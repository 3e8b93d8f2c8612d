"""Pseudo-drives for burning tests: xorriso's ``stdio:`` targets on a loop block device or a file.

A loop device is a real block device, as the optical drive is (archive_media.medium reads it as a
drive); a regular file is a pseudo-drive that must never count as a disc.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SECTOR = 2048


@pytest.fixture
def blank_drive(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``blank_drive(sectors, read_only=False)``: a loop device over a fresh file of zeros."""
    attached: list[str] = []

    def attach(sectors: int = 4096, *, read_only: bool = False) -> Path:
        if os.geteuid() != 0 or shutil.which("losetup") is None:
            pytest.skip("attaching a loop device needs root and losetup")
        backing = tmp_path / f"drive-{len(attached)}.img"
        with open(backing, "wb") as fh:
            fh.truncate(sectors * SECTOR)
        r = subprocess.run(["losetup", "--find", "--show", *(["--read-only"] if read_only else []), str(backing)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"losetup failed: {r.stderr.strip()}")
        attached.append(r.stdout.strip())
        return Path(attached[-1])

    yield attach
    for dev in attached:
        subprocess.run(["losetup", "--detach", dev], check=False)


def flip_byte_on(device: Path, offset: int) -> None:
    """Damage a burnt disc: flip one byte, written through the device itself (no stale cache)."""
    with open(device, "r+b", buffering=0) as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0xFF]))
        os.fsync(fh.fileno())
