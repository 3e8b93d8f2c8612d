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


DAMAGES = ("stain", "torn")
GARBLES = ("look-alikes", "unreadable")


@functools.lru_cache(maxsize=64)
def _coversheet(sheet: CoverSheet, symbologies: tuple[str, ...], dpi: int, blot: bool, damage: str | None = None
                ) -> tuple[Image.Image, tuple[str, ...]]:
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "sheet.pdf"
        pdf.write_bytes(coversheet_pdf_bytes(sheet, symbologies))
        img, words = rasterise(pdf, dpi), pdf_words(pdf)
    if blot:
        img = _blot_barcodes(img)
    if damage == "stain":
        img = _stain_barcodes(img, dpi)
    elif damage == "torn":
        img = _tear_corner(img, dpi)
    elif damage is not None:
        raise ValueError(f"damage must be one of {DAMAGES}")
    return img, words


def coversheet_page(sheet: CoverSheet, dpi: int, symbologies: tuple[str, ...] = ("qr", "code128"),
                    blot: bool = False, damage: str | None = None, garble: str | None = None,
                    ) -> tuple[Image.Image, tuple[str, ...]]:
    """The sheet as printed, before the scanner's degradation (a copy; callers may draw on it).

    ``damage``: "stain" (a coffee stain over each barcode) or "torn" (the bottom-left corner torn
    away along a ragged line, taking the QR's lower part, the start of the Code 128 and the payload
    line). ``garble``: the words as a scanner's own OCR reads them (see :func:`garble_words`).
    """
    img, words = _coversheet(sheet, tuple(symbologies), dpi, blot, damage)
    return img.copy(), garble_words(words, garble) if garble else words


def _barcode_boxes(img: Image.Image) -> list[tuple[int, int, int, int]]:
    import zxingcpp

    boxes = []
    for code in zxingcpp.read_barcodes(img):
        p = code.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
        boxes.append((min(xs), min(ys), max(xs), max(ys)))
    return boxes


def _stain_barcodes(img: Image.Image, dpi: int) -> Image.Image:
    """A coffee stain over each barcode: overlapping blots of brown (grey here) that soak the paper
    so bars and spaces read almost alike, with a darker rim; the print shows faintly through."""
    import random

    rng = random.Random(f"stain|{dpi}|{img.size}")
    mask = Image.new("L", img.size, 0)
    draw = ImageDraw.Draw(mask)
    for x0, y0, x1, y1 in _barcode_boxes(img):
        w, h = x1 - x0, y1 - y0
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        for _ in range(9):
            rx = w * rng.uniform(0.25, 0.45) + dpi / 25
            ry = h * rng.uniform(0.25, 0.45) + dpi / 25
            x = cx + w * rng.uniform(-0.3, 0.3)
            y = cy + h * rng.uniform(-0.3, 0.3)
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=255)
    from PIL import ImageChops, ImageFilter

    rim = ImageChops.subtract(mask, mask.filter(ImageFilter.MinFilter(9)))
    # soaked paper: mottled, the print under it at a few per cent of its contrast
    mottle = Image.effect_noise(img.size, 40).filter(ImageFilter.GaussianBlur(dpi / 150)).point(lambda v: 110 + v // 5)
    soaked = ImageChops.add(mottle.point(lambda v: v * 96 // 100), img.point(lambda v: v * 4 // 100))
    stained = Image.composite(soaked, img, mask.filter(ImageFilter.GaussianBlur(dpi / 100)))
    return ImageChops.subtract(stained, rim.point(lambda v: v // 4))


def _tear_corner(img: Image.Image, dpi: int) -> Image.Image:
    """The bottom-left corner torn away along a ragged line, the scanner's grey backing behind it."""
    import random

    rng = random.Random(f"torn|{dpi}|{img.size}")
    px = dpi / 25.4
    w, h = img.size
    left_y, right_y = h - 150 * px, h - 40 * px  # the tear runs from the left edge down to the right
    points = []
    steps = 40
    for i in range(steps + 1):
        x = w * i / steps
        y = left_y + (right_y - left_y) * i / steps + rng.uniform(-2, 2) * px
        points.append((x, y))
    img = img.copy()
    ImageDraw.Draw(img).polygon([*points, (w, h), (0, h)], fill=70)
    return img


def garble_words(words: tuple[str, ...], how: str) -> tuple[str, ...]:
    """The sheet's words as OCR reads a damaged print.

    "look-alikes": every copy of the reference with the look-alikes OCR confuses (0 as O, 1 as l,
    5 as S, 8 as B), one copy in lower case; stray characters around the payload's bars; the
    decision as RETA1N; the title with O as 0. Readable only against the register.
    "unreadable": every copy of the reference smeared past reading; title, decision and class intact.
    """
    import re

    ref_re = re.compile(r"[A-Z]+-\d{4}-\d{4}")
    shapes = str.maketrans({"0": "O", "1": "l", "5": "S", "8": "B"})
    out: list[str] = []
    copies = 0
    for w in words:
        if how == "look-alikes":
            if "|" in w and ref_re.match(w):
                ref, dec, cls = w.split("|")
                w = f"{ref.translate(shapes)} ,| {dec.replace('I', '1')} l. {cls}"
            elif ref_re.fullmatch(w.rstrip(".,")):
                copies += 1
                w = w.translate(shapes).lower() if copies == 1 else w.translate(shapes)
            elif w in ("DOCUMENT", "SEPARATOR"):
                w = w.replace("O", "0")
            elif w == "RETAIN":
                w = "RETA1N"
        elif how == "unreadable":
            if "|" in w and ref_re.match(w):
                w = "P?S-2#~4-\u00b7l3?|R?T?I?|" + w.split("|")[-1]
            elif ref_re.fullmatch(w.rstrip(".,")):
                w = "PP?-2?~4-#1?7"
        else:
            raise ValueError(f"garble must be one of {GARBLES}")
        out.extend(w.split(" "))
    return tuple(out)


def _blot_barcodes(img: Image.Image) -> Image.Image:
    """Cover every barcode with a grey smudge, as a coffee stain or a bad fold would."""
    img = img.copy()
    draw = ImageDraw.Draw(img)
    pad = img.width // 60
    for x0, y0, x1, y1 in _barcode_boxes(img):
        draw.rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), fill=110)
    return img


@functools.lru_cache(maxsize=4)
def _separator(dpi: int, symbology: str = "code128") -> tuple[Image.Image, tuple[str, ...]]:
    from reportlab.graphics.barcode.code39 import Standard39
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
        if symbology == "code39":  # paperless-ngx's PATCHT sheet: Code 39, no check character
            bc = Standard39(GENERIC_SEPARATOR, barWidth=0.6 * mm, barHeight=25 * mm, checksum=0, stop=1)
        elif symbology == "code128":
            bc = Code128(GENERIC_SEPARATOR, barWidth=0.7 * mm, barHeight=25 * mm)
        else:
            raise ValueError("a separator's symbology is 'code128' or 'code39'")
        bc.drawOn(c, (w - bc.width) / 2, h / 2 - 40 * mm)
        c.showPage()
        c.save()
        return rasterise(pdf, dpi), pdf_words(pdf)


def separator_page(dpi: int, symbology: str = "code128") -> tuple[Image.Image, tuple[str, ...]]:
    img, words = _separator(dpi, symbology)
    return img.copy(), words


def blank_back(front: Image.Image) -> Image.Image:
    """The empty back of ``front``'s paper as a duplex scanner sees it: the front's print showing
    faintly through, mirrored."""
    from PIL import ImageOps

    mirrored = ImageOps.mirror(front.convert("L"))
    return mirrored.point(lambda v: 255 - (255 - v) * 7 // 100)

