"""The factory: pages, batches in every container, and their ground truth."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from scanners.coversheet import GENERIC_SEPARATOR, CoverSheet, format_payload
from tests.factory import _bad, _containers, _sheets
from tests.factory._content import blocks
from tests.factory._degrade import CLEAN, Degrade, scanned
from tests.factory._draw import draw_page
from tests.factory._truth import KIND_CLASS, Batch, ExpectedDocument, PageTruth


@dataclass(frozen=True)
class Cover:
    """A cover sheet. ``symbologies``: what is printed on it; ``blot``: barcodes smudged over;
    ``damage``: "stain" or "torn" (over the barcodes, see ``_sheets``); ``garble``: its words as a
    scanner's OCR reads them in the text layer of "pdf-text" ("look-alikes", or "unreadable": the
    payload cannot be read, only the title)."""

    case_ref: str
    decision: str
    doc_class: str
    symbologies: tuple[str, ...] = ("qr", "code128")
    blot: bool = False
    degrade: Degrade | None = None
    damage: str | None = None
    garble: str | None = None
    archiving: bool = False  # an archiving sheet (payload's fourth field ARCHIVE)

    @property
    def barcode_unreadable(self) -> bool:
        return self.blot or self.damage is not None

    @property
    def sheet(self) -> CoverSheet:
        return CoverSheet(self.case_ref, self.decision, self.doc_class, self.archiving)


@dataclass(frozen=True)
class Separator:
    """A generic PATCHT separator sheet, in Code 128 or (paperless-ngx's sheet) Code 39."""

    degrade: Degrade | None = None
    symbology: str = "code128"


@dataclass(frozen=True)
class Doc:
    """``pages`` pages of one kind of document. ``ref_in_text``: the case reference is printed on
    its first page (default: yes for the service's own papers, no for others'); ``ref_style``: as
    people write it ("spaced", "lower", "broken" across a line: ``_content.written_ref``);
    ``ref_every_page``: the reference also heads every page."""

    kind: str
    case_ref: str | None = None
    pages: int = 1
    ref_in_text: bool | None = None
    degrade: Degrade | None = None
    degrade_pages: dict[int, Degrade] = field(default_factory=dict, hash=False, compare=False)
    ref_style: str = "plain"
    ref_every_page: bool = False

    def prints_ref(self) -> bool:
        if self.ref_in_text is not None:
            return self.ref_in_text and self.case_ref is not None
        return self.case_ref is not None and self.kind in ("pps-letter", "consent", "note")


@dataclass
class PageImage:
    image: Image.Image
    dpi: int
    words: tuple[str, ...]
    kind: str
    case_ref: str | None
    payload: str | None
    degrade: Degrade


class ScanFactory:
    """Deterministic synthetic scans. Equal seeds and arguments give equal pixels."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _rng(self, *key: object) -> random.Random:
        return random.Random("|".join(map(str, (self.seed, *key))))

    # --- single pages -------------------------------------------------------------------------
    def page(self, kind: str, case_ref: str | None = None, *, dpi: int = 300, degrade: Degrade = CLEAN,
             ref_in_text: bool = True, page: int = 1, pages: int = 1, variant: int = 0, ref_style: str = "plain",
             ref_every_page: bool = False) -> PageImage:
        rng = self._rng(kind, case_ref, page, pages, variant)
        mode = "RGB" if kind == "school-letter" else "L"
        img, words = draw_page(blocks(kind, rng, case_ref, ref_in_text, page, pages, ref_style, ref_every_page),
                               dpi, rng, mode, lined=kind == "note")
        img = scanned(img, dpi, degrade, self._rng("scan", kind, case_ref, page, variant, degrade))
        return PageImage(img, dpi, words, kind, case_ref, None, degrade)

    def coversheet(self, cover: Cover, *, dpi: int = 300, degrade: Degrade = CLEAN) -> PageImage:
        img, words = _sheets.coversheet_page(cover.sheet, dpi, cover.symbologies, cover.blot, cover.damage, cover.garble)
        img = scanned(img, dpi, degrade, self._rng("cover", cover, dpi, degrade))
        return PageImage(img, dpi, words, "coversheet", cover.case_ref, format_payload(cover.sheet), degrade)

    def separator(self, *, dpi: int = 300, degrade: Degrade = CLEAN, symbology: str = "code128") -> PageImage:
        img, words = _sheets.separator_page(dpi, symbology)
        img = scanned(img, dpi, degrade, self._rng("separator", dpi, degrade, symbology))
        return PageImage(img, dpi, words, "separator", None, GENERIC_SEPARATOR, degrade)

    def back(self, front: PageImage, *, n: int = 0) -> PageImage:
        """The blank back of ``front``'s paper (duplex): its print faintly through, a few specks.
        Kind "sheet-back" behind a cover sheet or separator, else "blank"."""
        raw = _sheets.blank_back(front.image)
        deg = Degrade(speckle=6)
        img = scanned(raw.point(lambda v: (v - 18) * 255 // 222), front.dpi, deg, self._rng("back", n, front.kind))
        kind = "sheet-back" if front.kind in ("coversheet", "separator") else "blank"
        return PageImage(img, front.dpi, (), kind, None if kind == "sheet-back" else front.case_ref, None, deg)

    # --- batches ------------------------------------------------------------------------------
    def batch(self, folder: Path, name: str, items: list, *, container: str = "pdf", dpi: int = 300,
              degrade: Degrade = CLEAN, duplex: bool = False) -> Batch:
        """Scan ``items`` (Cover, Separator, Doc) into ``folder`` as ``name``.

        ``name`` is the file name for one-file containers ("scan_0042.pdf") and the stem for
        per-page ones ("scan_0042" gives scan_0042_p001.jpg, ...). ``duplex``: every sheet of paper
        is printed on one side and scanned on both, so a blank back follows each page. The expected
        documents hold the backs of their own pages (the back of a cover sheet or separator is in
        no document), and two documents without cover sheets whose pages name different cases are
        two documents.
        """
        if container not in _containers.CONTAINERS:
            raise ValueError(f"container must be one of {_containers.CONTAINERS}")
        pages: list[PageImage] = []
        segments: list[tuple[Cover | Separator | None, list[tuple[int, Doc]]]] = [(None, [])]
        for n, item in enumerate(items):
            deg = item.degrade if item.degrade is not None else degrade
            if isinstance(item, Cover):
                pages.append(self.coversheet(item, dpi=dpi, degrade=deg))
                segments.append((item, []))
            elif isinstance(item, Separator):
                pages.append(self.separator(dpi=dpi, degrade=deg, symbology=item.symbology))
                segments.append((item, []))
            elif isinstance(item, Doc):
                for p in range(1, item.pages + 1):
                    if segments[-1][0] is None or isinstance(segments[-1][0], Separator):
                        body = segments[-1][1]
                        if body and self._other_case(body[-1][1], item):  # no sheet between two cases
                            segments.append((segments[-1][0], []))
                    segments[-1][1].append((len(pages), item))
                    pages.append(self.page(item.kind, item.case_ref, dpi=dpi, degrade=item.degrade_pages.get(p, deg),
                                           ref_in_text=item.prints_ref(), page=p, pages=item.pages, variant=n,
                                           ref_style=item.ref_style, ref_every_page=item.ref_every_page))
                    if duplex:
                        segments[-1][1].append((len(pages), item))
                        pages.append(self.back(pages[-1], n=len(pages)))
                continue
            else:
                raise TypeError(f"not a batch item: {item!r}")
            if duplex:
                pages.append(self.back(pages[-1], n=len(pages)))
        folder.mkdir(parents=True, exist_ok=True)
        files, labels = self._write(folder, name, container, pages)
        truth = tuple(
            PageTruth(label, p.kind, p.words, p.case_ref, p.payload, p.dpi, p.degrade.skew, p.degrade.upside_down,
                      p.degrade.jpeg_quality)
            for label, p in zip(labels, pages, strict=True)
        )
        docs = tuple(d for d in (self._expected(head, body, labels) for head, body in segments) if d)
        return Batch(tuple(files), docs, truth, container)

    @staticmethod
    def _other_case(before: Doc, item: Doc) -> bool:
        return before is not item and before.prints_ref() and item.prints_ref() and before.case_ref != item.case_ref

    @staticmethod
    def _expected(head, body: list[tuple[int, Doc]], labels: list[str]) -> ExpectedDocument | None:
        if not body:
            return None
        source = tuple(labels[i] for i, _ in body)
        if isinstance(head, Cover):
            return ExpectedDocument(head.case_ref, head.doc_class, head.decision, source,
                                    "ocr_text" if head.barcode_unreadable else "barcode")
        first = body[0][1]
        refs = {d.case_ref for _, d in body if d.prints_ref()}
        ref = refs.pop() if len(refs) == 1 else None
        return ExpectedDocument(ref, KIND_CLASS[first.kind], None, source, "ocr_text" if ref else None)

    @staticmethod
    def _write(folder: Path, name: str, container: str, pages: list[PageImage]) -> tuple[list[Path], list[str]]:
        if container in ("jpeg", "png"):
            files = _containers.write_page_files([(p.image, p.dpi) for p in pages], folder, name, container)
            return files, [f"{f.name}#1" for f in files]
        path = folder / name
        if container in ("pdf", "pdf-text"):
            _containers.write_pdf([(p.image, p.dpi, p.words) for p in pages], path, text_layer=container == "pdf-text")
        else:
            _containers.write_tiff([(p.image, p.dpi) for p in pages], path, g4=container == "tiff-g4")
        return [path], [f"{name}#{n}" for n in range(1, len(pages) + 1)]

    # --- bad inputs ---------------------------------------------------------------------------
    def bad_inputs(self, folder: Path) -> dict[str, Path]:
        """One file of each kind in ``_bad.BAD_KINDS``, keyed by kind."""
        folder.mkdir(parents=True, exist_ok=True)
        three = self.batch(folder / "whole", "three.pdf", [Doc("pps-letter", "PPS-2024-0001", pages=3)], dpi=150)
        jpeg = _containers.jpeg_bytes(self.page("note", "PPS-2024-0002", dpi=150).image, 150)
        tiff = self.batch(folder / "whole", "three.tif", [Doc("pps-letter", "PPS-2024-0003", pages=3)], container="tiff-g4", dpi=150)
        return {
            "empty": _bad.empty(folder),
            "truncated-pdf": _bad.truncated_pdf(folder, three.path),
            "encrypted-pdf": _bad.encrypted_pdf(folder, three.path),
            "bomb-png": _bad.bomb_png(folder),
            "docx": _bad.docx(folder),
            "random-pdf": _bad.random_pdf(folder, self.seed),
            "corrupt-jpeg": _bad.corrupt_jpeg(folder, jpeg),
            "corrupt-tiff-frame": _bad.corrupt_tiff_frame(folder, tiff.path),
        }

