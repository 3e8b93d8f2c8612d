"""Documents: listing and lookup (the review queue's decisions are in :mod:`pipeline.review`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline.models import Case, Document
from pps_archive.errors import DocumentNotFound


def as_row(doc: Document) -> dict:
    return {
        "id": doc.id,
        "case_ref": doc.case.ref if doc.case else None,
        "class": doc.doc_class,
        "decision": doc.decision,
        "reason": doc.reason,
        "source": doc.source,
        "pages": doc.pages,
        "source_pages": json.loads(doc.source_pages),
        "state": doc.state,
        "suggested_case_ref": doc.suggested_ref,
        "sheet_decision": doc.sheet_decision,  # what its cover sheet said, if it had one
        "original_kept": doc.original_item is not None,  # a born-digital or signed PDF's own bytes
    }


def list_documents(s: Session, *, case_ref: str | None = None, decision: str | None = None) -> list[dict]:
    stmt = select(Document).options(selectinload(Document.case)).order_by(Document.id)
    if case_ref is not None:
        stmt = stmt.join(Case).where(Case.ref == case_ref.strip().upper())
    if decision is not None:
        stmt = stmt.where(Document.decision == decision)
    if decision == "review":
        stmt = stmt.where(Document.state == "review")
    return [as_row(d) for d in s.scalars(stmt)]


def get_document(s: Session, doc_id: int, *, for_update: bool = False) -> Document:
    stmt = select(Document).where(Document.id == doc_id)
    if for_update:
        stmt = stmt.with_for_update()
    doc = s.scalars(stmt).one_or_none()
    if doc is None:
        raise DocumentNotFound(document=doc_id)
    return doc


@dataclass(frozen=True)
class DocumentCopy:
    """A document decrypted into memory for a person to read: never written to disk."""

    document: int
    case_ref: str | None
    pdf: bytes = field(repr=False)

    @property
    def filename(self) -> str:
        """A name with no person's name in it: the document's number only."""
        return f"document-{self.document}.pdf"


def read_document(ws, doc_id: int, *, auth) -> DocumentCopy:  # noqa: ANN001 - a Workspace, an Unlocked
    """Decrypt document ``doc_id``'s copy from the vault into memory with ``auth``'s keyring
    (its case's key, or the archive key for a review copy), checking its plaintext hash; every
    read is an audit event (``document.viewed``) in the same transaction. Its own transaction."""
    from archive_media.vault import Vault
    from pipeline import audit, authority, keystore
    from pps_archive.errors import Conflict

    with ws.transaction() as s:
        how = authority.require(s, auth, f"reading document {doc_id}")
        doc = get_document(s, doc_id)
        if doc.vault_item is None:
            raise Conflict(f"document {doc_id} has no scan kept ({doc.decision}, {doc.state}): there is nothing to show")
        ref = doc.case.ref if doc.case else None
        if doc.encrypted_to == "case" and ref is not None:
            identity = keystore.case_identity(s, auth.master, ref)
        else:
            identity = keystore.archive_identity(s, auth.master)
        pdf = Vault(ws.path("vault")).read_bytes(doc.vault_item, identity, doc.plaintext_sha256)
        audit.record(s, auth.actor, "document.viewed", case_ref=ref, subject=f"document:{doc.id}", **how)
    return DocumentCopy(document=doc_id, case_ref=ref, pdf=pdf)
