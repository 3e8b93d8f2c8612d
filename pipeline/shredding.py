"""Shred lists: every paper document, and the interlock on confirming it shredded.

The policy shreds paper when a case is archived, after six months without activity. So an entry is
``waiting`` (with ``due_on``, the date its case becomes archive-due) while its case is still live;
``blocked`` while its case is under a hold (the hold is the reason), or, for a retained document,
until its scan is archived: on a disc that passed a verification read from the archive medium
itself (the optical drive or a mounted CD, see ``media.archive_medium``), and decrypted and
re-hashed once by a full verification. Confirming a waiting or blocked entry is refused with that
reason. Confirmation needs the key store unlocked and an intact audit log; it records who and
when, and is an audit event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from pipeline import audit, authority
from pipeline.cases import case_dates, check_against_log
from pipeline.config import Config
from pipeline.models import HOLD_REASON_WORDS, Case, Disc, DiscItemRow, Document, Hold, ShredEntry
from pps_archive.errors import Conflict, InvalidValue, NotFound, ShredBlocked, ShredNotDue

ARCHIVED_STATUSES = ("verified", "in-cupboard")
#: what a verification may be read from for it to count, per ``media.archive_medium``
COUNTING_READS = {"optical": ("drive", "disc"), "image-files": ("drive", "disc", "image", "folder")}


class Reason(str):
    """Why an entry is blocked, in words for any front-end; ``cli_hint`` is the command-line
    wording of what to do about it (the CLI shows it, a web app its own)."""

    cli_hint: str = ""

    def __new__(cls, text: str, cli_hint: str = "") -> Reason:
        self = super().__new__(cls, text)
        self.cli_hint = cli_hint
        return self


def _disc_counts(disc_status: str, medium_verified_at: object, verified_from: str | None, medium: str,
                 medium_marked: bool = True) -> bool:
    if disc_status not in ARCHIVED_STATUSES:
        return False
    return (medium_verified_at is not None and medium_marked) or (
        medium == "image-files" and verified_from in COUNTING_READS[medium])


UNMARKED_READ = ("disc {label}'s read from the disc is not vouched for by the master key (it was read without the "
                 "passphrase, or its record was changed in the database): verify the disc from the drive again with the key")
UNMARKED_ITEM = ("its scan on disc {label} has no re-hash vouched for by the master key (its record was changed in the "
                 "database?): verify the disc in full again")
UNMARKED_HINT = "Run 'pps-archive media verify --full /dev/sr0' (with the disc in the drive)."


def plain_rows(s: Session, stmt: object) -> object:
    """Run a select of columns on the session's connection, in its transaction: plain rows, without
    the ORM's per-row work (tens of thousands of rows on a dashboard). Flushes first, as the
    session's own ``execute`` would."""
    if s.autoflush:
        s.flush()
    return s.connection().execute(stmt).all()


#: beyond this many document ids, :func:`archive_state` reads every disc item and keeps those asked
#: for (the same answer; a long ``IN (...)`` list costs more than the rows it leaves out)
_IN_LIST_LIMIT = 500


def archive_state(s: Session, cfg: Config, document_ids: Iterable[int] | Select | None = None, *,
                  exclude_disc: int | None = None, mark_key: bytes | None = None) -> dict[int, str | None]:
    """Per document on any disc (but ``exclude_disc``): ``None`` if its scan counts as archived,
    else why not (the reason of the disc that came closest). Documents on no disc are not in the
    result; ``document_ids`` may be a select of ids. The verification marks count only with their
    MAC (:mod:`pipeline.verify_marks`): with ``mark_key`` (derived from the unlocked master key)
    each MAC is checked; without it, only that one is there."""
    from pipeline import keystore
    from pipeline import verify_marks as marks

    medium = cfg.section("media")["archive_medium"]
    archive = keystore.archive_id(s) if mark_key is not None else ""
    # what depends on the disc alone, worked out once per disc (a few hundred) rather than per item
    # (a hundred thousand): its label, image hash, whether it counts, else its rank and reason. The
    # discs in label order (the database's): of two discs that come as close, the first one's reason
    per_disc: dict[int, tuple[int, str, str, bool, int, tuple | None]] = {}
    discs = plain_rows(s, select(Disc.id, Disc.label, Disc.status, Disc.medium_verified_at, Disc.verified_from,
                                 Disc.iso_sha256, Disc.medium_mac).where(Disc.status != "destroyed").order_by(Disc.label))
    for order, (disc_id, label, status, medium_at, read_from, iso, m_mac) in enumerate(discs):
        if disc_id == exclude_disc:
            continue
        medium_marked = (m_mac is not None if mark_key is None
                         else marks.medium_ok(mark_key, archive, label, iso, medium_at, m_mac))
        if _disc_counts(status, medium_at, read_from, medium, medium_marked):
            disc = (True, 0, None)
        elif status in ARCHIVED_STATUSES and medium_at is not None and not medium_marked:
            disc = (False, 2, ("unmarked-read", label))
        elif status in ARCHIVED_STATUSES:
            disc = (False, 2, ("not-from-disc", label, read_from))
        elif status == "built":
            disc = (False, 1, ("built", label))
        else:  # failed
            disc = (False, 0, ("failed", label))
        per_disc[disc_id] = (order, label, iso, *disc)
    if not per_disc:
        return {}
    if mark_key is None:
        stmt = select(DiscItemRow.document_id, DiscItemRow.disc_id, DiscItemRow.checked_at,
                      DiscItemRow.checked_mac.is_not(None))
    else:
        stmt = select(DiscItemRow.document_id, DiscItemRow.disc_id, DiscItemRow.checked_at, DiscItemRow.checked_mac,
                      DiscItemRow.vault_item)
    wanted: set[int] | None = None
    if isinstance(document_ids, Select):  # the ids as a query: the database leaves the others out
        stmt = stmt.where(DiscItemRow.document_id.in_(document_ids))
    elif document_ids is not None:
        ids = list(document_ids)
        if len(ids) > _IN_LIST_LIMIT:
            wanted = set(ids)
        else:
            stmt = stmt.where(DiscItemRow.document_id.in_(ids))
    # per document the best (rank, what the reason is made from, the disc's order); worded at the end
    best: dict[int, tuple[int, tuple | None, int]] = {}
    for doc_id, disc_id, checked_at, c_mac, *item in plain_rows(s, stmt):
        if wanted is not None and doc_id not in wanted:
            continue
        disc = per_disc.get(disc_id)
        if disc is None:  # destroyed, or the disc left out
            continue
        order, label, iso, counts, rank, why = disc
        if counts:
            if checked_at is None:
                rank, why = 3, ("never-checked", label)
            else:
                item_marked = (bool(c_mac) if mark_key is None
                               else marks.item_ok(mark_key, archive, label, iso, doc_id, item[0], checked_at, c_mac))
                rank, why = (4, None) if item_marked else (3, ("unmarked-item", label))
        prior = best.get(doc_id)
        if prior is None or rank > prior[0] or (rank == prior[0] and order < prior[2]):
            best[doc_id] = (rank, why, order)
    worded: dict[tuple, Reason] = {}
    return {doc_id: None if why is None else (worded.get(why) or worded.setdefault(why, _reason(*why)))
            for doc_id, (_rank, why, _order) in best.items()}


def _reason(kind: str, label: str, read_from: str | None = None) -> Reason:
    """The words of :func:`archive_state`'s reasons, by kind."""
    if kind == "never-checked":
        return Reason(f"its scan on disc {label} has never been decrypted and re-hashed: verify the disc (or its image) in full first",
                      "Run 'pps-archive media verify --full' on it.")
    if kind == "unmarked-item":
        return Reason(UNMARKED_ITEM.format(label=label), UNMARKED_HINT)
    if kind == "unmarked-read":
        return Reason(UNMARKED_READ.format(label=label), UNMARKED_HINT)
    if kind == "not-from-disc":
        return Reason(f"disc {label} was verified from {'its image file' if read_from == 'image' else 'a folder'}, "
                      f"not from the disc: burn it to a CD and verify it from the drive or the mounted disc",
                      "For example 'pps-archive media verify /dev/sr0'.")
    if kind == "built":
        return Reason(f"disc {label} is built but not verified: burn it and verify the disc",
                      "Run 'pps-archive media verify' on the disc.")
    return Reason(f"disc {label} failed verification: build a new disc from the vault and verify it",
                  "Build it with 'pps-archive media build'.")


def archived_document_ids(s: Session, cfg: Config, document_ids: Iterable[int] | None = None, *,
                          exclude_disc: int | None = None, mark_key: bytes | None = None) -> set[int]:
    """Documents whose scan is archived (see :func:`archive_state`)."""
    states = archive_state(s, cfg, document_ids, exclude_disc=exclude_disc, mark_key=mark_key)
    return {doc_id for doc_id, why in states.items() if why is None}


NOT_ON_DISC = Reason("its scan is not yet on a verified disc: build a disc and verify it first",
                     "Run 'pps-archive media build', then 'pps-archive media verify'.")


@dataclass(frozen=True)
class EntryState:
    state: str  # pending | waiting | blocked | confirmed
    blocked_reason: str | None
    due_on: dt.date | None = None  # waiting: when the case becomes archive-due


def entry_state(entry: ShredEntry, holds: list[Hold], disc_state: str | None, *, cfg: Config, today: dt.date,
                on_disc: bool = True) -> EntryState:
    """``disc_state``: None when the scan is archived, else why not; ``on_disc`` False when it is on none."""
    doc = entry.document
    case = doc.case
    return _entry_state(entry.confirmed_by, [(h.id, h.reason) for h in holds], doc.decision,
                        case.ref if case is not None else None, case is not None and case.disposed_on is None,
                        case.last_activity if case is not None else None, disc_state, on_disc, cfg=cfg, today=today)


def _entry_state(confirmed_by: str | None, holds: list[tuple[int, str]], decision: str, case_ref: str | None,
                 case_live: bool, last_activity: dt.date | None, disc_state: str | None, on_disc: bool, *,
                 cfg: Config, today: dt.date, dates: dict | None = None) -> EntryState:
    """:func:`entry_state` from the plain values it looks at: ``holds`` the active ones as
    ``(id, reason)``, oldest first; ``case_live`` a case not disposed of; ``dates`` a memo of
    :func:`case_dates` by last activity."""
    if confirmed_by is not None:
        return EntryState("confirmed", None)
    if holds:
        hold_id, reason = holds[0]
        return EntryState("blocked", f"case is under a {HOLD_REASON_WORDS[reason]} hold (hold {hold_id})")
    if case_live:
        due = dates.get(last_activity) if dates is not None else None
        if due is None:
            due = case_dates(cfg, last_activity).archive_due
            if dates is not None:
                dates[last_activity] = due
        if due > today:
            return EntryState("waiting", f"case {case_ref} is still active: its paper is shredded when it is archived, "
                              f"from {due.isoformat()}", due)
    if decision == "retain" and (disc_state is not None or not on_disc):
        return EntryState("blocked", disc_state if on_disc else NOT_ON_DISC)
    return EntryState("pending", None)


def _entries(s: Session, ids: Iterable[int] | None = None, *, for_update: bool = False) -> list[ShredEntry]:
    stmt = (
        select(ShredEntry)
        .options(selectinload(ShredEntry.document).selectinload(Document.case).selectinload(Case.holds))
        .order_by(ShredEntry.id)
    )
    if ids is not None:
        stmt = stmt.where(ShredEntry.id.in_(list(ids)))
    if for_update:
        stmt = stmt.with_for_update()
    return list(s.scalars(stmt))


def _states(s: Session, cfg: Config, entries: list[ShredEntry], today: dt.date, *,
            mark_key: bytes | None = None) -> list[EntryState]:
    discs = archive_state(s, cfg, [e.document_id for e in entries], mark_key=mark_key)
    out = []
    for e in entries:
        doc = e.document
        holds = [h for h in doc.case.holds if h.active] if doc.case else []
        out.append(entry_state(e, holds, discs.get(doc.id), cfg=cfg, today=today, on_disc=doc.id in discs))
    return out


#: every state of a shred-list entry, and those still to do (what a printed list and a default listing show)
STATES = ("waiting", "pending", "blocked", "confirmed")
OPEN_STATES = ("waiting", "pending", "blocked")


def check_states(states: Iterable[str] | None) -> tuple[str, ...]:
    """The states a listing is filtered to (``None``: every state), or :class:`InvalidValue`."""
    if states is None:
        return STATES
    chosen = tuple(dict.fromkeys(s.strip().lower() for s in states))
    unknown = [s for s in chosen if s not in STATES]
    if unknown or not chosen:
        raise InvalidValue(f"{', '.join(map(repr, unknown)) or 'no state'} is not a shred-list state: use one of {', '.join(STATES)}")
    return chosen


def _list_rows(s: Session, cfg: Config, today: dt.date) -> list[tuple[tuple, EntryState]]:
    """Every entry as the columns a listing shows, with its state: the rules of :func:`_states`
    on plain rows (no ORM objects, one query per table), for listings and counts at any size."""
    rows = list(plain_rows(s,
        select(ShredEntry.id, ShredEntry.confirmed_by, ShredEntry.confirmed_on, Document.id, Document.doc_class,
               Document.pages, Document.decision, Case.id, Case.ref, Case.disposed_on, Case.last_activity)
        .join(Document, ShredEntry.document_id == Document.id)
        .outerjoin(Case, Document.case_id == Case.id)
        .order_by(ShredEntry.id)
    ))
    holds: dict[int, list[tuple[int, str]]] = {}
    for case_id, hold_id, reason in plain_rows(s, select(Hold.case_id, Hold.id, Hold.reason)
                                               .where(Hold.released_on.is_(None)).order_by(Hold.id)):
        holds.setdefault(case_id, []).append((hold_id, reason))
    # the disc state of documents still to do only: a confirmed entry's state does not depend on it
    discs = archive_state(s, cfg, select(ShredEntry.document_id).where(ShredEntry.confirmed_by.is_(None)))
    dates: dict = {}
    out = []
    for r in rows:
        _id, confirmed_by, _on, doc_id, _cls, _pages, decision, case_id, ref, disposed_on, last = r
        st = _entry_state(confirmed_by, holds.get(case_id, []) if case_id is not None else [], decision, ref,
                          case_id is not None and disposed_on is None, last, discs.get(doc_id), doc_id in discs,
                          cfg=cfg, today=today, dates=dates)
        out.append((r, st))
    return out


def shred_counts(s: Session, cfg: Config, *, today: dt.date) -> dict[str, int]:
    """How many entries are in each state on ``today`` (every state, zero included), as
    :func:`shred_list` would list them. Read-only; runs in the caller's session."""
    counts = dict.fromkeys(STATES, 0)
    for _row, st in _list_rows(s, cfg, today):
        counts[st.state] += 1
    return counts


def shred_list(s: Session, cfg: Config, *, today: dt.date, include_confirmed: bool = True,
               states: Iterable[str] | None = None) -> list[dict]:
    """The shred list on ``today``, filtered to ``states`` (default: every state, or the open ones
    without ``include_confirmed``). Read-only; runs in the caller's session."""
    wanted = check_states(states) if states is not None else (STATES if include_confirmed else OPEN_STATES)
    classes = cfg.classes
    out = []
    for (e_id, confirmed_by, confirmed_on, doc_id, doc_class, pages, decision, _case_id, ref, _disp, _last), st \
            in _list_rows(s, cfg, today):
        if st.state not in wanted:
            continue
        cls = classes.get(doc_class or "")
        out.append({
            "id": e_id,
            "document": doc_id,
            "case_ref": ref,
            "class": doc_class,
            "pages": pages,
            "state": st.state,
            "blocked_reason": str(st.blocked_reason) if st.blocked_reason is not None else None,
            "blocked_hint": getattr(st.blocked_reason, "cli_hint", "") or None,  # the CLI's wording of what to do
            "due_on": st.due_on.isoformat() if st.due_on else None,
            "decision": decision,
            "holder": cls.holder if cls else None,
            "confirmed_by": confirmed_by,
            "confirmed_on": confirmed_on.isoformat() if confirmed_on else None,
        })
    return out


def confirm(s: Session, cfg: Config, ids: list[int], *, auth: authority.Unlocked, today: dt.date, consent: str) -> list[int]:
    """Confirm entries shredded by ``auth.actor``; all or nothing: one waiting or blocked entry
    refuses the whole command. Needs the key store unlocked and an intact audit log. Runs in the
    caller's transaction."""
    authority.ensure_not_later(today, "confirming paper shredded")
    how = authority.require(s, auth, "confirming paper shredded")
    authority.ensure_audit_chain(s, auth)
    entries = _entries(s, ids, for_update=True)
    missing = sorted(set(ids) - {e.id for e in entries})
    if missing:
        raise NotFound(f"no shred-list entry {', '.join(map(str, missing))}: check the entries' ids.",
                       cli_hint="See them with 'pps-archive shred-list'.")
    from pipeline.verify_marks import mark_key

    check_against_log(s, auth, {e.document.case.ref for e in entries if e.document.case})  # dates and holds
    for e, st in zip(entries, _states(s, cfg, entries, today, mark_key=mark_key(auth.master)), strict=True):
        if st.state == "waiting":
            raise ShredNotDue(entry=e.id, ref=e.document.case.ref, due_on=st.due_on.isoformat())
        if st.state == "blocked":
            raise ShredBlocked(entry=e.id, reason=st.blocked_reason, cli_hint=getattr(st.blocked_reason, "cli_hint", ""))
        if st.state == "confirmed":
            raise Conflict(f"shred-list entry {e.id} was already confirmed by {e.confirmed_by} on {e.confirmed_on}")
    for e in entries:
        e.confirmed_by, e.confirmed_on = auth.actor, today
        _drop_review_copy(e.document)
        audit.record(s, auth.actor, "shred.confirm", case_ref=e.document.case.ref if e.document.case else None,
                     subject=f"shred:{e.id}", document=e.document_id, consent=consent, on=today, **how)
    return [e.id for e in entries]


def _drop_review_copy(doc: Document) -> None:
    """A document filed SHRED from the review queue kept its (archive-key) review copy so the
    decision could be undone; with the paper gone it is dropped (the blob, no longer referred to,
    goes with the vault sweep)."""
    if doc.decision == "shred" and doc.vault_item is not None and doc.encrypted_to == "archive":
        doc.vault_item = doc.plaintext_sha256 = doc.ciphertext_sha256 = doc.size = doc.encrypted_to = None


def write_pdf(rows: list[dict], out, service_name: str, today: dt.date) -> None:  # noqa: ANN001 - a path or a binary file, as reportlab takes it
    """A printable shred list for the office: no names, only references, classes and pages. Only
    entries still to do are printed (a confirmed entry in ``rows`` is left out)."""
    rows = [r for r in rows if r["state"] in OPEN_STATES]
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from pps_archive.atomic import atomic_writer

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    data = [["Entry", "Case", "Class", "Pages", "Original held by", "State", "Shredded by, date"]]
    for r in rows:
        if r["state"] == "blocked":
            state = "BLOCKED: " + (r["blocked_reason"] or "")
        elif r["state"] == "waiting":
            state = f"WAITING: keep in the case file until {r['due_on']} (case still active)"
        else:
            state = r["state"]
        data.append([str(r["id"]), r["case_ref"] or "-", r["class"] or "-", str(r["pages"]),
                     Paragraph(r["holder"] or "-", small), Paragraph(state, small), ""])
    story = [
        Paragraph(f"{service_name}: shred list", styles["Title"]),
        Paragraph(f"Printed {today.isoformat()}. Shred only entries marked 'pending'; then record them with "
                  f"'pps-archive shred confirm ID... --by NAME'. Entries marked 'WAITING' belong to cases that "
                  f"are still active: do not shred them before the date shown.", styles["BodyText"]),
        Spacer(1, 8),
        Table(data, repeatRows=1, colWidths=[34, 76, 80, 32, 100, 130, 78], style=TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
            ("FONTSIZE", (0, 0), (-1, -1), 8), ("VALIGN", (0, 0), (-1, -1), "TOP")])),
    ]
    with atomic_writer(out, 0o600) as fh:
        SimpleDocTemplate(fh, pagesize=A4, title="Shred list", leftMargin=28, rightMargin=28).build(story)
