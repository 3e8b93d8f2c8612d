"""Issue 10: disposal needs two people by default. One account prepares the plan (saved with its
hash), a different manager approves that exact plan, and only then does it execute; a plan that
changed after its approval, an expired plan and a plan approved by nobody else are refused before
anything is destroyed. ``lifecycle.disposal_approvers = 1`` lets one person run it, and the
certificate says so. Library tests on both databases, then the CLI as a user sees it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, text

from pipeline import cases, disposal, disposal_plans
from pipeline.models import AuditEvent, Case
from pipeline.workspace import Workspace
from pps_archive.errors import (
    ApprovalRefused, DisposalNotApproved, DisposalPlanChanged, DisposalPlanUnusable, ExitCode,
)
from tests.auth_helpers import backdate, unlocked
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

OLD1, OLD2, LIVE = "PPS-2018-0001", "PPS-2018-0002", "PPS-2025-0001"
OPENED, AS_OF = dt.date(2018, 3, 1), dt.date(2026, 1, 1)  # the old cases are due on AS_OF: six years inactive


def _load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, approvers: int = 2) -> Workspace:
    if approvers != 2:
        monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", str(approvers))
    ws = Workspace.load(tmp_path / "data")
    ws.create_dirs()
    with ws.transaction() as s:
        unlocked(s, ws.config, "init")  # the master key
        for ref, day in ((OLD1, OPENED), (OLD2, OPENED), (LIVE, dt.date(2025, 6, 1))):
            cases.open_case(s, ws.config, ref, today=day, auth=unlocked(s, ws.config, "alice"), consent_to_store=True)
    return ws


@pytest.fixture
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201, ARG001 - both databases
    ws = _load(tmp_path, monkeypatch)
    yield ws
    ws.close()


def _auth(ws: Workspace, actor: str):  # noqa: ANN202 - an Unlocked
    with ws.transaction() as s:
        return unlocked(s, ws.config, actor)


def _disposed(ws: Workspace) -> list[str]:
    with ws.transaction() as s:
        return sorted(s.scalars(select(Case.ref).where(Case.disposed_on.is_not(None))))


def _actions(ws: Workspace, subject: str) -> list[tuple[str, str]]:
    with ws.transaction() as s:
        return [(e.actor, e.action) for e in s.scalars(select(AuditEvent).where(AuditEvent.subject == subject).order_by(AuditEvent.seq))]


def test_the_approved_plan_executes_exactly_its_cases(ws: Workspace) -> None:
    alice, bob = _auth(ws, "alice"), _auth(ws, "bob")
    with ws.transaction() as s:
        cases.place_hold(s, OLD2, "sar", "request received", today=dt.date(2025, 1, 1), auth=unlocked(s, ws.config, "alice"))
    prepared = disposal_plans.prepare(ws, [], AS_OF, auth=alice)
    assert [d["case_ref"] for d in prepared["plan"]["dispose"]] == [OLD1]
    assert [h["case_ref"] for h in prepared["plan"]["held"]] == [OLD2]
    assert prepared["state"] == "prepared" and len(prepared["sha256"]) == 64
    assert prepared["sha256"] == disposal_plans.plan_hash(disposal_plans.decisive(prepared["plan"]))
    approved = disposal_plans.approve(ws, prepared["id"], prepared["sha256"], auth=bob, consent="typed")
    assert (approved["state"], approved["approved_by"]) == ("approved", "bob")
    cert = disposal_plans.execute(ws, prepared["id"], [], auth=bob, consent="typed")
    assert [d["case_ref"] for d in cert["destroyed"]] == [OLD1] == _disposed(ws)
    assert [h["case_ref"] for h in cert["held_back"]] == [OLD2]
    assert cert["approvers"] == ["alice", "bob"]
    assert cert["approval"]["plan"] == prepared["id"] and cert["approval"]["plan_sha256"] == prepared["sha256"]
    assert "single approver" not in cert["approval"]["approval"]
    assert json.loads(Path(cert["files"][0]).read_text())["approvers"] == ["alice", "bob"]
    assert disposal_plans.show(ws, prepared["id"])["state"] == "executed"
    assert _actions(ws, f"disposal-plan:{prepared['id']}") == [
        ("alice", "disposal.prepared"), ("bob", "disposal.approved"), ("bob", "disposal.authorised")]
    with pytest.raises(DisposalPlanUnusable, match="executed already"):  # a plan runs once
        disposal_plans.execute(ws, prepared["id"], [], auth=bob, consent="typed")


def test_one_person_cannot_dispose_by_default(ws: Workspace) -> None:
    alice, bob = _auth(ws, "alice"), _auth(ws, "bob")
    with pytest.raises(DisposalNotApproved, match="two people"):  # prepare-and-run at once
        disposal.execute(ws, [], AS_OF, auth=alice, consent="--yes")
    prepared = disposal_plans.prepare(ws, [], AS_OF, auth=alice)
    with pytest.raises(DisposalNotApproved, match="has 1 \\(alice\\)"):  # no approval yet
        disposal_plans.execute(ws, prepared["id"], [], auth=alice, consent="--yes")
    with pytest.raises(DisposalNotApproved):  # nor when someone else executes it
        disposal_plans.execute(ws, prepared["id"], [], auth=bob, consent="--yes")
    with pytest.raises(ApprovalRefused, match="alice prepared it"):  # the preparer approving her own plan
        disposal_plans.approve(ws, prepared["id"], prepared["sha256"], auth=_auth(ws, " Alice "), consent="typed")
    assert _disposed(ws) == []
    assert disposal_plans.show(ws, prepared["id"])["approved_by"] is None
    assert _actions(ws, f"disposal-plan:{prepared['id']}") == [("alice", "disposal.prepared"), ("alice", "disposal.refused"),
                                                               ("bob", "disposal.refused"), (" Alice ", "disposal.refused")]


def test_an_approval_is_of_the_plan_shown_only(ws: Workspace) -> None:
    prepared = disposal_plans.prepare(ws, [], AS_OF, auth=_auth(ws, "alice"))
    with pytest.raises(ApprovalRefused, match="not the plan's"):
        disposal_plans.approve(ws, prepared["id"], "0" * 64, auth=_auth(ws, "bob"), consent="typed")
    with pytest.raises(DisposalPlanUnusable, match="does not exist"):
        disposal_plans.approve(ws, prepared["id"] + 1, prepared["sha256"], auth=_auth(ws, "bob"), consent="typed")


def test_an_approval_written_into_the_database_does_not_count(ws: Workspace, database_url: str) -> None:
    """Rule 8: approvals count from the sealed audit log, not from the plan's row."""
    prepared = disposal_plans.prepare(ws, [], AS_OF, auth=_auth(ws, "alice"))
    with ws.engine.begin() as conn:
        conn.execute(text("UPDATE disposal_plans SET approved_by = 'bob', approved_at = prepared_at"))
    with pytest.raises(DisposalNotApproved, match="has 1"):
        disposal_plans.execute(ws, prepared["id"], [], auth=_auth(ws, "bob"), consent="--yes")
    assert _disposed(ws) == []


def _hold(ws: Workspace) -> None:
    with ws.transaction() as s:
        cases.place_hold(s, OLD1, "safeguarding", "concern raised", today=AS_OF, auth=unlocked(s, ws.config, "carol"))


def _touch(ws: Workspace) -> None:
    with ws.transaction() as s:
        cases.touch(s, OLD1, dt.date(2025, 12, 1), auth=unlocked(s, ws.config, "carol"))


def _new_due_case(ws: Workspace) -> None:
    with ws.transaction() as s:
        cases.open_case(s, ws.config, "PPS-2018-0003", today=OPENED, auth=unlocked(s, ws.config, "carol"), consent_to_store=True)


@pytest.mark.parametrize(("change", "words"), [
    (_hold, f"cases to dispose of: {OLD1} no longer; cases held back: {OLD1} added"),
    (_touch, f"cases to dispose of: {OLD1} no longer"),
    (_new_due_case, "cases to dispose of: PPS-2018-0003 added"),
])
def test_a_plan_changed_after_its_approval_is_refused_and_nothing_is_destroyed(ws: Workspace, change, words: str) -> None:  # noqa: ANN001
    alice, bob = _auth(ws, "alice"), _auth(ws, "bob")
    prepared = disposal_plans.prepare(ws, [], AS_OF, auth=alice)
    assert [d["case_ref"] for d in prepared["plan"]["dispose"]] == [OLD1, OLD2]
    disposal_plans.approve(ws, prepared["id"], prepared["sha256"], auth=bob, consent="typed")
    change(ws)
    with pytest.raises(DisposalPlanChanged) as err:
        disposal_plans.execute(ws, prepared["id"], [], auth=bob, consent="typed")
    assert words in str(err.value) and f"disposal plan {prepared['id']}" in str(err.value)
    assert _disposed(ws) == []
    assert disposal_plans.show(ws, prepared["id"])["state"] == "approved"
    assert _actions(ws, f"disposal-plan:{prepared['id']}")[-1] == ("bob", "disposal.refused")
    with ws.transaction() as s:
        assert s.execute(text("SELECT count(*) FROM disposal_runs")).scalar() == 0


def test_the_differences_name_discs_and_dates() -> None:
    before = {"as_of": "2026-01-01", "dispose": [], "held": [], "kept_reactivated": [], "kept_in_review": [],
              "presented": [{"source": "/mnt/a", "label": "PPS-2026-001", "items": 3}], "not_presented": [], "not_registered": [],
              "discs_to_destroy": [], "discs_to_consolidate": [], "unfiled": {"review_items": [], "quarantine_entries": [4]}}
    after = before | {"as_of": "2026-01-02", "presented": [{"source": "/media/cdrom", "label": "PPS-2026-002", "items": 1}],
                      "unfiled": {"review_items": [7], "quarantine_entries": [4]}}
    moved = before | {"presented": [{"source": "/media/cdrom", "label": "PPS-2026-001", "items": 3}]}
    d = disposal_plans.decisive
    assert disposal_plans.plan_hash(d(moved)) == disposal_plans.plan_hash(d(before))  # mounted elsewhere: the same plan
    assert disposal_plans.differences(d(before), d(after)) == [
        "the date (approved 2026-01-01, now 2026-01-02)", "discs read: PPS-2026-002 added, PPS-2026-001 no longer",
        "unfiled records: review items 7 added"]


def test_an_expired_plan_is_refused(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, bob = _auth(ws, "alice"), _auth(ws, "bob")
    prepared = disposal_plans.prepare(ws, [], AS_OF, auth=alice)
    disposal_plans.approve(ws, prepared["id"], prepared["sha256"], auth=bob, consent="typed")
    later = disposal_plans.utcnow() + dt.timedelta(days=31)  # disposal_plan_days is 30
    monkeypatch.setattr(disposal_plans, "utcnow", lambda: later)
    with pytest.raises(DisposalPlanUnusable, match="expired"):
        disposal_plans.execute(ws, prepared["id"], [], auth=bob, consent="typed")
    assert _disposed(ws) == []
    assert disposal_plans.show(ws, prepared["id"])["state"] == "expired"


def test_one_approver_by_configuration(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ARG001
    ws = _load(tmp_path, monkeypatch, approvers=1)
    try:
        cert = disposal.execute(ws, [], AS_OF, auth=_auth(ws, "alice"), consent="--yes")
        assert [d["case_ref"] for d in cert["destroyed"]] == [OLD1, OLD2] == _disposed(ws)
        assert cert["approvers"] == ["alice"]
        assert cert["approval"]["approval"].startswith("single approver by configuration")
        assert Path(cert["files"][1]).stat().st_size > 0
    finally:
        ws.close()


# --- the CLI ----------------------------------------------------------------------------------

def _image(tmp_path: Path) -> Path:
    run("init")
    run("case", "open", OLD1, "--consent-to-store", "--as-of", (dt.date.today() - dt.timedelta(days=400)).isoformat())
    batch = ScanFactory(seed=5).batch(tmp_path / "in", "p.pdf", [Cover(OLD1, "retain", "NOTE"), Doc("note", OLD1)],
                                      container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]))
    [built] = run("media", "build", "--out", str(tmp_path / "discs"), "--json").json()
    return Path(built["path"])

PASSWORDS = {"alice": "alice keeps the garden shed key 41", "bob": "bob plays the tuba on tuesdays 17"}


def _managers(tmp_path: Path) -> None:
    """Two manager accounts (added with the recovery passphrase): two people need two logins."""
    _PWDIR[:] = [tmp_path]
    for name, password in PASSWORDS.items():
        path = tmp_path / f"{name}.pw"
        path.write_text(password + "\n")
        path.chmod(0o600)
        run("staff", "add", name, "--role", "manager", env={"PPS_ARCHIVE_NEW_PASSWORD_FILE": str(path)})


def _run_as(name: str, *args: str, **kw):  # noqa: ANN003, ANN202 - as tests.cli_helpers.run
    """The CLI as manager ``name``, logged in with their own password."""
    return run("--user", name, *args, env={"PPS_ARCHIVE_PASSWORD_FILE": str(_PWDIR[0] / f"{name}.pw")}, **kw)


_PWDIR: list[Path] = []


def test_cli_two_person_flow(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ARG001
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    image = _image(tmp_path)
    _managers(tmp_path)
    ws = Workspace.load()
    try:
        with ws.transaction() as s:  # time passes: inactive for six years (register and log alike)
            backdate(s, dt.date(2018, 3, 1))
    finally:
        ws.close()
    media = ["--media", str(image)]
    r = run("dispose", *media, "--yes", expect=ExitCode.DISPOSAL_NOT_APPROVED)  # the one-person run: refused
    assert "two people" in r.err and "--prepare" in r.err and "--approve PLAN_ID" in r.err
    prepared = _run_as("alice", "dispose", *media, "--prepare", "--by", "alice", "--json").json()
    assert [d["case_ref"] for d in prepared["plan"]["dispose"]] == [OLD1]
    out = _run_as("alice", "dispose", *media, "--prepare", "--by", "alice").out
    assert "SHA-256" in out and "--approve" in out
    r = _run_as("alice", "dispose", "--approve", str(prepared["id"]), "--plan-hash", prepared["sha256"], "--by", "alice", "--yes",
            expect=ExitCode.APPROVAL_REFUSED)
    assert "alice prepared it" in r.err
    _run_as("bob", "dispose", "--execute", str(prepared["id"]), *media, "--by", "bob", "--yes", expect=ExitCode.DISPOSAL_NOT_APPROVED)
    _run_as("bob", "dispose", "--approve", str(prepared["id"]), "--by", "bob", expect=ExitCode.CONFIRMATION_REFUSED)  # typed consent
    out = _run_as("bob", "dispose", "--approve", str(prepared["id"]), "--plan-hash", prepared["sha256"], "--by", "bob", "--yes").out
    assert OLD1 in out and "approved by bob" in out
    assert run("case", "list", "--json").json()[0]["status"] != "disposed"
    cert = _run_as("bob", "dispose", "--execute", str(prepared["id"]), *media, "--by", "bob", "--yes", "--json").json()
    assert [d["case_ref"] for d in cert["destroyed"]] == [OLD1] and cert["approvers"] == ["alice", "bob"]
    assert run("case", "list", "--json").json()[0]["status"] == "disposed"
    r = _run_as("bob", "dispose", "--execute", str(prepared["id"]), *media, "--by", "bob", "--yes", expect=ExitCode.DISPOSAL_PLAN_UNUSABLE)
    assert "executed already" in r.err
    run("dispose", "--approve", "1", "--execute", "1", *media, expect=ExitCode.USAGE)


def test_cli_execute_against_another_set_of_discs_is_refused(database_url: str, tmp_path: Path,  # noqa: ARG001
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    first = _image(tmp_path)
    _managers(tmp_path)
    batch = ScanFactory(seed=6).batch(tmp_path / "in2", "q.pdf", [Cover(OLD1, "retain", "NOTE"), Doc("note", OLD1)],
                                      container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]))
    [second] = run("media", "build", "--out", str(tmp_path / "discs2"), "--json").json()
    both = ["--media", str(first), "--media", second["path"]]
    prepared = _run_as("alice", "dispose", *both, "--prepare", "--by", "alice", "--json").json()
    assert len(prepared["plan"]["presented"]) == 2
    _run_as("bob", "dispose", "--approve", str(prepared["id"]), "--plan-hash", prepared["sha256"], "--by", "bob", "--yes")
    r = _run_as("bob", "dispose", "--execute", str(prepared["id"]), "--media", str(first), "--by", "bob", "--yes",
            expect=ExitCode.DISPOSAL_PLAN_CHANGED)
    assert f"discs read: {second['label']} no longer" in r.err and "Nothing was destroyed" in r.err
    # the same discs, mounted somewhere else (here: copied), are the same plan
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    copies = [shutil.copy(p, moved) for p in (first, second["path"])]
    cert = _run_as("bob", "dispose", "--execute", str(prepared["id"]), *[a for c in copies for a in ("--media", c)], "--by", "bob",
               "--yes", "--json").json()
    assert cert["approvers"] == ["alice", "bob"]
