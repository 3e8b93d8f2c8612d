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
