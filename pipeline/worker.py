"""Workers: claim a queued input, run the recipe of :mod:`pipeline.process`, commit or quarantine.

A worker is a process (OCRmyPDF holds a process-wide lock). It never holds a database transaction
while OCR runs: it reads and decides in short transactions, encrypts outside them, and commits the
documents together with the input's ``done`` state only if it still holds the job's lease, which a
heartbeat renews while the job runs. Every temporary file of a job — OCRmyPDF's and Tesseract's
included — lives in the job's private folder, removed when the job ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline import audit, queue, spool
from pipeline.diskspace import disk_full, is_disk_full
from pipeline.jobcontext import JobContext
from pipeline.models import Input
from pipeline.workspace import Workspace
from pps_archive.errors import BadInput, KeyNotAuthentic, PPSArchiveError, SigningKeyUntrusted, SpoolCopyMissing

log = logging.getLogger(__name__)

SECRET_ENV = ("PPS_ARCHIVE_PASSPHRASE", "PPS_ARCHIVE_PASSPHRASE_FILE")
# a public key that fails its authenticity check stops the worker (and intake) instead of a retry
UNTRUSTED_KEYS = (KeyNotAuthentic, SigningKeyUntrusted)


class LeaseLost(Exception):
    """Another worker took the job over (this one was presumed dead)."""


class CaseChanged(Exception):
    """A case's consent or disposal changed while the job ran: the job is run again."""


@dataclass(frozen=True)
class Outcome:
    input_id: int
    state: str  # done | quarantined | retry | lost | missing (no spool copy here: left queued)
    documents: tuple[int, ...] = ()
    reason: str | None = None
    pages: int = 0
    decisions: tuple[str, ...] = ()  # retain | shred | review, one a document

    def summary(self) -> str:
        """One line for the log: the input's id, what became of it, counts; never a name."""
        if self.state == "done":
            counts = ", ".join(f"{self.decisions.count(d)} {d}" for d in ("retain", "shred", "review") if d in self.decisions)
            return (f"input {self.input_id}: done, {self.pages} page(s), {len(self.documents)} document(s)"
                    + (f" ({counts})" if counts else ""))
        if self.state == "quarantined":
            return f"input {self.input_id}: quarantined (see 'quarantine list')"
        return f"input {self.input_id}: {self.state}"


class HarmlessTesseractNoise(logging.Filter):
    """Drop Tesseract's "Error during processing." when OCRmyPDF is about to treat that run as
    harmless: orientation or skew detection on a page with too few characters, or an empty page
    (OCRmyPDF logs Tesseract's output at ERROR before it decides). Any other Tesseract error
    line stays, and a run OCRmyPDF does not excuse still fails the job."""

    HARMLESS = ("Too few characters. Skipping this page", "Empty page!!")
    NOISE = "Error during processing"

    def __init__(self) -> None:
        super().__init__()
        self._excused = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(h in message for h in self.HARMLESS):
            self._excused.value = True
            return record.levelno < logging.WARNING
        if self.NOISE in message and getattr(self._excused, "value", False):
            self._excused.value = False
            return False
        self._excused.value = False
        return True


TESSERACT_LOGGER = "ocrmypdf._exec.tesseract"


def silence_harmless_tesseract_noise() -> None:
    logger = logging.getLogger(TESSERACT_LOGGER)
    if not any(isinstance(f, HarmlessTesseractNoise) for f in logger.filters):
        logger.addFilter(HarmlessTesseractNoise())


def prepare_process(threads: int) -> dict[str, str | None]:
    """For a worker: Tesseract's thread cap, and no secret in what its children inherit (OCRmyPDF
    starts Tesseract and Ghostscript with this process's environment); Tesseract's harmless
    "Error during processing." lines silenced. Returns what it changed in the environment."""
    silence_harmless_tesseract_noise()
    saved = {name: os.environ.get(name) for name in (*SECRET_ENV, "OMP_THREAD_LIMIT")}
    os.environ["OMP_THREAD_LIMIT"] = str(threads)
    for name in SECRET_ENV:
        os.environ.pop(name, None)
    return saved


def restore_environment(saved: dict[str, str | None]) -> None:
    """Put back what :func:`prepare_process` changed (for a test that runs a stage in its own process;
    ``ingest`` never runs a job in the calling process)."""
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.contextmanager
def private_temp(folder: Path) -> Iterator[None]:
    """Send every library's and child's temporary files into the job's folder."""
    saved_dir, saved_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir, os.environ["TMPDIR"] = str(folder), str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved_dir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env


@contextlib.contextmanager
def heartbeat(ws: Workspace, input_id: int, worker: str, every: float | None = None) -> Iterator[None]:
    """Renew the job's lease while it runs, so a long batch is not taken over by another worker."""
    stop = threading.Event()
    every = every or queue.DEFAULT_LEASE.total_seconds() / 3

    def beat() -> None:
        while not stop.wait(every):
            try:
                with ws.transaction() as s:
                    row = s.get(Input, input_id, with_for_update=True)
                    if row is None or row.state != "processing" or row.claimed_by != worker:
                        return
                    row.lease_until = queue.utcnow() + queue.DEFAULT_LEASE
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease
                log.warning("input %s: could not renew the lease", input_id, exc_info=False)

    thread = threading.Thread(target=beat, name=f"lease-{input_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def quarantine(ws: Workspace, input_id: int, reason: str) -> Outcome:
    """Stash the spool copy encrypted, record the quarantine, and only then drop the spool copy."""
    from pipeline import keystore
    from pipeline import quarantine as q

    now = queue.utcnow()
    with ws.transaction() as s:
        row = s.get(Input, input_id)
        sha, recipient = row.sha256, keystore.archive_recipient(s, data_dir=ws.data_dir)
    if not spool.spool_dir(ws, sha).is_dir():
        raise SpoolCopyMissing(input=input_id, data_dir=ws.data_dir)
    path = q.stash(ws, input_id, sha, recipient, now=now)
    with ws.transaction() as s:
        row = s.get(Input, input_id, with_for_update=True)
        q.quarantine_input(ws, s, row, reason, now=now, path=path)
    shutil.rmtree(spool.spool_dir(ws, sha), ignore_errors=True)
    return Outcome(input_id, "quarantined", reason=reason)


def run_job(ws: Workspace, input_id: int, worker: str) -> Outcome:
    from pipeline import process

    with ws.transaction() as s:
        row = s.get(Input, input_id)
        attempt, sha, last = row.attempts, row.sha256, row.last_error
    if not spool.spool_dir(ws, sha).is_dir():
        # never quarantine (or fail) what this worker cannot see: the copy may be another data
        # directory's; the job goes back to the queue unfinished and this worker leaves it alone
        raise SpoolCopyMissing(input=input_id, data_dir=ws.data_dir)
    if attempt > queue.MAX_ATTEMPTS:
        return quarantine(ws, input_id, (
            f"processing failed {attempt - 1} times (last: {last or 'the worker was stopped or crashed each time'}): "
            f"check that the file opens and is a scan, then drop it in again; if it fails again, report it with this message"))
    with JobContext(ws.path("work"), input_id, attempt) as jc, private_temp(jc.root), heartbeat(ws, input_id, worker):
        try:
            scan = process.open_scan(ws, row)
            reader = ws.config.section("barcodes")["reader"]
            marks = [process.page_mark(page, ws.config, reader) for page in scan.pages]
            segments = process.split(scan.pages, marks)
            index = process.register_index(ws)
            segments = process.check_unread_pages(segments, ws.config, index)
            prepared = process.read_segments(ws, jc, segments, scan, index)
        except BadInput as exc:
            if is_disk_full(exc):  # a tool that could not write says it could not read: not the file's fault
                raise disk_full(ws.data_dir) from exc
            return quarantine(ws, input_id, exc.fields.get("reason", str(exc)))
        empty = [p.segment for p in prepared if not p.segment.pages]
        prepared = [p for p in prepared if p.segment.pages]
        with ws.transaction() as s:
            plans = process.plan(ws, s, prepared)
        from archive_media.vault import Vault

        vault = Vault(ws.path("vault"))
        items = []
        try:
            original = process.original_pdf(scan, plans)
            for p in plans:
                items.append(process.encrypt_plan(vault, p, original))
            with ws.transaction() as s:
                row = s.get(Input, input_id, with_for_update=True)
                if row.state != "processing" or row.claimed_by != worker or row.attempts != attempt:
                    raise LeaseLost
                if not process.plans_still_hold(s, plans, ws.config):
                    raise CaseChanged("a case's consent or status changed while its documents were read; reading them again")
                ids = process.commit_plans(s, row, plans, items, len(scan.pages), now=queue.utcnow())
                for seg in empty:
                    audit.record(s, "intake", "coversheet.empty", case_ref=seg.sheet.case_ref if seg.sheet else None,
                                 subject=f"input:{input_id}")
        except BaseException:
            for item in items:
                for item_id in item.item_ids() if item is not None else ():
                    vault.delete(item_id)
            raise
    shutil.rmtree(spool.spool_dir(ws, sha), ignore_errors=True)
    return Outcome(input_id, "done", tuple(ids), pages=len(scan.pages), decisions=tuple(p.decision.decision for p in plans))


#: how long a daemon's worker waits before trying again when the data directory is full
DISK_FULL_BACKOFF = 30.0


def _release(ws: Workspace, input_id: int, worker: str, reason: str, *, refund: bool = False) -> None:
    """Put a job back in the queue; ``refund``: the attempt does not count (not the input's fault)."""
    with ws.transaction() as s:
        row = s.get(Input, input_id, with_for_update=True)
        if row.state == "processing" and row.claimed_by == worker:
            row.state, row.claimed_by, row.lease_until, row.last_error = "queued", None, None, reason[:500]
            if refund:
                row.attempts = max(0, row.attempts - 1)
            audit.record(s, "intake", "input.retry", subject=f"input:{input_id}", attempt=row.attempts, error=reason[:200])


def _release_after_disk_full(ws: Workspace, input_id: int, worker: str) -> None:
    try:
        _release(ws, input_id, worker, "no space left in the data directory", refund=True)
    except Exception:  # noqa: BLE001 - the database may be on the full disk: the job's lease frees it later
        log.warning("input %s: could not put the job back (the database's disk is full too?)", input_id)


def work(ws: Workspace, worker: str, *, only: Iterable[int] | None = None, stop: threading.Event | None = None,
         idle_exit: bool = False, poll: float = 1.0) -> list[Outcome]:
    """Claim and run jobs until ``stop`` is set, or (``idle_exit``) nothing is left to claim here."""
    from pipeline import hostlock

    only_set = set(only) if only is not None else None
    outcomes = []
    missing: set[int] = set()  # inputs whose spool copy this worker cannot see: not claimed again
    while not (stop and stop.is_set()):
        with ws.transaction() as s:
            row = queue.claim(s, worker, now=queue.utcnow(), only=only_set, host=hostlock.host(ws.data_dir), exclude=missing)
            input_id = row.id if row else None
        if input_id is None:
            with ws.transaction() as s:
                left = queue.pending(s, only_set, host=hostlock.host(ws.data_dir), exclude=missing)
            if idle_exit and left == 0:
                break
            if left:  # held by others: free the jobs of workers of ours that are gone (not their leases)
                with ws.transaction() as s:
                    spool.free_dead_workers(ws, s)
            (stop.wait(poll) if stop else time.sleep(poll))
            continue
        try:
            outcomes.append(run_job(ws, input_id, worker))
            log.info("%s", outcomes[-1].summary())
        except LeaseLost:
            log.warning("input %s: lease lost to another worker", input_id)
            outcomes.append(Outcome(input_id, "lost"))
        except UNTRUSTED_KEYS as exc:  # the key store was changed: stop intake, leave the input queued
            log.critical("input %s: %s", input_id, exc)
            _release(ws, input_id, worker, str(exc), refund=True)
            raise
        except SpoolCopyMissing as exc:
            log.error("input %s: no spool copy in this data directory; left queued", input_id)
            missing.add(input_id)
            _release(ws, input_id, worker, str(exc))
            outcomes.append(Outcome(input_id, "missing", reason=str(exc)))
        except Exception as exc:
            if not is_disk_full(exc):
                outcomes.append(_failed(ws, input_id, worker, exc))
                continue
            log.error("input %s: no space left in the data directory; the input stays queued (free some space)", input_id)
            _release_after_disk_full(ws, input_id, worker)
            outcomes.append(Outcome(input_id, "retry", reason="disk full"))
            if idle_exit:
                raise disk_full(ws.data_dir) from exc
            (stop.wait(DISK_FULL_BACKOFF) if stop else time.sleep(DISK_FULL_BACKOFF))
    return outcomes


def _failed(ws: Workspace, input_id: int, worker: str, exc: Exception) -> Outcome:
    """A job that failed for a reason other than a full disk: put back for another attempt (a bug
    or a crashing tool must not stop the worker)."""
    if isinstance(exc, (PPSArchiveError, CaseChanged)):
        log.error("input %s: %s (will retry)", input_id, exc)
        reason = str(exc)
    else:
        log.error("input %s: unexpected %s (will retry)", input_id, type(exc).__name__)
        reason = f"{type(exc).__name__}: {exc}"
    _release(ws, input_id, worker, reason)
    return Outcome(input_id, "retry", reason=reason)
