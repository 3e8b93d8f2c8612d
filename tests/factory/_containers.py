"""Writing scanned pages the way office scanners do: PDF, multi-page TIFF, one file a page."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

CONTAINERS = ("pdf", "pdf-text", "tiff", "tiff-g4", "jpeg", "png")
SCANNER_JPEG_QUALITY = 80


def bilevel(img: Image.Image, threshold: int = 140) -> Image.Image:
    return img.convert("L").point(lambda v: 255 if v >= threshold else 0).convert("1", dither=Image.Dither.NONE)


def jpeg_bytes(img: Image.Image, dpi: int, quality: int = SCANNER_JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, dpi=(dpi, dpi))
    return buf.getvalue()


def _pdf_escape(text: str) -> bytes:
    raw = text.encode("cp1252", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _text_lines(words: tuple[str, ...], per_line: int = 10) -> list[str]:
    """Words in lines of ``per_line``, a line also ending after a word that ends in a hyphen (a
    word broken across a line on the page is broken in the text layer too)."""
    lines, line = [], []
    for w in words:
        line.append(w)
        if len(line) == per_line or w.endswith("-"):
            lines.append(" ".join(line))
            line = []
    if line:
        lines.append(" ".join(line))
    return lines


def write_pdf(pages: list[tuple[Image.Image, int, tuple[str, ...]]], out: Path, text_layer: bool = False) -> None:
    """An image PDF written the way scanner firmware writes it: catalog and page tree first, then
    each page (page object, content, one JPEG image embedded as is) in order, the xref last.
    Optionally an invisible text layer (render mode 3), as a scanner with built-in OCR writes it.

    Written by hand rather than with pikepdf, whose writer puts every page object first: with this
    order a file cut short loses whole pages, as the trial in FINDINGS.md saw.
    """
    n = len(pages)
    font_id = 3
    first = 4  # page k (0-based) uses objects first+3k (page), +1 (content), +2 (image)
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Count %d /Kids [%s] >>" % (n, b" ".join(b"%d 0 R" % (first + 3 * k) for k in range(n))),
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    for k, (img, dpi, words) in enumerate(pages):
        page_id, content_id, image_id = first + 3 * k, first + 3 * k + 1, first + 3 * k + 2
        data = jpeg_bytes(img, dpi)
        w, h = img.width * 72 / dpi, img.height * 72 / dpi
        content = b"q %.3f 0 0 %.3f 0 0 cm /Im0 Do Q\n" % (w, h)
        fonts = b""
        if text_layer and words:
            fonts = b" /Font << /F1 %d 0 R >>" % font_id
            lines = _text_lines(words)
            content += b"BT 3 Tr /F1 10 Tf 12 TL 1 0 0 1 60 %.1f Tm\n" % (h - 60)
            content += b"".join(b"(" + _pdf_escape(line) + b") Tj T*\n" for line in lines) + b"ET\n"
        objects[page_id] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.3f %.3f] /Resources << /XObject "
                            b"<< /Im0 %d 0 R >>%s >> /Contents %d 0 R >>" % (w, h, image_id, fonts, content_id))
        objects[content_id] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)
        colour = b"DeviceGray" if img.mode == "L" else b"DeviceRGB"
        objects[image_id] = (b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /%s "
                             b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream"
                             % (img.width, img.height, colour, len(data), data))
    buf = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(buf)
        buf += b"%d 0 obj\n%s\nendobj\n" % (num, objects[num])
    xref = len(buf)
    size = max(objects) + 1
    buf += b"xref\n0 %d\n0000000000 65535 f \n" % size
    buf += b"".join(b"%010d 00000 n \n" % offsets[i] for i in range(1, size))
    buf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    out.write_bytes(bytes(buf))


def write_tiff(pages: list[tuple[Image.Image, int]], out: Path, g4: bool = False) -> None:
    frames = [bilevel(img) if g4 else img.convert("L") for img, _ in pages]
    dpi = pages[0][1]
    options = {"compression": "group4" if g4 else "tiff_lzw", "dpi": (dpi, dpi),
               "strip_size": 1 << 30}  # one strip a page: what most scanners write
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], **options)


def write_page_files(pages: list[tuple[Image.Image, int]], folder: Path, stem: str, fmt: str) -> list[Path]:
    """``scan_0042_p001.jpg``, ``scan_0042_p002.jpg``, ..."""
    ext = {"jpeg": "jpg", "png": "png"}[fmt]
    paths = []
    for n, (img, dpi) in enumerate(pages, 1):
        path = folder / f"{stem}_p{n:03d}.{ext}"
        if fmt == "jpeg":
            path.write_bytes(jpeg_bytes(img, dpi))
        else:
            img.save(path, "PNG", dpi=(dpi, dpi))
        paths.append(path)
    return paths
