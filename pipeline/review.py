"""The review queue: staff file, undo and mend documents the pipeline could not decide.

- :func:`assign` files a review item to a case as RETAIN (its copy re-encrypted to the case's key)
  or SHRED. Without a decision from staff it takes the one its cover sheet gave, and refuses when
  there was none: a document is never shredded by default.
- :func:`undo` takes an assignment back, until the paper is confirmed shredded or the scan is on a
  disc: the document returns to the queue, its shred entry is withdrawn and its copy goes back to
  the archive key. A document assigned SHRED keeps its (archive-key) review copy until its paper is
  confirmed shredded, so that undo loses nothing.
- :func:`split` mends a mis-split document: each part becomes a review item of its own, pages
  named as dropped (a separator sheet) go. An original file kept beside the copy (a born-digital
  PDF) is dropped: it holds every part's pages.

Each function opens its own transaction and sweeps working folders left by killed processes first
(:func:`pipeline.jobcontext.sweep_stale`). Decrypted documents are kept in memory only: nothing
decrypted is written to disk.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit, cases, keystore
from pipeline.documents import as_row, get_document
from pipeline.jobcontext import sweep_stale
from pipeline.models import AuditEvent, Disc, DiscItemRow, Document, ShredEntry
from pipeline.workspace import Workspace
from pps_archive.errors import Conflict, DecisionRequired, InvalidValue, NotInReview, PolicyRefusal, UndoRefused

Passphrase = bytes | Callable[[], bytes] | None
_WAS = " (was in review: "


def _secret(passphrase: Passphrase, what: str) -> bytes:
    if callable(passphrase):
        passphrase = passphrase()
    if passphrase is None:
        raise InvalidValue(f"{what} needs the master passphrase")
    return passphrase


def _authorise(s: Session, passphrase: Passphrase, what: str) -> None:
    """A keyring (one login's) is checked even when the change needs no key (a SHRED filing): the
    account must still be live, and the audit log is sealed when the change commits."""
    from pipeline.authority import Unlocked, require

    if isinstance(passphrase, Unlocked):
        require(s, passphrase, what)


def _in_review(doc: Document, hint: str, cli_hint: str | None = None) -> None:
    if doc.decision != "review" or doc.state != "review":
        raise NotInReview(document=doc.id, state=f"{doc.decision}, {doc.state}", hint=hint, cli_hint=cli_hint)


def _vault(ws: Workspace):  # noqa: ANN202 - archive_media.vault.Vault
    from archive_media.vault import Vault

    return Vault(ws.path("vault"))


def _set_copy(doc: Document, item, encrypted_to: str) -> None:  # noqa: ANN001 - a VaultItem
    doc.vault_item, doc.plaintext_sha256, doc.ciphertext_sha256 = item.item_id, item.plaintext_sha256, item.ciphertext_sha256
    doc.size, doc.encrypted_to = item.size, encrypted_to


def _set_original(doc: Document, item) -> None:  # noqa: ANN001 - a VaultItem
    doc.original_item, doc.original_sha256 = item.item_id, item.plaintext_sha256
    doc.original_ciphertext_sha256, doc.original_size = item.ciphertext_sha256, item.size


def _reencrypt(vault, doc: Document, identity: str, recipient: str, encrypted_to: str) -> list:  # noqa: ANN001
    """Re-encrypt the document's copy (and its original bytes, if kept) to ``recipient``, in memory.
    Returns the new items; the old blobs are left for the caller to delete after the commit."""
    new = []
    if doc.vault_item is not None:
        item = vault.put_bytes(vault.read_bytes(doc.vault_item, identity, doc.plaintext_sha256), recipient)
        new.append(item)
        _set_copy(doc, item, encrypted_to)
    if doc.original_item is not None:
        item = vault.put_bytes(vault.read_bytes(doc.original_item, identity, doc.original_sha256), recipient)
        new.append(item)
        _set_original(doc, item)
    return new


def _run(ws: Workspace, vault, change: Callable[[Session, list, list[str]], dict]) -> dict:  # noqa: ANN001
    """Run ``change`` in one transaction; blobs it made go if it fails, blobs it replaced go after."""
    made: list = []
    old: list[str] = []
    try:
        with ws.transaction() as s:
            row = change(s, made, old)
    except BaseException:
        for item in made:
            vault.delete(item.item_id)
        raise
    for item_id in old:
        vault.delete(item_id)
    return row


# --- assign ------------------------------------------------------------------------------------

def assign(ws: Workspace, doc_id: int, case_ref: str, decision: str | None, doc_class: str | None, *,
           actor: str, passphrase: Passphrase, today: dt.date) -> dict:
    """File review item ``doc_id`` to ``case_ref``. ``decision`` is "retain", "shred", or None for
    the cover sheet's decision (:class:`DecisionRequired` when it came without one). ``passphrase``
    (bytes, or a function asked only when needed) unlocks the review copy for a RETAIN. The row
    returned has ``decision_from``: "staff" or "cover sheet"."""
    if decision not in (None, "retain", "shred"):
        raise InvalidValue("a document is assigned retain or shred")
    sweep_stale(ws)
    vault = _vault(ws)

    def change(s: Session, made: list, old: list[str]) -> dict:
        _authorise(s, passphrase, f"filing document {doc_id}")
        doc = get_document(s, doc_id, for_update=True)
        _in_review(doc, "a decision already taken can be undone first", cli_hint="See 'pps-archive review list'.")
        chosen, source = (decision, "staff") if decision is not None else (doc.sheet_decision, "cover sheet")
        if chosen is None:
            raise DecisionRequired(document=doc.id)
        case = cases.get_case(s, case_ref, for_update=True)  # before the audit head: filing moves its activity
        cases.ensure_can_file(case)
        if chosen == "retain" and cases.case_dates(ws.config, case.last_activity).dispose_after <= today:
            raise PolicyRefusal(f"case {case.ref} is due for disposal, so a scan kept now would be destroyed in the next "
                                f"disposal run: if the case was reactivated, record the activity on it first, then "
                                f"assign this document", cli_hint=f"To record it: 'pps-archive case touch {case.ref}'.")
        new_class = doc_class or doc.doc_class
        if new_class not in ws.config.classes:
            raise InvalidValue(f"give the document's class: one of {', '.join(ws.config.classes)}")
        if chosen == "retain":
            if doc.vault_item is None:
                raise Conflict(
                    f"no scan of document {doc_id} was kept (its cover sheet said SHRED): scan the paper again "
                    f"with a RETAIN cover sheet for {case.ref}")
            master = keystore.unlock(s, _secret(passphrase, "filing a review item as RETAIN"))
            old.extend(i for i in (doc.vault_item, doc.original_item) if i)
            recipient = keystore.ensure_case_key(s, master, case.ref, actor=actor)
            made.extend(_reencrypt(vault, doc, keystore.archive_identity(s, master), recipient, "case"))
        # SHRED: the review copy stays, encrypted to the archive key, until the paper is confirmed
        # shredded (then it is dropped), so that the decision can be undone
        was_source = doc.source
        doc.case_id, doc.doc_class, doc.decision, doc.source = case.id, new_class, chosen, "manual"
        doc.state = "filed" if chosen == "retain" else "shred-only"
        by = "" if source == "staff" else ", as its cover sheet said"
        doc.reason = f"assigned by {actor} on {today}: {chosen.upper()} {new_class}{by}{_WAS}{doc.reason})"
        if doc.shred_entry is None:
            s.add(ShredEntry(document_id=doc.id))
        s.flush()
        cases.record_document_activity(s, doc, doc.created_at.date(), actor=actor)  # received that day
        audit.record(s, actor, "review.assign", case_ref=case.ref, subject=f"document:{doc.id}", decision=chosen,
                     doc_class=new_class, decision_from=source, was_source=was_source)
        s.flush()
        return {**as_row(doc), "decision_from": source}

    return _run(ws, vault, change)


# --- undo --------------------------------------------------------------------------------------

def _why_not_undoable(s: Session, doc: Document) -> str | None:
    if doc.source != "manual" or doc.decision not in ("retain", "shred") or doc.state not in ("filed", "shred-only"):
        return f"it was not filed from the review queue (it is {doc.decision}, {doc.state})"
    entry = doc.shred_entry
    if entry is not None and entry.confirmed_by is not None:
        return f"its paper was confirmed shredded by {entry.confirmed_by} on {entry.confirmed_on}"
    on_disc = s.scalars(select(Disc.label).join(DiscItemRow).where(DiscItemRow.document_id == doc.id,
                                                                      Disc.status != "failed")).first()
    if on_disc is not None:
        return f"its scan is on disc {on_disc}"
    if doc.case is not None and doc.case.disposed_on is not None:
        return f"case {doc.case.ref} was disposed of"
    return None


def _was_source(s: Session, doc_id: int) -> str:
    ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "review.assign", AuditEvent.subject == f"document:{doc_id}")
                   .order_by(AuditEvent.seq.desc())).first()
    was = json.loads(ev.details).get("was_source") if ev is not None else None
    return was if was in ("barcode", "ocr_text") else "ocr_text"


def undo(ws: Workspace, doc_id: int, *, actor: str, passphrase: Passphrase, today: dt.date) -> dict:
    """Take back the review decision on ``doc_id``: it returns to the queue (case suggested), its
    shred entry is withdrawn, and a RETAIN copy is re-encrypted from the case key to the archive
    key (needs the passphrase). Refused (:class:`UndoRefused`) once the paper is confirmed
    shredded, the scan is on a disc, or the case was disposed of."""
    sweep_stale(ws)
    vault = _vault(ws)

    def change(s: Session, made: list, old: list[str]) -> dict:
        _authorise(s, passphrase, f"undoing the decision on document {doc_id}")
        doc = get_document(s, doc_id, for_update=True)
        why = _why_not_undoable(s, doc)
        if why:
            raise UndoRefused(document=doc.id, reason=why)
        case = doc.case
        if doc.encrypted_to == "case":
            master = keystore.unlock(s, _secret(passphrase, "undoing a RETAIN"))
            old.extend(i for i in (doc.vault_item, doc.original_item) if i)
            recipient = keystore.archive_recipient(s, data_dir=ws.data_dir)
            made.extend(_reencrypt(vault, doc, keystore.case_identity(s, master, case.ref), recipient, "archive"))
        decision = doc.decision
        if doc.shred_entry is not None:
            s.delete(doc.shred_entry)
        head, sep, was = doc.reason.partition(_WAS)
        doc.reason = was[:-1] if sep and was.endswith(")") else doc.reason
        doc.decision, doc.state, doc.case_id, doc.suggested_ref = "review", "review", None, case.ref
        doc.source = _was_source(s, doc.id)
        audit.record(s, actor, "review.undo", case_ref=case.ref, subject=f"document:{doc.id}", was=decision, on=today)
        s.flush()
        s.expire(doc, ["case", "shred_entry"])
        return as_row(doc)

    return _run(ws, vault, change)


# --- split -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SplitPlan:
    parts: tuple[tuple[int, ...], ...]  # 1-based page numbers of each part, in order
    dropped: tuple[int, ...]


_RANGE = re.compile(r"\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?")


def parse_ranges(text: str, what: str) -> list[tuple[int, ...]]:
    """``"1-3,4-6,7"`` → ``[(1, 2, 3), (4, 5, 6), (7,)]``."""
    out = []
    for piece in (text or "").split(","):
        m = _RANGE.fullmatch(piece)
        if not m:
            raise InvalidValue(f"{what}: {piece.strip()!r} is not a page or a range such as 1-3")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if a < 1 or b < a:
            raise InvalidValue(f"{what}: {piece.strip()!r} is not a range of pages from first to last (pages count from 1)")
        out.append(tuple(range(a, b + 1)))
    return out


def plan_split(pages: int, parts: list[tuple[int, ...]], dropped: tuple[int, ...] = ()) -> SplitPlan:
    """Check that every page of a ``pages``-page document is in exactly one part or dropped."""
    seen: dict[int, str] = {}
    for where, group in [*((f"part {i + 1}", p) for i, p in enumerate(parts)), *(("the pages dropped", (d,)) for d in dropped)]:
        for n in group:
            if n > pages:
                raise InvalidValue(f"the document has {pages} page(s): there is no page {n}")
            if n in seen:
                raise InvalidValue(f"page {n} is in {seen[n]} and in {where}")
            seen[n] = where
    missing = [n for n in range(1, pages + 1) if n not in seen]
    if missing:
        raise InvalidValue(f"page(s) {', '.join(map(str, missing))} are in no part: put them in one, or drop them "
                           f"if they are a separator sheet")
    if not parts:
        raise InvalidValue("give at least one part")
    if len(parts) == 1 and not dropped:
        raise InvalidValue("one part with every page is the document as it is: nothing to split")
    return SplitPlan(tuple(parts), tuple(sorted(dropped)))


def split(ws: Workspace, doc_id: int, parts: list[tuple[int, ...]], dropped: tuple[int, ...] = (), *, actor: str,
          passphrase: Passphrase, today: dt.date) -> list[dict]:
    """Split review item ``doc_id`` into ``parts`` (1-based pages), dropping the pages ``dropped``
    (separator sheets). The first part keeps the document's id, class and cover-sheet decision;
    each further part is a new review item. Their copies are cut from the review copy in memory
    and encrypted to the archive key again (the passphrase opens the review copy)."""
    sweep_stale(ws)
    vault = _vault(ws)

    def change(s: Session, made: list, old: list[str]) -> list[dict]:
        _authorise(s, passphrase, f"splitting document {doc_id}")
        doc = get_document(s, doc_id, for_update=True)
        _in_review(doc, "only review items are split; undo the decision first")
        plan = plan_split(doc.pages, parts, dropped)
        labels = json.loads(doc.source_pages)
        pdfs: list[bytes | None] = [None] * len(plan.parts)
        if doc.vault_item is not None:
            from pipeline.ocr import cut_pages

            master = keystore.unlock(s, _secret(passphrase, "splitting a review item"))
            whole = vault.read_bytes(doc.vault_item, keystore.archive_identity(s, master), doc.plaintext_sha256)
            pdfs = [cut_pages(whole, [n - 1 for n in part]) for part in plan.parts]
            del whole
        recipient = keystore.archive_recipient(s, data_dir=ws.data_dir)
        was = doc.reason
        docs = [doc] + [Document(input_id=doc.input_id, decision="review", state="review", source=doc.source,
                                 created_at=doc.created_at, suggested_ref=doc.suggested_ref, pages=0, reason="",
                                 source_pages="[]") for _ in plan.parts[1:]]
        if doc.vault_item is not None:
            old.append(doc.vault_item)
        if doc.original_item is not None:  # the file as it came now holds several documents' pages
            old.append(doc.original_item)
            doc.original_item = doc.original_sha256 = doc.original_ciphertext_sha256 = doc.original_size = None
        for i, (d, part, pdf) in enumerate(zip(docs, plan.parts, pdfs, strict=True)):
            d.pages, d.source_pages = len(part), json.dumps([labels[n - 1] for n in part])
            if i:
                d.doc_class = d.sheet_decision = None
            span = _spans(part)
            d.reason = f"split from document {doc.id} by {actor} on {today} (its pages {span}); it was in review: {was}"
            if pdf is not None:
                item = vault.put_bytes(pdf, recipient)
                made.append(item)
                _set_copy(d, item, "archive")
            else:
                d.vault_item = d.plaintext_sha256 = d.ciphertext_sha256 = d.size = d.encrypted_to = None
            if d is not doc:
                s.add(d)
        s.flush()
        audit.record(s, actor, "review.split", case_ref=None, subject=f"document:{doc.id}",
                     parts=[{"document": d.id, "pages": _spans(p)} for d, p in zip(docs, plan.parts, strict=True)],
                     dropped=_spans(plan.dropped) if plan.dropped else None)
        return [as_row(d) for d in docs]

    return _run(ws, vault, change)


def _spans(pages: tuple[int, ...]) -> str:
    out, start = [], None
    for i, n in enumerate(pages):
        if start is None:
            start = n
        if i + 1 == len(pages) or pages[i + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ",".join(out)


# --- for a front-end ---------------------------------------------------------------------------

def queue(s: Session) -> list[dict]:
    """The review queue, oldest first: each item's row (:func:`pipeline.documents.as_row`) with
    ``file``, the name its input had in the drop folder, and ``received_at``. Caller's session."""
    from sqlalchemy.orm import selectinload

    docs = s.scalars(select(Document).where(Document.decision == "review", Document.state == "review")
                     .options(selectinload(Document.input), selectinload(Document.case)).order_by(Document.id))
    return [{**as_row(d), "file": d.input.display_name, "received_at": d.input.received_at.isoformat(timespec="minutes")}
            for d in docs]


def drop_pages(ws: Workspace, doc_id: int, pages: tuple[int, ...], *, actor: str, passphrase: Passphrase,
               today: dt.date) -> dict:
    """Drop ``pages`` (a separator sheet scanned as a page, say) from review item ``doc_id``: the
    other pages stay one document, with its id (a :func:`split` into one part). Returns its row."""
    with ws.reader() as s:
        doc = get_document(s, doc_id)
        _in_review(doc, "only review items are mended; undo the decision first")
        count = doc.pages
    keep = tuple(n for n in range(1, count + 1) if n not in set(pages))
    if not pages:
        raise InvalidValue("give the page(s) to drop")
    if not keep:
        raise InvalidValue(f"document {doc_id} has {count} page(s): dropping them all would leave nothing to file")
    return split(ws, doc_id, [keep], tuple(pages), actor=actor, passphrase=passphrase, today=today)[0]
