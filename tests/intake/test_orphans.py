"""Workers do not outlive the daemon (issue 9, finding 9), and a job held by a worker that is gone
is run again at once, not after its 15-minute lease. Real daemon processes, SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.factory import Cover, Doc, ScanFactory
from tests.intake._helpers import DbProbe, kill_group, pps, pps_env, start, wait_for

REF = "PPS-2024-0137"
FAST = {"PPS_ARCHIVE__INTAKE__STABLE_SECONDS": "0.5", "PPS_ARCHIVE__INTAKE__RESCAN_SECONDS": "2",
        "PPS_ARCHIVE__INTAKE__WORKERS": "2"}


def _group_members(pgid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
                out.append(int(entry.name))
    return out


@pytest.mark.slow
def test_killing_the_daemon_kills_its_workers_and_a_restart_runs_the_job_at_once(database_url: str, tmp_path: Path) -> None:
    home, drop = tmp_path / "home", tmp_path / "drop"
    env = pps_env(home, database_url, **FAST)
    pps(env, "init")
    pps(env, "case", "open", REF, "--consent-to-store")
    drop.mkdir()
    probe = DbProbe(database_url)
    # a retained document of several pages: OCR keeps the worker busy long enough to kill it
    ScanFactory(seed=5).batch(drop, "scan_0300.pdf", [Cover(REF, "retain", "PPS-LETTER"), Doc("pps-letter", REF, pages=4)], dpi=200)
    daemon = start(env, "watch", "--folder", str(drop), log=tmp_path / "watch1.log")
    try:
        wait_for(lambda: probe.rows("SELECT state FROM inputs") == [("processing",)], 120, "the job to be claimed", every=0.2)
        assert len(_group_members(daemon.pid)) > 1  # the main process and its workers
        os.kill(daemon.pid, signal.SIGKILL)  # only the main process, as an OOM killer or `kill -9 PID` does
        daemon.wait()
        wait_for(lambda: not _group_members(daemon.pid), 20, "the orphaned workers to exit", every=0.2)
    finally:
        kill_group(daemon)
    assert probe.rows("SELECT state FROM inputs") == [("processing",)]  # its lease runs for 15 minutes
    t0 = time.monotonic()
    again = start(env, "watch", "--folder", str(drop), log=tmp_path / "watch2.log")
    try:
        wait_for(lambda: probe.rows("SELECT state FROM inputs") == [("done",)], 240,
                 "the job of the killed worker to be run again", every=0.5)
    finally:
        kill_group(again)
        probe.engine.dispose()
    assert time.monotonic() - t0 < 240  # not 15 minutes


def test_a_job_of_a_dead_but_unreaped_worker_is_freed(workspace, tmp_path: Path) -> None:
    """A zombie (dead, its parent not yet waiting for it) holds no job, though kill(pid, 0) works."""
    from pipeline import queue, spool
    from pipeline.hostlock import worker_name
    from pipeline.models import Input

    f = tmp_path / "z.pdf"
    f.write_bytes(b"%PDF zombie")
    spool.take_in(workspace, [f], ["z.pdf"], "office", now=queue.utcnow())
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_for(lambda: Path(f"/proc/{zombie.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] == b"Z", 10, "a zombie",
             every=0.05)
    try:
        with workspace.transaction() as s:
            row = queue.claim(s, worker_name(workspace.data_dir, 1, pid=zombie.pid), now=queue.utcnow())
        with workspace.transaction() as s:
            assert spool.free_dead_workers(workspace, s) == 1
            assert s.get(Input, row.id).state == "queued"
    finally:
        zombie.wait()


def test_ingest_does_not_wait_for_the_lease_of_a_dead_worker(database_url: str, tmp_path: Path, monkeypatch) -> None:
    """Another intake process is active (so no start-up recovery), and a job is held by a worker of
    this data dir that is gone: ingest frees it and runs it, instead of waiting 15 minutes."""
    from pipeline import queue, spool
    from pipeline.hostlock import worker_name
    from pipeline.workspace import Workspace

    home = tmp_path / "home"
    env = pps_env(home, database_url)
    pps(env, "init")
    pps(env, "case", "open", REF, "--consent-to-store")
    scan = ScanFactory(seed=7).batch(tmp_path / "drop", "scan_0400.pdf", [Cover(REF, "shred", "SCHOOL-LETTER"),
                                                                          Doc("school-letter", REF)], dpi=150).path
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(home))
    ws = Workspace.load(home)
    try:
        spool.take_in(ws, [scan], [scan.name], "ingest", now=queue.utcnow())
        with ws.transaction() as s:
            queue.claim(s, worker_name(home, 1, pid=999_999_999), now=queue.utcnow())  # that worker is gone
    finally:
        ws.close()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_SH); print('held', flush=True); time.sleep(300)"),
        str(home / ".intake.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        pps(env, "ingest", timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert [d["decision"] for d in pps(env, "documents", "--json").json()] == ["shred"]
