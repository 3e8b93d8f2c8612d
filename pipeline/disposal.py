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

Order, so that a kill at any point leaves each case untouched or disposed of, never half:

- one transaction per case overwrites its key record with zeros, deletes it, and cuts the records
  down to a tombstone; the tombstone keeps the opaque ids of its vault blobs. This commit is the
  erase: from here on the blobs are ciphertext nobody can read.
- only then are the blobs deleted (and the ids cleared); a kill in between leaves blobs of a
  disposed case, which this and every later run delete first (:func:`sweep_disposed`).
- before the certificate, the destroyed records' old bytes are removed from the database files
  and their absence checked (:func:`erase_and_verify`); while another process holds an old
  snapshot open this waits, then fails without a certificate, and a re-run finishes.
- the certificate files are written atomically before the run is recorded as finished; a
  finished run whose files are missing gets them back from the copy kept in the database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import mmap
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from pipeline import audit, keystore
from pipeline.cases import active_holds, case_dates, check_against_log
from pipeline.config import Config
from pipeline.dates import utcnow
from pipeline.models import (
    HOLD_REASON_WORDS, Case, Disc, DiscItemRow, DisposalRun, Document, Input, SafeguardingRecord, ShredEntry, ThirdPartyConsent,
    WrappedKey,
)
from pipeline.progress import ProgressCallback
from pipeline.workspace import Workspace
from pps_archive.errors import DisposalRunning, ErasureUnverified

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
    unfiled: dict = field(default_factory=dict)  # records that never reached a case, aged out: ids

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


def discs_of_round(s: Session, ws: Workspace, round_id: int, sources: list[Path], *, auth) -> tuple[list[PresentedDisc], dict[str, dt.date]]:  # noqa: ANN001, E501
    """As :func:`read_presented`, for the discs presented one at a time in a round of discs
    (:mod:`pipeline.disc_rounds`), after presenting ``sources`` into it (a refused one raises its
    error). In the caller's session; ``auth`` unlocked (the rows' MACs are checked with it)."""
    from pipeline import disc_rounds
    from pipeline import verify_marks as marks

    for src in sources:
        result = disc_rounds.present_disc(s, ws, round_id, src, auth=auth)
        if result.error is not None:
            raise result.error
    return disc_rounds.presented_discs(s, round_id, marks.mark_key(auth.master))


def unfinished_run_id(s: Session, as_of: dt.date) -> int | None:
    """The run for ``as_of`` that was interrupted, which the next run on that date finishes."""
    return s.scalars(select(DisposalRun.id).where(DisposalRun.finished_at.is_(None), DisposalRun.as_of == as_of)).first()


def plan(s: Session, cfg: Config, as_of: dt.date, presented: list[PresentedDisc], disc_dates: dict[str, dt.date],
         *, include_run: int | None = None) -> DisposalPlan:
    """What a run on ``as_of`` does. The cases an interrupted run ``include_run`` disposed of
    already are in it still, so that the plan a run was approved with stays the plan it finishes."""
    p = DisposalPlan(as_of=as_of)
    undisposed = Case.disposed_on.is_(None)
    if include_run is not None:
        undisposed = undisposed | (Case.disposal_run_id == include_run)
    cases = list(s.scalars(select(Case).where(undisposed).options(selectinload(Case.holds)).order_by(Case.ref)))
    in_review: dict[str, list[int]] = {}  # a document came for the case: was it reactivated? staff decide first
    for doc_id, ref in s.execute(select(Document.id, Document.suggested_ref).where(
            Document.state == "review", Document.suggested_ref.is_not(None)).order_by(Document.id)):
        in_review.setdefault(ref, []).append(doc_id)
    due_refs = set()
    for c in cases:
        dispose_after = case_dates(cfg, c.last_activity).dispose_after
        if c.disposed_on is not None:  # by the interrupted run: part of it whatever happened since
            due_refs.add(c.ref)
            p.dispose.append({"case_ref": c.ref, "opened_on": c.opened_on.isoformat(), "last_activity": c.last_activity.isoformat(),
                              "dispose_after": dispose_after.isoformat()})
            continue
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
    review, entries = _unfiled_due(s, cfg, as_of)
    p.unfiled = {"review_items": [d.id for d in review], "quarantine_entries": [e.id for e in entries]}
    return p


def _unfiled_due(s: Session, cfg: Config, as_of: dt.date) -> tuple[list[Document], list]:
    """Review items never assigned and quarantine entries, the retention period after they came in."""
    from pipeline.dates import add_years
    from pipeline.models import QuarantineEntry

    years = cfg.dispose_after_years
    review = [d for d in s.scalars(select(Document).where(Document.decision == "review", Document.state == "review")
                                   .order_by(Document.id))
              if add_years(d.created_at.date(), years) <= as_of]
    entries = [e for e in s.scalars(select(QuarantineEntry).where(QuarantineEntry.file != "(disposed)").order_by(QuarantineEntry.id))
               if add_years(e.received_at.date(), years) <= as_of]
    return review, entries


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


def discs_after(s: Session, as_of: dt.date, refs: set[str]) -> DisposalPlan:
    """The discs to destroy (every item erased) and to consolidate once ``refs`` are disposed of."""
    p = DisposalPlan(as_of=as_of)
    _plan_discs(s, p, [], refs)
    return p


def _open_run(s: Session, as_of: dt.date, operator: str) -> DisposalRun:
    run = s.scalars(select(DisposalRun).where(DisposalRun.finished_at.is_(None), DisposalRun.as_of == as_of)).first()
    if run is None:
        run = DisposalRun(as_of=as_of, operator=operator, started_at=utcnow())
        s.add(run)
        s.flush()
        audit.record(s, operator, "disposal.started", subject=f"disposal:{run.id}", as_of=as_of)
    return run



def dispose_case(ws: Workspace, s: Session, ref: str, run: DisposalRun, *, actor: str, scheduled: bool = True) -> dict:
    """Crypto-erase one case and purge its records to a tombstone, in the caller's transaction.

    Nothing outside the database is touched: the tombstone keeps its documents' vault ids, and
    :func:`sweep_disposed` deletes those blobs once this transaction has committed. ``scheduled``
    False is the erasure after consent was withdrawn (:mod:`pipeline.erasure`): the case need not
    be due; a hold still stops it."""
    case = s.scalars(select(Case).where(Case.ref == ref).with_for_update()).one()
    if case.disposed_on is not None:
        return {"case_ref": ref, "skipped": "already disposed of"}
    if active_holds(case):  # placed while the run was going
        return {"case_ref": ref, "skipped": "a hold was placed during the run"}
    if scheduled and case_dates(ws.config, case.last_activity).dispose_after > run.as_of:
        return {"case_ref": ref, "skipped": "activity was recorded during the run"}
    docs = list(s.scalars(select(Document).where((Document.case_id == case.id) | (Document.suggested_ref == ref))))
    record = {"case_ref": ref, "opened_on": case.opened_on.isoformat(), "last_activity": case.last_activity.isoformat(),
              "dispose_after": case_dates(ws.config, case.last_activity).dispose_after.isoformat(),
              "documents": [d.id for d in docs], "vault_items": sum(1 for d in docs if d.vault_item)}
    destroyed = _destroy_key_rows(s, ref)
    for d in docs:
        d.original_sha256 = d.original_ciphertext_sha256 = d.original_size = None  # original_item: until swept
        # the tombstone keeps ids, class, decision and page count: no file names, no free text
        # (and the opaque vault id until the blob is gone: see sweep_disposed)
        d.plaintext_sha256 = d.ciphertext_sha256 = d.size = d.encrypted_to = None
        d.reason, d.source_pages, d.state, d.suggested_ref = "disposed", "[]", "disposed", None
    inputs = {d.input_id for d in docs}
    for inp in s.scalars(select(Input).where(Input.id.in_(inputs))):
        others = s.scalars(select(Document.id).where(Document.input_id == inp.id, Document.state != "disposed")).first()
        if others is None:
            inp.display_name, inp.member_names = "(disposed)", None
    s.execute(delete(ThirdPartyConsent).where(ThirdPartyConsent.case_id == case.id))
    s.execute(delete(SafeguardingRecord).where(SafeguardingRecord.case_id == case.id))  # sealed to the key just destroyed
    for h in case.holds:
        h.note = ""
    case.disposed_on, case.disposal_run_id, case.store_consent = run.as_of, run.id, False
    record["key_destroyed"] = bool(destroyed)
    # fingerprints of the destroyed records (hashes, not the bytes): what erase_and_verify looks for
    audit.record(s, actor, "case.disposed", case_ref=ref, subject=f"disposal:{run.id}", documents=len(docs),
                 key_destroyed=bool(destroyed), key_records=destroyed)
    return record


#: a sealed case-key record is an age file; its header (with the wrapped file key) starts it
_AGE_MAGIC = b"age-encryption.org/v1\n"
_HEAD = 128


def _fingerprint(record: bytes) -> dict:
    return {"bytes": len(record), "sha256": hashlib.sha256(record).hexdigest(),
            "head_sha256": hashlib.sha256(record[:_HEAD]).hexdigest()}


def _destroy_key_rows(s: Session, ref: str) -> list[dict]:
    """Overwrite the case's key records with zeros in place, then delete the rows."""
    rows = list(s.execute(select(WrappedKey.id, WrappedKey.record).where(
        WrappedKey.purpose == "case", WrappedKey.case_ref == ref).with_for_update()))
    for row_id, record in rows:
        s.execute(update(WrappedKey).where(WrappedKey.id == row_id).values(record=bytes(len(record))),
                  execution_options={"synchronize_session": False})
    if rows:
        s.execute(delete(WrappedKey).where(WrappedKey.id.in_([r[0] for r in rows])),
                  execution_options={"synchronize_session": False})
    return [_fingerprint(bytes(record)) for _id, record in rows]


def sweep_disposed(ws: Workspace) -> dict:
    """Delete what disposals left outside the database after their commit: the vault blobs of
    tombstoned documents and the kept copies of disposed quarantine entries. Safe to repeat; its
    own transactions."""
    from archive_media.vault import Vault

    from pipeline.models import QuarantineEntry

    with ws.transaction() as s:
        blobs = list(s.execute(select(Document.id, Document.vault_item, Document.original_item).where(
            Document.state == "disposed", Document.vault_item.is_not(None) | Document.original_item.is_not(None))))
        kept = list(s.execute(select(QuarantineEntry.id, QuarantineEntry.path).where(
            QuarantineEntry.file == "(disposed)", QuarantineEntry.path.is_not(None))))
    if not blobs and not kept:
        return {"blobs": 0, "quarantine_copies": 0}
    vault = Vault(ws.path("vault"))
    for _id, item, original in blobs:
        for blob in (item, original):
            if blob:
                vault.delete(blob)
    for _id, path in kept:
        folder = ws.data_dir / path
        if folder.is_dir():
            shutil.rmtree(folder)
        else:
            folder.unlink(missing_ok=True)
    with ws.transaction() as s:
        if blobs:
            s.execute(update(Document).where(Document.id.in_([b[0] for b in blobs])).values(vault_item=None, original_item=None),
                      execution_options={"synchronize_session": False})
        if kept:
            s.execute(update(QuarantineEntry).where(QuarantineEntry.id.in_([k[0] for k in kept])).values(path=None),
                      execution_options={"synchronize_session": False})
    return {"blobs": len(blobs), "quarantine_copies": len(kept)}


def dry_run(ws: Workspace, sources: list[Path], as_of: dt.date, *, round: int | None = None, auth=None) -> dict:  # noqa: ANN001, A002
    """What ``execute`` would do, changing nothing. ``round`` (with ``auth``, to check its rows):
    the discs presented in that round of discs instead of ``sources``."""
    presented, disc_dates = read_presented(ws, sources) if round is None else ([], {})
    with ws.transaction() as s:
        if round is not None:
            from pipeline import disc_rounds
            from pipeline import verify_marks as marks

            presented, disc_dates = disc_rounds.presented_discs(s, round, marks.mark_key(auth.master))
        return plan(s, ws.config, as_of, presented, disc_dates, include_run=unfinished_run_id(s, as_of)).as_dict()


def execute(ws: Workspace, sources: list[Path], as_of: dt.date, *, auth, consent: str,  # noqa: ANN001
            progress: ProgressCallback | None = None, round: int | None = None) -> dict:  # noqa: A002
    """One person's run, allowed only with ``lifecycle.disposal_approvers = 1`` (else
    ``DisposalNotApproved``): prepare the plan as ``auth.actor`` and execute it at once (see
    :mod:`pipeline.disposal_plans`; with two approvers, prepare, approve and execute there).

    Executing needs the key store unlocked (``auth``, a :class:`pipeline.authority.Unlocked`) and
    an audit log that verifies. Its own transactions (one per case). Run again after any
    interruption: it deletes what an earlier attempt left behind, finishes an open run (also one
    of another day), and writes missing certificates. Raises ``ErasureUnverified`` (no
    certificate) while another process keeps the destroyed keys' old bytes in the database files.
    ``progress`` counts the cases disposed of (stage ``"dispose"``)."""
    from pipeline import disposal_plans

    disposal_plans.ensure_one_person_allowed(ws.config)
    prepared = disposal_plans.prepare(ws, sources, as_of, auth=auth, round=round)
    return disposal_plans.execute(ws, prepared["id"], sources if round is None else [], auth=auth, consent=consent,
                                  progress=progress)


@contextlib.contextmanager
def one_run_at_a_time(ws: Workspace) -> Iterator[None]:
    """An exclusive lock on the certificates folder for the whole run; under it, temporary files a
    killed run left there are removed."""
    import fcntl

    folder = ws.path("certificates")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = folder / ".dispose.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DisposalRunning(lock=str(lock)) from None
        for tmp in folder.glob(".tmp-*.part"):
            tmp.unlink(missing_ok=True)
        yield
    finally:
        os.close(fd)


def run_plan(ws: Workspace, presented: list[PresentedDisc], disc_dates: dict[str, dt.date], as_of: dt.date, *,
             actor: str, consent: str, how: dict, expected,  # noqa: ANN001 - a disposal_plans.Expected
             progress: ProgressCallback | None = None) -> dict:
    """The run itself, under :func:`one_run_at_a_time`, once ``expected`` (the approved plan) was
    checked to be executable: the plan is computed again and must be the one approved."""
    from pipeline.progress import report

    sweep_disposed(ws)
    restore_certificates(ws)
    with ws.transaction() as s:
        stale = list(s.scalars(select(DisposalRun.id).where(DisposalRun.finished_at.is_(None), DisposalRun.as_of != as_of)
                               .order_by(DisposalRun.id)))
    for run_id in stale:  # interrupted on another day: certify what it did before starting anew
        _finish(ws, run_id, presented, disc_dates, actor=actor, consent=consent, how=how)
    with ws.transaction() as s:
        p = plan(s, ws.config, as_of, presented, disc_dates, include_run=unfinished_run_id(s, as_of))
    expected.check(ws, p.as_dict(), actor)  # a hold, activity, a case, a disc: nothing destroyed yet
    with ws.transaction() as s:
        from pipeline import disposal_plans

        run = _open_run(s, as_of, actor)
        run_id = run.id
        disposal_plans.link_run(s, expected.plan_id, run_id)
    report(progress, "dispose", 0, len(p.dispose))
    for n, item in enumerate(p.dispose, 1):
        with ws.transaction() as s:  # one case at a time: an interruption loses nothing
            run = s.get(DisposalRun, run_id)
            done = dispose_case(ws, s, item["case_ref"], run, actor=actor)
            if "skipped" in done:
                log.warning("case %s not disposed of: %s", item["case_ref"], done["skipped"])
        sweep_disposed(ws)  # its blobs, now that the erase is committed
        report(progress, "dispose", n, len(p.dispose))
    with ws.transaction() as s:
        run = s.get(DisposalRun, run_id)
        purge_unfiled(ws, s, run, actor=actor)
    sweep_disposed(ws)
    return _finish(ws, run_id, presented, disc_dates, actor=actor, consent=consent, how=how)


def _finish(ws: Workspace, run_id: int, presented: list[PresentedDisc], disc_dates: dict[str, dt.date], *,
            actor: str, consent: str, how: dict) -> dict:
    """Check the erase, then write the certificate and record the run as finished."""
    with ws.transaction() as s:
        destroyed = destroyed_records(s, run_id)
    erasure = erase_and_verify(ws, destroyed)
    from pipeline import disposal_plans

    with ws.transaction() as s:
        run = s.get(DisposalRun, run_id)
        p = plan(s, ws.config, run.as_of, presented, disc_dates)
        cert = certificate(ws, s, run, p, consent=consent, erasure=erasure, approval=disposal_plans.approval_summary(s, run_id))
        disposal_plans.mark_executed(s, run_id)
        audit.record(s, actor, "disposal.finished", subject=f"disposal:{run_id}", cases=len(cert["destroyed"]),
                     discs_to_destroy=len(p.discs_to_destroy), consent=consent, **how)
        cert["audit_head"] = audit.head(s).head
        run.finished_at, run.certificate = utcnow(), json.dumps(cert, sort_keys=True)
        # the files first (atomically), then the commit: a kill in between leaves the run open,
        # and the next run writes them again
        write_certificate(ws, cert)
    return cert


def restore_certificates(ws: Workspace) -> list[Path]:
    """Write again the certificate files of finished runs that are missing them (from the copy
    kept in the database)."""
    with ws.transaction() as s:
        runs = list(s.execute(select(DisposalRun.certificate).where(DisposalRun.finished_at.is_not(None),
                                                                    DisposalRun.certificate.is_not(None))))
    written = []
    for (text,) in runs:
        cert = json.loads(text)
        js, pdf = certificate_paths(ws, cert)
        if not (js.is_file() and pdf.is_file()):
            written.extend(write_certificate(ws, cert))
    return written


def purge_unfiled(ws: Workspace, s: Session, run: DisposalRun, *, actor: str) -> dict:
    """Records that never reached a case age out too: review items never assigned and quarantine
    entries, the retention period after they came in (their copies are encrypted to the archive
    key, which is never destroyed, so they are deleted rather than crypto-erased). In the caller's
    transaction; the copies themselves go after the commit (:func:`sweep_disposed`)."""
    review, entries = _unfiled_due(s, ws.config, run.as_of)
    for d in review:
        d.original_sha256 = d.original_ciphertext_sha256 = d.original_size = None  # original_item: until swept
        d.plaintext_sha256 = d.ciphertext_sha256 = d.size = d.encrypted_to = d.suggested_ref = None
        d.reason, d.source_pages, d.state = "disposed", "[]", "disposed"
    for e in entries:
        e.file, e.reason, e.resolved_at = "(disposed)", "disposed", e.resolved_at or utcnow()
    if review or entries:
        audit.record(s, actor, "disposal.unfiled", subject=f"disposal:{run.id}", review_items=len(review),
                     quarantine_entries=len(entries))
    return {"review_items": len(review), "quarantine_entries": len(entries)}


# --- the erase, checked ----------------------------------------------------------------------------

_STOP = ("every other program using the database (the pps-archive watch daemon, e.g. "
         "'systemctl stop pps-archive', the web app, an open sqlite3 or psql session)")


def destroyed_records(s: Session, run_id: int) -> list[tuple[str, dict]]:
    """(case, fingerprint) of every key record the run destroyed, as its audit events recorded."""
    from pipeline.models import AuditEvent

    events = s.scalars(select(AuditEvent).where(AuditEvent.action == "case.disposed", AuditEvent.subject == f"disposal:{run_id}"))
    return [(e.case_ref, fp) for e in events for fp in json.loads(e.details).get("key_records", [])]


def erase_and_verify(ws: Workspace, destroyed: list[tuple[str, dict]]) -> dict:
    """Remove the destroyed records' old bytes from the database's own files and check what can
    be checked; waits (``disposal.erase_wait_seconds``) for other processes to let go, then raises
    ``ErasureUnverified``. Returns what the certificate states about it. Outside any transaction."""
    wait = float(ws.config.section("disposal")["erase_wait_seconds"])
    if ws.engine.dialect.name == "postgresql":
        return _erase_postgresql(ws, destroyed, wait)
    return _erase_sqlite(ws, destroyed, wait)


def _erase_sqlite(ws: Workspace, destroyed: list[tuple[str, dict]], wait: float) -> dict:
    """With ``secure_delete`` the rows' bytes are zeroed in the new page images; a checkpoint copies
    those into the database file and empties the write-ahead log, which held the old ones. A
    process reading an older snapshot stops both, so the files are scanned, not trusted."""
    if not ws.engine.url.database or ws.engine.url.database == ":memory:":
        return {"engine": "sqlite", "records": len(destroyed), "verified": False, "checked": [],
                "not_checked": ["an in-memory database has no file to check"]}
    db_file = Path(ws.engine.url.database)
    files = [db_file, db_file.with_name(db_file.name + "-wal")]
    deadline = time.monotonic() + wait
    while True:
        busy = _checkpoint(ws, max(0.0, min(5.0, deadline - time.monotonic())))
        found = _still_present(files, [fp for _ref, fp in destroyed])
        if not found:
            return {"engine": "sqlite", "records": len(destroyed), "verified": True,
                    "checked": ["the key records were overwritten with zeros and deleted (secure_delete on)",
                                f"the write-ahead log was {'checkpointed and emptied' if not busy else 'checkpointed'}",
                                f"{', '.join(f.name for f in files)} scanned: no byte sequence of a destroyed key record remains"],
                    "not_checked": ["copies outside the database files: backups, file-system snapshots, and sectors the "
                                    "disk itself remapped"]}
        if time.monotonic() >= deadline:
            cases = {ref for ref, fp in destroyed if {fp["head_sha256"], fp["sha256"]} & found["digests"]}
            raise ErasureUnverified(cases=len(cases), files=", ".join(sorted(found["files"])),
                                    why=f"another process still reads an older state of the database (waited {wait:g} s)",
                                    stop=_STOP)
        time.sleep(0.5)


def _checkpoint(ws: Workspace, timeout: float) -> bool:
    """``PRAGMA wal_checkpoint(TRUNCATE)``, waiting up to ``timeout`` s for readers; True if busy."""
    raw = ws.engine.raw_connection()  # outside SQLAlchemy's transaction: a checkpoint needs none open
    try:
        conn = raw.driver_connection
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        try:
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.execute("PRAGMA busy_timeout=30000")
    finally:
        raw.close()
    return bool(busy)


def _still_present(files: list[Path], fingerprints: list[dict]) -> dict:
    """Which files still hold a destroyed record (whole, or its header, which carries the wrapped
    file key): ``{"files": {names}, "digests": {matched hashes}}``, empty if none."""
    if not fingerprints:
        return {}
    heads = {(min(fp["bytes"], _HEAD), fp["head_sha256"]) for fp in fingerprints}
    fulls = {(fp["bytes"], fp["sha256"]) for fp in fingerprints}
    windows = {n for n, _ in heads | fulls}
    found: dict = {}
    for path in files:
        try:
            fh = open(path, "rb")  # noqa: SIM115 - opened apart from the with: a file gone since is skipped
        except FileNotFoundError:
            continue
        with fh:
            if fh.seek(0, 2) == 0:
                continue
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
                pos = m.find(_AGE_MAGIC)
                while pos != -1:
                    for n in windows:
                        digest = hashlib.sha256(m[pos:pos + n]).hexdigest()
                        if (n, digest) in heads or (n, digest) in fulls:
                            found.setdefault("files", set()).add(path.name)
                            found.setdefault("digests", set()).add(digest)
                    pos = m.find(_AGE_MAGIC, pos + 1)
    return found


def _erase_postgresql(ws: Workspace, destroyed: list[tuple[str, dict]], wait: float) -> dict:
    """Deleted rows stay in dead tuples until vacuumed: ``VACUUM FULL`` rewrites the key table into
    a new file. It needs the table to itself, so a session with an open transaction that read it
    makes it wait; it is retried until ``wait`` runs out."""
    from sqlalchemy.exc import OperationalError

    deadline = time.monotonic() + wait
    with ws.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        before = conn.exec_driver_sql("SELECT pg_relation_filenode('wrapped_keys')").scalar()
        while True:
            timeout_ms = max(1, int(min(5.0, deadline - time.monotonic()) * 1000))
            conn.exec_driver_sql(f"SET lock_timeout = {timeout_ms}")
            try:
                conn.exec_driver_sql("VACUUM (FULL) wrapped_keys")
                break
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                    raise
                if time.monotonic() >= deadline:
                    raise ErasureUnverified(cases=len({r for r, _ in destroyed}), files="the key table's dead rows",
                                            why=f"another session holds the table open (waited {wait:g} s)", stop=_STOP) from exc
                time.sleep(0.5)
        conn.exec_driver_sql("RESET lock_timeout")
        after = conn.exec_driver_sql("SELECT pg_relation_filenode('wrapped_keys')").scalar()
    return {"engine": "postgresql", "records": len(destroyed), "verified": False,
            "checked": ["the key records were overwritten with zeros and deleted",
                        f"the key table was rewritten by VACUUM FULL (file node {before} -> {after}): the old row "
                        "versions are not in the live table"],
            "not_checked": ["PostgreSQL cannot show that the old bytes are gone from the server's disk: the old table "
                            "file's blocks are freed, not overwritten; the write-ahead log (pg_wal), WAL archives, "
                            "replicas and base backups keep them until they are recycled or expire (see "
                            "docs/operations.md)"]}


def certificate(ws: Workspace, s: Session, run: DisposalRun, p: DisposalPlan, *, consent: str, erasure: dict | None = None,
                approval: dict | None = None) -> dict:
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
        "erasure": erasure,
        # who prepared and approved the plan this run executed (pipeline.disposal_plans)
        "approval": approval, "approvers": (approval or {}).get("approvers", [run.operator]),
    }


def certificate_paths(ws: Workspace, cert: dict) -> tuple[Path, Path]:
    stem = ws.path("certificates") / f"{cert.get('kind', 'disposal')}-{cert['run_date']}-run{cert['run']}"
    return stem.with_suffix(".json"), stem.with_suffix(".pdf")


def write_certificate(ws: Workspace, cert: dict) -> tuple[Path, Path]:
    """Both files, each written atomically (a temp file, fsync, rename)."""
    from pps_archive.atomic import atomic_write_bytes

    js, pdf = certificate_paths(ws, cert)
    js.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = {k: v for k, v in cert.items() if k != "files"}
    atomic_write_bytes(js, (json.dumps(body, indent=2, sort_keys=True) + "\n").encode(), 0o600)
    _certificate_pdf(cert, pdf)
    cert["files"] = [str(js), str(pdf)]
    return js, pdf


def _approval_words(cert: dict) -> str:
    a = cert.get("approval")
    if not a:
        return f"Approved by: {', '.join(cert.get('approvers') or [cert['operator']])}."
    return (f"Plan {a['plan']} (SHA-256 {a['plan_sha256']}), approvers: {', '.join(a['approvers'])} - {a['approval']}.")


def _certificate_pdf(cert: dict, out: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    from pps_archive.atomic import atomic_writer

    st = getSampleStyleSheet()
    story = [Paragraph(f"{cert['service']}: certificate of destruction", st["Title"]),
             Paragraph(f"Disposal run {cert['run']} on {cert['run_date']}, operator {cert['operator']} (consent: {cert['consent']}).", st["BodyText"]),
             Paragraph(f"Authority: {cert['policy']}.", st["BodyText"]),
             Paragraph(_approval_words(cert), st["BodyText"]),
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
    if cert.get("reason"):
        story += [Paragraph("Why", st["Heading2"]), Paragraph(cert["reason"], st["BodyText"])]
    if cert.get("paper"):
        story += [Paragraph("Paper to shred or return to the parent/carer", st["Heading2"])]
        story += [Paragraph(f"{'Shred-list entry ' + str(p['id']) if p['id'] else 'Review item'}: document {p['document']}, {p['class'] or 'unclassified'}, "
                            f"{p['pages']} page(s) ({p['state']})", st["BodyText"]) for p in cert["paper"]]
    erasure = cert.get("erasure") or {}
    if erasure:
        story += [Paragraph("Erasure of the destroyed keys from the database", st["Heading2"])]
        story += [Paragraph(f"Checked: {x}.", st["BodyText"]) for x in erasure.get("checked", [])]
        story += [Paragraph(f"Not checked: {x}.", st["BodyText"]) for x in erasure.get("not_checked", [])]
    story += [Spacer(1, 8), Paragraph(f"Audit chain head after the run: {cert.get('audit_head', '(see JSON)')}", st["BodyText"])]
    with atomic_writer(out, 0o600) as fh:
        SimpleDocTemplate(fh, pagesize=A4, title="Certificate of destruction").build(story)


def finished_runs(s: Session) -> list[dict]:
    """The disposal runs that finished, newest first, with what their certificates say in brief.
    Read-only; runs in the caller's session."""
    out = []
    for run in s.scalars(select(DisposalRun).where(DisposalRun.finished_at.is_not(None)).order_by(DisposalRun.id.desc())):
        cert = json.loads(run.certificate) if run.certificate else {}
        out.append({"run": run.id, "run_date": run.as_of.isoformat(), "operator": run.operator,
                    "finished_at": run.finished_at.isoformat(timespec="seconds"),
                    "cases_destroyed": len(cert.get("destroyed", [])), "approvers": cert.get("approvers", [])})
    return out


def certificate_file(ws: Workspace, run_id: int, kind: str) -> Path:
    """The certificate of finished run ``run_id`` (``kind`` "pdf" or "json"), written again from
    the copy kept in the database if its file is missing; :class:`NotFound` for no such run."""
    from pps_archive.errors import InvalidValue, NotFound

    if kind not in ("pdf", "json"):
        raise InvalidValue("a certificate is a PDF or JSON file")
    with ws.reader() as s:
        text = s.scalars(select(DisposalRun.certificate).where(DisposalRun.id == run_id,
                                                               DisposalRun.finished_at.is_not(None))).first()
    if text is None:
        raise NotFound(f"no finished disposal run {run_id}: its certificate is written when the run finishes")
    cert = json.loads(text)
    js, pdf = certificate_paths(ws, cert)
    if not (js.is_file() and pdf.is_file()):
        write_certificate(ws, cert)
    return pdf if kind == "pdf" else js
