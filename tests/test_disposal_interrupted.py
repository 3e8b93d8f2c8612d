"""The disposal run: killed half-way and run again, it finishes the job without harm; discs left
out of the run are reported."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pps_archive.errors import ExitCode
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

ROOT = Path(__file__).resolve().parent.parent


def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n_cases: int) -> tuple[Path, list[Path]]:
    home = tmp_path / "home"
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE__LIFECYCLE__DISPOSAL_APPROVERS", "1")  # about interruptions: one person runs it
    run("init")
    opened = dt.date(dt.date.today().year - 5, 3, 1)  # intake files only to cases not yet due for disposal
    for i in range(n_cases):
        run("case", "open", f"PPS-2019-{i:04d}", "--consent-to-store", "--as-of", opened.isoformat())
    batch = ScanFactory(seed=21).batch(tmp_path / "in", "a.pdf", [
        Cover("PPS-2019-0000", "retain", "NOTE"), Doc("note", "PPS-2019-0000"),
        Cover("PPS-2019-0001", "retain", "NOTE"), Doc("note", "PPS-2019-0001"),
    ], container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]))
    discs = []
    for capacity in ("400KiB",):  # small discs: one item each
        for b in run("media", "build", "--out", str(tmp_path / "discs"), "--capacity", capacity, "--json").json():
            run("media", "verify", b["path"], expect=ExitCode.NOT_READ_FROM_DISC)
            discs.append(Path(b["path"]))
    # then time passes: no activity since 2019, so the cases are due on the (real, past) run dates below
    from pipeline.workspace import Workspace
    from tests.auth_helpers import backdate

    ws = Workspace.load(home)
    try:
        with ws.transaction() as s:
            backdate(s, dt.date(2019, 3, 1))
    finally:
        ws.close()
    return home, discs


def test_discs_left_out_of_the_run_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _home, discs = _setup(tmp_path, monkeypatch, 2)
    assert len(discs) == 2
    plan = run("dispose", "--media", str(discs[0]), "--as-of", "2020-01-01", "--dry-run", "--json").json()
    assert plan["not_presented"] == [discs[1].stem]
    assert plan["not_registered"] == []


@pytest.mark.slow
def test_a_killed_run_is_finished_by_running_it_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, discs = _setup(tmp_path, monkeypatch, 120)
    media = [a for d in discs for a in ("--media", str(d))]
    env = {**os.environ}
    argv = [sys.executable, "-m", "pipeline.cli", "dispose", *media, "--as-of", "2026-01-01", "--yes", "--json"]
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = home / "pps-archive.sqlite3"
    deadline = time.monotonic() + 120
    disposed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        with sqlite3.connect(db, timeout=30) as conn:
            disposed = conn.execute("SELECT count(*) FROM cases WHERE disposed_on IS NOT NULL").fetchone()[0]
        if disposed >= 5:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be interrupted"
    assert 5 <= disposed < 120
    cert = run("dispose", *media, "--as-of", "2026-01-01", "--yes", "--json").json()
    assert len(cert["destroyed"]) == 120  # the certificate covers what the first attempt did too
    assert cert["run"] == 1
    assert sorted(cert["keys_destroyed"]) == [f"PPS-2019-{i:04d}" for i in range(120)]  # case open makes each key
    assert run("dispose", *media, "--as-of", "2026-01-01", "--dry-run", "--json").json()["dispose"] == []
    run("audit", "verify")
    statuses = {r["ref"]: r["status"] for r in run("case", "list", "--json", "--as-of", str(dt.date(2026, 1, 1))).json()}
    assert set(statuses.values()) == {"disposed"}
