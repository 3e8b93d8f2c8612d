"""Pages of JPEG, PNG and (multi-page) TIFF files, read with Pillow.

Pillow decodes a damaged CCITT or LZW frame of a TIFF to garbage without raising (libtiff only
prints "Bad code word" to stderr), so every TIFF is also decoded once by libtiff's own
``tiffinfo -D`` and refused if the decoder reports any error or warning about its data.

Pillow's own decompression-bomb check hangs on a process-wide setting and only warns below twice
its limit, so files are opened through the format's plugin class (which reads the header and no
pixels) and every frame's size is checked against our own limit before anything is decoded.
"""

from __future__ import annotations

import contextlib
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageFile, ImageOps, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

from scanners import _reasons

_PLUGINS = {"jpeg": JpegImagePlugin.JpegImageFile, "png": PngImagePlugin.PngImageFile,
            "tiff": TiffImagePlugin.TiffImageFile}
#: what Pillow raises on a damaged or cut-short file
DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, IndexError, struct.error, zlib.error,
                 Image.DecompressionBombError)
A4_WIDTH_INCHES = 210 / 25.4


@contextlib.contextmanager
def opened(path: Path, kind: str, display_name: str) -> Iterator[ImageFile.ImageFile]:
    try:
        im = _PLUGINS[kind](str(path))
    except DECODE_ERRORS as exc:
        raise _reasons.damaged(display_name) from exc
    try:
        yield im
    finally:
        im.close()


def frame_count(im: ImageFile.ImageFile) -> int:
    return getattr(im, "n_frames", 1)


def probe(path: Path, kind: str, display_name: str, max_pages: int, max_page_pixels: int) -> int:
    """Check every frame's size (and decode single-image files); return the number of pages."""
    with opened(path, kind, display_name) as im:
        try:
            count = frame_count(im)
            if count > max_pages:
                raise _reasons.too_many_pages(display_name, count, max_pages)
            for index in range(count):
                if index:
                    im.seek(index)
                _check_size(im, display_name, max_page_pixels)
            if kind != "tiff":  # one page: cheap to decode now, and a cut-off JPEG is caught here
                im.load()
        except DECODE_ERRORS as exc:
            raise _reasons.damaged(display_name) from exc
    if kind == "tiff":
        check_tiff_data(path, display_name)
    return count


#: libtiff modules that read tags, not page data: their warnings (an unknown private tag, say)
#: are common in scanners' files and harmless
_DIRECTORY_MODULES = ("TIFFReadDirectory", "TIFFFetch", "TIFFReadCustomDirectory", "TIFFAdvanceDirectory",
                      "_TIFFVSetField", "TIFFReadDirectoryCheckOrder")
TIFF_CHECK_TIMEOUT = 300.0


def check_tiff_data(path: Path, display_name: str) -> None:
    """Decode every strip of every page with libtiff and raise BadInput if the decoder complains."""
    from pps_archive.exec import run

    proc = run(["tiffinfo", "-D", path], check=False, timeout=TIFF_CHECK_TIMEOUT)
    complaints = [line for line in proc.stderr.decode("utf-8", "replace").splitlines()
                  if line.strip() and not line.startswith(_DIRECTORY_MODULES)]
    if proc.returncode != 0 or complaints:
        raise _reasons.damaged(display_name, "the image data of a page is corrupt")


def _check_size(im: Image.Image, display_name: str, max_page_pixels: int) -> None:
    w, h = im.size
    if w <= 0 or h <= 0:
        raise _reasons.damaged(display_name)
    if w * h > max_page_pixels:
        raise _reasons.too_many_pixels(display_name, (w, h), max_page_pixels)
    if min(w, h) < _reasons.MIN_PAGE_PIXELS:
        raise _reasons.too_small(display_name, (w, h))


def dpi_of(im: Image.Image) -> tuple[float, float]:
    """The resolution the file states, else one guessed from an A4 page width."""
    dpi = im.info.get("dpi")
    try:
        x, y = float(dpi[0]), float(dpi[1])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        x = y = 0.0
    if not (50 <= x <= 2400 and 50 <= y <= 2400):
        # no usable resolution stated: guess from an A4 page's width, never below 50 dpi
        x = y = float(max(50, round(im.width / A4_WIDTH_INCHES)))
    return x, y


def normalise(im: Image.Image) -> Image.Image:
    """Mode "1", "L" or "RGB", whatever the file stored."""
    if im.mode in ("1", "L", "RGB"):
        return im
    if im.mode.startswith("I;16"):
        raw = im.tobytes()
        return Image.frombytes("L", im.size, raw[0::2] if im.mode.endswith("B") else raw[1::2])
    if im.mode in ("LA", "PA", "RGBA", "RGBa") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", im.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if im.mode in ("I", "F"):
        return im.convert("L")
    return im.convert("RGB")


def load(path: Path, kind: str, index: int, display_name: str, max_page_pixels: int) -> Image.Image:
    """Decode one page at its native resolution, upright as the file's orientation tag says;
    ``info["dpi"]`` holds its resolution."""
    with opened(path, kind, display_name) as im:
        try:
            if index:
                im.seek(index)
            _check_size(im, display_name, max_page_pixels)
            dpi = dpi_of(im)
            im.load()
            page = ImageOps.exif_transpose(normalise(im))
        except DECODE_ERRORS as exc:
            raise _reasons.damaged(display_name) from exc
    if page.size != im.size:  # turned a quarter by its orientation tag
        dpi = (dpi[1], dpi[0])
    page.info["dpi"] = dpi
    return page
