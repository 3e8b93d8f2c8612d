"""Benchmark: burning an image to a pseudo-drive, reading it back, repairing it with dvdisaster.

    .venv/bin/python bench/burn.py [--mb 100]

An image of ``--mb`` MiB of random data (``xorriso -as mkisofs``) is given dvdisaster RS02 data
for a CD (``-n CD``, as ``media build`` does), written with ``archive_media.burn.write`` (xorriso's
cdrecord mode) to a loop block device (needs root and losetup), read back and hashed
(``read_back_sha256``), damaged by one flipped byte through the device, then copied back and
repaired (``recover_image``: the copy, then ``dvdisaster -f``). A loop device is not a CD writer:
the write and read figures are the software's overhead, not a drive's speed (a 48x CD drive
writes about 7 MB/s). Everything lives in a private folder under /tmp and is removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

from archive_media import burn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100, help="MiB of data in the image")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pps-bench-burn-") as tmp:
        d = Path(tmp)
        (d / "data.bin").write_bytes(os.urandom(args.mb << 20))
        image = d / "image.iso"
        subprocess.run(["xorriso", "-as", "mkisofs", "-o", str(image), str(d / "data.bin")], check=True, capture_output=True)
        t = time.perf_counter()
        subprocess.run(["dvdisaster", "-c", "-mRS02", "-n", "CD", "-i", str(image)], check=True, capture_output=True)
        t_ecc = time.perf_counter() - t
        size = image.stat().st_size
        expected = hashlib.sha256(image.read_bytes()).hexdigest()
        backing = d / "drive.img"
        with open(backing, "wb") as fh:
            fh.truncate((burn.sectors(size) + burn.PAD_SECTORS + 64) * burn.SECTOR)
        dev = subprocess.run(["losetup", "--find", "--show", str(backing)], check=True, capture_output=True, text=True).stdout.strip()
        try:
            state = burn.probe(Path(dev))
            t = time.perf_counter()
            burn.write(image, state, "BENCH")
            t_write = time.perf_counter() - t
            t = time.perf_counter()
            sha, _got = burn.read_back_sha256(Path(dev), size)
            t_read = time.perf_counter() - t
            assert sha == expected
            with open(dev, "r+b", buffering=0) as fh:
                fh.seek(size // 3)
                byte = fh.read(1)
                fh.seek(size // 3)
                fh.write(bytes([byte[0] ^ 0xFF]))
                os.fsync(fh.fileno())
            t = time.perf_counter()
            got = burn.recover_image(Path(dev), size, d / "recovered.iso", expected, ecc=True)
            t_repair = time.perf_counter() - t
        finally:
            subprocess.run(["losetup", "--detach", dev], check=False)
    mib = size / 2**20
    print(f"data {args.mb} MiB -> image with RS02 data {mib:.1f} MiB; dvdisaster -c {t_ecc:.1f} s; "
          f"write {t_write:.1f} s ({mib / t_write:.0f} MiB/s); read-back and SHA-256 {t_read:.1f} s "
          f"({mib / t_read:.0f} MiB/s); copy back + dvdisaster -f {t_repair:.1f} s (repaired: {got.repaired}, "
          f"identical: {got.sha256 == expected})")


if __name__ == "__main__":
    main()
