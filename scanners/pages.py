"""Turning any accepted input into pages, and pages back into one PDF.

Accepted: PDF (image-only or with a text layer), TIFF (multi-page, CCITT G4 included), JPEG, PNG,
recognised by their first bytes, never by their names. Anything else, and any file that is empty,
cut short, damaged, password-protected or too large, raises
:class:`pps_archive.errors.BadInput` with a reason a person can act on; the caller quarantines it.

Heavy libraries (Pillow, pikepdf) are imported only when a file is opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scanners import _reasons

if TYPE_CHECKING:
    from PIL import Image

KINDS = ("pdf", "tiff", "jpeg", "png")


@dataclass(frozen=True)
class InputLimits:
    """Refuse inputs over these (config: intake.max_file_bytes, max_pages, max_page_pixels)."""

    max_file_bytes: int = 524_288_000
    max_pages: int = 1000
    max_page_pixels: int = 150_000_000


@dataclass(frozen=True)
class PageRef:
    """One page of one input file; cheap to keep and to pickle (it holds no open file)."""

    number: int  # 1-based, within its file
    label: str  # "<display name>#<number>"
    path: Path
    kind: str  # "pdf" | "tiff" | "jpeg" | "png"
    display_name: str
    max_page_pixels: int = field(default=InputLimits.max_page_pixels, repr=False)

    def load(self) -> Image.Image:
        """The page image at its native resolution, as displayed (mode "1", "L" or "RGB").

        ``image.info["dpi"]`` holds its (x, y) resolution. A PDF page that is one full-page image
        gives that image; any other PDF page is rendered at 300 dpi. Raises BadInput if the
        page's data is damaged.
        """
        if self.kind == "pdf":
            from scanners import _pdf_pages

            return _pdf_pages.load(self.path, self.number - 1, self.display_name, self.max_page_pixels)
        from scanners import _image_pages

        return _image_pages.load(self.path, self.kind, self.number - 1, self.display_name, self.max_page_pixels)


@dataclass(frozen=True)
class ScanInput:
    """An accepted input: one file, or a group of one-page files scanned as one batch."""

    display_name: str
    kind: str  # "pdf" | "tiff" | "jpeg" | "png", or "mixed" for a group of different kinds
    has_text_layer: bool  # a PDF that already carries text (a scanner's own OCR, or born digital)
    pages: tuple[PageRef, ...]
    files: tuple[Path, ...]

    @property
    def page_count(self) -> int:
        return len(self.pages)


def open_input(path: Path, display_name: str, limits: InputLimits = InputLimits()) -> ScanInput:
    """Check ``path`` and list its pages; raise BadInput for anything we cannot safely process.

    ``display_name`` is the name the file had in the drop folder: it is used in page labels and
    in the reason given for a refusal. Structure and sizes of every page are checked here; a
    single-image file is decoded too, a page of a multi-page file when it is loaded.
    """
    from scanners._sniff import sniff

    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise _reasons.too_big(display_name, size, limits.max_file_bytes)
    kind = sniff(path, display_name)
    has_text = False
    if kind == "pdf":
        from scanners import _pdf_pages

        info = _pdf_pages.probe(path, display_name, limits.max_pages, limits.max_page_pixels)
        count, has_text = info.page_count, info.has_text_layer
    else:
        from scanners import _image_pages

        count = _image_pages.probe(path, kind, display_name, limits.max_pages, limits.max_page_pixels)
    pages = tuple(
        PageRef(n, f"{display_name}#{n}", path, kind, display_name, limits.max_page_pixels)
        for n in range(1, count + 1)
    )
    return ScanInput(display_name, kind, has_text, pages, (path,))


def open_batch(paths: Sequence[Path], display_names: Sequence[str], limits: InputLimits = InputLimits()) -> ScanInput:
    """One batch of several files (``scan_0042_p001.jpg``, ``_p002.jpg``, ...), in the order given.

    Each page keeps its own file's label (``scan_0042_p002.jpg#1``). BadInput names the file at
    fault. The batch's display name is the first file's.
    """
    if len(paths) != len(display_names) or not paths:
        raise ValueError("open_batch needs one display name for each of at least one path")
    inputs = [open_input(p, n, limits) for p, n in zip(paths, display_names, strict=True)]
    pages = tuple(page for scan in inputs for page in scan.pages)
    if len(pages) > limits.max_pages:
        raise _reasons.too_many_pages(display_names[0], len(pages), limits.max_pages)
    kinds = {scan.kind for scan in inputs}
    return ScanInput(
        display_name=display_names[0],
        kind=kinds.pop() if len(kinds) == 1 else "mixed",
        has_text_layer=any(scan.has_text_layer for scan in inputs),
        pages=pages,
        files=tuple(Path(p) for p in paths),
    )


def write_pdf(pages: Sequence[PageRef], out: Path) -> None:
    """Write a PDF of exactly ``pages``, in order, atomically to ``out`` (mode 0600).

    Pages of a PDF input are copied as they are (no re-encoding); JPEG files are embedded as
    their own bytes; a CCITT G4 TIFF page stays G4 (one strip) or at least bilevel; other images
    are embedded losslessly. The page size follows each image's resolution.
    """
    from scanners._pdf_writer import write

    if not pages:
        raise ValueError("write_pdf needs at least one page")
    write(list(pages), Path(out))
