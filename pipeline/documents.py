"""Documents: listing and lookup (the review queue's decisions are in :mod:`pipeline.review`)."""

from __future__ import annotations

import json

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
