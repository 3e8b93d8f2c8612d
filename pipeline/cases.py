"""The case register: references, consents, activity and holds.

A case is a reference and dates. Consent to store information must be recorded before any document
is filed to the case (:func:`ensure_can_file`); third-party consents are roles the parent/carer may
allow or withdraw at any time; holds (safeguarding, subject access request, ...) block shredding and
disposal. Every change is an audit event in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pipeline import audit, authority
from pipeline.authority import Unlocked
from pipeline.config import Config
from pipeline.dates import add_months, add_years, in_calendar
from pipeline.models import HOLD_REASON_WORDS, HOLD_REASONS, Case, Hold, ThirdPartyConsent
from pps_archive.errors import (
    Conflict,
    CaseExists,
    CaseNotFound,
    ConsentRequired,
    HoldNotFound,
    InvalidCaseRef,
    InvalidValue,
    OnHold,
)


def check_ref(cfg: Config, ref: str) -> str:
    """The reference in canonical form; ASCII only (checked before upper-casing, which turns some
    other letters into ASCII ones), matching the configured pattern in full."""
    ref = ref.strip()
    if not ref.isascii() or not cfg.reference_pattern.fullmatch(ref.upper()):
        raise InvalidCaseRef(ref=ref, pattern=cfg.raw["cases"]["reference_pattern"])
    return ref.upper()


def get_case(session: Session, ref: str, *, for_update: bool = False) -> Case:
    stmt = select(Case).where(Case.ref == ref.strip().upper())
    if for_update:
        stmt = stmt.with_for_update()
    case = session.scalars(stmt).one_or_none()
    if case is None:
        raise CaseNotFound(ref=ref)
    return case


def _live_case(session: Session, ref: str) -> Case:
    case = get_case(session, ref, for_update=True)
    if case.disposed_on is not None:
        raise Conflict(f"case {case.ref} was disposed of on {case.disposed_on}: its records no longer exist.")
    return case


def open_case(
    session: Session, cfg: Config, ref: str, *, today: dt.date, auth: Unlocked,
    anonymous: bool = False, consent_to_store: bool = False, make_key: bool = True,
) -> Case:
    """Open a case as ``auth.actor`` (any staff login), in the caller's transaction. The case's key
    is made and signed with the keyring's master key (intake, which holds no key, can only encrypt
    to signed keys); with ``make_key=False`` (an archive upgraded from a version before case keys)
    its documents wait in review until one is filed by hand."""
    from pipeline import keystore

    ref = check_ref(cfg, ref)
    in_calendar(today, "the opening date")
    how = authority.require(session, auth, f"opening case {ref}")
    if session.scalars(select(Case.id).where(Case.ref == ref)).first() is not None:
        raise CaseExists(ref=ref)
    if make_key:
        keystore.ensure_case_key(session, auth.master, ref, actor=auth.actor)
    case = Case(
        ref=ref, anonymous=anonymous, opened_on=today, last_activity=today,
        store_consent=consent_to_store, store_consent_on=today if consent_to_store else None,
    )
    session.add(case)
    session.flush()
    audit.record(session, auth.actor, "case.open", case_ref=ref, anonymous=anonymous, consent_to_store=consent_to_store, on=today,
                 **how)
    return case


def set_store_consent(session: Session, ref: str, granted: bool, *, today: dt.date, auth: Unlocked) -> Case:
    """Record (or withdraw) the parent/carer's consent to store information, as ``auth.actor``
    (any staff login). Runs in the caller's transaction."""
    how = authority.require(session, auth, f"recording consent to store for case {ref}")
    case = _live_case(session, ref)
    case.store_consent = granted
    case.store_consent_on = today
    audit.record(session, auth.actor, "consent.store", case_ref=case.ref, granted=granted, on=today, **how)
    return case


def set_la_identify_consent(session: Session, ref: str, granted: bool, *, today: dt.date, auth: Unlocked) -> Case:
    """Record whether the parent/carer gives permission to be identified to the Local Authority
    (the policy: issues are brought to the LA's attention anonymously "unless they give permission
    to be identified"; :mod:`pipeline.reports`), as ``auth.actor`` (any staff login). Runs in the
    caller's transaction, audited."""
    how = authority.require(session, auth, f"recording permission to identify case {ref} to the Local Authority")
    case = _live_case(session, ref)
    case.la_identify = granted
    case.la_identify_on = today
    audit.record(session, auth.actor, "consent.la_identify", case_ref=case.ref, granted=granted, on=today, **how)
    return case


def canonical_party(cfg: Config, name: str) -> str:
    wanted = " ".join(name.split()).casefold()
    for party in cfg.third_parties:
        if party.casefold() == wanted:
            return party
    raise InvalidValue(
        f"{name!r} is not a known third party. Consents name a role, not a person: one of "
        f"{', '.join(cfg.third_parties)} (add roles to cases.third_parties in the configuration)."
    )


def set_third_party_consent(
    session: Session, cfg: Config, ref: str, party: str, allowed: bool, *, today: dt.date, auth: Unlocked
) -> ThirdPartyConsent:
    """Allow or withdraw contact with a third party (a role, never a person), as ``auth.actor``
    (any staff login). Runs in the caller's transaction."""
    party = canonical_party(cfg, party)
    how = authority.require(session, auth, f"recording consent to contact {party} for case {ref}")
    case = _live_case(session, ref)
    row = next((tp for tp in case.third_parties if tp.party == party), None)
    if row is None:
        row = ThirdPartyConsent(party=party, allowed=allowed, changed_on=today)
        case.third_parties.append(row)
    else:
        row.allowed, row.changed_on = allowed, today
    session.flush()
    audit.record(session, auth.actor, "consent.third_party", case_ref=case.ref, party=party, allowed=allowed, on=today,
                 **how)
    return row


def ensure_can_file(case: Case) -> None:
    """Documents may be filed to a case only with recorded consent to store information."""
    if not case.store_consent:
        raise ConsentRequired(ref=case.ref)


def touch(session: Session, ref: str, on: dt.date, *, auth: Unlocked, because: str | None = None) -> Case:
    """Record activity, as ``auth.actor`` (any staff login): the archive and disposal dates move on
    from the later of the two dates. ``because`` names the record the activity comes from
    (``appointment:3``) in the audit event, when it is not a person recording it by hand. Runs in
    the caller's transaction."""
    in_calendar(on, "the date of the activity")
    how = authority.require(session, auth, f"recording activity on case {ref}")
    case = _live_case(session, ref)
    before = case.last_activity
    case.last_activity = max(before, on)
    extra = {"because": because} if because else {}
    audit.record(session, auth.actor, "case.touch", case_ref=case.ref, on=on, last_activity=case.last_activity, **how, **extra)
    return case


def record_document_activity(session: Session, doc, on: dt.date, *, actor: str) -> bool:  # noqa: ANN001 - Document
    """A document filed to its case is activity on the case (it moves the archive and disposal
    dates, as :func:`touch`), unless it was scanned while archiving the case (``doc.archiving``,
    from an archiving cover sheet): old paper sorted for the archive is no new work. Returns
    whether the case was touched. ``actor``: who filed it (``intake``, which needs no login, or the
    person who assigned it from review, whose login the caller has checked). Runs in the caller's
    transaction."""
    if doc.case_id is None or doc.archiving:
        return False
    case = session.get(Case, doc.case_id)
    if case is None or case.disposed_on is not None:
        return False
    if on > case.last_activity:
        in_calendar(on, "the date of the activity")
        case.last_activity = on
        audit.record(session, actor, "case.touch", case_ref=case.ref, on=on, last_activity=case.last_activity,
                     because=f"document:{doc.id}")
    return True


def place_hold(session: Session, ref: str, reason: str, note: str, *, today: dt.date, auth: Unlocked) -> Hold:
    """Put a case on hold, as ``auth.actor``: any staff login may (a hold only stops destruction;
    lifting it is a manager's, :func:`release_hold`). Runs in the caller's transaction."""
    if reason not in HOLD_REASONS:
        raise InvalidValue(f"{reason!r} is not a hold reason: use one of {', '.join(HOLD_REASONS)}.")
    if not note.strip():
        raise InvalidValue("a hold needs a note saying why (it stays in the database, never in the audit log).")
    how = authority.require(session, auth, f"placing a hold on case {ref}")
    case = get_case(session, ref, for_update=True)
    hold = Hold(reason=reason, note=note.strip(), placed_on=today, placed_by=auth.actor)
    case.holds.append(hold)
    session.flush()
    audit.record(session, auth.actor, "hold.place", case_ref=case.ref, subject=f"hold:{hold.id}", reason=reason, on=today,
                 **how)
    return hold


def release_hold(session: Session, ref: str, hold_id: int, *, today: dt.date, auth: Unlocked, consent: str) -> Hold:
    """Lift a hold (it lets shredding and disposal go ahead): needs the key store unlocked by
    ``auth.actor`` and the person's consent, both recorded. Runs in the caller's transaction."""
    authority.ensure_not_later(today, f"releasing hold {hold_id} of case {ref}")
    how = authority.require(session, auth, f"releasing hold {hold_id} of case {ref}", role=authority.MANAGER)
    case = get_case(session, ref, for_update=True)
    hold = next((h for h in case.holds if h.id == hold_id and h.active), None)
    if hold is None:
        raise HoldNotFound(ref=case.ref, hold=hold_id)
    hold.released_on, hold.released_by = today, auth.actor
    from pipeline import keystore, verify_marks

    proof = verify_marks.release_proof(verify_marks.mark_key(auth.master), keystore.archive_id(session), case.ref, hold.id)
    audit.record(session, auth.actor, "hold.release", case_ref=case.ref, subject=f"hold:{hold.id}", reason=hold.reason, on=today,
                 consent=consent, proof=proof, **how)
    return hold


def check_against_log(session: Session, auth: Unlocked, refs: set[str] | None = None) -> None:
    """Before anything is destroyed: the register's rows that decide what is due (a case's last
    activity, its holds) must say at least what the audit log says, else :class:`RegisterDisagrees`.

    One ``UPDATE`` of ``cases.last_activity`` or one ``DELETE`` of a hold would otherwise make a
    case due years early. Run it after the keyed audit check (only then is the log to be believed);
    ``refs`` limits it to those cases (default: every live case). Runs in the caller's transaction.
    A release counts only with its proof, made with the master key (``auth``): anyone who can write
    the database can append an event, and the next keyed command seals it."""
    import hmac
    import json

    from pipeline import keystore, verify_marks
    from pipeline.models import AuditEvent
    from pps_archive.errors import RegisterDisagrees

    last: dict[str, dt.date] = {}
    placed: dict[str, set[int]] = {}
    released: dict[str, set[int]] = {}
    key, archive = verify_marks.mark_key(auth.master), keystore.archive_id(session)
    stmt = (select(AuditEvent.seq, AuditEvent.case_ref, AuditEvent.action, AuditEvent.subject, AuditEvent.details)
            .where(AuditEvent.action.in_(("case.open", "case.touch", "hold.place", "hold.release")),
                   AuditEvent.case_ref.is_not(None))
            .order_by(AuditEvent.seq))
    if refs is not None:
        stmt = stmt.where(AuditEvent.case_ref.in_(sorted(refs)))
    for _seq, ref, action, subject, details in session.execute(stmt.execution_options(yield_per=2000)):
        if action in ("case.open", "case.touch"):
            day = json.loads(details).get("last_activity" if action == "case.touch" else "on")
            if day:
                last[ref] = max(last.get(ref, dt.date.min), dt.date.fromisoformat(str(day)[:10]))
        elif subject and subject.startswith("hold:") and subject[5:].isdigit():
            hold_id = int(subject[5:])
            if action == "hold.place":
                placed.setdefault(ref, set()).add(hold_id)
            elif hmac.compare_digest(str(json.loads(details).get("proof")),
                                     verify_marks.release_proof(key, archive, ref, hold_id)):
                released.setdefault(ref, set()).add(hold_id)
    cases = select(Case).where(Case.disposed_on.is_(None)).options(selectinload(Case.holds)).order_by(Case.ref)
    if refs is not None:
        cases = cases.where(Case.ref.in_(sorted(refs)))
    for case in session.scalars(cases):
        if case.ref in last and case.last_activity < last[case.ref]:
            raise RegisterDisagrees(problem=f"case {case.ref}'s last activity is {case.last_activity} in the register but "
                                    f"{last[case.ref]} in the log")
        missing = placed.get(case.ref, set()) - released.get(case.ref, set()) - {h.id for h in active_holds(case)}
        if missing:
            raise RegisterDisagrees(problem=f"hold {min(missing)} of case {case.ref} is in force by the log but not in "
                                    f"the register")


def active_holds(case: Case) -> list[Hold]:
    return [h for h in case.holds if h.active]


def ensure_not_held(case: Case, what: str) -> None:
    holds = active_holds(case)
    if holds:
        h = holds[0]
        raise OnHold(ref=case.ref, reason=HOLD_REASON_WORDS[h.reason], hold=h.id, what=what)


@dataclass(frozen=True)
class CaseDates:
    archive_due: dt.date
    dispose_after: dt.date


def case_dates(cfg: Config, last_activity: dt.date) -> CaseDates:
    return CaseDates(
        archive_due=add_months(last_activity, cfg.archive_after_months),
        dispose_after=add_years(last_activity, cfg.dispose_after_years),
    )


def status(cfg: Config, case: Case, as_of: dt.date) -> str:
    """``active``, ``inactive`` (archive due), ``dispose-due``, or ``disposed``."""
    if case.disposed_on is not None:
        return "disposed"
    dates = case_dates(cfg, case.last_activity)
    if as_of >= dates.dispose_after:
        return "dispose-due"
    if as_of >= dates.archive_due:
        return "inactive"
    return "active"


def list_cases(session: Session, cfg: Config, as_of: dt.date, *, ref_contains: str | None = None) -> list[dict]:
    """Every case (or those whose reference contains ``ref_contains``, any case) with its dates and holds."""
    stmt = select(Case).options(selectinload(Case.holds), selectinload(Case.third_parties)).order_by(Case.ref)
    if ref_contains and ref_contains.strip():
        stmt = stmt.where(Case.ref.contains(ref_contains.strip().upper(), autoescape=True))
    cases = session.scalars(stmt)
    out = []
    for case in cases:
        dates = case_dates(cfg, case.last_activity)
        out.append(
            {
                "ref": case.ref,
                "status": status(cfg, case, as_of),
                "last_activity": case.last_activity.isoformat(),
                "archive_due": dates.archive_due.isoformat(),
                "dispose_after": dates.dispose_after.isoformat(),
                "holds": [
                    {"id": h.id, "reason": h.reason, "placed_on": h.placed_on.isoformat(), "placed_by": h.placed_by}
                    for h in active_holds(case)
                ],
                "anonymous": case.anonymous,
                "consent_to_store": case.store_consent,
                "may_identify_to_la": case.la_identify,
                "third_parties": {tp.party: tp.allowed for tp in case.third_parties},
            }
        )
    return out


def case_detail(session: Session, cfg: Config, ref: str, as_of: dt.date) -> dict:
    """One case for a front-end's page: its dates, consents (every configured third-party role,
    ``None`` where nothing was recorded), holds in force and lifted (with their notes) and its
    documents. Read-only; runs in the caller's session."""
    from pipeline.documents import list_documents

    from pipeline.models import Document

    case = get_case(session, ref)
    readable = set(session.scalars(select(Document.id).where(Document.case_id == case.id, Document.vault_item.is_not(None))))
    dates = case_dates(cfg, case.last_activity)
    recorded = {tp.party: tp for tp in case.third_parties}
    return {
        "ref": case.ref, "status": status(cfg, case, as_of), "anonymous": case.anonymous,
        "opened_on": case.opened_on.isoformat(), "last_activity": case.last_activity.isoformat(),
        "archive_due": dates.archive_due.isoformat(), "dispose_after": dates.dispose_after.isoformat(),
        "disposed_on": case.disposed_on.isoformat() if case.disposed_on else None,
        "consent_to_store": case.store_consent,
        "consent_to_store_on": case.store_consent_on.isoformat() if case.store_consent_on else None,
        "may_identify_to_la": case.la_identify,
        "may_identify_to_la_on": case.la_identify_on.isoformat() if case.la_identify_on else None,
        "third_parties": [{"party": p, "allowed": recorded[p].allowed if p in recorded else None,
                           "changed_on": recorded[p].changed_on.isoformat() if p in recorded else None}
                          for p in list(cfg.third_parties) + sorted(set(recorded) - set(cfg.third_parties))],
        "holds": [{"id": h.id, "reason": h.reason, "words": HOLD_REASON_WORDS[h.reason], "note": h.note,
                   "placed_on": h.placed_on.isoformat(), "placed_by": h.placed_by, "active": h.active,
                   "released_on": h.released_on.isoformat() if h.released_on else None, "released_by": h.released_by}
                  for h in sorted(case.holds, key=lambda h: h.id)],
        "documents": [d | {"readable": d["id"] in readable} for d in list_documents(session, case_ref=case.ref)],
    }
