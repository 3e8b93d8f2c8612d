"""What a file really is, from its first bytes (never from its name)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from pps_archive.errors import BadInput

ACCEPTED = ("pdf", "tiff", "jpeg", "png")
_SAVE_AS = "save it as PDF (or scan the paper) and drop it in again"

#: magic bytes -> (what it is, human name) for files we refuse by name
_FOREIGN = (
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office file (.doc/.xls)"),
    (b"{\\rtf", "an RTF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
)
_ZIP_KINDS = (
    ("word/", "a .docx file (a Word document)"),
    ("xl/", "an .xlsx file (an Excel spreadsheet)"),
    ("ppt/", "a .pptx file (a PowerPoint presentation)"),
)


def sniff(path: Path, display_name: str) -> str:
    """Return "pdf", "tiff", "jpeg" or "png"; raise BadInput for anything else."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if not head:
        raise BadInput(file=display_name, reason="is empty (0 bytes): the scanner or the copy did not finish; scan it again")
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if b"%PDF-" in head:  # the PDF header may follow some junk bytes
        return "pdf"
    raise BadInput(file=display_name, reason=_refusal(path, head, display_name))


def _refusal(path: Path, head: bytes, display_name: str) -> str:
    if head.startswith(b"PK\x03\x04"):
        what = _zip_kind(path)
        return f"is {what}, not a scan: {_SAVE_AS}"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return f"is a HEIC photo, not a supported scan format: {_SAVE_AS}"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return f"is a WebP image, not a supported scan format: {_SAVE_AS}"
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            return f"is {what}, not a supported scan format: {_SAVE_AS}"
    suffix = Path(display_name).suffix.lower()
    named = ""
    if suffix in (".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png"):
        named = f" (its contents do not match its {suffix} name: damaged, or not a scan)"
    return f"is not a PDF, TIFF, JPEG or PNG file{named}: scan the paper again as PDF"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if "mimetype" in names and b"opendocument" in z.read("mimetype"):
                return "an OpenDocument file (.odt/.ods)"
    except (zipfile.BadZipFile, OSError, KeyError):
        return "a ZIP archive"
    for prefix, what in _ZIP_KINDS:
        if any(n.startswith(prefix) for n in names):
            return what
    return "a ZIP archive"
