"""Cheap looks at a page image before the barcode engines are asked to work hard."""

from __future__ import annotations

from PIL import Image

DEFAULT_DPI = 300.0
CELL_MM = 4.0  # a cover sheet's QR is 70 mm square, its Code 128 about 18 x 200 mm


def grayscale(image: Image.Image) -> Image.Image:
    gray = image if image.mode == "L" else image.convert("L")
    if gray is not image:
        gray.info["dpi"] = image.info.get("dpi", (DEFAULT_DPI, DEFAULT_DPI))
    return gray


def dpi_of(image: Image.Image) -> float:
    try:
        return float(image.info["dpi"][0]) or DEFAULT_DPI
    except (KeyError, TypeError, IndexError, ValueError):
        return DEFAULT_DPI


def scaled_to(image: Image.Image, dpi: float) -> Image.Image:
    """``image`` in greyscale at about ``dpi`` (never enlarged).

    Shrinks by a whole factor (``Image.reduce``: a 2x2 box average is 3 ms on an A4 page at
    300 dpi, where a ``resize`` to an arbitrary size costs 20-30 ms), so a 300 dpi page comes out
    at 150 dpi and a 200 dpi page stays at 200.
    """
    source = dpi_of(image)
    if image.mode not in ("L", "RGB"):
        image = grayscale(image)
    factor = max(1, round(source / dpi))
    small = image.reduce(factor) if factor > 1 else image
    small = grayscale(small)
    if small is image:
        return image
    small.info["dpi"] = (source / factor, source / factor)
    return small


def barcode_like(gray: Image.Image, dpi: float, min_area_mm2: float = 1500.0) -> bool:
    """Whether the page has enough dense, two-tone structure to be a barcode of cover-sheet size.

    The page is cut into cells of ``CELL_MM``; a barcode cell is about half black with strong
    contrast inside (a text cell is mostly white, a logo's fill is flat). ``min_area_mm2`` of such
    cells are needed. Measured on factory pages at 150 dpi: a cover sheet gives 3,300-3,900 mm2
    (clean or JPEG quality 10 and skewed), letters and reports 0-700, a page of dense text 0.
    """
    cell = max(2, round(CELL_MM * dpi / 25.4))
    cols, rows = gray.width // cell, gray.height // cell
    if cols == 0 or rows == 0:
        return False
    box = (0, 0, cols * cell, rows * cell)
    mean = gray.resize((cols, rows), Image.Resampling.BOX, box=box).tobytes()
    # mean of squares, scaled to 0-255: variance = E[x^2] - E[x]^2
    squares = gray.point([v * v // 255 for v in range(256)]).resize((cols, rows), Image.Resampling.BOX, box=box).tobytes()
    hits = 0
    for m, sq in zip(mean, squares, strict=True):
        if 80 <= m <= 170 and sq * 255 - m * m >= 70 * 70:
            hits += 1
    return hits * CELL_MM * CELL_MM >= min_area_mm2


#: a blank page: below this share of inked area, margins aside (measured in tests/scanners)
BLANK_INK = 0.0008
BLANK_MARGIN_MM = 10.0
BLANK_CONTRAST = 50  # ink is this much darker than the paper (show-through is 10-25, pencil 60-90)


def is_blank(image: Image.Image) -> bool:
    """Whether a page has nothing on it: the empty back of a duplex scan.

    Looked at in full (a thin pencil stroke vanishes when the page is shrunk), margins aside (the
    scanner's edge shadow, punch holes): a page is
    blank when under ``BLANK_INK`` of it is ink, where ink is clearly darker than the paper (faint
    show-through of the other side, and the paper's own grey, are not ink; pencil is). One short
    handwritten line is well above it.
    """
    m = round(BLANK_MARGIN_MM * dpi_of(image) / 25.4)
    if image.width <= 2 * m or image.height <= 2 * m:
        return False
    inner = grayscale(image).crop((m, m, image.width - m, image.height - m))
    hist = inner.histogram()
    total = sum(hist)
    # the paper: the median level (a blank page is mostly paper); a dark page is not blank
    seen, paper = 0, 255
    for level, count in enumerate(hist):
        seen += count
        if seen >= total / 2:
            paper = level
            break
    if paper < 160:
        return False
    ink = sum(hist[: paper - BLANK_CONTRAST])
    return ink < total * BLANK_INK
