"""Intake: ``ingest`` in the foreground and the ``watch`` daemon, sharing one path.

Both take ready units into the spool (:mod:`pipeline.spool`) and let workers
(:mod:`pipeline.worker`) process the queue. The daemon's watcher thread never OCRs: it only copies
files into the spool; the work happens in worker processes.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline import hostlock, queue, spool
from pipeline.jobcontext import sweep
from pipeline.progress import ProgressCallback, report
from pipeline.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unit:
    paths: tuple[Path, ...]
    names: tuple[str, ...]


def group_paths(paths: Sequence[Path], group_pattern: str) -> list[Unit]:
    """Files given together: single-page files of one batch (``scan_0042_p001.jpg`` ...) become one
    unit in page order, as the daemon's watcher groups them; everything else is a unit alone."""
    rx = re.compile(group_pattern, re.IGNORECASE) if group_pattern else None
    groups: dict[tuple[Path, str], list[tuple[int, Path]]] = {}
    units: list[Unit] = []
    for p in paths:
        m = rx.fullmatch(p.name) if rx else None
        if m:
            groups.setdefault((p.parent, m.group("batch")), []).append((int(m.group("page")), p))
        else:
            units.append(Unit((p,), (p.name,)))
    for members in groups.values():
        members.sort()
        units.append(Unit(tuple(p for _, p in members), tuple(p.name for _, p in members)))
    return units


def recover(ws: Workspace) -> None:
    """Before workers start: orphan spool copies, dead jobs' working folders and encrypted blobs
    that a killed worker wrote but never committed go."""
    removed = spool.recover(ws)
    stale = sweep(ws.path("work"))
    orphans = sweep_vault(ws)
    if removed or stale or orphans:
        log.info("recovered: %d orphan spool folder(s), %d stale working folder(s), %d uncommitted blob(s)",
                 len(removed), len(stale), len(orphans))


def sweep_vault(ws: Workspace, *, min_age: float | None = None) -> list[str]:
    """Remove vault blobs no document refers to, once older than twice a job's lease (a worker
    still inside its lease may be about to commit them)."""
    import time

    from sqlalchemy import select

    from archive_media.vault import Vault
    from pipeline.models import Document

    age = 2 * queue.DEFAULT_LEASE.total_seconds() if min_age is None else min_age
    vault = Vault(ws.path("vault"))
    with ws.transaction() as s:
        known = set(s.scalars(select(Document.vault_item).where(Document.vault_item.is_not(None))))
        known |= set(s.scalars(select(Document.original_item).where(Document.original_item.is_not(None))))
    now, removed = time.time(), []
    for item_id in list(vault.item_ids()):
        if item_id not in known and now - vault.path_of(item_id).stat().st_mtime >= age:
            vault.delete(item_id)
            removed.append(item_id)
    # half-written blobs of a worker killed while encrypting (atomic writes' temporary files)
    for tmp in ws.path("vault").glob("*/.tmp-*.part"):
        if now - tmp.stat().st_mtime >= age:
            tmp.unlink(missing_ok=True)
            removed.append(tmp.name)
    return removed


PARENT_WATCH_SECONDS = 1.0


def die_with_parent(parent: int) -> None:
    """A worker must not outlive the process that started it (``kill -9`` of the daemon): the
    kernel sends it SIGKILL when its parent dies (Linux ``PR_SET_PDEATHSIG``), and a thread
    watching the parent's pid does the same where that is not available. SIGKILL, because a
    worker ignores SIGTERM; killing a worker mid-job is safe (its job is freed and run again)."""
    import ctypes
    import os
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(PARENT_WATCH_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL)

    if os.getppid() != parent:  # the parent died before the death signal was set
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _worker_main(data_dir: str, config_file: str | None, name: str, threads: int, only: list[int] | None,
                 stop: multiprocessing.synchronize.Event | None, idle_exit: bool, parent: int | None = None,
                 log_level: int = logging.WARNING) -> None:
    import signal
    import sys

    from pipeline.worker import prepare_process, work

    if parent is not None:
        die_with_parent(parent)
    # a spawned process starts with no logging set up: the parent's level and format, and the
    # daemon's workers say what became of each input (one INFO line, no names)
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not idle_exit and log_level > logging.INFO:
        logging.getLogger("pipeline.worker").setLevel(logging.INFO)
    # the daemon stops workers through ``stop`` between jobs; a SIGTERM sent to the whole group
    # (systemd) must not kill one half-way through a job
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    prepare_process(threads)
    ws = Workspace.load(Path(data_dir), Path(config_file) if config_file else None)
    from pipeline.worker import UNTRUSTED_KEYS
    from pps_archive.errors import DiskFull

    try:
        work(ws, hostlock.worker_name(ws.data_dir, name), only=only, stop=stop, idle_exit=idle_exit)
    except UNTRUSTED_KEYS as exc:  # already logged; the parent stops intake on this exit code
        raise SystemExit(int(exc.exit_code)) from None
    except DiskFull:
        sys.exit(int(DiskFull.exit_code))  # the parent tells the user
    finally:
        ws.close()


def _untrusted_key_stop(ws: Workspace, exitcodes: Sequence[int | None]) -> None:
    """After worker processes: if one stopped on a key that failed its check, raise that error here."""
    from sqlalchemy import select

    from pipeline.models import Input
    from pipeline.worker import UNTRUSTED_KEYS

    for cls in UNTRUSTED_KEYS:
        if int(cls.exit_code) in exitcodes:
            phrase = cls.template.split(":")[0].split("}")[-1].strip()  # "is not authentic", "... cannot be trusted"
            with ws.transaction() as s:
                reason = s.scalars(select(Input.last_error).where(Input.state == "queued", Input.last_error.contains(phrase))
                                   .order_by(Input.id)).first()
            raise cls(reason or "a public key failed its authenticity check (see the log): nothing was encrypted to it")


def run_workers(ws: Workspace, config_file: Path | None, *, count: int, only: list[int] | None = None,
                stop: multiprocessing.synchronize.Event | None = None, idle_exit: bool = True) -> list[multiprocessing.Process]:
    """Start ``count`` worker processes (spawned: no state inherited but the environment). They
    die with this process."""
    import os

    ctx = multiprocessing.get_context("spawn")
    threads = ws.config.section("ocr")["tesseract_threads"]
    procs = []
    for i in range(count):
        p = ctx.Process(
            target=_worker_main, name=f"pps-worker-{i + 1}",
            args=(str(ws.data_dir), str(config_file) if config_file else None, f"w{i + 1}", threads, only, stop, idle_exit,
                  os.getpid(), logging.getLogger().getEffectiveLevel()),
            daemon=False,
        )
        p.start()
        procs.append(p)
    return procs


def ingest(ws: Workspace, config_file: Path | None, paths: Sequence[Path], *, profile: str = "ingest",
           keep: bool = False, workers: int | None = None, progress: ProgressCallback | None = None) -> list[dict]:
    """Take ``paths`` in and process them (and anything already queued), waiting until done.

    The jobs run only in worker processes, never in the calling one: a worker changes its own
    environment and temp dir (:func:`pipeline.worker.prepare_process`, ``private_temp``), so a
    threaded server may call this from any thread. ``progress`` counts the inputs finished
    (stage ``"ingest"``), polled from the queue while the workers run."""
    from pipeline.diskspace import disk_full, is_disk_full
    from pipeline.hostlock import active

    try:
        with active(ws.data_dir, lambda: recover(ws)):
            return _ingest(ws, config_file, paths, profile=profile, keep=keep, workers=workers, progress=progress)
    except Exception as exc:
        if is_disk_full(exc):  # inputs not taken stay where they were, those taken stay queued
            raise disk_full(ws.data_dir) from exc
        raise


#: how often ``ingest`` looks at the queue for its progress while the workers run, in seconds
PROGRESS_POLL_SECONDS = 0.5


def _ingest(ws: Workspace, config_file: Path | None, paths: Sequence[Path], *, profile: str, keep: bool,
            workers: int | None, progress: ProgressCallback | None) -> list[dict]:
    from pps_archive.errors import InputRefused

    group_pattern = next(iter(ws.config.scanner_profiles(ws.data_dir)), None)
    units = group_paths([Path(p) for p in paths], group_pattern.group_pattern if group_pattern else "")
    taken, refused = [], []
    for unit in units:
        why = {name: r for p, name in zip(unit.paths, unit.names, strict=True) if (r := spool.refusal(p))}
        if why:  # one bad page refuses its whole batch: a batch is never filed with a page missing
            refused.extend(_refused(unit, why))
            continue
        try:
            t = spool.take_in(ws, unit.paths, unit.names, profile, now=queue.utcnow(), keep_originals=keep)
        except InputRefused as exc:  # changed between the check and the take
            refused.extend(_refused(unit, {exc.fields["file"]: exc.fields["reason"]}))
            continue
        taken.append((unit, t))
    here = hostlock.host(ws.data_dir)
    with ws.transaction() as s:
        waiting = queue.pending(s, host=here)
    count = min(workers or ws.config.section("intake")["workers"], max(1, waiting))
    if waiting:
        procs = run_workers(ws, config_file, count=count)
        _wait_for(ws, procs, waiting, here, progress)
        _untrusted_key_stop(ws, [p.exitcode for p in procs])
        from pps_archive.errors import ExitCode

        if any(p.exitcode == ExitCode.DISK_FULL for p in procs):
            from pipeline.diskspace import disk_full

            raise disk_full(ws.data_dir)
    return [*refused, *(_report(ws, unit, t) for unit, t in taken)]


def _wait_for(ws: Workspace, procs: list[multiprocessing.Process], total: int, here: str,
              progress: ProgressCallback | None) -> None:
    """Join the workers; meanwhile report how many of the ``total`` queued inputs are finished
    (never fewer than last time, never more than ``total``)."""
    done = 0
    report(progress, "ingest", 0, total)
    for p in procs:
        while True:
            p.join(PROGRESS_POLL_SECONDS if progress is not None else None)
            if progress is not None:
                with ws.reader() as s:
                    now = min(total, max(done, total - queue.pending(s, host=here)))
                if now != done:
                    done = now
                    report(progress, "ingest", done, total)
            if not p.is_alive():
                break
    if done != total:
        report(progress, "ingest", total, total)
    for p in procs:
        if p.exitcode:
            log.warning("worker %s exited with %s; what it had not finished stays queued", p.name, p.exitcode)


def _refused(unit: Unit, why: dict[str, str]) -> list[dict]:
    """Report lines for the files of a unit that was not taken in (left as they are)."""
    out = []
    for name in unit.names:
        shown = spool.printable_name(name)
        reason = why.get(name) or f"not taken in: another page of its batch ({spool.printable_name(next(iter(why)))}) was refused"
        out.append({"file": shown, "input": None, "outcome": "refused", "documents": [], "reason": reason})
    log.warning("%d path(s) were refused and left as they are (the report names them)", len(out))  # no file names in logs
    return out


def _report(ws: Workspace, unit: Unit, t: spool.Taken) -> dict:
    from sqlalchemy import select

    from pipeline.models import Input, QuarantineEntry

    with ws.transaction() as s:
        row = s.get(Input, t.input_id)
        names = [spool.printable_name(n) for n in unit.names]
        out = {"file": names[0] if len(names) == 1 else names, "input": t.input_id,
               "outcome": t.outcome if t.outcome != "queued" else row.state,
               "documents": [d.id for d in row.documents] if t.outcome != "duplicate" else []}
        if t.quarantine_entry is not None:
            entry = s.get(QuarantineEntry, t.quarantine_entry)
        elif row.state == "quarantined":
            entry = s.scalars(select(QuarantineEntry).where(QuarantineEntry.input_id == row.id)).first()
        else:
            entry = None
        if entry is not None:
            out["reason"] = entry.reason
    return out


class Daemon:
    """``pps-archive watch``: the watcher thread takes files in; worker processes do the work."""

    def __init__(self, ws: Workspace, config_file: Path | None, folders: Sequence[Path] = ()) -> None:
        from scanners.watch import ScannerProfile, settings_from_config

        self.ws, self.config_file = ws, config_file
        profiles = ws.config.scanner_profiles(ws.data_dir)
        if folders:
            base = profiles[0] if profiles else None
            profiles = [dataclasses.replace(base, name=f"folder{i + 1}", folder=Path(f).absolute()) for i, f in enumerate(folders)]
        self.profiles = [ScannerProfile(**dataclasses.asdict(p)) for p in profiles]
        self.settings = settings_from_config(ws.config.section("intake"))
        self.stop_event = multiprocessing.get_context("spawn").Event()
        self._stopped = threading.Event()

    def _on_ready(self, unit) -> None:  # noqa: ANN001 - scanners.watch.ReadyInput
        from pipeline.diskspace import is_disk_full

        try:
            t = spool.take_in(self.ws, unit.paths, unit.names, unit.profile, now=queue.utcnow(),
                              expect=[(f.dev, f.ino, f.size, f.mtime_ns) for f in unit.fingerprints])
        except Exception as exc:
            if is_disk_full(exc):
                log.error("no space left in the data directory: files stay in the drop folder until space is freed")
            raise  # the watcher offers the unit again later
        log.info("taken in: input %s (%s)", t.input_id, t.outcome)

    def _on_refused(self, path: Path, reason: str) -> None:
        log.warning("a drop-folder entry was refused: %s", reason)

    def run(self) -> None:
        from pipeline.diskspace import disk_full, is_disk_full
        from pipeline.hostlock import active

        try:
            with active(self.ws.data_dir, lambda: recover(self.ws)):
                self._run()
        except Exception as exc:
            if is_disk_full(exc):
                raise disk_full(self.ws.data_dir) from exc
            raise

    def _run(self) -> None:
        from scanners.watch import DropFolderWatcher

        for p in self.profiles:
            p.folder.mkdir(parents=True, exist_ok=True)
        workers = run_workers(self.ws, self.config_file, count=self.ws.config.section("intake")["workers"],
                              stop=self.stop_event, idle_exit=False)
        watcher = DropFolderWatcher(self.profiles, self.settings, self._on_ready, on_refused=self._on_refused)
        watcher.start()
        log.warning("watching %d folder(s) with %d worker(s)", len(self.profiles), len(workers))
        try:
            while not self._stopped.wait(1.0):
                _untrusted_key_stop(self.ws, [p.exitcode for p in workers])  # never restart on a forged key
                for i, p in enumerate(workers):
                    if not p.is_alive():  # a worker died (OOM, kill): free its job, start another
                        log.error("worker %s exited with %s; starting a new one", p.name, p.exitcode)
                        with self.ws.transaction() as s:
                            spool.free_dead_workers(self.ws, s)
                        workers[i] = run_workers(self.ws, self.config_file, count=1, stop=self.stop_event, idle_exit=False)[0]
        finally:
            watcher.stop()
            self.stop_event.set()
            for p in workers:
                p.join()

    def stop(self) -> None:
        self._stopped.set()
