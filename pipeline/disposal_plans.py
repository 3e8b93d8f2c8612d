"""Disposal by two people: a plan is prepared, approved by a second person, then executed as approved.

As Open Archiefbeheer does (destruction list, review, approval, execution, certificate):

1. :func:`prepare` — one account computes the plan from the discs presented and the register,
   and saves it with the SHA-256 of its decisive content (:func:`decisive`: the cases to dispose of
   with their dates, the cases held back or kept and why, the discs read, the records that never
   reached a case, the date).
2. :func:`approve` — a different manager approves that exact plan, by its id and hash. With
   ``lifecycle.disposal_approvers = 1`` (an office of one) this step is optional, and the
   certificate says "single approver by configuration".
3. :func:`execute` — a manager executes it: the plan is computed again, under the run lock, and
   executed only when its hash is the approved one; anything changed in between (a hold placed,
   activity recorded, a case added or removed, another set of discs) refuses the run, naming what
   differs, before anything is destroyed. The run then disposes of exactly the plan's cases.

The approvals that count are read from the audit log, and only from events covered by a seal
(written with the master key), not from the plan's row: a row someone edited in the database
cannot approve a plan. A plan expires ``lifecycle.disposal_plan_days`` after it was prepared, and
once executed. Every step is an audit event with the account that took it.

Each function here opens its own transactions (the run itself: one per case).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit, authority, dates
from pipeline.cases import check_against_log
from pipeline.config import Config
from pipeline.dates import utcnow
from pipeline.models import AuditEvent, DisposalPlanRecord
from pipeline.workspace import Workspace
from pps_archive.errors import (
    ApprovalRefused, DisposalNotApproved, DisposalPlanChanged, DisposalPlanUnusable,
)

PREPARED, APPROVED = "disposal.prepared", "disposal.approved"


# --- identity ---------------------------------------------------------------------------------

def _require(s: Session, auth, what: str, *, manager: bool) -> dict:  # noqa: ANN001
    from pipeline import authority

    return authority.require(s, auth, what, role=authority.MANAGER if manager else None)


def same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


# --- the plan's decisive content and its hash -------------------------------------------------

def decisive(p: dict) -> dict:
    """What an approval approves, from a plan (:meth:`pipeline.disposal.DisposalPlan.as_dict`):
    everything that decides what is destroyed and what is kept, without where the discs were
    mounted or what the cupboard shelves are called."""
    return {
        "as_of": p["as_of"],
        "dispose": [{k: d[k] for k in ("case_ref", "opened_on", "last_activity", "dispose_after")} for d in by_ref(p["dispose"])],
        "held": [{"case_ref": h["case_ref"], "dispose_after": h["dispose_after"], "holds": sorted(x["id"] for x in h["holds"])}
                 for h in by_ref(p["held"])],
        "kept_reactivated": [{k: k_[k] for k in ("case_ref", "disc_says", "register_says")} for k_ in by_ref(p["kept_reactivated"])],
        "kept_in_review": [{"case_ref": k["case_ref"], "documents": sorted(k["documents"])} for k in by_ref(p["kept_in_review"])],
        "discs_read": sorted(({"label": d["label"], "items": d["items"]} for d in p["presented"]), key=lambda d: d["label"]),
        "discs_not_presented": sorted(p["not_presented"]),
        "discs_not_registered": sorted(p["not_registered"]),
        "discs_to_destroy": sorted(d["label"] for d in p["discs_to_destroy"]),
        "discs_to_consolidate": sorted(({"label": d["label"], "live_cases": d["live_cases"]} for d in p["discs_to_consolidate"]),
                                       key=lambda d: d["label"]),
        "unfiled": {k: sorted(v) for k, v in sorted(p.get("unfiled", {}).items())},
    }


def by_ref(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: r["case_ref"])


def plan_hash(content: dict) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces, ASCII) of :func:`decisive` content."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()).hexdigest()


_WORDS = {
    "dispose": "cases to dispose of", "held": "cases held back", "kept_reactivated": "cases kept as reactivated",
    "kept_in_review": "cases kept for documents in review", "discs_read": "discs read",
    "discs_not_presented": "registered discs not presented", "discs_not_registered": "discs read but not registered",
    "discs_to_destroy": "discs to destroy", "discs_to_consolidate": "discs to consolidate", "unfiled": "unfiled records",
}


def differences(approved: dict, now: dict) -> list[str]:
    """What differs between two :func:`decisive` contents, in words (empty: the same plan)."""
    out = []
    if approved["as_of"] != now["as_of"]:
        out.append(f"the date (approved {approved['as_of']}, now {now['as_of']})")
    for key, words in _WORDS.items():
        old, new = approved.get(key), now.get(key)
        if old == new:
            continue
        if key == "unfiled":
            for kind in sorted(set(old) | set(new)):
                parts = _compare({i: i for i in old.get(kind, [])}, {i: i for i in new.get(kind, [])})
                if parts:
                    out.append(f"{words}: {kind.replace('_', ' ')} {', '.join(parts)}")
            continue
        parts = _compare({_ident(r): r for r in old}, {_ident(r): r for r in new})
        out.append(f"{words}: {', '.join(parts)}")
    return out


def _ident(row: str | dict) -> str:
    return row if isinstance(row, str) else row.get("case_ref", row.get("label"))


def _compare(olds: dict, news: dict) -> list[str]:
    parts = [f"{k} added" for k in sorted(set(news) - set(olds))]
    parts += [f"{k} no longer" for k in sorted(set(olds) - set(news))]
    for k in sorted(set(olds) & set(news)):
        if olds[k] != news[k] and isinstance(olds[k], dict):
            changed = [f"{f} {olds[k][f]} -> {news[k].get(f)}" for f in olds[k] if olds[k][f] != news[k].get(f)]
            parts.append(f"{k} changed ({'; '.join(changed)})")
    return parts


# --- the steps ---------------------------------------------------------------------------------

def approvers_required(cfg: Config) -> int:
    return int(cfg.section("lifecycle")["disposal_approvers"])


def ensure_one_person_allowed(cfg: Config) -> None:
    """A run prepared and executed at once by one person is allowed only with
    ``lifecycle.disposal_approvers = 1``; else :class:`DisposalNotApproved`."""
    if approvers_required(cfg) > 1:
        raise DisposalNotApproved(
            what="the disposal run", problem="it needs two people (lifecycle.disposal_approvers = 2)",
            next="Prepare the plan, have a different manager approve it by its id and hash, then execute it.")


def prepare(ws: Workspace, sources: list[Path], as_of: dt.date, *, auth, round: int | None = None) -> dict:  # noqa: ANN001, A002
    """Read the discs, compute the plan and save it with its hash, as ``auth.actor``. Returns
    :func:`describe` of the new plan. Its own transaction.

    ``round``: the discs are those presented one at a time in that round of discs
    (:mod:`pipeline.disc_rounds`), with ``sources`` presented into it first; the plan remembers the
    round, and executing it uses the same round's discs."""
    from pipeline import disposal

    authority.ensure_real_date(as_of, dates.real_today(), "preparing a disposal plan")  # never as if a later day
    presented, disc_dates = disposal.read_presented(ws, sources) if round is None else ([], {})
    with ws.transaction() as s:
        how = _require(s, auth, "preparing a disposal plan", manager=False)
        if round is not None:
            presented, disc_dates = disposal.discs_of_round(s, ws, round, sources, auth=auth)
        p = disposal.plan(s, ws.config, as_of, presented, disc_dates,
                          include_run=disposal.unfinished_run_id(s, as_of)).as_dict()
        if round is not None:
            p["round"] = round  # not decisive: which discs were read is (discs_read, discs_not_presented)
        sha = plan_hash(decisive(p))
        now = utcnow()
        row = DisposalPlanRecord(as_of=as_of, sha256=sha, plan=json.dumps(p, sort_keys=True), prepared_by=auth.actor,
                                 approvers_required=approvers_required(ws.config), prepared_at=now,
                                 expires_at=now + dt.timedelta(days=int(ws.config.section("lifecycle")["disposal_plan_days"])))
        s.add(row)
        s.flush()
        audit.record(s, auth.actor, PREPARED, subject=_subject(row.id), plan_sha256=sha, as_of=as_of,
                     cases=len(p["dispose"]), discs_read=len(p["presented"]), **how)
        return describe(row)


def show(ws: Workspace, plan_id: int) -> dict:
    """A saved plan, as :func:`describe` gives it (whatever its state). Its own transaction."""
    with ws.transaction() as s:
        row = s.get(DisposalPlanRecord, plan_id)
        if row is None:
            raise DisposalPlanUnusable(plan=plan_id, problem="does not exist")
        return describe(row)


def describe(row: DisposalPlanRecord) -> dict:
    p = json.loads(row.plan)
    state = "executed" if row.executed_at else "expired" if utcnow() > row.expires_at else "approved" if row.approved_by else "prepared"
    return {"id": row.id, "sha256": row.sha256, "as_of": row.as_of.isoformat(), "state": state,
            "prepared_by": row.prepared_by, "prepared_at": row.prepared_at.isoformat(timespec="seconds"),
            "expires_at": row.expires_at.isoformat(timespec="seconds"), "approvers_required": row.approvers_required,
            "approved_by": row.approved_by,
            "approved_at": row.approved_at.isoformat(timespec="seconds") if row.approved_at else None,
            "run": row.run_id, "plan": p}


def approve(ws: Workspace, plan_id: int, sha256: str, *, auth, consent: str) -> dict:  # noqa: ANN001
    """Approve plan ``plan_id``, whose hash must be ``sha256`` (the one the approver was shown), as
    ``auth.actor``: a manager who, when two approvers are required, did not prepare it. Returns
    :func:`describe` of the plan. Its own transaction; a refusal is recorded in its own."""
    with _recording_refusals(ws, auth, plan_id), ws.transaction() as s:
        how = _require(s, auth, "approving a disposal plan", manager=True)
        row = _usable(s, plan_id)
        authority.ensure_real_date(row.as_of, dates.real_today(), f"approving disposal plan {plan_id}")
        if sha256.strip().lower() != row.sha256:
            raise ApprovalRefused(plan=plan_id, actor=auth.actor,
                                  problem=f"the hash given ({sha256.strip()[:16]}...) is not the plan's ({row.sha256[:16]}...): "
                                  "approve only the plan you were shown")
        required = max(row.approvers_required, approvers_required(ws.config))
        if required > 1 and same_person(auth.actor, row.prepared_by):
            raise ApprovalRefused(plan=plan_id, actor=auth.actor,
                                  problem=f"{row.prepared_by} prepared it, and a disposal needs {required} different people "
                                  "(lifecycle.disposal_approvers): another manager must approve it")
        if row.approved_by is not None:
            raise ApprovalRefused(plan=plan_id, actor=auth.actor, problem=f"{row.approved_by} approved it already")
        row.approved_by, row.approved_at = auth.actor, utcnow()
        audit.record(s, auth.actor, APPROVED, subject=_subject(row.id), plan_sha256=row.sha256, as_of=row.as_of,
                     consent=consent, **how)
        return describe(row)


def execute(ws: Workspace, plan_id: int, sources: list[Path], *, auth, consent: str,  # noqa: ANN001
            progress=None) -> dict:  # noqa: ANN001 - a pipeline.progress.ProgressCallback
    # A plan prepared from a round of discs (pipeline.disc_rounds) is executed against that
    # round's discs when no ``sources`` are given (they were read one at a time already), and
    # the round closes with the run.
    """Execute approved plan ``plan_id`` against the discs ``sources``, as ``auth.actor`` (a
    manager), on the plan's date; returns the certificate. Refused before anything is destroyed:
    :class:`DisposalPlanUnusable` (missing, expired, executed), :class:`DisposalNotApproved`
    (too few approvers), :class:`DisposalPlanChanged` (the plan computed now differs). A run
    interrupted half-way is finished by executing the same plan again. Its own transactions."""
    from pipeline import disposal

    with _recording_refusals(ws, auth, plan_id), ws.transaction() as s:
        how = _require(s, auth, "the disposal run", manager=True)
        sealed = audit.require_intact(s, auth.master).sealed_seq
        check_against_log(s, auth)  # the register's dates and holds, against the log just verified
        row = _usable(s, plan_id)
        authority.ensure_real_date(row.as_of, dates.real_today(), f"executing disposal plan {plan_id}")
        approvers = sealed_approvers(s, row, sealed)
        required = max(row.approvers_required, approvers_required(ws.config))
        if len(approvers) < required:
            raise DisposalNotApproved(
                what=f"disposal plan {plan_id}",
                problem=f"it needs {required} different people and has {len(approvers)} ({', '.join(approvers) or 'none'})",
                next=f"A manager other than {row.prepared_by} must approve it first.")
        audit.record(s, auth.actor, "disposal.authorised", subject=_subject(row.id), as_of=row.as_of, consent=consent,
                     plan_sha256=row.sha256, approvers=approvers, **how)
        as_of = row.as_of
        saved = json.loads(row.plan)
        expected = Expected(plan_id, row.sha256, decisive(saved), resumed=row.run_id is not None)
        round_id = saved.get("round")
        if round_id is not None and not sources:
            presented, disc_dates = disposal.discs_of_round(s, ws, round_id, [], auth=auth)
    if round_id is None or sources:
        presented, disc_dates = disposal.read_presented(ws, sources)
    with disposal.one_run_at_a_time(ws):
        cert = disposal.run_plan(ws, presented, disc_dates, as_of, actor=auth.actor, consent=consent, how=how, expected=expected,
                                 progress=progress)
    if round_id is not None:
        from pipeline import disc_rounds

        with ws.transaction() as s:
            disc_rounds.close_round(s, round_id, f"disposal run {cert['run']} was executed", actor=auth.actor)
    return cert


class Expected:
    """The approved plan a run must match."""

    def __init__(self, plan_id: int, sha256: str, content: dict, *, resumed: bool = False) -> None:
        self.plan_id, self.sha256, self.content, self.resumed = plan_id, sha256, content, resumed

    def check(self, ws: Workspace, p: dict, actor: str) -> None:
        """Raise :class:`DisposalPlanChanged` (recorded in the audit log) when ``p`` is not the plan."""
        now = decisive(p)
        approved = self.content["unfiled"]
        if self.resumed and all(set(ids) <= set(approved.get(kind, [])) for kind, ids in now["unfiled"].items()):
            # this plan's interrupted run purged some of them already: fewer, none new, is the plan
            now["unfiled"] = approved
        if plan_hash(now) == self.sha256:
            return
        changes = differences(self.content, now) or ["the plan's content"]
        with ws.transaction() as s:
            audit.record(s, actor, "disposal.refused", subject=_subject(self.plan_id), plan_sha256=self.sha256,
                         now_sha256=plan_hash(now), changes=changes)
        raise DisposalPlanChanged(plan=self.plan_id, changes="; ".join(changes))


def sealed_approvers(s: Session, row: DisposalPlanRecord, sealed_seq: int) -> list[str]:
    """The different people who prepared and approved this plan with its hash, as the sealed part
    of the audit log records them (preparer first)."""
    events = s.execute(select(AuditEvent.actor, AuditEvent.action, AuditEvent.details).where(
        AuditEvent.subject == _subject(row.id), AuditEvent.action.in_((PREPARED, APPROVED)),
        AuditEvent.seq <= sealed_seq).order_by(AuditEvent.seq))
    people: list[str] = []
    for actor, action, details in events:
        if json.loads(details).get("plan_sha256") != row.sha256:
            continue
        if action == PREPARED and not same_person(actor, row.prepared_by):
            continue
        if not any(same_person(actor, p) for p in people):
            people.append(actor)
    return people


def approval_summary(s: Session, run_id: int) -> dict | None:
    """What a certificate states about the approval of run ``run_id`` (None: a run from before plans)."""
    row = s.scalars(select(DisposalPlanRecord).where(DisposalPlanRecord.run_id == run_id)
                    .order_by(DisposalPlanRecord.id.desc())).first()
    if row is None:
        return None
    people = [row.prepared_by] + ([row.approved_by] if row.approved_by and not same_person(row.approved_by, row.prepared_by) else [])
    single = row.approvers_required == 1 and len(people) == 1
    return {"plan": row.id, "plan_sha256": row.sha256, "prepared_by": row.prepared_by, "approved_by": row.approved_by,
            "approvers": people, "approvers_required": row.approvers_required,
            "approval": "single approver by configuration (lifecycle.disposal_approvers = 1)" if single
            else f"{len(people)} people: prepared by {row.prepared_by}, approved by {row.approved_by}"}


def mark_executed(s: Session, run_id: int) -> None:
    for row in s.scalars(select(DisposalPlanRecord).where(DisposalPlanRecord.run_id == run_id,
                                                          DisposalPlanRecord.executed_at.is_(None))):
        row.executed_at = utcnow()


def link_run(s: Session, plan_id: int, run_id: int) -> None:
    s.get(DisposalPlanRecord, plan_id).run_id = run_id


@contextlib.contextmanager
def _recording_refusals(ws: Workspace, auth, plan_id: int) -> Iterator[None]:  # noqa: ANN001
    """An approval or execution refused by the two-person rule is an audit event too (written
    after the refused transaction rolled back)."""
    try:
        yield
    except (ApprovalRefused, DisposalNotApproved, DisposalPlanUnusable) as exc:
        with ws.transaction() as s:
            audit.record(s, getattr(auth, "actor", "?"), "disposal.refused", subject=_subject(plan_id),
                         error=type(exc).__name__, problem=str(exc.fields.get("problem", "")))
        raise


def _usable(s: Session, plan_id: int) -> DisposalPlanRecord:
    row = s.scalars(select(DisposalPlanRecord).where(DisposalPlanRecord.id == plan_id).with_for_update()).first()
    if row is None:
        raise DisposalPlanUnusable(plan=plan_id, problem="does not exist")
    if row.executed_at is not None:
        raise DisposalPlanUnusable(plan=plan_id, problem=f"was executed already (disposal run {row.run_id}, "
                                   f"{row.executed_at.isoformat(timespec='seconds')})")
    if utcnow() > row.expires_at:
        raise DisposalPlanUnusable(plan=plan_id, problem=f"expired on {row.expires_at.isoformat(timespec='seconds')} "
                                   "(lifecycle.disposal_plan_days after it was prepared)")
    if plan_hash(decisive(json.loads(row.plan))) != row.sha256:
        raise DisposalPlanUnusable(plan=plan_id, problem="was changed in the database after it was prepared (its hash does not match)")
    return row


def _subject(plan_id: int) -> str:
    return f"disposal-plan:{plan_id}"


def list_plans(ws: Workspace) -> list[dict]:
    """Every saved plan, newest first, as :func:`describe` gives it (the plan itself left out).
    Its own transaction."""
    with ws.reader() as s:
        rows = list(s.scalars(select(DisposalPlanRecord).order_by(DisposalPlanRecord.id.desc())))
        return [{k: v for k, v in describe(r).items() if k != "plan"} | {"cases": len(json.loads(r.plan)["dispose"])}
                for r in rows]
