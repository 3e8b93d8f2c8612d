"""The ``pps-archive watch`` daemon as a real process (issue 3): what it picks up, and when.

Cheap inputs only: documents behind SHRED cover sheets need no OCR. Waiting is by polling the
database with a generous timeout; nothing asserts on timing.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factory import Cover, Doc, ScanFactory
from tests.intake._helpers import DbProbe, entries, kill_group, names_in_paths, pps, pps_env, sqlite_url, start, wait_for

pytestmark = pytest.mark.slow

REF = "PPS-2024-0137"
FAST = {"PPS_ARCHIVE__INTAKE__STABLE_SECONDS": "0.5", "PPS_ARCHIVE__INTAKE__RESCAN_SECONDS": "2",
        "PPS_ARCHIVE__INTAKE__WORKERS": "1"}
TIMEOUT = 90


KIND_CLASS = {"school-letter": "SCHOOL-LETTER", "sen-letter": "SEN-LETTER", "ehcp": "EHCP", "ep-report": "EP-REPORT"}


def shred_doc(factory: ScanFactory, folder: Path, name: str, kind: str, pages: int = 1, **kw):  # noqa: ANN003, ANN201
    """A SHRED cover sheet and a document of ``pages`` pages: no OCR needed. (Equal arguments give
    equal bytes, and the same bytes twice are a duplicate: vary ``kind`` or ``pages``.)"""
    return factory.batch(folder, name, [Cover(REF, "shred", KIND_CLASS[kind]), Doc(kind, REF, pages=pages)], dpi=150, **kw)


class Daemon:
    def __init__(self, env: dict[str, str], home: Path, *args: str) -> None:
        self.log = home.parent / "watch.log"
        self.proc = start(env, "watch", *args, log=self.log)
        self.probe = DbProbe(sqlite_url(home))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def documents_of(self, name: str) -> list[list[str]]:
        rows = self.probe.rows("SELECT d.source_pages FROM documents d JOIN inputs i ON i.id = d.input_id "
                               "WHERE i.display_name = :n", n=name)
        return [json.loads(r[0]) for r in rows]

    def state_of(self, name: str) -> str | None:
        rows = self.probe.rows("SELECT state FROM inputs WHERE display_name = :n", n=name)
        return rows[0][0] if rows else None

    def wait_done(self, name: str) -> str:
        def finished() -> str | None:
            assert self.alive(), f"the daemon died: {self.log.read_text()[-3000:]}"
            state = self.state_of(name)
            return state if state in ("done", "quarantined") else None

        return wait_for(finished, TIMEOUT, f"{name} to be processed")

    def terminate(self) -> int:
        """SIGTERM; the exit code. Workers must be gone with it (``self.leftover`` says if not)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
            self.leftover = not _group_gone(self.proc.pid, timeout=10)
            return code
        finally:
            kill_group(self.proc)
            self.probe.close()


def _group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, Path, ScanFactory]]:
    home, staging = tmp_path / "home", tmp_path / "staging"
    yield home, staging, ScanFactory(seed=9)


def _init(env: dict[str, str]) -> None:
    pps(env, "init")
    pps(env, "case", "open", REF, "--consent-to-store")


def write_slowly(source: Path, target: Path, chunks: int = 8, pause: float = 0.15) -> None:
    """Append ``source`` to ``target`` in chunks, closing the file in between (as a copy over a
    network share does), pausing well under the stable time between chunks."""
    data = source.read_bytes()
    step = -(-len(data) // chunks)
    for i in range(0, len(data), step):
        with open(target, "ab") as fh:
            fh.write(data[i:i + step])
        time.sleep(pause)


def test_watch_folder_picks_up_what_is_complete_and_survives_bad_files(setup, tmp_path: Path) -> None:  # noqa: ANN001
    home, staging, factory = setup
    folder = tmp_path / "scans"
    env = pps_env(home, **FAST)
    _init(env)
    before = shred_doc(factory, folder, "scan_0401.pdf", "school-letter")  # there before the daemon starts
    below = shred_doc(factory, folder / "sub", "scan_0402.pdf", "ehcp")  # not recursive: must stay where it is
    slow = shred_doc(factory, staging, "scan_0403.pdf", "school-letter", pages=3)
    before_bytes = before.path.read_bytes()
    bad = folder / "Pembury reply.pdf"  # named after the family, as staff do
    after_bad = shred_doc(factory, staging, "scan_0405.pdf", "sen-letter")

    daemon = Daemon(env, home, "--folder", str(folder))
    try:
        assert daemon.wait_done("scan_0401.pdf") == "done"
        assert daemon.documents_of("scan_0401.pdf") == [list(before.documents[0].source_pages)]

        write_slowly(slow.path, folder / "scan_0403.pdf")
        assert daemon.wait_done("scan_0403.pdf") == "done"
        assert daemon.documents_of("scan_0403.pdf") == [["scan_0403.pdf#2", "scan_0403.pdf#3", "scan_0403.pdf#4"]]

        bad.write_bytes(slow.path.read_bytes()[: slow.path.stat().st_size // 3])  # a transfer cut short
        assert daemon.wait_done("Pembury reply.pdf") == "quarantined"
        (folder / "scan_0405.pdf").write_bytes(after_bad.path.read_bytes())
        assert daemon.wait_done("scan_0405.pdf") == "done"
        (folder / "copy of scan_0401.pdf").write_bytes(before_bytes)  # the same bytes again
        wait_for(lambda: daemon.probe.rows("SELECT 1 FROM quarantine WHERE file = 'copy of scan_0401.pdf'"),
                 TIMEOUT, "the duplicate to be recognised")
        assert daemon.alive()
        time.sleep(2.5)  # more than a rescan period: the subfolder's file would have been seen
        assert daemon.state_of("sub/scan_0402.pdf") is None
    finally:
        t0 = time.monotonic()
        code = daemon.terminate()
        print(f"\nSIGTERM to exit: {time.monotonic() - t0:.1f} s")
    log = daemon.log.read_text()
    assert code == 0, log[-3000:]
    assert not daemon.leftover, "worker processes outlived the daemon"
    assert "Pembury" not in log and "scan_04" not in log, "file names (which may name a family) in the log"
    assert names_in_paths(home, ["Pembury"]) == []
    assert below.path.exists()
    assert entries(folder) == ["sub"]
    assert entries(home / "spool") == [] and entries(home / "work") == []
    quarantine = pps(env, "quarantine", "list", "--json").json()
    assert [q["file"] for q in quarantine] == ["Pembury reply.pdf", "copy of scan_0401.pdf"]
    assert "truncated" in quarantine[0]["reason"] or "damaged" in quarantine[0]["reason"]
    assert "already received" in quarantine[1]["reason"]
    docs = pps(env, "documents", "--json").json()
    assert sorted(p for d in docs for p in d["source_pages"]) == sorted(
        ["scan_0401.pdf#2", "scan_0403.pdf#2", "scan_0403.pdf#3", "scan_0403.pdf#4", "scan_0405.pdf#2"])


def test_recursive_profile_takes_files_from_subfolders_and_groups_pages(setup) -> None:  # noqa: ANN001
    home, staging, factory = setup
    env = pps_env(home, **FAST, PPS_ARCHIVE__SCANNERS__OFFICE__RECURSIVE="true",
                  PPS_ARCHIVE__SCANNERS__OFFICE__GROUP_WAIT_SECONDS="1")
    _init(env)
    drop = home / "drop" / "office"
    assert drop.is_dir(), "init should create the default drop folder"
    daemon = Daemon(env, home)
    try:
        time.sleep(1)
        nested = shred_doc(factory, staging, "scan_0501.pdf", "ehcp")
        (drop / "reception" / "tuesday").mkdir(parents=True)
        (drop / "reception" / "tuesday" / "scan_0501.pdf").write_bytes(nested.path.read_bytes())
        assert daemon.wait_done("reception/tuesday/scan_0501.pdf") == "done"
        pages = shred_doc(factory, drop, "scan_0502", "ep-report", container="jpeg")  # scan_0502_p001.jpg, _p002.jpg
        assert len(pages.files) == 2
        group = "scan_0502_p001.jpg (+1 more pages)"
        assert daemon.wait_done(group) == "done"
        assert daemon.documents_of(group) == [["scan_0502_p002.jpg#1"]]
        assert daemon.documents_of("reception/tuesday/scan_0501.pdf") == [["reception/tuesday/scan_0501.pdf#2"]]
    finally:
        code = daemon.terminate()
    assert code == 0, daemon.log.read_text()[-3000:]
    assert not daemon.leftover, "worker processes outlived the daemon"
    assert [p for p in drop.rglob("*") if p.is_file()] == []
    assert entries(home / "spool") == [] and entries(home / "work") == []


def test_an_ingest_beside_the_running_daemon_does_not_disturb_its_jobs(setup, tmp_path: Path) -> None:  # noqa: ANN001
    home, staging, factory = setup
    folder = tmp_path / "scans"
    env = pps_env(home, **FAST)
    _init(env)
    kept = factory.batch(staging, "scan_0601.pdf", [Cover(REF, "retain", "PPS-LETTER"), Doc("pps-letter", REF, pages=2)], dpi=200)
    other = shred_doc(factory, staging, "scan_0602.pdf", "ehcp")
    folder.mkdir()
    daemon = Daemon(env, home, "--folder", str(folder))
    try:
        (folder / "scan_0601.pdf").write_bytes(kept.path.read_bytes())  # a RETAIN document: OCR takes seconds
        wait_for(lambda: entries(home / "work"), TIMEOUT, "the daemon's job to start", every=0.05)
        pps(env, "ingest", str(other.path))  # staff process one file by hand meanwhile
        assert daemon.wait_done("scan_0601.pdf") == "done"
        attempts = daemon.probe.rows("SELECT attempts FROM inputs WHERE display_name = 'scan_0601.pdf'")[0][0]
    finally:
        code = daemon.terminate()
    assert code == 0
    assert attempts == 1, f"the daemon's job was disturbed and ran {attempts} times"
