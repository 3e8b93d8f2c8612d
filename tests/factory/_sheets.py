"""Cover sheets and generic separators as they come out of the scanner.

Cover sheets are printed by the real ``scanners.coversheet.render_coversheet_pdf`` and rasterised
by Ghostscript, as a printer and scanner would. Rendered pages are cached per resolution.
"""

from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from pps_archive.exec import run
from scanners.coversheet import GENERIC_SEPARATOR, CoverSheet, render_coversheet_pdf

SERVICE = "Parent Partnership Service"


def rasterise(pdf: Path, dpi: int) -> Image.Image:
    out = run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pnggray", f"-r{dpi}",
               "-dTextAlphaBits=4", "-sOutputFile=-", str(pdf)]).stdout
    img = Image.open(io.BytesIO(out))
    img.load()
    return img


def pdf_words(pdf: Path) -> tuple[str, ...]:
    text = run(["pdftotext", "-raw", str(pdf), "-"]).stdout.decode()
    return tuple(text.split())


@functools.lru_cache(maxsize=64)
def coversheet_pdf_bytes(sheet: CoverSheet, symbologies: tuple[str, ...]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sheet.pdf"
        render_coversheet_pdf(sheet, out, SERVICE, symbologies=symbologies)
        return out.read_bytes()


@functools.lru_cache(maxsize=64)
def _coversheet(sheet: CoverSheet, symbologies: tuple[str, ...], dpi: int, blot: bool
                ) -> tuple[Image.Image, tuple[str, ...]]:
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "sheet.pdf"
        pdf.write_bytes(coversheet_pdf_bytes(sheet, symbologies))
        img, words = rasterise(pdf, dpi), pdf_words(pdf)
    if blot:
        img = _blot_barcodes(img)
    return img, words


def coversheet_page(sheet: CoverSheet, dpi: int, symbologies: tuple[str, ...] = ("qr", "code128"),
                    blot: bool = False) -> tuple[Image.Image, tuple[str, ...]]:
    """The sheet as printed, before the scanner's degradation (a copy; callers may draw on it)."""
    img, words = _coversheet(sheet, tuple(symbologies), dpi, blot)
    return img.copy(), words


def _blot_barcodes(img: Image.Image) -> Image.Image:
    """Cover every barcode with a grey smudge, as a coffee stain or a bad fold would."""
    import zxingcpp

    img = img.copy()
    draw = ImageDraw.Draw(img)
    for code in zxingcpp.read_barcodes(img):
        p = code.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
        pad = img.width // 60
        draw.rectangle((min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad), fill=110)
    return img


@functools.lru_cache(maxsize=4)
def _separator(dpi: int) -> tuple[Image.Image, tuple[str, ...]]:
    from reportlab.graphics.barcode.code128 import Code128
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "patcht.pdf"
        c = canvas.Canvas(str(pdf), pagesize=A4, invariant=1)
        w, h = A4
        c.setFont("Helvetica-Bold", 60)
        c.drawCentredString(w / 2, h - 80 * mm, "PATCH T")
        c.setFont("Helvetica", 14)
        c.drawCentredString(w / 2, h - 95 * mm, "Batch separator")
        bc = Code128(GENERIC_SEPARATOR, barWidth=0.7 * mm, barHeight=25 * mm)
        bc.drawOn(c, (w - bc.width) / 2, h / 2 - 40 * mm)
        c.showPage()
        c.save()
        return rasterise(pdf, dpi), pdf_words(pdf)


def separator_page(dpi: int) -> tuple[Image.Image, tuple[str, ...]]:
    img, words = _separator(dpi)
    return img.copy(), words

