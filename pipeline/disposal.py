"""The annual disposal run, against the discs.

1. Read every disc presented (image files or a mounted drive); check each index's signature.
2. Cross-check with the register, which is authoritative: a case reactivated after its disc was
   burnt is kept; a case under a hold is held back; discs registered but not presented, and discs
   presented but not registered, are reported.
3. For each case due (six years after its last activity, no active hold): destroy its data key —
   the cryptographic erase that makes every copy of its items on every write-once disc unreadable —
   delete its vault blobs, and purge its records down to a tombstone with no personal data.
4. List discs whose every item is now erased, with their cupboard location, for physical
   destruction; discs still holding live items past their year, for consolidation.
5. Write a destruction certificate (JSON and PDF), kept permanently.

``plan`` changes nothing (``--dry-run``); ``execute`` carries the plan out one case per
transaction, and a run interrupted half-way is finished by running it again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from pipeline import audit, keystore
from pipeline.cases import active_holds, case_dates
from pipeline.config import Config
from pipeline.dates import utcnow
from pipeline.models import (
    HOLD_REASON_WORDS, Case, Disc, DiscItemRow, DisposalRun, Document, Input, ShredEntry, ThirdPartyConsent, WrappedKey,
)
from pipeline.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PresentedDisc:
    source: str
    label: str
    items: int


@dataclass
class DisposalPlan:
    as_of: dt.date
    dispose: list[dict] = field(default_factory=list)  # cases to dispose of now
    held: list[dict] = field(default_factory=list)  # due, but under a hold
    kept_reactivated: list[dict] = field(default_factory=list)  # a disc says due, the register says not
    kept_in_review: list[dict] = field(default_factory=list)  # due, but documents for it wait in review
    discs_to_destroy: list[dict] = field(default_factory=list)
    discs_to_consolidate: list[dict] = field(default_factory=list)
    not_presented: list[str] = field(default_factory=list)
    not_registered: list[str] = field(default_factory=list)
    presented: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {**asdict(self), "as_of": self.as_of.isoformat()}


def read_presented(ws: Workspace, sources: list[Path]) -> tuple[list[PresentedDisc], dict[str, dt.date]]:
    """Each disc's index, signature-checked; and per case the earliest disposal date a disc gives."""
    from archive_media.iso import read_disc
    from pipeline.media import public_key

    if not sources:
        return [], {}
    with ws.transaction() as s:
        pub, archive = public_key(s, ws.data_dir), keystore.archive_id(s)
    discs, disc_dates = [], {}
    for src in sources:
        with read_disc(Path(src), public_key=pub, archive_id=archive) as reader:
            index = reader.index
        for e in index.entries:
            disc_dates[e.case_ref] = min(disc_dates.get(e.case_ref, e.dispose_after), e.dispose_after)
        discs.append(PresentedDisc(str(src), index.label, len(index.entries)))
    return discs, disc_dates


def plan(s: Session, cfg: Config, as_of: dt.date, presented: list[PresentedDisc], disc_dates: dict[str, dt.date]) -> DisposalPlan:
    p = DisposalPlan(as_of=as_of)
    cases = list(s.scalars(select(Case).where(Case.disposed_on.is_(None)).options(selectinload(Case.holds))))
    in_review: dict[str, list[int]] = {}  # a document came for the case: was it reactivated? staff decide first
    for doc_id, ref in s.execute(select(Document.id, Document.suggested_ref).where(
            Document.state == "review", Document.suggested_ref.is_not(None)).order_by(Document.id)):
        in_review.setdefault(ref, []).append(doc_id)
    due_refs = set()
    for c in cases:
        dispose_after = case_dates(cfg, c.last_activity).dispose_after
        if dispose_after > as_of:
            if c.ref in disc_dates and disc_dates[c.ref] <= as_of:
                p.kept_reactivated.append({"case_ref": c.ref, "disc_says": disc_dates[c.ref].isoformat(),
                                           "register_says": dispose_after.isoformat(), "last_activity": c.last_activity.isoformat()})
            continue
        holds = active_holds(c)
        if holds:
            p.held.append({"case_ref": c.ref, "dispose_after": dispose_after.isoformat(),
                           "holds": [{"id": h.id, "reason": h.reason, "words": HOLD_REASON_WORDS[h.reason]} for h in holds]})
            continue
        if c.ref in in_review:
            p.kept_in_review.append({"case_ref": c.ref, "dispose_after": dispose_after.isoformat(), "documents": in_review[c.ref]})
            continue
        due_refs.add(c.ref)
        p.dispose.append({"case_ref": c.ref, "opened_on": c.opened_on.isoformat(), "last_activity": c.last_activity.isoformat(),
                          "dispose_after": dispose_after.isoformat()})
    p.dispose.sort(key=lambda d: d["case_ref"])
    _plan_discs(s, p, presented, due_refs)
    return p


def _plan_discs(s: Session, p: DisposalPlan, presented: list[PresentedDisc], due_refs: set[str]) -> None:
    disposed = set(s.scalars(select(Case.ref).where(Case.disposed_on.is_not(None)))) | due_refs
    discs = list(s.scalars(select(Disc).where(Disc.status != "destroyed").options(selectinload(Disc.items)).order_by(Disc.label)))
    labels = {d.label for d in discs}
    seen = {pd.label for pd in presented}
    p.presented = [asdict(pd) for pd in presented]
    p.not_registered = sorted(seen - labels)
    p.not_presented = sorted(d.label for d in discs if d.label not in seen and d.status in ("verified", "in-cupboard"))
    for d in discs:
        refs = {i.case_ref for i in d.items}
        if refs and refs <= disposed:
            p.discs_to_destroy.append({"label": d.label, "location": d.location, "status": d.status, "items": len(d.items),
                                       "presented": d.label in seen})
        elif d.dispose_year <= p.as_of.year and refs & disposed:
            live = sorted(refs - disposed)
            p.discs_to_consolidate.append({"label": d.label, "location": d.location, "live_cases": live,
                                           "live_items": sum(1 for i in d.items if i.case_ref in live)})


def _open_run(s: Session, as_of: dt.date, operator: str) -> DisposalRun:
    run = s.scalars(select(DisposalRun).where(DisposalRun.finished_at.is_(None), DisposalRun.as_of == as_of)).first()
    if run is None:
        run = DisposalRun(as_of=as_of, operator=operator, started_at=utcnow())
        s.add(run)
        s.flush()
        audit.record(s, operator, "disposal.started", subject=f"disposal:{run.id}", as_of=as_of)
    return run



def dispose_case(ws: Workspace, s: Session, ref: str, run: DisposalRun, *, actor: str) -> dict:
    """Crypto-erase one case and purge its records to a tombstone, in the caller's transaction."""
    from archive_media.vault import Vault

    case = s.scalars(select(Case).where(Case.ref == ref).with_for_update()).one()
    if case.disposed_on is not None:
        return {"case_ref": ref, "skipped": "already disposed of"}
    if active_holds(case):  # placed while the run was going
        return {"case_ref": ref, "skipped": "a hold was placed during the run"}
    if case_dates(ws.config, case.last_activity).dispose_after > run.as_of:
        return {"case_ref": ref, "skipped": "activity was recorded during the run"}
    docs = list(s.scalars(select(Document).where((Document.case_id == case.id) | (Document.suggested_ref == ref))))
    record = {"case_ref": ref, "opened_on": case.opened_on.isoformat(), "last_activity": case.last_activity.isoformat(),
              "dispose_after": case_dates(ws.config, case.last_activity).dispose_after.isoformat(),
              "documents": [d.id for d in docs], "vault_items": sum(1 for d in docs if d.vault_item)}
    key_destroyed = s.execute(delete(WrappedKey).where(WrappedKey.purpose == "case", WrappedKey.case_ref == ref)).rowcount > 0
    vault = Vault(ws.path("vault"))
    for d in docs:
        if d.vault_item:
            vault.delete(d.vault_item)
        if d.original_item:
            vault.delete(d.original_item)
        d.original_item = d.original_sha256 = d.original_ciphertext_sha256 = d.original_size = None
        # the tombstone keeps ids, class, decision and page count: no file names, no free text
        d.vault_item = d.plaintext_sha256 = d.ciphertext_sha256 = d.size = d.encrypted_to = None
        d.reason, d.source_pages, d.state, d.suggested_ref = "disposed", "[]", "disposed", None
    inputs = {d.input_id for d in docs}
    for inp in s.scalars(select(Input).where(Input.id.in_(inputs))):
        others = s.scalars(select(Document.id).where(Document.input_id == inp.id, Document.state != "disposed")).first()
        if others is None:
            inp.display_name, inp.member_names = "(disposed)", None
    s.execute(delete(ThirdPartyConsent).where(ThirdPartyConsent.case_id == case.id))
    for h in case.holds:
        h.note = ""
    case.disposed_on, case.disposal_run_id, case.store_consent = run.as_of, run.id, False
    record["key_destroyed"] = key_destroyed
    audit.record(s, actor, "case.disposed", case_ref=ref, subject=f"disposal:{run.id}", documents=len(docs), key_destroyed=key_destroyed)
    return record


def dry_run(ws: Workspace, sources: list[Path], as_of: dt.date) -> dict:
    """What ``execute`` would do, changing nothing."""
    presented, disc_dates = read_presented(ws, sources)
    with ws.transaction() as s:
        return plan(s, ws.config, as_of, presented, disc_dates).as_dict()


def execute(ws: Workspace, sources: list[Path], as_of: dt.date, *, auth, consent: str) -> dict:  # noqa: ANN001
    """Carry the plan out, as ``auth.actor``: needs the key store unlocked (``auth``, a
    :class:`pipeline.authority.Unlocked`) and an audit log that verifies."""
    from pipeline import authority

    with ws.transaction() as s:
        how = authority.require(s, auth, "the disposal run")
        authority.ensure_audit_chain(s, auth)
        audit.record(s, auth.actor, "disposal.authorised", as_of=as_of, consent=consent, **how)
    actor = auth.actor
    presented, disc_dates = read_presented(ws, sources)
    with ws.transaction() as s:
        p = plan(s, ws.config, as_of, presented, disc_dates)
        run = _open_run(s, as_of, actor)
        run_id = run.id
    for item in p.dispose:
        with ws.transaction() as s:  # one case at a time: an interruption loses nothing
            run = s.get(DisposalRun, run_id)
            done = dispose_case(ws, s, item["case_ref"], run, actor=actor)
            if "skipped" in done:
                log.warning("case %s not disposed of: %s", item["case_ref"], done["skipped"])
    with ws.transaction() as s:
        run = s.get(DisposalRun, run_id)
        purge_unfiled(ws, s, run, actor=actor)
    _wipe_free_space(ws)
    with ws.transaction() as s:
        run = s.get(DisposalRun, run_id)
        cert = certificate(ws, s, run, p, consent=consent)
        audit.record(s, actor, "disposal.finished", subject=f"disposal:{run_id}", cases=len(cert["destroyed"]),
                     discs_to_destroy=len(p.discs_to_destroy), consent=consent, **how)
        cert["audit_head"] = audit.head(s).head
        run.finished_at, run.certificate = utcnow(), json.dumps(cert, sort_keys=True)
    write_certificate(ws, cert)
    return cert


def purge_unfiled(ws: Workspace, s: Session, run: DisposalRun, *, actor: str) -> dict:
    """Records that never reached a case age out too: review items never assigned and quarantine
    entries, the retention period after they came in (their copies are encrypted to the archive
    key, which is never destroyed, so they are deleted rather than crypto-erased)."""
    from archive_media.vault import Vault

    from pipeline.dates import add_years
    from pipeline.models import QuarantineEntry

    years = ws.config.dispose_after_years
    vault = Vault(ws.path("vault"))
    review = [d for d in s.scalars(select(Document).where(Document.decision == "review", Document.state == "review"))
              if add_years(d.created_at.date(), years) <= run.as_of]
    for d in review:
        if d.vault_item:
            vault.delete(d.vault_item)
        if d.original_item:
            vault.delete(d.original_item)
        d.original_item = d.original_sha256 = d.original_ciphertext_sha256 = d.original_size = None
        d.vault_item = d.plaintext_sha256 = d.ciphertext_sha256 = d.size = d.encrypted_to = d.suggested_ref = None
        d.reason, d.source_pages, d.state = "disposed", "[]", "disposed"
    entries = [e for e in s.scalars(select(QuarantineEntry).where(QuarantineEntry.file != "(disposed)"))
               if add_years(e.received_at.date(), years) <= run.as_of]
    for e in entries:
        if e.path:
            import shutil

            shutil.rmtree(ws.data_dir / e.path, ignore_errors=True)
        e.file, e.reason, e.path, e.resolved_at = "(disposed)", "disposed", None, e.resolved_at or utcnow()
    if review or entries:
        audit.record(s, actor, "disposal.unfiled", subject=f"disposal:{run.id}", review_items=len(review),
                     quarantine_entries=len(entries))
    return {"review_items": len(review), "quarantine_entries": len(entries)}


def _wipe_free_space(ws: Workspace) -> None:
    """SQLite: with ``secure_delete`` the key rows' bytes were zeroed in the pages; a checkpoint
    also empties the write-ahead log, which still held the old page images."""
    if ws.engine.dialect.name == "postgresql":
        # deleted rows stay in dead tuples until vacuumed; PostgreSQL's WAL and base backups still
        # hold them until they expire (see docs/operations.md)
        with ws.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (FULL) wrapped_keys")
        return
    if ws.engine.dialect.name != "sqlite":
        return
    raw = ws.engine.raw_connection()  # outside SQLAlchemy's transaction: a checkpoint needs none open
    try:
        busy, _log, _done = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("the write-ahead log could not be emptied now (another process is reading); it will be at the next checkpoint")
    finally:
        raw.close()


def certificate(ws: Workspace, s: Session, run: DisposalRun, p: DisposalPlan, *, consent: str) -> dict:
    from pipeline.models import AuditEvent

    cases = list(s.scalars(select(Case).where(Case.disposal_run_id == run.id).order_by(Case.ref)))
    # what each case's disposal did, as recorded when it happened (also by an interrupted attempt)
    events = s.scalars(select(AuditEvent).where(AuditEvent.action == "case.disposed", AuditEvent.subject == f"disposal:{run.id}"))
    keys_gone = {e.case_ref for e in events if json.loads(e.details).get("key_destroyed")}
    destroyed = []
    for c in cases:
        docs = list(s.scalars(select(Document.id).where(Document.case_id == c.id)))
        destroyed.append({"case_ref": c.ref, "opened_on": c.opened_on.isoformat(), "last_activity": c.last_activity.isoformat(),
                          "dispose_after": case_dates(ws.config, c.last_activity).dispose_after.isoformat(),
                          "documents": docs, "key_destroyed": c.ref in keys_gone})
    svc = ws.config.section("service")
    return {
        "certificate": "pps-archive destruction certificate", "version": 1, "run": run.id,
        "service": svc["name"], "policy": svc["retention_authority"],
        "retention": {"archive_after_months": ws.config.archive_after_months, "dispose_after_years": ws.config.dispose_after_years},
        "run_date": run.as_of.isoformat(), "operator": run.operator, "consent": consent,
        "started_at": run.started_at.isoformat(timespec="seconds"), "finished_at": utcnow().isoformat(timespec="seconds"),
        "destroyed": destroyed, "keys_destroyed": [d["case_ref"] for d in destroyed if d["key_destroyed"]],
        "discs_to_destroy": p.discs_to_destroy, "discs_to_consolidate": p.discs_to_consolidate,
        "held_back": p.held, "kept_reactivated": p.kept_reactivated, "kept_in_review": p.kept_in_review,
        "discs_not_presented": p.not_presented, "discs_not_registered": p.not_registered,
        "method": "cryptographic erase (NIST SP 800-88): each case's data key destroyed; vault copies deleted",
    }


def write_certificate(ws: Workspace, cert: dict) -> tuple[Path, Path]:
    from pps_archive.atomic import atomic_write_bytes

    folder = ws.path("certificates")
    stem = f"disposal-{cert['run_date']}-run{cert['run']}"
    js = folder / f"{stem}.json"
    atomic_write_bytes(js, (json.dumps(cert, indent=2, sort_keys=True) + "\n").encode(), 0o600)
    pdf = folder / f"{stem}.pdf"
    _certificate_pdf(cert, pdf)
    cert["files"] = [str(js), str(pdf)]
    return js, pdf


def _certificate_pdf(cert: dict, out: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    from pps_archive.atomic import atomic_writer

    st = getSampleStyleSheet()
    story = [Paragraph(f"{cert['service']}: certificate of destruction", st["Title"]),
             Paragraph(f"Disposal run {cert['run']} on {cert['run_date']}, operator {cert['operator']} (consent: {cert['consent']}).", st["BodyText"]),
             Paragraph(f"Authority: {cert['policy']}.", st["BodyText"]),
             Paragraph(f"Method: {cert['method']}.", st["BodyText"]), Spacer(1, 8)]
    rows = [["Case", "Opened", "Last activity", "Dispose after", "Documents", "Key destroyed"]]
    rows += [[d["case_ref"], d["opened_on"], d["last_activity"], d["dispose_after"], str(len(d["documents"])),
              "yes" if d["key_destroyed"] else "no"] for d in cert["destroyed"]]
    story += [Paragraph("Records destroyed", st["Heading2"]), Table(rows, repeatRows=1)]
    for title, key, fmt in (
        ("Discs to destroy physically", "discs_to_destroy", lambda d: f"{d['label']} — {d['location'] or 'location not recorded'}"),
        ("Discs to consolidate (re-burn live items, then destroy)", "discs_to_consolidate", lambda d: f"{d['label']}: live cases {', '.join(d['live_cases'])}"),
        ("Held back", "held_back", lambda d: f"{d['case_ref']}: " + ", ".join(f"{h['words']} (hold {h['id']})" for h in d["holds"])),
        ("Kept: reactivated after the disc was made", "kept_reactivated", lambda d: f"{d['case_ref']}: dispose after {d['register_says']}"),
        ("Kept: documents for the case wait in review (was it reactivated?)", "kept_in_review",
         lambda d: f"{d['case_ref']}: review items {', '.join(map(str, d['documents']))}"),
        ("Registered discs not presented", "discs_not_presented", str),
        ("Presented discs not in the register", "discs_not_registered", str),
    ):
        if cert[key]:
            story += [Paragraph(title, st["Heading2"])] + [Paragraph(fmt(x), st["BodyText"]) for x in cert[key]]
    story += [Spacer(1, 8), Paragraph(f"Audit chain head after the run: {cert.get('audit_head', '(see JSON)')}", st["BodyText"])]
    with atomic_writer(out, 0o600) as fh:
        SimpleDocTemplate(fh, pagesize=A4, title="Certificate of destruction").build(story)
