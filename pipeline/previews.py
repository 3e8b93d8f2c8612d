"""Looking at a document: its pages as pictures and what the pipeline found, from the encrypted
copy, in memory.

Every function here decrypts the document's copy in memory with the logged-in person's keyring
(a review item's copy is encrypted to the archive key, a filed one to its case's key) and records
the view or download in the audit log (``document.viewed`` / ``document.downloaded``, with the
page and what was shown) before it returns anything. Nothing decrypted is written to disk: a page
is drawn by PDFium (pypdfium2) in this process, else by Poppler's ``pdftoppm`` reading the PDF
from a pipe and writing the picture to one. Nothing is cached: each call decrypts again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from pipeline import audit, keystore
from pipeline.documents import as_row, get_document
from pipeline.models import Document
from pps_archive.errors import Conflict, InvalidValue

if TYPE_CHECKING:
    from pipeline.authority import Unlocked
    from pipeline.workspace import Workspace

#: the widths (pixels) a front-end asks for: a thumbnail and a page to read
SIZES = {"thumb": 160, "large": 900}
MAX_WIDTH = 2000


@dataclass(frozen=True)
class DocumentCopy:
    document: int
    case_ref: str | None
    pages: int
    pdf: bytes = b""

    @property
    def file_name(self) -> str:
        """An opaque name for a download: the document's id, never anything about the family."""
        return f"document-{self.document}.pdf"


def _identity(s: Session, auth: Unlocked, doc: Document) -> str:
    master = keystore.unlock(s, auth)  # authority.require: the keyring is this archive's, the account live
    if doc.vault_item is None:
        raise Conflict(f"document {doc.id} has no kept scan to show (it is {doc.decision}, {doc.state}: only its paper "
                       f"is listed for shredding)")
    if doc.encrypted_to == "case":
        if doc.case is None:
            raise Conflict(f"document {doc.id} has no case, so no key opens its copy")
        if not keystore.has_case_key(s, doc.case.ref):
            raise Conflict(f"the key of case {doc.case.ref} was destroyed (the case was disposed of): its documents "
                           f"can no longer be read")
        return keystore.case_identity(s, master, doc.case.ref)
    return keystore.archive_identity(s, master)


def _read(ws: Workspace, auth: Unlocked, doc_id: int, action: str, **details: Any) -> tuple[Document, dict, bytes]:
    from archive_media.vault import Vault

    with ws.transaction() as s:
        doc = get_document(s, doc_id)
        identity = _identity(s, auth, doc)
        pdf = Vault(ws.path("vault")).read_bytes(doc.vault_item, identity, doc.plaintext_sha256)
        audit.record(s, auth.actor, action, case_ref=doc.case.ref if doc.case else None, subject=f"document:{doc.id}",
                     **details)
        return doc, as_row(doc), pdf


def read_document(ws: Workspace, auth: Unlocked, doc_id: int) -> DocumentCopy:
    """The document's PDF, decrypted in memory, for a person to download (``document.downloaded``).
    Staff may read documents; its own transaction."""
    _doc, row, pdf = _read(ws, auth, doc_id, "document.downloaded")
    return DocumentCopy(document=row["id"], case_ref=row["case_ref"], pages=row["pages"], pdf=pdf)


def _check_page(page: int, pages: int, doc_id: int) -> None:
    if not 1 <= page <= pages:
        raise InvalidValue(f"document {doc_id} has {pages} page(s): there is no page {page}")


def page_png(ws: Workspace, auth: Unlocked, doc_id: int, page: int, *, size: str = "large") -> bytes:
    """Page ``page`` (from 1) of the document as a PNG, ``size`` "thumb" or "large" (see
    :data:`SIZES`), drawn in memory (``document.viewed``, with the page and size)."""
    if size not in SIZES:
        raise InvalidValue(f"a page is shown as one of {', '.join(SIZES)}")
    with ws.reader() as s:
        _check_page(page, get_document(s, doc_id).pages, doc_id)
    _doc, _row, pdf = _read(ws, auth, doc_id, "document.viewed", page=page, size=size)
    try:
        return render_page(pdf, page - 1, SIZES[size])
    finally:
        del pdf


def details(ws: Workspace, auth: Unlocked, doc_id: int) -> dict[str, Any]:
    """What the pipeline found about a document, read again from its text in memory
    (``document.viewed``): the document's row (see :func:`pipeline.documents.as_row`) plus
    ``file`` (the input's name in the drop folder), ``cover_sheet`` (its decision and class, when a
    cover sheet filed it), ``references`` (case references in its text, in order), ``class_guess``
    and ``class_reason`` (what its letterhead says), ``has_copy`` (a scan was kept, so it can be
    shown)."""
    from pipeline import match
    from pipeline.process import register_index

    with ws.reader() as s:
        doc = get_document(s, doc_id)
        has_copy, file = doc.vault_item is not None, doc.input.display_name
    texts: tuple[str, ...] = ()
    if has_copy:
        _doc, row, pdf = _read(ws, auth, doc_id, "document.viewed", shown="details")
        texts = page_texts(pdf)
        del pdf
    else:
        with ws.transaction() as s:
            keystore.unlock(s, auth)
            doc = get_document(s, doc_id)
            row = as_row(doc)
            audit.record(s, auth.actor, "document.viewed", case_ref=row["case_ref"], subject=f"document:{doc_id}",
                         shown="details")
    guess, why = match.classify(texts, ws.config) if texts else (None, "no kept scan to read")
    sheet = ({"decision": row["sheet_decision"], "class": row["class"]} if row["sheet_decision"] or row["source"] == "barcode"
             else None)
    return {**row, "file": file, "cover_sheet": sheet, "references": match.find_refs(texts, ws.config, register_index(ws)),
            "class_guess": guess, "class_reason": why, "has_copy": has_copy}


# --- drawing pages, in memory ---------------------------------------------------------------------

def page_texts(pdf: bytes) -> tuple[str, ...]:
    """The text layer of each page (the OCR's words), read in memory."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        return ()
    doc = pdfium.PdfDocument(pdf)
    try:
        out = []
        for i in range(len(doc)):
            tp = doc[i].get_textpage()
            out.append(tp.get_text_range())
            tp.close()
        return tuple(out)
    finally:
        doc.close()


def render_page(pdf: bytes, index: int, width: int) -> bytes:
    """Page ``index`` (from 0) of ``pdf`` as a PNG ``width`` pixels wide, in memory: PDFium if
    installed, else ``pdftoppm`` through pipes (the PDF on its stdin, the PNG on its stdout)."""
    width = max(16, min(int(width), MAX_WIDTH))
    try:
        import pypdfium2 as pdfium
    except ImportError:
        return _render_pdftoppm(pdf, index, width)
    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[index]
        bitmap = page.render(scale=width / page.get_width())
        image = bitmap.to_pil()
        buf = io.BytesIO()
        image.save(buf, "PNG", optimize=False)
        return buf.getvalue()
    finally:
        doc.close()


def _render_pdftoppm(pdf: bytes, index: int, width: int) -> bytes:
    from pps_archive import exec as ext

    proc = ext.run(["pdftoppm", "-png", "-f", str(index + 1), "-l", str(index + 1), "-scale-to-x", str(width),
                    "-scale-to-y", "-1", "-singlefile", "-"], input=pdf, timeout=120)  # no output root: stdout
    return proc.stdout
