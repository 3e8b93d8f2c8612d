"""The two barcode engines behind ``barcodes.read_codes``: zxing-cpp and zbar (pyzbar).

Each has a ``fast`` pass (a scaled-down page, the wanted symbologies only, the cheapest options)
and a ``thorough`` one (full resolution, then cleaned-up versions of the page until something
reads). Each reads the symbologies it is made for (``barcodes.SYMBOLOGIES`` by default).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

from PIL import Image, ImageFilter

from scanners.barcodes import READERS, SYMBOLOGIES, Code

_NAMES = {"qrcode": "qr", "qr code": "qr", "code 128": "code128", "code128": "code128", "code 39": "code39",
          "code39": "code39"}
_ZXING_FORMATS = {"qr": "QRCode", "code128": "Code128", "code39": "Code39"}
_ZBAR_SYMBOLS = {"qr": "QRCODE", "code128": "CODE128", "code39": "CODE39"}


def _symbology(name: str) -> str:
    key = name.strip().lower()
    return _NAMES.get(key, key.replace(" ", "").replace("-", ""))


def _versions(img: Image.Image) -> Iterator[Image.Image]:
    """The page again, as other scanners might have delivered it: smaller (blur and JPEG blocks
    shrink away), median-filtered (speckle), blurred and thresholded (broken bars)."""
    from scanners._looks import scaled_to

    for dpi in (150, 100):
        small = scaled_to(img, dpi)
        if small is not img:
            yield small
    yield img.filter(ImageFilter.MedianFilter(3))
    yield img.filter(ImageFilter.GaussianBlur(1.2)).point(lambda v: 0 if v < 150 else 255)


class Zxing:
    name = "zxing"

    def __init__(self, symbologies: tuple[str, ...] = SYMBOLOGIES) -> None:
        import zxingcpp

        self._z = zxingcpp
        self._formats = zxingcpp.barcode_formats_from_str(",".join(_ZXING_FORMATS[s] for s in symbologies))

    def _read(self, img: Image.Image, **options: object) -> list[Code]:
        found = self._z.read_barcodes(img, formats=self._formats, **options)
        return [Code(_symbology(str(b.format)), b.text) for b in found if b.valid]

    def fast(self, img: Image.Image) -> list[Code]:
        return self._read(img, try_rotate=True, try_downscale=False, try_invert=False)

    def thorough(self, img: Image.Image) -> list[Code]:
        found = self._read(img, try_rotate=True, try_downscale=True, try_invert=True)
        if not found:
            found = self._read(img, try_rotate=True, try_downscale=True, binarizer=self._z.Binarizer.GlobalHistogram)
        for version in (() if found else _versions(img)):
            found = self._read(version, try_rotate=True, try_downscale=True)
            if found:
                break
        return found


class Zbar:
    name = "zbar"

    def __init__(self, symbologies: tuple[str, ...] = SYMBOLOGIES) -> None:
        try:
            from pyzbar import pyzbar
        except ImportError as exc:  # the zbar shared library is missing
            from pps_archive.errors import MissingDependency

            raise MissingDependency(program="zbar", problem="is not installed",
                                    install="sudo apt-get install libzbar0") from exc

        self._decode: Callable = pyzbar.decode
        self._symbols = [getattr(pyzbar.ZBarSymbol, _ZBAR_SYMBOLS[s]) for s in symbologies]

    def _read(self, img: Image.Image) -> list[Code]:
        out = []
        for d in self._decode(img, symbols=self._symbols):
            try:
                text = d.data.decode("utf-8")
            except UnicodeDecodeError:
                text = d.data.decode("latin-1")
            out.append(Code(_symbology(d.type), text))
        return out

    def fast(self, img: Image.Image) -> list[Code]:
        return self._read(img)

    def thorough(self, img: Image.Image) -> list[Code]:
        found = self._read(img)
        for version in (() if found else _versions(img)):
            found = self._read(version)
            if found:
                break
        return found


@functools.cache
def get(reader: str, symbologies: tuple[str, ...] = SYMBOLOGIES) -> Zxing | Zbar:
    if reader not in READERS:
        raise ValueError(f"unknown barcode reader {reader!r}: use one of {', '.join(READERS)}")
    unknown = set(symbologies) - set(SYMBOLOGIES)
    if unknown or not symbologies:
        raise ValueError(f"symbologies must be drawn from {', '.join(SYMBOLOGIES)}, not {sorted(symbologies)}")
    return Zxing(symbologies) if reader == "zxing" else Zbar(symbologies)
