"""No plaintext is left behind by a killed review command (issue 9, finding 11).

A real ``review assign --retain`` process is SIGKILLed while it encrypts (fault injection at the
edge: the encryption is made to wait), and the data dir is searched for plaintext, before and
after the next command. The sweep that every decrypting command runs first removes a dead
process's working folder and never a live one's, nor a live intake worker's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline import hostlock
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory
from tests.intake._helpers import kill_group, plaintext_files, pps_env, wait_for

REF = "PPS-2024-0301"

# the CLI, with encryption made to wait at its edge (after the plaintext was decrypted)
_SLOW_ENCRYPT = textwrap.dedent("""
    import io, sys, time
    from pathlib import Path
    import archive_media.envelope as envelope
    marker, real = Path(sys.argv[1]), envelope.encrypt_stream
    def stuck(src, dst, *args, **kwargs):
        if isinstance(dst, io.BytesIO):  # sealing a new case key, not writing a document
            return real(src, dst, *args, **kwargs)
        marker.write_text("encrypting")
        time.sleep(600)
    envelope.encrypt_stream = stuck
    from pipeline.cli import main
    sys.argv = ["pps-archive", *sys.argv[2:]]
    sys.exit(main())
""")


@pytest.fixture
def review_item(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("PPS_ARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    run("init")
    run("case", "open", REF, "--as-of", "2024-01-10")
    batch = ScanFactory(seed=7).batch(tmp_path / "in", "scan_0001.pdf", [
        Cover(REF, "retain", "PPS-LETTER"), Doc("pps-letter", REF, pages=2)], container="pdf-text", dpi=150)
    run("ingest", str(batch.files[0]))
    (item,) = run("review", "list", "--json").json()
    run("case", "consent", REF, "--store", "yes")
    assert plaintext_files(tmp_path / "home", skip=("spool",)) == []
    return item["id"]


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = pps_env(tmp_path / "home", database_url)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    return env


def test_a_killed_review_assign_retain_leaves_no_plaintext(review_item: int, database_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "encrypting"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_ENCRYPT, str(marker), "review", "assign", str(review_item),
                             "--case", REF, "--retain"], env=_env(tmp_path, database_url), start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: marker.exists() or proc.poll() is not None, 20, "the review command to reach encryption")
        assert proc.poll() is None, proc.stderr.read().decode()
    except AssertionError:
        kill_group(proc, signal.SIGKILL)
        raise AssertionError(proc.stderr.read().decode()) from None
    finally:
        kill_group(proc, signal.SIGKILL)
    home = tmp_path / "home"
    left = plaintext_files(home, skip=("spool",))
    # the next command that can decrypt sweeps whatever a killed one left
    run("review", "assign", str(review_item), "--case", REF, "--retain")
    assert plaintext_files(home, skip=("spool",)) == []
    assert left == [], f"the killed command left plaintext on disk: {left}"


_HOLD_FOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from pipeline.jobcontext import private_folder
    with private_folder(Path(sys.argv[1]), "review") as folder:
        (folder / "doc.pdf").write_bytes(b"%PDF-1.7 plaintext")
        print(folder, flush=True)
        time.sleep(600)
""")

_HOLD_INTAKE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from pipeline.hostlock import active
    from pipeline.workspace import make_private_dir
    data = Path(sys.argv[1])
    with active(data, lambda: None):
        folder = make_private_dir(data / "work" / "j41-1")
        (folder / "seg000.pdf").write_bytes(b"%PDF-1.7 a live job's page")
        print(folder, flush=True)
        time.sleep(600)
""")


def _claimed_job(home: Path, worker: str, folder: Path | None = None) -> Path:
    """An input in processing, claimed by ``worker``, with its job folder (made, or re-claimed)."""
    import datetime as dt

    from pipeline.models import Input
    from pipeline.workspace import Workspace, make_private_dir

    ws = Workspace.load()
    try:
        with ws.transaction() as s:
            if folder is None:
                row = Input(sha256="ab" * 32, display_name="scan.pdf", profile="ingest", size=1, state="processing",
                            received_at=dt.datetime(2026, 1, 1), attempts=1, claimed_by=worker)
                s.add(row)
                s.flush()
                folder = make_private_dir(home / "work" / f"j{row.id}-1")
                (folder / "seg000.pdf").write_bytes(b"%PDF-1.7 a live job's page")
            else:
                row = s.get(Input, int(folder.name[1:].split("-")[0]))
                row.claimed_by = worker
    finally:
        ws.close()
    return folder


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _holder(code: str, arg: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([sys.executable, "-c", code, str(arg)], env=env, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    return proc, Path(proc.stdout.readline().strip())


def test_the_sweep_spares_live_folders_and_removes_dead_ones(review_item: int, database_url: str, tmp_path: Path) -> None:
    home, env = tmp_path / "home", _env(tmp_path, database_url)
    dead, dead_folder = _holder(_HOLD_FOLDER, home / "work", env)
    kill_group(dead, signal.SIGKILL)
    live, live_folder = _holder(_HOLD_FOLDER, home / "work", env)
    intake, job_folder = _holder(_HOLD_INTAKE, home, env)
    stray_job = home / "work" / "j40-2"
    try:
        assert dead_folder.is_dir() and live_folder.is_dir() and job_folder.is_dir()
        run("review", "assign", str(review_item), "--case", REF, "--retain")
        assert not dead_folder.exists()
        assert (live_folder / "doc.pdf").exists(), "the sweep removed a live command's folder"
        assert (job_folder / "seg000.pdf").exists(), "the sweep removed a live intake worker's job folder"
    finally:
        kill_group(intake, signal.SIGKILL)
    # with no intake process left, a job folder is a dead worker's: the next command removes it,
    # unless a live worker (whose parent died, so no lock says so) still holds the job's input
    stray_job.mkdir(mode=0o700)
    (stray_job / "seg000.pdf").write_bytes(b"%PDF-1.7")
    orphan_job = _claimed_job(home, hostlock.worker_name(home, "w1"))
    run("review", "undo", str(review_item))
    assert not job_folder.exists() and not stray_job.exists()
    assert orphan_job.exists(), "the sweep removed the folder of a job a live worker holds"
    _claimed_job(home, hostlock.worker_name(home, "w1", pid=_dead_pid()), folder=orphan_job)
    run("review", "assign", str(review_item), "--case", REF, "--retain")
    assert not orphan_job.exists()
    run("review", "undo", str(review_item))
    assert (live_folder / "doc.pdf").exists()
    kill_group(live, signal.SIGKILL)
    time.sleep(0.1)
    run("review", "assign", str(review_item), "--case", REF, "--retain")
    assert not live_folder.exists()
    assert plaintext_files(home, skip=("spool",)) == []
