"""Property test over random histories (hypothesis): the shred interlock and disposal never let a
held case through, never confirm a retained document's paper before its disc is verified, never
confirm the paper of a case that is not yet archive-due, and the dry run always agrees with the
real run.

Histories act through the library functions staff commands call (cases, shredding, disposal); disc
verification is recorded as the register row ``media verify --full`` from the drive writes, so that
an example costs milliseconds rather than building an image.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pipeline import cases, disposal, shredding
from pipeline.models import Case, Disc, DiscItemRow, Document, Input, ShredEntry
from pipeline.workspace import Workspace
from pps_archive.errors import OnHold, PPSArchiveError, ShredBlocked, ShredNotDue
from tests.auth_helpers import unlocked
from tests.conftest import FAST_KDF

REFS = ["PPS-2020-0001", "PPS-2020-0002", "PPS-2020-0003"]
START = dt.date(2020, 1, 1)

op = st.one_of(
    st.tuples(st.just("doc"), st.sampled_from(REFS), st.sampled_from(["retain", "shred"])),
    st.tuples(st.just("hold"), st.sampled_from(REFS), st.sampled_from(["safeguarding", "sar", "foi"])),
    st.tuples(st.just("release"), st.sampled_from(REFS)),
    st.tuples(st.just("touch"), st.sampled_from(REFS), st.integers(0, 3000)),
    st.tuples(st.just("verify_disc"), st.sampled_from(REFS)),
    st.tuples(st.just("confirm"), st.integers(0, 20), st.integers(0, 400)),
    st.tuples(st.just("dispose"), st.integers(0, 4000)),
)


def _workspace(template: Path, folder: Path) -> Workspace:
    folder.mkdir(parents=True)
    shutil.copyfile(template, folder / "pps-archive.sqlite3")
    ws = Workspace.load(folder, environ={"PPS_ARCHIVE_HOME": str(folder), **FAST_KDF})
    ws.create_dirs()
    return ws


def _add_doc(s, ref: str, decision: str, n: int) -> None:  # noqa: ANN001
    case = cases.get_case(s, ref)
    inp = Input(sha256=f"{n:064x}", display_name=f"{n}.pdf", profile="office", members=1, size=1,
                received_at=dt.datetime(2020, 1, 1), state="done", attempts=1)
    s.add(inp)
    s.flush()
    doc = Document(input_id=inp.id, case_id=case.id, doc_class="NOTE", decision=decision, reason="test", source="barcode",
                   pages=1, source_pages="[]", state="filed", created_at=dt.datetime(2020, 1, 1),
                   encrypted_to="case" if decision == "retain" else None)
    s.add(doc)
    s.flush()
    s.add(ShredEntry(document_id=doc.id))


def _verify_disc(s, ref: str, n: int, auth) -> None:  # noqa: ANN001
    from pipeline import keystore
    from pipeline import verify_marks as marks

    key, archive = marks.mark_key(auth.master), keystore.archive_id(s)
    docs = s.scalars(select(Document).join(Case).where(Case.ref == ref, Document.decision == "retain")).all()
    if not docs:
        return
    when = dt.datetime(2020, 1, 2)
    disc = Disc(label=f"PPS-2026-{n:03d}", iso_sha256="0" * 64, size=1, dispose_year=2026, status="verified",
                built_at=when, verified_at=when, verify_level="full", verified_from="drive", medium_verified_at=when)
    disc.medium_mac = marks.medium_mac(key, archive, disc.label, disc.iso_sha256, when)  # as a keyed verification marks it
    s.add(disc)
    s.flush()
    for d in docs:
        s.add(DiscItemRow(disc_id=disc.id, document_id=d.id, vault_item=f"{d.id:032x}", case_ref=ref, dispose_after=dt.date(2026, 1, 1),
                          checked_at=when, checked_mac=marks.item_mac(key, archive, disc.label, disc.iso_sha256, d.id,
                                                                      f"{d.id:032x}", when)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(op, min_size=1, max_size=25))
def test_random_histories_keep_the_rules(_sqlite_template: Path, tmp_path_factory, history) -> None:  # noqa: ANN001
    ws = _workspace(_sqlite_template, tmp_path_factory.mktemp("prop") / "home")
    try:
        with ws.transaction() as s:
            auth = unlocked(s, ws.config, "t")
            for ref in REFS:
                cases.open_case(s, ws.config, ref, today=START, auth=auth, consent_to_store=True)
        for n, step in enumerate(history):
            if step[0] == "dispose":
                _dispose(ws, START + dt.timedelta(days=step[1]), auth)
            else:
                with ws.transaction() as s:
                    _step(ws, s, step, n, auth)
            _check_invariants(ws)
    finally:
        ws.close()


def _step(ws: Workspace, s, step: tuple, n: int, auth) -> None:  # noqa: ANN001
    kind = step[0]
    live = {c.ref for c in s.scalars(select(Case).where(Case.disposed_on.is_(None)))}
    if kind == "doc" and step[1] in live:
        _add_doc(s, step[1], step[2], n)
    elif kind == "hold" and step[1] in live:
        cases.place_hold(s, step[1], step[2], "note", today=START, auth=auth)
    elif kind == "release":
        case = cases.get_case(s, step[1])
        for h in cases.active_holds(case):
            cases.release_hold(s, step[1], h.id, today=START, auth=auth, consent="--yes")
    elif kind == "touch" and step[1] in live:
        cases.touch(s, step[1], START + dt.timedelta(days=step[2]), auth=auth)
    elif kind == "verify_disc" and step[1] in live:
        _verify_disc(s, step[1], n, auth)
    elif kind == "confirm":
        today = START + dt.timedelta(days=step[2])
        rows = shredding.shred_list(s, ws.config, today=today)
        if not rows:
            return
        row = rows[step[1] % len(rows)]
        try:
            shredding.confirm(s, ws.config, [row["id"]], auth=auth, today=today, consent="--yes")
        except ShredNotDue:
            assert row["state"] == "waiting"
            return
        except ShredBlocked:
            assert row["state"] == "blocked"
            return
        except PPSArchiveError:
            assert row["state"] == "confirmed"
            return
        # it went through: then it was neither held nor a retained document off a verified disc,
        # nor the paper of a case still active
        entry = s.get(ShredEntry, row["id"])
        case = entry.document.case
        assert not cases.active_holds(case)
        assert case.disposed_on is not None or cases.case_dates(ws.config, case.last_activity).archive_due <= today
        if entry.document.decision == "retain":
            assert entry.document_id in shredding.archived_document_ids(s, ws.config, [entry.document_id])


def _dispose(ws: Workspace, as_of: dt.date, auth) -> None:  # noqa: ANN001
    with ws.transaction() as s:
        held_before = {c.ref for c in s.scalars(select(Case)) if cases.active_holds(c)}
    from pipeline import disposal_plans
    from tests.auth_helpers import unlocked

    preview = disposal.dry_run(ws, [], as_of)
    with ws.transaction() as s:
        manager = unlocked(s, ws.config, "u")  # a second person approves and executes what "t" prepared
    from unittest import mock

    with mock.patch("pipeline.dates.real_today", return_value=max(as_of, dt.date.today())):  # the clock run forward
        prepared = disposal_plans.prepare(ws, [], as_of, auth=auth)
        assert prepared["plan"] == preview  # the plan saved is the plan shown
        disposal_plans.approve(ws, prepared["id"], prepared["sha256"], auth=manager, consent="--yes")
        cert = disposal_plans.execute(ws, prepared["id"], [], auth=manager, consent="--yes")
    assert [d["case_ref"] for d in cert["destroyed"]] == [d["case_ref"] for d in preview["dispose"]]
    assert not held_before & {d["case_ref"] for d in cert["destroyed"]}


def _check_invariants(ws: Workspace) -> None:
    with ws.transaction() as s:
        for row in shredding.shred_list(s, ws.config, today=START + dt.timedelta(days=200)):
            case = cases.get_case(s, row["case_ref"])
            if case.disposed_on is not None:
                continue
            if cases.active_holds(case) and row["state"] != "confirmed":
                assert row["state"] == "blocked", row
            elif row["state"] == "waiting":
                assert dt.date.fromisoformat(row["due_on"]) > START + dt.timedelta(days=200), row
        for case in s.scalars(select(Case).where(Case.disposed_on.is_not(None))):
            try:
                cases.ensure_not_held(case, "disposal")
            except OnHold:  # a hold placed after disposal is harmless, but none may predate it
                assert all(h.placed_on >= case.disposed_on for h in cases.active_holds(case))
