"""OCR with OCRmyPDF: PDF/A with a text layer, pages rotated upright and deskewed.

Runs in the worker's own process (a worker is a process; ``ocrmypdf.ocr`` holds a process-wide
lock, so parallelism comes from several workers). Tesseract's threads are capped with
``OMP_THREAD_LIMIT`` by the worker. Only documents that are kept are OCR'd.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pps_archive.errors import BadInput, ExternalProgramFailed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OcrResult:
    pdf: Path
    page_texts: tuple[str, ...]


def ocr_document(source: Path, out: Path, sidecar: Path, *, language: str, rotate: bool, deskew: bool, display: str,
                 jobs: int = 1, force: bool = False, timeout: float = 600) -> OcrResult:
    import ocrmypdf

    try:
        code = ocrmypdf.ocr(
            source, out, language=[language], rotate_pages=rotate, deskew=deskew, output_type="pdfa",
            sidecar=sidecar, jobs=max(1, jobs), progress_bar=False, optimize=1, force_ocr=force,
            tesseract_timeout=timeout,
        )
    except ocrmypdf.exceptions.EncryptedPdfError as exc:
        raise BadInput(file=display, reason="is password-protected: remove the password and drop it in again") from exc
    except ocrmypdf.exceptions.InputFileError as exc:
        raise BadInput(file=display, reason=f"cannot be read as a scan ({exc}): scan it again") from exc
    except ocrmypdf.exceptions.ExitCodeException as exc:
        raise ExternalProgramFailed(program="ocrmypdf", returncode=int(exc.exit_code), stderr=str(exc) or type(exc).__name__) from exc
    if int(code) != 0:
        raise ExternalProgramFailed(program="ocrmypdf", returncode=int(code), stderr="OCR did not finish")
    text = sidecar.read_text(encoding="utf-8", errors="replace")
    return OcrResult(out, tuple(text.split("\f")))


def pdf_text(pdf: Path) -> tuple[str, ...]:
    """Text of a PDF that already has a text layer, one string a page (``pdftotext -raw``)."""
    from pps_archive.exec import run

    proc = run(["pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"], timeout=300)
    return tuple(proc.stdout.decode("utf-8", "replace").split("\f"))


def quick_text(image, *, language: str = "eng") -> str:  # noqa: ANN001 - a PIL image
    """Tesseract on one image, for recognising a cover sheet whose barcode could not be read."""
    import pytesseract

    try:
        return pytesseract.image_to_string(image, lang=language, config="--psm 6")
    except pytesseract.TesseractError as exc:
        raise ExternalProgramFailed(program="tesseract", returncode=exc.status, stderr=str(exc.message)[-400:]) from exc


def _copy_pages(src, indices: list[int]):  # noqa: ANN001, ANN202 - pikepdf objects
    """A new PDF of pages ``indices`` (0-based) of the open ``src``, keeping its PDF/A
    identification (XMP metadata and output intent)."""
    import pikepdf

    dst = pikepdf.new()
    for i in indices:
        dst.pages.append(src.pages[i])
    for key in ("/OutputIntents", "/Metadata"):
        if key in src.Root:
            value = src.Root[key]
            if not value.is_indirect:
                value = src.make_indirect(value)
            dst.Root[key] = dst.copy_foreign(value)
    dst.docinfo = dst.copy_foreign(src.make_indirect(src.docinfo) if not src.docinfo.is_indirect else src.docinfo)
    return dst


def extract_pages(source: Path, indices: list[int], out: Path) -> None:
    """A new PDF of pages ``indices`` (0-based) of ``source`` (see :func:`_copy_pages`), written atomically."""
    import pikepdf

    from pps_archive.atomic import atomic_writer

    with pikepdf.open(source) as src:
        dst = _copy_pages(src, indices)
        with atomic_writer(out) as fh:
            dst.save(fh)


def cut_pages(pdf: bytes, indices: list[int]) -> bytes:
    """Pages ``indices`` (0-based) of the PDF ``pdf``, in memory: for mending a decrypted document
    without writing its plaintext to disk."""
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(pdf), attempt_recovery=False) as src:
        dst = _copy_pages(src, indices)
        out = io.BytesIO()
        dst.save(out)
    return out.getvalue()


def _g4(image) -> tuple[bytes, bool] | None:  # noqa: ANN001 - a PIL image of mode "1"
    """The page's pixels as CCITT Group 4 (Pillow's libtiff encoder, one strip) and whether the
    coded "black" runs are 1 bits (``BlackIs1``); None when the encoder did not give one strip."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    try:
        image.save(buf, "TIFF", compression="group4", strip_size=1 << 30)
    except (OSError, ValueError):  # a Pillow built without libtiff's G4 encoder: leave the image as it is
        return None
    with Image.open(io.BytesIO(buf.getvalue())) as tif:
        tags = tif.tag_v2
        offsets, counts = tags.get(273), tags.get(279)
        if offsets is None or counts is None or len(offsets) != 1 or tags.get(266, 1) != 1:
            return None
        photometric = tags.get(262, 0)
    data = buf.getvalue()[offsets[0]:offsets[0] + counts[0]]
    return (data, photometric == 1) if len(data) == counts[0] else None


def keep_bilevel_small(pdf: Path) -> tuple[int, int]:
    """Re-encode every 1-bit image of ``pdf`` that is not already CCITT or JBIG2 as CCITT Group 4
    (lossless; allowed in PDF/A), when that is smaller; rewrites ``pdf`` atomically if anything
    changed. OCRmyPDF's PDF/A output stores bilevel scans Flate-compressed, several times larger
    (jbig2enc, its better option, is not packaged in Debian 12). Returns (images re-encoded, bytes saved)."""
    import pikepdf
    from PIL import Image

    from pps_archive.atomic import atomic_writer

    done = saved = 0
    with pikepdf.open(pdf) as doc:
        seen: set[tuple[int, int]] = set()
        for page in doc.pages:
            for _name, raw in page.get_images().items():
                if not raw.is_indirect or raw.objgen in seen:
                    continue
                seen.add(raw.objgen)
                filters = raw.get("/Filter")
                names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)] if filters else []
                if (raw.get("/BitsPerComponent") != 1 or raw.get("/ImageMask", False) or "/SMask" in raw
                        or raw.get("/ColorSpace") != pikepdf.Name.DeviceGray
                        or any(n in ("/CCITTFaxDecode", "/JBIG2Decode", "/DCTDecode", "/JPXDecode") for n in names)):
                    continue
                w, h = int(raw.Width), int(raw.Height)
                try:
                    samples = raw.read_bytes()
                except pikepdf.PdfError:
                    continue
                if len(samples) < ((w + 7) // 8) * h:
                    continue
                coded = _g4(Image.frombytes("1", (w, h), samples))
                if coded is None or len(coded[0]) >= len(raw.read_raw_bytes()):
                    continue
                before = len(raw.read_raw_bytes())
                raw.write(coded[0], filter=pikepdf.Name.CCITTFaxDecode,
                          decode_parms=pikepdf.Dictionary(K=-1, Columns=w, Rows=h, BlackIs1=coded[1]))
                done, saved = done + 1, saved + before - len(coded[0])
        if done:
            with atomic_writer(pdf) as fh:
                doc.save(fh)
    return done, saved
