"""Workers: claim a queued input, run the recipe of :mod:`pipeline.process`, commit or quarantine.

A worker is a process (OCRmyPDF holds a process-wide lock). It never holds a database transaction
while OCR runs: it reads and decides in short transactions, encrypts outside them, and commits the
documents together with the input's ``done`` state only if it still holds the job's lease.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline import audit, queue, spool
from pipeline.jobcontext import JobContext
from pipeline.models import Input
from pipeline.workspace import Workspace
from pps_archive.errors import BadInput, PPSArchiveError

log = logging.getLogger(__name__)

SECRET_ENV = ("PPS_ARCHIVE_PASSPHRASE", "PPS_ARCHIVE_PASSPHRASE_FILE")


class LeaseLost(Exception):
    """Another worker took the job over (this one was too slow or presumed dead)."""


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


def run_job(ws: Workspace, input_id: int, worker: str) -> Outcome:
    from pipeline import process, quarantine

    with ws.transaction() as s:
        row = s.get(Input, input_id)
        attempt, sha = row.attempts, row.sha256
        if attempt > queue.MAX_ATTEMPTS:
            last = row.last_error or "the worker was stopped or crashed each time"
            entry_reason = (f"processing failed {attempt - 1} times (last: {last}): check that the file opens and "
                            f"is a scan, then drop it in again; if it fails again, report it with this message")
            quarantine.quarantine_input(ws, s, row, entry_reason, now=queue.utcnow())
            return Outcome(input_id, "quarantined", reason=entry_reason)
    with JobContext(ws.path("work"), input_id, attempt) as jc:
        try:
            scan = process.open_scan(ws, row)
            reader = ws.config.section("barcodes")["reader"]
            marks = [process.page_mark(page, ws.config, reader) for page in scan.pages]
            segments, _ = process.split(scan.pages, marks)
            segments = process.check_unread_pages(segments, ws.config)
            prepared = process.read_segments(ws, jc, segments, scan)
            empty = [p.segment for p in prepared if not p.segment.pages]
            prepared = [p for p in prepared if p.segment.pages]
        except BadInput as exc:
            with ws.transaction() as s:
                row = s.get(Input, input_id, with_for_update=True)
                quarantine.quarantine_input(ws, s, row, exc.fields.get("reason", str(exc)), now=queue.utcnow())
            return Outcome(input_id, "quarantined", reason=str(exc))
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
    """Claim and run jobs until ``stop`` is set, or (``idle_exit``) nothing is left to claim."""
    only_set = set(only) if only is not None else None
    outcomes = []
    while not (stop and stop.is_set()):
        with ws.transaction() as s:
            row = queue.claim(s, worker, now=queue.utcnow(), only=only_set)
            input_id = row.id if row else None
        if input_id is None:
            with ws.transaction() as s:
                left = queue.pending(s, only_set)
            if idle_exit and left == 0:
                break
            (stop.wait(poll) if stop else time.sleep(poll))
            continue
        try:
            outcomes.append(run_job(ws, input_id, worker))
        except LeaseLost:
            log.warning("input %s: lease lost to another worker", input_id)
            outcomes.append(Outcome(input_id, "lost"))
        except PPSArchiveError as exc:
            log.error("input %s: %s (will retry)", input_id, exc)
            _release(ws, input_id, worker, str(exc))
            outcomes.append(Outcome(input_id, "retry", reason=str(exc)))
        except Exception as exc:  # a bug or a crashing tool must not stop the worker
            log.exception("input %s: unexpected error (will retry)", input_id)
            _release(ws, input_id, worker, f"{type(exc).__name__}: {exc}")
            outcomes.append(Outcome(input_id, "retry", reason=f"{type(exc).__name__}: {exc}"))
    return outcomes
