"""Documents: listing, and the review queue that staff resolve by hand."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline import audit, cases, keystore
from pipeline.models import Case, Document, ShredEntry
from pipeline.workspace import Workspace
from pps_archive.errors import DocumentNotFound, InvalidValue


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


def assign(ws: Workspace, doc_id: int, case_ref: str, decision: str, doc_class: str | None, *,
           actor: str, passphrase: bytes | None, today: dt.date) -> dict:
    """Resolve a review item: file it to a case as retain (re-encrypted to the case's key) or shred."""
    from archive_media.vault import Vault

    if decision not in ("retain", "shred"):
        raise InvalidValue("a document is assigned --retain or --shred")
    vault = Vault(ws.path("vault"))
    with ws.transaction() as s:
        doc = get_document(s, doc_id, for_update=True)
        if doc.decision != "review" or doc.state != "review":
            raise InvalidValue(f"document {doc_id} is not in the review queue (it is {doc.decision}, {doc.state})")
        case = cases.get_case(s, case_ref)
        cases.ensure_can_file(case)
        if decision == "retain" and cases.case_dates(ws.config, case.last_activity).dispose_after <= today:
            raise InvalidValue(f"case {case.ref} is due for disposal, so a scan kept now would be destroyed in the next "
                               f"disposal run: if the case was reactivated, record the activity on it first "
                               f"('pps-archive case touch {case.ref}'), then assign this document")
        new_class = doc_class or doc.doc_class
        if new_class not in ws.config.classes:
            raise InvalidValue(f"give the document's class with --class: one of {', '.join(ws.config.classes)}")
        old_item = doc.vault_item
        if decision == "retain" and old_item is None:
            raise InvalidValue(
                f"no scan of document {doc_id} was kept (its cover sheet said SHRED): scan the paper again "
                f"with a RETAIN cover sheet for {case.ref}"
            )
        item = None
        if decision == "retain":
            if passphrase is None:
                raise InvalidValue("filing a review item as RETAIN needs the master passphrase")
            master = keystore.unlock(s, passphrase)
            identity = keystore.archive_identity(s, master)
            recipient = keystore.case_recipient(s, case.ref)
            with tempfile.TemporaryDirectory(dir=ws.path("work"), prefix="review-") as tmp:
                plain = Path(tmp) / "doc.pdf"
                vault.decrypt_to(old_item, identity, plain, doc.plaintext_sha256)
                item = vault.put(plain, recipient)
            doc.vault_item, doc.ciphertext_sha256, doc.size, doc.encrypted_to = item.item_id, item.ciphertext_sha256, item.size, "case"
        else:
            doc.vault_item = doc.plaintext_sha256 = doc.ciphertext_sha256 = doc.encrypted_to = None
            doc.size = None
        doc.case_id, doc.doc_class, doc.decision, doc.source = case.id, new_class, decision, "manual"
        doc.state = "filed" if decision == "retain" else "shred-only"
        doc.reason = f"assigned by {actor} on {today}: {decision.upper()} {new_class} (was in review: {doc.reason})"
        if doc.shred_entry is None:
            s.add(ShredEntry(document_id=doc.id))
        audit.record(s, actor, "review.assign", case_ref=case.ref, subject=f"document:{doc.id}", decision=decision, doc_class=new_class)
        row = as_row(doc)
    if old_item is not None and old_item != (item.item_id if item else None):
        vault.delete(old_item)  # the review copy, encrypted to the archive key, is no longer needed
    return row
