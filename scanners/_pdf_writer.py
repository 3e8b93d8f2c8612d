"""Writing pages into one PDF without touching their pixels (see ``pages.write_pdf``)."""

from __future__ import annotations

import contextlib
import zlib
from pathlib import Path

import pikepdf
from PIL import Image, JpegImagePlugin, TiffImagePlugin

from pps_archive.atomic import atomic_writer
from scanners import _image_pages, _pdf_pages, _reasons
from scanners.pages import PageRef

_ROTATE_FOR_ORIENTATION = {1: 0, 3: 180, 6: 90, 8: 270}

#: an embedded page image: (image XObject, pixel size, dpi, rotation to apply)
_Embedded = tuple[pikepdf.Stream, tuple[int, int], tuple[float, float], int]


def write(pages: list[PageRef], out: Path) -> None:
    with contextlib.ExitStack() as stack:
        sources: dict[Path, pikepdf.Pdf] = {}
        pdf = stack.enter_context(pikepdf.new())
        for ref in pages:
            if ref.kind == "pdf":
                if ref.path not in sources:
                    sources[ref.path] = stack.enter_context(_pdf_pages.opened(ref.path, ref.display_name))
                pdf.pages.append(sources[ref.path].pages[ref.number - 1])
            else:
                pdf.pages.append(_image_page(pdf, ref))
        with atomic_writer(out) as fh:
            pdf.save(fh, deterministic_id=True)


def _image_page(pdf: pikepdf.Pdf, ref: PageRef) -> pikepdf.Page:
    try:
        if ref.kind == "jpeg":
            made = _jpeg_as_is(pdf, ref)
        elif ref.kind == "tiff":
            made = _g4_as_is(pdf, ref)
        else:
            made = None
    except _image_pages.DECODE_ERRORS as exc:
        raise _reasons.damaged(ref.display_name) from exc
    if made is None:
        made = _lossless(pdf, ref.load())
    image, size_px, dpi, rotate = made
    return _page(pdf, image, size_px, dpi, rotate)


def _page(pdf: pikepdf.Pdf, image: pikepdf.Stream, size_px: tuple[int, int], dpi: tuple[float, float],
          rotate: int) -> pikepdf.Page:
    w, h = size_px[0] * 72 / dpi[0], size_px[1] * 72 / dpi[1]
    content = pikepdf.Stream(pdf, f"q {w:.4f} 0 0 {h:.4f} 0 0 cm /Im0 Do Q".encode())
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=pikepdf.Array([0, 0, round(w, 4), round(h, 4)]),
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
        Contents=content,
    )
    if rotate:
        page.Rotate = rotate
    return pikepdf.Page(page)


def _image_stream(pdf: pikepdf.Pdf, data: bytes, size: tuple[int, int], **entries: object) -> pikepdf.Stream:
    stream = pikepdf.Stream(pdf, data)
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height = size
    for key, value in entries.items():
        stream[f"/{key}"] = value
    return stream


def _jpeg_as_is(pdf: pikepdf.Pdf, ref: PageRef) -> _Embedded | None:
    data = ref.path.read_bytes()
    with JpegImagePlugin.JpegImageFile(str(ref.path)) as im:
        mode, size, dpi = im.mode, im.size, _image_pages.dpi_of(im)
        orientation = im.getexif().get(0x0112, 1)
        adobe = "adobe" in im.info
    if orientation not in _ROTATE_FOR_ORIENTATION or mode not in ("L", "RGB", "CMYK"):
        return None  # mirrored by its tag, or an odd colour model: embed losslessly decoded instead
    space = {"L": pikepdf.Name.DeviceGray, "RGB": pikepdf.Name.DeviceRGB, "CMYK": pikepdf.Name.DeviceCMYK}[mode]
    extra: dict[str, object] = {}
    if mode == "CMYK" and adobe:  # Adobe writes CMYK JPEGs inverted
        extra["Decode"] = pikepdf.Array([1, 0] * 4)
    image = _image_stream(pdf, data, size, ColorSpace=space, BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode, **extra)
    return image, size, dpi, _ROTATE_FOR_ORIENTATION[orientation]


def _g4_as_is(pdf: pikepdf.Pdf, ref: PageRef) -> _Embedded | None:
    """A one-strip CCITT G4 TIFF page as its own compressed bytes; None for any other TIFF page."""
    with TiffImagePlugin.TiffImageFile(str(ref.path)) as im:
        if ref.number > 1:
            im.seek(ref.number - 1)
        tags = im.tag_v2
        offsets, counts = tags.get(273), tags.get(279)
        plain = (
            tags.get(259) == 4  # CCITT T.6
            and offsets is not None and counts is not None and len(offsets) == 1 and len(counts) == 1
            and tags.get(266, 1) == 1  # fill order: most significant bit first
            and tags.get(274, 1) == 1  # orientation: top left
            and tags.get(284, 1) == 1
            and not tags.get(293, 0) & 0x2  # T6Options: uncompressed mode not used
        )
        if not plain:
            return None
        size, dpi = im.size, _image_pages.dpi_of(im)
        black_is_1 = tags.get(262, 0) == 1  # BlackIsZero photometric
    with open(ref.path, "rb") as fh:
        fh.seek(offsets[0])
        data = fh.read(counts[0])
    if len(data) != counts[0]:
        raise _reasons.damaged(ref.display_name)
    parms = pikepdf.Dictionary(K=-1, Columns=size[0], Rows=size[1], BlackIs1=black_is_1)
    image = _image_stream(pdf, data, size, ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=1,
                          Filter=pikepdf.Name.CCITTFaxDecode, DecodeParms=parms)
    return image, size, dpi, 0


def _lossless(pdf: pikepdf.Pdf, img: Image.Image) -> _Embedded:
    """Flate-compressed pixels: bilevel stays 1 bit, greyscale 8 bits, colour RGB."""
    dpi = img.info["dpi"]
    bits, space = {"1": (1, pikepdf.Name.DeviceGray), "L": (8, pikepdf.Name.DeviceGray),
                   "RGB": (8, pikepdf.Name.DeviceRGB)}[img.mode]
    data = zlib.compress(img.tobytes(), 6)
    image = _image_stream(pdf, data, img.size, ColorSpace=space, BitsPerComponent=bits, Filter=pikepdf.Name.FlateDecode)
    return image, img.size, dpi, 0
