"""Pages of PDF files, read with pikepdf; a page's scan is taken out of the file, not re-rendered.

A PDF is opened with ``attempt_recovery=False``: qpdf's recovery (pikepdf's default, and what
ocrmypdf does) quietly turns a file cut short by a failed transfer into a PDF of fewer pages.
For a pipeline whose paper is shredded afterwards that would be data loss, so such a file is
refused. A page that is one full-page image (what a scanner writes, with or without an invisible
OCR text layer) is read from the embedded image itself; anything else is rendered by Ghostscript.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from PIL import Image, JpegImagePlugin, PngImagePlugin

from pps_archive.errors import BadInput, ExternalProgramFailed
from scanners import _reasons
from scanners._image_pages import DECODE_ERRORS, normalise

RENDER_DPI = 300
_TEXT_SHOW = {"Tj", "TJ", "'", '"'}
_PAINT = {"f", "F", "f*", "B", "B*", "b", "b*", "S", "s", "sh", "BI", "INLINE IMAGE"}
_OPERATORS = "q Q cm Do Tr BT ET Tj TJ ' \" f F f* B B* b b* S s sh BI"
_SIMPLE_SPACES = {"/DeviceGray", "/DeviceRGB", "/DeviceCMYK", "/CalGray", "/CalRGB"}


@contextlib.contextmanager
def opened(path: Path, display_name: str) -> Iterator[pikepdf.Pdf]:
    try:
        pdf = pikepdf.open(path, attempt_recovery=False)
    except pikepdf.PasswordError as exc:
        raise BadInput(file=display_name, reason=_reasons.PASSWORD) from exc
    except (pikepdf.PdfError, OSError, RuntimeError, ValueError) as exc:
        raise _reasons.damaged(display_name) from exc
    try:
        yield pdf
    finally:
        pdf.close()


@dataclass(frozen=True)
class PdfInfo:
    page_count: int
    has_text_layer: bool


def probe(path: Path, display_name: str, max_pages: int, max_page_pixels: int) -> PdfInfo:
    """Count the pages (refusing a damaged page tree), check image sizes, look for text."""
    with opened(path, display_name) as pdf:
        try:
            count = len(pdf.pages)
            declared = int(pdf.Root.Pages.get("/Count", count))
            if count != declared:
                raise _reasons.damaged(display_name, f"it says {declared} pages but only {count} can be read")
            if count == 0:
                raise BadInput(file=display_name, reason=_reasons.NO_PAGES)
            if count > max_pages:
                raise _reasons.too_many_pages(display_name, count, max_pages)
            has_text = False
            for number, page in enumerate(pdf.pages, 1):
                _check_page_size(page, display_name, number, max_page_pixels)
                has_text = has_text or _has_text(page)
        except (pikepdf.PdfError, pikepdf.ForeignObjectError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _reasons.damaged(display_name) from exc
    return PdfInfo(count, has_text)


def _check_page_size(page: pikepdf.Page, display_name: str, number: int, limit: int) -> None:
    for image in page.get_images(recursive=True).values():
        size = (int(image.get("/Width", 0)), int(image.get("/Height", 0)))
        if size[0] * size[1] > limit:
            raise _reasons.too_many_pixels(display_name, size, limit, page=number)
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    render = (round(abs(x1 - x0) * RENDER_DPI / 72), round(abs(y1 - y0) * RENDER_DPI / 72))
    if render[0] * render[1] > limit:
        raise _reasons.too_many_pixels(display_name, render, limit, page=number)


def _has_text(page: pikepdf.Page) -> bool:
    resources = page.obj.get("/Resources")
    if resources is None or "/Font" not in resources:
        return False
    return any(str(op) in _TEXT_SHOW for _, op in pikepdf.parse_content_stream(page, "Tj TJ ' \""))


# --- one page as an image ----------------------------------------------------------------------


def load(path: Path, index: int, display_name: str, max_page_pixels: int) -> Image.Image:
    """The page at its native resolution, upright as displayed; ``info["dpi"]`` is set."""
    with opened(path, display_name) as pdf:
        try:
            page = pdf.pages[index]
            _check_page_size(page, display_name, index + 1, max_page_pixels)
            img = _embedded_scan(page)
        except (pikepdf.PdfError, KeyError, TypeError, ValueError, AttributeError, *DECODE_ERRORS) as exc:
            raise _reasons.damaged(display_name) from exc
    if img is None:
        img = _render(path, index, display_name)
    return img


def _embedded_scan(page: pikepdf.Page) -> Image.Image | None:
    """The page's one full-page image, oriented as displayed; None if the page is anything else."""
    placed = _single_placed_image(page)
    if placed is None:
        return None
    name, ctm = placed
    xobjects = page.obj.Resources.get("/XObject")
    image = xobjects.get(name) if xobjects is not None else None
    if image is None or image.get("/Subtype") != pikepdf.Name.Image or not _plain_image(image):
        return None
    a, b, c, d, e, f = ctm
    if not _covers_page(page, ctm):
        return None
    img = _decode(image)
    # image columns run along (a, -b) and rows down along (-c, d) in display coordinates (y down)
    col, row = (a, -b), (-c, d)
    if abs(col[0]) < 1e-6 and abs(row[1]) < 1e-6:  # placed a quarter turn round
        img = img.transpose(Image.Transpose.TRANSPOSE)
        col, row = (row[0], 0.0), (0.0, col[1])
    elif abs(col[1]) > 1e-6 or abs(row[0]) > 1e-6:
        return None  # skewed placement: let Ghostscript draw it
    if col[0] < 0:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if row[1] < 0:
        img = img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    dpi = (img.width * 72 / abs(col[0]), img.height * 72 / abs(row[1]))
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    if rotate:
        img = img.transpose({90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
                             270: Image.Transpose.ROTATE_90}[rotate])
        if rotate in (90, 270):
            dpi = (dpi[1], dpi[0])
    img.info["dpi"] = dpi
    return img


def _single_placed_image(page: pikepdf.Page) -> tuple[str, list[float]] | None:
    """(resource name, CTM) of the one image drawn, if nothing else visible is drawn."""
    ctm = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    render_mode = 0
    stack: list[tuple[list[float], int]] = []
    found: tuple[str, list[float]] | None = None
    for operands, operator in pikepdf.parse_content_stream(page, _OPERATORS):
        op = str(operator)
        if op == "q":
            stack.append((ctm, render_mode))
        elif op == "Q":
            if stack:
                ctm, render_mode = stack.pop()
        elif op == "cm":
            m = [float(v) for v in operands]
            ctm = _concat(m, ctm)
        elif op == "Tr":
            render_mode = int(operands[0])
        elif op in _TEXT_SHOW:
            if render_mode != 3:
                return None  # visible text: a born-digital page, render it
        elif op in _PAINT:
            return None
        elif op == "Do":
            if found is not None:
                return None
            found = (str(operands[0]), ctm)
    return found


def _concat(m: list[float], n: list[float]) -> list[float]:
    """m x n for PDF matrices [a b c d e f]."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n
    return [a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F]


def _covers_page(page: pikepdf.Page, ctm: list[float]) -> bool:
    a, b, c, d, e, f = ctm
    xs = [e, e + a, e + c, e + a + c]
    ys = [f, f + b, f + d, f + b + d]
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    page_area = abs(x1 - x0) * abs(y1 - y0)
    w = min(max(xs), max(x0, x1)) - max(min(xs), min(x0, x1))
    h = min(max(ys), max(y0, y1)) - max(min(ys), min(y0, y1))
    return page_area > 0 and w > 0 and h > 0 and w * h >= 0.85 * page_area


def _plain_image(image: pikepdf.Object) -> bool:
    """An image we decode exactly as a viewer shows it; odd ones go to Ghostscript."""
    if any(k in image for k in ("/SMask", "/Mask", "/Decode")) or image.get("/ImageMask", False):
        return False
    filters = image.get("/Filter")
    names = [str(x) for x in filters] if isinstance(filters, pikepdf.Array) else ([str(filters)] if filters else [])
    if any(n not in ("/DCTDecode", "/FlateDecode", "/CCITTFaxDecode") for n in names):
        return False  # JBIG2, JPX, LZW, ... : Ghostscript knows them all
    if int(image.get("/BitsPerComponent", 1 if "/CCITTFaxDecode" in names else 8)) not in (1, 8):
        return False
    space = image.get("/ColorSpace")
    if isinstance(space, pikepdf.Array):
        return str(space[0]) == "/ICCBased" and int(space[1].get("/N", 0)) in (1, 3)
    return space is None and "/CCITTFaxDecode" in names or str(space) in _SIMPLE_SPACES


def _decode(image: pikepdf.Object) -> Image.Image:
    filters = image.get("/Filter")
    if filters == pikepdf.Name.DCTDecode or (isinstance(filters, pikepdf.Array) and list(filters) == [pikepdf.Name.DCTDecode]):
        # decode the JPEG ourselves: Pillow's Image.open would apply its process-wide bomb limit
        im = JpegImagePlugin.JpegImageFile(io.BytesIO(image.read_raw_bytes()))
        im.load()
    else:
        im = pikepdf.PdfImage(image).as_pil_image()
    return normalise(im)


def _render(path: Path, index: int, display_name: str) -> Image.Image:
    from pps_archive.exec import run

    argv = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=png16m", f"-r{RENDER_DPI}",
            "-dTextAlphaBits=4", "-dGraphicsAlphaBits=4", f"-dFirstPage={index + 1}",
            f"-dLastPage={index + 1}", "-sstdout=%stderr", "-sOutputFile=-", str(path)]
    try:
        png = run(argv, timeout=300).stdout
        img = PngImagePlugin.PngImageFile(io.BytesIO(png))  # our own size limit was checked
        img.load()
    except (ExternalProgramFailed, *DECODE_ERRORS) as exc:
        raise _reasons.damaged(display_name) from exc
    img = normalise(img)
    img.info["dpi"] = (float(RENDER_DPI), float(RENDER_DPI))
    return img
