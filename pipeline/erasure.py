"""Withdrawn consent: what is held, and its erasure.

The policy: "Data is only entered once parents have been informed about the confidentiality policy
and have given permission for information to be kept." Once a parent/carer withdraws that
permission, intake files nothing more to the case (:func:`pipeline.cases.ensure_can_file`: new
documents wait in review), and a manager is offered the erasure of what is held
(:func:`offer`). :func:`erase_case` carries it out with the disposal machinery, for one case and
without waiting for the six years: the case's key is destroyed (cryptographic erase, as in
:func:`pipeline.disposal.dispose_case`), its vault copies deleted (:func:`pipeline.disposal.sweep_disposed`),
the destroyed key's bytes checked gone from the database files (:func:`pipeline.disposal.erase_and_verify`),
and a certificate written (``certificates/erasure-<date>-run<N>.json`` and ``.pdf``) that lists the
paper still to shred or to return to the parent/carer and the discs left holding only erased items.

A hold (a subject access request, a safeguarding concern, a complaint, ...) refuses the erasure:
:class:`OnHold` names the hold that says why the data is kept. The erasure is a disposal run of its
own (a :class:`pipeline.models.DisposalRun` row, operator and date recorded), so a run interrupted
after the key was destroyed is finished by running the erasure again (or by the next annual run).
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit, authority, cases, disposal
from pipeline.dates import utcnow
from pipeline.models import HOLD_REASON_WORDS, Case, DisposalRun, Document, ShredEntry
from pipeline.workspace import Workspace
from pps_archive.errors import Conflict, ErasureRefused


def held(s: Session, case: Case) -> dict:
    """What is held about ``case``: documents, vault copies, paper on the shred list not yet shredded."""
    docs = list(s.scalars(select(Document).where((Document.case_id == case.id) | (Document.suggested_ref == case.ref))
                          .order_by(Document.id)))
    paper = []
    for d in docs:
        entry = s.scalars(select(ShredEntry).where(ShredEntry.document_id == d.id)).one_or_none()
        if entry is not None and entry.confirmed_on is None:
            paper.append({"id": entry.id, "document": d.id, "class": d.doc_class, "pages": d.pages,
                          "state": "to shred or return"})
        elif entry is None and d.state == "review":  # scanned, never filed: its paper is in the office too
            paper.append({"id": None, "document": d.id, "class": d.doc_class, "pages": d.pages,
                          "state": "waited in review: to shred or return"})
    return {"documents": [d.id for d in docs], "vault_copies": sum(1 for d in docs if d.vault_item) +
            sum(1 for d in docs if d.original_item), "paper": paper}


def offer(s: Session, ref: str) -> dict:
    """What a manager is offered once consent to store is withdrawn (read-only, the caller's session):
    ``erasable`` and, if not, ``kept_by`` (the holds that say why the data is kept) or ``reason``."""
    case = cases.get_case(s, ref)
    out = {"case_ref": case.ref, "consent_to_store": case.store_consent, **held(s, case), "kept_by": [],
           "erasable": False, "reason": None}
    if case.disposed_on is not None:
        out["reason"] = f"its records were disposed of on {case.disposed_on}"
        return out
    if case.store_consent:
        out["reason"] = "consent to store information is recorded"
        return out
    out["kept_by"] = [{"id": h.id, "reason": h.reason, "words": HOLD_REASON_WORDS[h.reason], "placed_on": h.placed_on.isoformat()}
                      for h in cases.active_holds(case)]
    out["erasable"] = not out["kept_by"]
    if out["kept_by"]:
        h = out["kept_by"][0]
        out["reason"] = f"a {h['words']} hold (hold {h['id']}) keeps its records"
    return out


def erase_case(ws: Workspace, ref: str, *, auth: authority.Unlocked, today: dt.date, consent: str) -> dict:
    """Erase everything held about case ``ref`` after its consent to store was withdrawn: a
    manager's action (``auth``), on the real date (the front-end checks ``today`` with
    :func:`pipeline.authority.ensure_real_date`), with the person's typed ``consent`` recorded.

    Refused with :class:`ErasureRefused` while consent is recorded, :class:`OnHold` under a hold,
    ``Conflict`` for a case erased or disposed of already. Its own transactions; returns the
    certificate (its ``files`` written)."""
    authority.ensure_not_later(today, f"erasing case {ref}")
    with disposal.one_run_at_a_time(ws):
        disposal.sweep_disposed(ws)
        with ws.transaction() as s:
            how = authority.require(s, auth, f"erasing case {ref}", role=authority.MANAGER)
            authority.ensure_audit_chain(s, auth)
            case = cases.get_case(s, ref, for_update=True)
            ref = case.ref
            resumed = _unfinished_erasure(s, case)
            if resumed is None:
                if case.disposed_on is not None:
                    raise Conflict(f"case {ref} was disposed of on {case.disposed_on}: nothing is held to erase.")
                cases.check_against_log(s, auth, {ref})
                if case.store_consent:
                    raise ErasureRefused(ref=ref)
                cases.ensure_not_held(case, "erasing its records")
                paper = held(s, case)["paper"]
                withdrawn_on = case.store_consent_on
                run = DisposalRun(as_of=today, operator=auth.actor, started_at=utcnow())
                s.add(run)
                s.flush()
                run_id = run.id
                audit.record(s, auth.actor, "erasure.started", case_ref=ref, subject=f"disposal:{run_id}", consent=consent,
                             paper=len(paper), withdrawn_on=withdrawn_on, **how)
                done = disposal.dispose_case(ws, s, ref, run, actor=auth.actor, scheduled=False)
                if "skipped" in done:  # cannot happen under the lock and the checks above
                    raise Conflict(f"case {ref} was not erased: {done['skipped']}.")
            else:
                run_id, paper, withdrawn_on = resumed
        disposal.sweep_disposed(ws)  # the vault copies, now that the key's destruction is committed
        return _finish(ws, run_id, ref, paper, withdrawn_on, consent=consent, how=how)


def certificate(s: Session, ref: str) -> dict | None:
    """The certificate of case ``ref``'s finished erasure (its ``run`` names the disposal run whose
    files :func:`pipeline.disposal.certificate_file` gives), or None if the case was not erased."""
    case = cases.get_case(s, ref)
    if case.disposal_run_id is None:
        return None
    run = s.get(DisposalRun, case.disposal_run_id)
    if run is None or run.finished_at is None or not run.certificate:
        return None
    cert = json.loads(run.certificate)
    return cert if cert.get("kind") == "erasure" else None


def _unfinished_erasure(s: Session, case: Case) -> tuple[int, list, dt.date | None] | None:
    """(run, paper, withdrawal date) of an erasure of ``case`` interrupted after its key was destroyed."""
    if case.disposed_on is None or case.disposal_run_id is None:
        return None
    run = s.get(DisposalRun, case.disposal_run_id)
    if run is None or run.finished_at is not None:
        return None
    from pipeline.models import AuditEvent

    started = s.scalars(select(AuditEvent).where(AuditEvent.action == "erasure.started",
                                                 AuditEvent.subject == f"disposal:{run.id}")).first()
    if started is None:  # an annual run's: that run finishes it
        return None
    paper = [p for p in held(s, case)["paper"]]
    on = json.loads(started.details).get("withdrawn_on")
    return run.id, paper, dt.date.fromisoformat(on) if on else None


def _finish(ws: Workspace, run_id: int, ref: str, paper: list[dict], withdrawn_on: dt.date | None, *, consent: str,
            how: dict) -> dict:
    with ws.transaction() as s:
        destroyed = disposal.destroyed_records(s, run_id)
    erasure = disposal.erase_and_verify(ws, destroyed)
    with ws.transaction() as s:
        run = s.get(DisposalRun, run_id)
        case = cases.get_case(s, ref)
        discs = disposal.discs_after(s, run.as_of, {ref})
        docs = list(s.scalars(select(Document.id).where(Document.case_id == case.id).order_by(Document.id)))
        svc = ws.config.section("service")
        cert = {
            "certificate": "pps-archive erasure certificate", "kind": "erasure", "version": 1, "run": run.id,
            "service": svc["name"], "policy": svc["retention_authority"],
            "retention": {"archive_after_months": ws.config.archive_after_months,
                          "dispose_after_years": ws.config.dispose_after_years},
            "run_date": run.as_of.isoformat(), "operator": run.operator, "consent": consent,
            "started_at": run.started_at.isoformat(timespec="seconds"), "finished_at": utcnow().isoformat(timespec="seconds"),
            "reason": ("The parent/carer withdrew consent for information to be kept"
                       + (f" (recorded on {withdrawn_on.isoformat()})" if withdrawn_on else "")
                       + "; the records were erased at a manager's request, not on the retention schedule."),
            "destroyed": [{"case_ref": ref, "opened_on": case.opened_on.isoformat(), "last_activity": case.last_activity.isoformat(),
                           "dispose_after": cases.case_dates(ws.config, case.last_activity).dispose_after.isoformat(),
                           "documents": docs, "key_destroyed": bool(destroyed)}],
            "keys_destroyed": [ref] if destroyed else [],
            "paper": paper,
            "discs_to_destroy": discs.discs_to_destroy, "discs_to_consolidate": discs.discs_to_consolidate,
            "held_back": [], "kept_reactivated": [], "kept_in_review": [], "discs_not_presented": [], "discs_not_registered": [],
            "method": "cryptographic erase (NIST SP 800-88): the case's data key destroyed; vault copies deleted; "
                      "copies on discs are unreadable without the key",
            "erasure": erasure, "approval": None, "approvers": [run.operator],
        }
        audit.record(s, run.operator, "erasure.finished", case_ref=ref, subject=f"disposal:{run_id}", documents=len(docs),
                     paper=len(paper), discs_to_destroy=len(discs.discs_to_destroy), consent=consent, **how)
        cert["audit_head"] = audit.head(s).head
        run.finished_at, run.certificate = utcnow(), json.dumps(cert, sort_keys=True)
        disposal.write_certificate(ws, cert)
    return cert
