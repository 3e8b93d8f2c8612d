"""Reading barcodes on scanned pages: one small interface, two engines (zxing-cpp, zbar).

Strategy, per page (issue 3, FINDINGS.md):

1. fast pass: the page shrunk by a whole factor towards 150 dpi (300 dpi -> 150, 200 stays),
   only QR, Code 128 and Code 39 (paperless-ngx's PATCHT separator sheets are Code 39), no
   inverted search;
2. if that finds nothing, a cheap look at the page (``_looks.barcode_like``): does it have a
   patch of dense black-and-white structure the size of a cover sheet's barcode?
3. only then (or when the caller asks for ``thorough``): full resolution, rotations, inverted
   and other binarisations.

An ordinary letter costs the fast pass and the look; a cover sheet is usually read by the fast
pass. Which engine is the default is decided by ``bench/barcodes.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

READERS = ("zxing", "zbar")
DEFAULT_READER = "zxing"
FAST_DPI = 150
#: what is read: QR and Code 128 (cover sheets), Code 39 (generic PATCHT separators)
SYMBOLOGIES = ("qr", "code128", "code39")


@dataclass(frozen=True)
class Code:
    symbology: str  # "qr", "code128", "code39", or another engine's name lower-cased ("ean13", ...)
    text: str


def read_codes(image: Image.Image, reader: str = DEFAULT_READER, *, thorough: bool = False,
               symbologies: tuple[str, ...] = SYMBOLOGIES) -> list[Code]:
    """Every QR, Code 128 and Code 39 code found on ``image`` (each text once, in reading order).

    ``image.info["dpi"]`` guides the fast pass (300 dpi assumed without it). ``thorough`` skips
    the shortcuts: use it for a page already known to be a cover sheet. ``symbologies``: a subset
    of ``SYMBOLOGIES`` (for measuring what each costs).
    """
    from scanners import _engines, _looks

    engine = _engines.get(reader, tuple(symbologies))
    if not thorough:
        small = _looks.scaled_to(image, FAST_DPI)
        found = engine.fast(small)
        if found:
            return _unique(found)
        if not _looks.barcode_like(small, _looks.dpi_of(small)):
            return []
    return _unique(engine.thorough(_looks.grayscale(image)))


def _unique(codes: list[Code]) -> list[Code]:
    seen: set[tuple[str, str]] = set()
    out = []
    for code in codes:
        key = (code.symbology, code.text)
        if key not in seen:
            seen.add(key)
            out.append(code)
    return out
