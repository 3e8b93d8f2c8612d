"""``pps-archive status`` / :func:`pipeline.status.collect` (issue 13), on both databases."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from pipeline import audit, status
from pipeline.models import Input, QuarantineEntry
from pipeline.workspace import Workspace
from pps_archive.errors import NotInitialised

KEYS = {"queue_depth", "oldest_queued_at", "last_done_at", "quarantine_count", "data_dir", "free_bytes", "total_bytes",
        "discs_due_for_reread", "audit_chain", "ok"}
T0 = dt.datetime(2026, 3, 2, 9, 0, 0)


def _input(n: int, state: str, received: dt.datetime, finished: dt.datetime | None = None) -> Input:
    return Input(sha256=f"{n:064x}", display_name=f"scan_{n:04d}.pdf", profile="office", size=10, received_at=received,
                 state=state, finished_at=finished)


def test_an_empty_archive(workspace: Workspace) -> None:
    r = status.collect(workspace)
    assert set(r) == KEYS
    assert r["queue_depth"] == 0 and r["oldest_queued_at"] is None and r["last_done_at"] is None
    assert r["quarantine_count"] == 0
    assert r["discs_due_for_reread"] == []  # no disc yet, so none due for its yearly read-back
    assert r["audit_chain"] == {"ok": True, "events": 0, "head": audit.GENESIS, "keyed": False, "problem": None}
    assert r["ok"] is True
    usage = shutil.disk_usage(workspace.data_dir)
    assert r["total_bytes"] == usage.total and 0 < r["free_bytes"] <= usage.total
    json.dumps(r)  # JSON as it is (the web app serves it)


def test_queue_quarantine_and_last_done(workspace: Workspace) -> None:
    with workspace.transaction() as s:
        s.add_all([
            _input(1, "done", T0, T0 + dt.timedelta(minutes=3)),
            _input(2, "done", T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=1, minutes=2)),
            _input(3, "quarantined", T0 + dt.timedelta(hours=2), T0 + dt.timedelta(hours=5)),  # later, but not done
            _input(4, "queued", T0 + dt.timedelta(hours=4)),
            _input(5, "processing", T0 + dt.timedelta(hours=3)),
            _input(6, "queued", T0 + dt.timedelta(hours=6)),
        ])
        s.flush()
        s.add_all([QuarantineEntry(file="a.pdf", profile="office", reason="r", received_at=T0),
                   QuarantineEntry(file="b.pdf", profile="office", reason="r", received_at=T0, resolved_at=T0)])
        audit.record(s, "intake", "input.received", subject="input:1")
    r = status.collect(workspace)
    assert r["queue_depth"] == 3
    assert r["oldest_queued_at"] == (T0 + dt.timedelta(hours=3)).isoformat()
    assert r["last_done_at"] == (T0 + dt.timedelta(hours=1, minutes=2)).isoformat()
    assert r["quarantine_count"] == 1  # resolved entries do not count
    assert r["audit_chain"]["events"] == 1 and r["ok"]


def test_a_broken_audit_chain_is_reported_without_a_login(workspace: Workspace) -> None:
    with workspace.transaction() as s:
        audit.record(s, "alice", "case.open", case_ref="PPS-2024-0137")
        audit.record(s, "alice", "case.touch", case_ref="PPS-2024-0137")
    with workspace.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1"))
    r = status.collect(workspace)
    assert r["ok"] is False
    assert r["audit_chain"]["ok"] is False and "event 1" in r["audit_chain"]["problem"]


def test_a_data_dir_never_set_up(tmp_path: Path) -> None:
    ws = Workspace.load(tmp_path / "nothing", environ={})
    with pytest.raises(NotInitialised):
        status.collect(ws)
    assert not (tmp_path / "nothing").exists()


def test_status_cli(tmp_path: Path) -> None:
    from pipeline.cli import cli
    from tests.conftest import FAST_KDF, PASSPHRASE

    env = {**FAST_KDF, "PPS_ARCHIVE_PASSPHRASE": PASSPHRASE, "PPS_ARCHIVE_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    env.pop("PPS_ARCHIVE_PASSPHRASE")  # status needs no login
    result = runner.invoke(cli, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    assert set(r) == KEYS and r["ok"] and r["audit_chain"]["events"] > 0
    text_out = runner.invoke(cli, ["status"], env=env)
    assert text_out.exit_code == 0 and "discs due for re-reading" in text_out.output
    from pipeline.db import make_engine, sqlite_url

    engine = make_engine(sqlite_url(tmp_path / "home"))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    engine.dispose()
    broken = runner.invoke(cli, ["status"], env=env)
    assert broken.exit_code == 108, broken.output
    assert "BROKEN" in broken.output


def test_a_disc_last_read_back_over_a_year_ago_is_due(workspace: Workspace) -> None:
    from pipeline.models import Disc

    long_ago = dt.datetime.now() - dt.timedelta(days=400)
    with workspace.transaction() as s:
        s.add(Disc(label="PPS-2031-001", iso_sha256="0" * 64, size=1, dispose_year=2031, status="in-cupboard",
                   built_at=long_ago, verified_at=long_ago, medium_verified_at=long_ago))
        s.add(Disc(label="PPS-2031-002", iso_sha256="1" * 64, size=1, dispose_year=2031, status="in-cupboard",
                   built_at=long_ago, verified_at=long_ago, medium_verified_at=dt.datetime.now()))
    due = status.collect(workspace)["discs_due_for_reread"]
    assert [(d["label"], d["action"]) for d in due] == [("PPS-2031-001", "reread")]
