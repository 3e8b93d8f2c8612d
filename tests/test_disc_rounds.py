"""Issue 13, the annual run disc by disc: an office with one CD drive puts its discs in one at a
time, over several sittings days apart; each disc is read, checked and recorded as presented for
the round; a disc put in twice is recognised, another archive's disc is refused; the plan is made
once the discs are in and lists the disc not presented. Through the library (each sitting its own
workspace and sessions) and through the CLI (each sitting its own invocation), on both databases.
Also: --media takes several paths at once and quoted globs."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, update

from pipeline import disc_rounds, disposal, disposal_plans
from pipeline.models import Case, PresentedDiscRow
from pipeline.workspace import Workspace
from pps_archive.errors import DisposalPlanChanged, ExitCode, ForeignArchive, RoundClosed
from tests.auth_helpers import backdate, unlocked
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

OLD1, OLD2, LIVE = "PPS-2018-0001", "PPS-2018-0002", "PPS-2025-0001"
TODAY = dt.date.today()


def _file(tmp_path: Path, home: Path, refs_days: list[tuple[str, str]], seed: int) -> list[Path]:
    """Cases opened on those days, one retained document each, filed and built: one disc per
    disposal year. Returns the images."""
    env = {"PPS_ARCHIVE_HOME": str(home)}
    run("init", env=env)
    parts = []
    for ref, day in refs_days:
        run("case", "open", ref, "--consent-to-store", "--as-of", day, env=env)
        parts += [Cover(ref, "retain", "NOTE", archiving=True), Doc("note", ref)]  # archiving: keeps the dates
    batch = ScanFactory(seed=seed).batch(tmp_path / f"in-{seed}", "p.pdf", parts, container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]), env=env)
    built = run("media", "build", "--out", str(tmp_path / f"discs-{seed}"), "--json", env=env).json()
    return [Path(b["path"]) for b in built]


@pytest.fixture
def cupboard(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:  # noqa: ARG001 - both databases
    """Three discs of this archive (verified, so the register expects them), the two old cases due;
    and a disc of another archive (its own data dir and SQLite database)."""
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "1")
    monkeypatch.setenv("PPS_ARCHIVE__MEDIA__ERROR_CORRECTION", "false")
    home = tmp_path / "home"
    ours = _file(tmp_path, home, [(OLD1, "2024-01-10"), (OLD2, "2025-01-10"), (LIVE, "2026-06-01")], seed=3)
    assert len(ours) == 3
    for image in ours:
        run("media", "verify", str(image), expect=ExitCode.NOT_READ_FROM_DISC)  # verified (from the image)
    ws = Workspace.load()
    try:
        with ws.transaction() as s:
            backdate(s, dt.date(2018, 3, 1), [OLD1, OLD2])
    finally:
        ws.close()
    monkeypatch.delenv("PPS_ARCHIVE_DATABASE_URL")  # the other archive: its own SQLite database
    foreign = _file(tmp_path, tmp_path / "other-home", [("PPS-2024-0900", "2024-01-10")], seed=4)[0]
    monkeypatch.setenv("PPS_ARCHIVE_DATABASE_URL", database_url)
    return {"images": ours, "labels": [p.stem for p in ours], "foreign": foreign, "tmp": tmp_path}


def _sitting(fn):  # noqa: ANN001, ANN202 - a sitting: its own workspace, engine and sessions
    ws = Workspace.load()
    try:
        return fn(ws)
    finally:
        ws.close()


def _auth(ws: Workspace, actor: str = "alice"):  # noqa: ANN202
    with ws.transaction() as s:
        return unlocked(s, ws.config, actor)


def _present(ws: Workspace, source: Path, round_id: int | None = None) -> disc_rounds.Presented:
    auth = _auth(ws)
    with ws.transaction() as s:
        rid = round_id or disc_rounds.open_round(s, disc_rounds.DISPOSE, actor="alice").id
        return disc_rounds.present_disc(s, ws, rid, source, auth=auth)


def test_two_sittings_make_one_plan_that_lists_the_disc_not_presented(cupboard: dict) -> None:
    first, second, third = cupboard["images"]
    # sitting 1: the first disc, then another archive's disc
    r1 = _sitting(lambda ws: _present(ws, first))
    assert (r1.outcome, r1.label, r1.presented) == ("presented", first.stem, 1)
    assert r1.not_presented == (second.stem, third.stem)
    wrong = _sitting(lambda ws: _present(ws, cupboard["foreign"]))
    assert wrong.outcome == "refused" and isinstance(wrong.error, ForeignArchive) and wrong.presented == 1
    assert "belongs to archive" in wrong.problem
    # sitting 2, days later: the same round goes on; the first disc again, then the second
    again = _sitting(lambda ws: _present(ws, first))
    assert (again.round, again.outcome, again.presented) == (r1.round, "again", 1)
    r2 = _sitting(lambda ws: _present(ws, second))
    assert (r2.outcome, r2.presented, r2.not_presented) == ("presented", 2, (third.stem,))

    def plan(ws: Workspace) -> dict:
        return disposal_plans.prepare(ws, [], TODAY, auth=_auth(ws), round=r1.round)

    prepared = _sitting(plan)
    p = prepared["plan"]
    assert p["round"] == r1.round
    assert sorted(d["label"] for d in p["presented"]) == [first.stem, second.stem]
    assert p["not_presented"] == [third.stem] and p["not_registered"] == []
    assert [d["case_ref"] for d in p["dispose"]] == [OLD1, OLD2]

    def execute(ws: Workspace) -> dict:
        return disposal_plans.execute(ws, prepared["id"], [], auth=_auth(ws), consent="--yes")

    cert = _sitting(execute)
    assert [d["case_ref"] for d in cert["destroyed"]] == [OLD1, OLD2]
    assert cert["discs_not_presented"] == [third.stem]
    with pytest.raises(RoundClosed):  # the round closed with the run it was for
        _sitting(lambda ws: _present(ws, third, r1.round))
    fresh = _sitting(lambda ws: _present(ws, third))
    assert fresh.round != r1.round and fresh.outcome == "presented"


def test_a_row_written_into_the_database_is_no_disc_presented(cupboard: dict) -> None:
    first, second, _third = cupboard["images"]
    r = _sitting(lambda ws: _present(ws, first))

    def forge(ws: Workspace) -> None:
        with ws.transaction() as s:
            row = s.scalars(select(PresentedDiscRow)).one()
            s.add(PresentedDiscRow(round_id=r.round, label=second.stem, items=1, index_sha256=row.index_sha256,
                                   case_dates="{}", read_from="drive", presented_by="mallory", presented_at=row.presented_at,
                                   times=1, mac=row.mac))

    _sitting(forge)
    p = _sitting(lambda ws: disposal.dry_run(ws, [], TODAY, round=r.round, auth=_auth(ws)))
    assert [d["label"] for d in p["presented"]] == [first.stem]
    assert second.stem in p["not_presented"]


def test_a_disc_presented_after_the_plan_changes_it(cupboard: dict) -> None:
    first, second, _third = cupboard["images"]
    r = _sitting(lambda ws: _present(ws, first))
    prepared = _sitting(lambda ws: disposal_plans.prepare(ws, [], TODAY, auth=_auth(ws), round=r.round))
    _sitting(lambda ws: _present(ws, second))
    with pytest.raises(DisposalPlanChanged, match="discs read"):
        _sitting(lambda ws: disposal_plans.execute(ws, prepared["id"], [], auth=_auth(ws), consent="--yes"))

    def disposed(ws: Workspace) -> list:
        with ws.transaction() as s:
            return list(s.scalars(select(Case.ref).where(Case.disposed_on.is_not(None))))

    assert _sitting(disposed) == []


def test_another_disc_under_a_label_already_presented_is_refused(cupboard: dict) -> None:
    first, second, _third = cupboard["images"]
    r = _sitting(lambda ws: _present(ws, first))

    def relabel(ws: Workspace) -> None:  # as if another disc of that label had been presented first
        with ws.transaction() as s:
            s.execute(update(PresentedDiscRow).where(PresentedDiscRow.round_id == r.round).values(index_sha256="0" * 64))

    _sitting(relabel)
    again = _sitting(lambda ws: _present(ws, first))
    assert again.outcome == "refused" and "two different discs carry the same label" in again.problem


# --- the CLI: each sitting its own invocation -------------------------------------------------------

def test_cli_disc_by_disc_over_two_sittings(cupboard: dict) -> None:
    first, second, third = cupboard["images"]
    # sitting 1: the first disc, then the wrong one; Enter on an empty line ends it
    r = run("dispose", "--one-by-one", input=f"{first}\n{cupboard['foreign']}\n\n", expect=ExitCode.DISCS_REFUSED)
    assert "Insert the next disc" in r.err
    assert f"disc {first.stem} read and recorded" in r.out
    assert "REFUSED, set it aside" in r.err and "belongs to archive" in r.err
    assert f"not presented yet: {second.stem}, {third.stem}" in r.out
    # sitting 2: the first disc again, a path that is not there (asked again), the second; end of input ends it
    r = run("dispose", "--one-by-one", input=f"{first}\n{cupboard['tmp'] / 'nothing.iso'}\n{second}\n")
    assert f"disc {first.stem} was presented before in this round" in r.out
    assert "does not exist" in r.err
    assert f"not presented yet: {third.stem}" in r.out
    plan = run("dispose", "--dry-run", "--json").json()  # the open round's discs
    assert sorted(d["label"] for d in plan["presented"]) == [first.stem, second.stem]
    assert plan["not_presented"] == [third.stem]
    cert = run("dispose", "--yes", "--json").json()  # one approver (this office's configuration)
    assert [d["case_ref"] for d in cert["destroyed"]] == [OLD1, OLD2]
    assert cert["discs_not_presented"] == [third.stem]


def test_cli_two_people_prepare_from_the_round_and_execute_without_discs(cupboard: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_disposal_approval import _managers, _run_as

    first, second, third = cupboard["images"]
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "2")
    _managers(cupboard["tmp"])
    _run_as("alice", "dispose", "--one-by-one", "--media", str(first), input="\n")
    _run_as("alice", "dispose", "--one-by-one", input=f"{second}\n{third}\n\n")
    prepared = _run_as("alice", "dispose", "--prepare", "--json").json()
    assert prepared["plan"]["not_presented"] == [] and len(prepared["plan"]["presented"]) == 3
    _run_as("bob", "dispose", "--approve", str(prepared["id"]), "--plan-hash", prepared["sha256"], "--yes")
    cert = _run_as("bob", "dispose", "--execute", str(prepared["id"]), "--yes", "--json").json()
    assert [d["case_ref"] for d in cert["destroyed"]] == [OLD1, OLD2] and cert["discs_not_presented"] == []


def test_cli_media_takes_several_paths_and_quoted_globs(cupboard: dict) -> None:
    first, second, third = cupboard["images"]
    folder = first.parent
    plan = run("dispose", "--dry-run", "--media", str(folder / "*.iso"), "--json").json()  # the program expands it
    assert sorted(d["label"] for d in plan["presented"]) == sorted(cupboard["labels"])
    plan = run("dispose", "--dry-run", "--media", str(first), str(second), "--json").json()  # several after one --media
    assert plan["not_presented"] == [third.stem]
    r = run("dispose", "--dry-run", "--media", str(folder / "*.nothing"), expect=ExitCode.USAGE)
    assert "nothing matches" in r.err
    copies = cupboard["tmp"] / "copies"
    copies.mkdir()
    for image in (first, second):
        shutil.copy(image, copies / image.name)
    reports = run("media", "verify", str(copies / "*.iso"), "--json", expect=ExitCode.NOT_READ_FROM_DISC).json()
    assert sorted(r["label"] for r in reports) == [first.stem, second.stem]


def test_cli_media_verify_one_by_one_keeps_its_round(cupboard: dict) -> None:
    first, second, third = cupboard["images"]
    r = run("media", "verify", "--one-by-one", input=f"{first}\n{cupboard['foreign']}\n\n", expect=ExitCode.DISCS_REFUSED)
    assert f"not presented yet: {second.stem}, {third.stem}" in r.out
    r = run("media", "verify", "--one-by-one", "--json", input=f"{second}\n{third}\n\n", expect=ExitCode.NOT_READ_FROM_DISC)
    out = r.json()
    assert out["round"]["not_presented"] == [] and out["round"]["closed_because"] == "every registered disc was read"
    assert [x["verification"]["ok"] for x in out["results"]] == [True, True]
