"""Inputs that must be refused with a reason a person can act on."""

from __future__ import annotations

import random
import struct
import zipfile
import zlib
from pathlib import Path

import pikepdf

BAD_KINDS = ("empty", "truncated-pdf", "encrypted-pdf", "bomb-png", "docx", "random-pdf", "corrupt-jpeg", "corrupt-tiff-frame")


def empty(folder: Path) -> Path:
    path = folder / "scan_0100.pdf"
    path.write_bytes(b"")
    return path


def truncated_pdf(folder: Path, whole_pdf: Path, keep: float = 0.4) -> Path:
    """A PDF cut part-way through, as a transfer that did not finish leaves it."""
    data = whole_pdf.read_bytes()
    path = folder / "scan_0101.pdf"
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def encrypted_pdf(folder: Path, whole_pdf: Path) -> Path:
    path = folder / "scan_0102.pdf"
    with pikepdf.open(whole_pdf) as pdf:
        pdf.save(path, encryption=pikepdf.Encryption(user="open-sesame", owner="owner-secret", R=6))
    return path


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def bomb_png(folder: Path, side: int = 50000) -> Path:
    """A tiny PNG declaring ``side`` x ``side`` pixels (2.5 gigapixels for 50000)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    idat = zlib.compress(row * 64, 9)  # a few rows; the decoder would want 50000
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    path = folder / "scan_0103.png"
    path.write_bytes(data)
    return path


def docx(folder: Path) -> Path:
    path = folder / "letter to school.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        z.writestr("word/document.xml", '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>')
    return path


def random_pdf(folder: Path, seed: int = 7) -> Path:
    path = folder / "scan_0104.pdf"
    path.write_bytes(random.Random(seed).randbytes(40_000))
    return path


def corrupt_jpeg(folder: Path, whole_jpeg: bytes) -> Path:
    """A JPEG whose scan data stops half-way and is scrambled before that."""
    rng = random.Random(11)
    data = bytearray(whole_jpeg[: len(whole_jpeg) // 2])
    for _ in range(40):
        i = rng.randrange(len(data) // 2, len(data))
        data[i] = rng.randrange(256)
    path = folder / "scan_0105_p001.jpg"
    path.write_bytes(bytes(data))
    return path


def corrupt_tiff_frame(folder: Path, whole_tiff: Path, frame: int = 1, seed: int = 3) -> Path:
    """A multi-page CCITT G4 TIFF whose frame ``frame`` (0-based) has scrambled strip data, as a
    bad sector or a faulty scanner buffer leaves it: libtiff reports bad code words while Pillow
    decodes the frame to garbage without raising. The structure (every IFD) stays intact."""
    from PIL import Image

    data = bytearray(whole_tiff.read_bytes())
    with Image.open(whole_tiff) as im:
        im.seek(frame)
        offset, length = im.tag_v2[273][0], im.tag_v2[279][0]
    rng = random.Random(seed)
    for _ in range(30):
        i = rng.randrange(offset + length // 4, offset + length)
        data[i] = rng.randrange(256)
    path = folder / "scan_0106.tif"
    path.write_bytes(bytes(data))
    return path
