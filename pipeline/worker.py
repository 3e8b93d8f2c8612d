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
from pipeline.jobcontext import JobContext
from pipeline.models import Input
from pipeline.workspace import Workspace
from pps_archive.errors import BadInput, PPSArchiveError

log = logging.getLogger(__name__)

SECRET_ENV = ("PPS_ARCHIVE_PASSPHRASE", "PPS_ARCHIVE_PASSPHRASE_FILE")


class LeaseLost(Exception):
    """Another worker took the job over (this one was presumed dead)."""


class CaseChanged(Exception):
    """A case's consent or disposal changed while the job ran: the job is run again."""


@dataclass(frozen=True)
class Outcome:
    input_id: int
    state: str  # done | quarantined | retry | lost
    documents: tuple[int, ...] = ()
    reason: str | None = None


def prepare_process(threads: int) -> dict[str, str | None]:
    """For a worker: Tesseract's thread cap, and no secret in what its children inherit (OCRmyPDF
    starts Tesseract and Ghostscript with this process's environment). Returns what it changed."""
    saved = {name: os.environ.get(name) for name in (*SECRET_ENV, "OMP_THREAD_LIMIT")}
    os.environ["OMP_THREAD_LIMIT"] = str(threads)
    for name in SECRET_ENV:
        os.environ.pop(name, None)
    return saved


def restore_environment(saved: dict[str, str | None]) -> None:
    """After a foreground worker (``ingest`` in-process): put back what :func:`prepare_process` changed."""
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
        sha, recipient = row.sha256, keystore.archive_recipient(s)
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
            segments = process.check_unread_pages(segments, ws.config)
            prepared = process.read_segments(ws, jc, segments, scan)
        except BadInput as exc:
            return quarantine(ws, input_id, exc.fields.get("reason", str(exc)))
        empty = [p.segment for p in prepared if not p.segment.pages]
        prepared = [p for p in prepared if p.segment.pages]
        with ws.transaction() as s:
            plans = process.plan(ws, s, prepared)
        from archive_media.vault import Vault

        vault = Vault(ws.path("vault"))
        items = []
        try:
            for p in plans:
                items.append(vault.put(p.pdf, p.recipient) if p.pdf is not None else None)
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
                if item is not None:
                    vault.delete(item.item_id)
            raise
    shutil.rmtree(spool.spool_dir(ws, sha), ignore_errors=True)
    log.info("input %s done: %d document(s)", input_id, len(ids))
    return Outcome(input_id, "done", tuple(ids))


def _release(ws: Workspace, input_id: int, worker: str, reason: str) -> None:
    with ws.transaction() as s:
        row = s.get(Input, input_id, with_for_update=True)
        if row.state == "processing" and row.claimed_by == worker:
            row.state, row.claimed_by, row.lease_until, row.last_error = "queued", None, None, reason[:500]
            audit.record(s, "intake", "input.retry", subject=f"input:{input_id}", attempt=row.attempts, error=reason[:200])


def work(ws: Workspace, worker: str, *, only: Iterable[int] | None = None, stop: threading.Event | None = None,
         idle_exit: bool = False, poll: float = 1.0) -> list[Outcome]:
    """Claim and run jobs until ``stop`` is set, or (``idle_exit``) nothing is left to claim here."""
    from pipeline import hostlock

    only_set = set(only) if only is not None else None
    outcomes = []
    while not (stop and stop.is_set()):
        with ws.transaction() as s:
            row = queue.claim(s, worker, now=queue.utcnow(), only=only_set, host=hostlock.host())
            input_id = row.id if row else None
        if input_id is None:
            with ws.transaction() as s:
                left = queue.pending(s, only_set, host=hostlock.host())
            if idle_exit and left == 0:
                break
            (stop.wait(poll) if stop else time.sleep(poll))
            continue
        try:
            outcomes.append(run_job(ws, input_id, worker))
        except LeaseLost:
            log.warning("input %s: lease lost to another worker", input_id)
            outcomes.append(Outcome(input_id, "lost"))
        except (PPSArchiveError, CaseChanged) as exc:
            log.error("input %s: %s (will retry)", input_id, exc)
            _release(ws, input_id, worker, str(exc))
            outcomes.append(Outcome(input_id, "retry", reason=str(exc)))
        except Exception as exc:  # a bug or a crashing tool must not stop the worker
            log.error("input %s: unexpected %s (will retry)", input_id, type(exc).__name__)
            _release(ws, input_id, worker, f"{type(exc).__name__}: {exc}")
            outcomes.append(Outcome(input_id, "retry", reason=f"{type(exc).__name__}: {exc}"))
    return outcomes
