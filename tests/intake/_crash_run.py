"""The machinery of the crash test: the batch, kill points, and what is seen of a run from outside.

See ``test_crash.py`` for what is checked. A run is frozen (SIGSTOP) the moment its kill point
comes, looked at, then killed (SIGKILL) in exactly that state.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.factory import Batch, Cover, Doc, ScanFactory
from tests.intake._helpers import DbProbe, entries, files_under, kill_group, start

REF = "PPS-2024-0137"
EMPTY = "scan_0299.pdf"  # taken in after the other single files, processed late
EMPTY_SHA = hashlib.sha256(b"").hexdigest()
MAX_ATTEMPTS = 3  # pipeline.queue.MAX_ATTEMPTS: the third claim of a job is its last
#: Kill points, (event, seconds): first while the files are being taken in, then cycling through
#: the moments of processing until enough kills have landed. "delay" kills that long after start.
TAKE_IN_POINTS = [("delay", 0.3), ("delay", 1.0), ("input-row", 0)]
PROCESS_POINTS = [("vault-tmp", 0), ("vault-blob", 0), ("work-dir", 0), ("delay", 1.5), ("quarantine-dir", 0),
                  ("document", 0), ("work-dir", 0), ("input-done", 0), ("vault-tmp", 0), ("spool-gone", 0),
                  ("delay", 3.0), ("input-done", 0), ("vault-blob", 0)]
#: a round that neither reaches its kill point nor ends in this time is stuck (a job nobody takes over)
ROUND_TIMEOUT = 180
KILLS_WANTED, MAX_ROUNDS = 12, 24
#: inputs with a RETAIN document (the only ones that write to the vault)
RETAINING = ("scan_0202_p001.jpg (+3 more pages)", "scan_0203.tif", "scan_0204.pdf")
FS_EVENTS = ("vault-tmp", "vault-blob", "work-dir", "quarantine-dir", "spool-gone")


def make_batch(folder: Path) -> tuple[list[Batch], list[Path]]:
    """Seven inputs, 19 pages: SHRED documents (no OCR), three one-page RETAIN documents (OCR'd),
    groups of per-page JPEGs and PNGs, TIFFs (G4 and greyscale), and a zero-byte file to refuse."""
    f = ScanFactory(seed=5)
    batches = [
        f.batch(folder, "scan_0201.pdf", [Cover(REF, "shred", "SCHOOL-LETTER"), Doc("school-letter", REF, pages=2)], dpi=200),
        f.batch(folder, "scan_0202", [Cover(REF, "shred", "EHCP"), Doc("ehcp", REF),
                                      Cover(REF, "retain", "PPS-LETTER"), Doc("pps-letter", REF)], container="jpeg", dpi=200),
        f.batch(folder, "scan_0203.tif", [Cover(REF, "retain", "CONSENT"), Doc("consent", REF)], container="tiff-g4", dpi=200),
        f.batch(folder, "scan_0204.pdf", [Cover(REF, "shred", "SEN-LETTER"), Doc("sen-letter", REF),
                                          Cover(REF, "retain", "NOTE"), Doc("note", REF),
                                          Cover(REF, "shred", "EP-REPORT"), Doc("ep-report", REF)], dpi=200),
        f.batch(folder, "scan_0206.tif", [Cover(REF, "shred", "SEN-LETTER"), Doc("sen-letter", REF, pages=2)],
                container="tiff", dpi=150),
        f.batch(folder, "scan_0207", [Cover(REF, "shred", "EHCP"), Doc("ehcp", REF)], container="png", dpi=150),
    ]
    empty = folder / EMPTY
    empty.write_bytes(b"")
    return batches, [p for b in batches for p in b.files] + [empty]


# --- watching the run from outside ------------------------------------------------------------------

def vault_files(home: Path) -> tuple[set[str], set[str]]:
    """(blob names, temp-file names) in the vault."""
    blobs, temps = set(), set()
    for p in files_under(home / "vault"):
        (temps if p.name.startswith(".tmp-") else blobs).add(p.name)
    return blobs, temps


@dataclass
class CrashRun:
    backend: str
    home: Path
    drop: Path
    env: dict[str, str]
    batches: list[Batch]
    kills: list[tuple] = field(default_factory=list)
    inputs: list[tuple] = field(default_factory=list)
    referenced: set[str] = field(default_factory=set)
    documents: list[dict] = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)
    last_ingest: list = field(default_factory=list)
    caught_tmp: bool = False  # a kill left a vault temp file behind
    caught_blob: bool = False  # a kill came between a blob's write and its document's commit
    caught_quarantining: bool = False  # a kill came between stashing a refused file and its commit
    orphans: set[str] = field(default_factory=set)  # blobs no document refers to, before the sweep
    seconds: float = 0.0

    def landed(self) -> list[tuple]:
        return [k for k in self.kills if isinstance(k[1], float)]


def quarantine_dirs(home: Path) -> set[str]:
    root = home / "quarantine"
    return {f"quarantine/{day.name}/{q.name}" for day in root.iterdir() if day.is_dir() for q in day.iterdir()} if root.exists() else set()


class Snapshot:
    """What can be seen of a run: files (cheap, looked at every millisecond) and the database."""

    def __init__(self, home: Path, probe: DbProbe) -> None:
        self.home, self.probe = home, probe
        self.work, (self.blobs, self.temps) = set(entries(home / "work")), vault_files(home)
        self.qdirs = quarantine_dirs(home)
        self.qpaths = {r[0] for r in probe.rows("SELECT path FROM quarantine WHERE path IS NOT NULL")}
        inputs = probe.inputs()
        self.empty_spool = (home / "spool" / EMPTY_SHA).exists()
        self.inputs = len(inputs)
        self.done = sum(1 for i in inputs if i[2] in ("done", "quarantined"))
        self.documents = probe.document_count()
        #: a job on its last allowed claim: killing it now would quarantine a good input
        self.last_chance = any(i[2] == "processing" and i[3] >= MAX_ATTEMPTS for i in inputs)

    def fs_due(self, event: str) -> bool:
        if event == "work-dir":
            return bool(set(entries(self.home / "work")) - self.work)
        if event == "quarantine-dir":
            return bool(quarantine_dirs(self.home) - self.qdirs)
        if event == "spool-gone":  # the refused input's spool copy, dropped once it is quarantined
            return self.empty_spool and not (self.home / "spool" / EMPTY_SHA).exists()
        blobs, temps = vault_files(self.home)
        return bool(temps - self.temps) if event == "vault-tmp" else bool(blobs - self.blobs)

    def db_due(self, event: str, now: Snapshot) -> bool:
        key = {"input-row": "inputs", "input-done": "done", "document": "documents"}[event]
        return getattr(now, key) > getattr(self, key)

    def short(self) -> dict:
        return {"inputs": self.inputs, "done": self.done, "documents": self.documents}


def one_round(run: CrashRun, probe: DbProbe, n: int, event: str, seconds: float) -> None:
    """Start ``ingest`` and kill it at ``event``. When the event comes the run is frozen (SIGSTOP)
    and looked at; if a job is on its last allowed attempt it is let go on (SIGCONT) until the
    event comes again, else it is killed (SIGKILL) in exactly that state."""
    paths = [str(p) for p in sorted(run.drop.iterdir()) if p.is_file()]
    base = Snapshot(run.home, probe)
    proc = start(run.env, "ingest", "--workers", "2" if n % 4 == 3 else "1", *paths, log=run.home.parent / "ingest.log")
    started, last_db = time.monotonic(), 0.0
    while proc.poll() is None:
        elapsed = time.monotonic() - started
        if elapsed > ROUND_TIMEOUT:
            kill_group(proc)
            raise AssertionError(f"ingest neither reached {event} nor finished in {ROUND_TIMEOUT} s (a job nobody "
                                 f"takes over?); rounds so far: {run.kills}; see {run.home.parent / 'ingest.log'}")
        if event in FS_EVENTS:
            due = base.fs_due(event)
        elif time.monotonic() - last_db < 0.02:
            due = False
        else:
            last_db = time.monotonic()
            due = elapsed >= seconds if event == "delay" else base.db_due(event, Snapshot(run.home, probe))
        if not due:
            time.sleep(0.001)
            continue
        kill_group(proc, signal.SIGSTOP)
        now = Snapshot(run.home, probe)
        if now.last_chance:
            kill_group(proc, signal.SIGCONT)
            base = now if event != "delay" else base
            time.sleep(0.05)
            continue
        kill_group(proc)
        run.kills.append((event, round(elapsed, 2), now.short()))
        run.caught_tmp |= bool(now.temps - base.temps)
        run.caught_blob |= bool({b.removesuffix(".age") for b in now.blobs - base.blobs} - probe.vault_items())
        run.caught_quarantining |= bool(now.qdirs - now.qpaths)
        return
    kill_group(proc)  # nothing of it may outlive it
    run.kills.append((event, "finished before the kill point", proc.returncode))


def kill_points(run: CrashRun, probe: DbProbe) -> Iterator[tuple[str, float]]:
    """The next kill point that can still happen, until enough kills landed or all is done."""
    cycle = 0
    while len(run.kills) < MAX_ROUNDS and len(run.landed()) < KILLS_WANTED:
        in_drop = any(p.is_file() for p in run.drop.iterdir())
        unfinished = {i[1] for i in probe.inputs() if i[2] in ("queued", "processing")}
        taken_in = len(run.kills)
        if in_drop and taken_in < len(TAKE_IN_POINTS):
            yield TAKE_IN_POINTS[taken_in]
            continue
        if not unfinished and not in_drop:
            return
        event, seconds = PROCESS_POINTS[cycle % len(PROCESS_POINTS)]
        cycle += 1
        if event.startswith("vault") and not (unfinished & set(RETAINING) or in_drop):
            continue
        if event in ("spool-gone", "quarantine-dir") and EMPTY not in unfinished:
            continue
        yield event, seconds


def database(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    """A migrated, empty database of the requested backend, from the session's templates."""
    from tests.conftest import _pg_admin_url, _pg_exec

    if request.param == "sqlite":
        target = tmp / "db" / "pps-archive.sqlite3"
        target.parent.mkdir()
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), target)
        yield f"sqlite+pysqlite:///{target}"
        return
    from sqlalchemy.engine import make_url

    template = request.getfixturevalue("_pg_template")
    admin = _pg_admin_url()
    name = f"pps_test_{uuid.uuid4().hex[:12]}"
    _pg_exec(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        _pg_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


