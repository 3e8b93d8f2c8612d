"""Long work started from a page (a disc build, a disposal run): a background thread per job, its
progress kept in the app's memory for a page that refreshes itself (no script needed).

The job calls one library function with a :mod:`pipeline.progress` callback; the callback only
stores the last value (a stage and counts, never a name). A library error ends the job with its
message and HTTP status, which the job's page shows; anything else is logged and shown as an
unexpected failure. Jobs live as long as the server process, the newest :data:`KEEP` of them.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from pipeline.progress import Progress, ProgressCallback
from pps_archive.errors import PPSArchiveError

log = logging.getLogger("pps_archive.web")

#: finished jobs kept for their pages
KEEP = 50


@dataclass
class Job:
    id: str
    title: str
    owner: str
    started: dt.datetime
    stage: str = ""
    done: int = 0
    total: int = 0
    state: str = "running"  # running | done | failed
    result: Any = None
    error: str | None = None
    error_kind: str | None = None
    status: int = 200
    finished: dt.datetime | None = None
    #: where the job's page links once it is done (may use the result)
    next_url: Callable[[Any], str] | None = field(default=None, repr=False)

    def progress(self, p: Progress) -> None:
        self.stage, self.done, self.total = p.stage, p.done, p.total

    @property
    def link(self) -> str | None:
        if self.state != "done" or self.next_url is None:
            return None
        return self.next_url(self.result)


class JobStore:
    """The jobs of one server process (thread-safe)."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, title: str, owner: str, work: Callable[[ProgressCallback], Any], *,
              next_url: Callable[[Any], str] | None = None) -> Job:
        """Run ``work(progress)`` in a new thread; returns the job at once."""
        job = Job(id=secrets.token_urlsafe(12), title=title, owner=owner, started=dt.datetime.now(dt.UTC), next_url=next_url)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].state == "running":
                    break
                del self._jobs[oldest]

        def run() -> None:
            try:
                job.result = work(job.progress)
                job.state = "done"
            except PPSArchiveError as exc:
                job.error, job.error_kind = str(exc), type(exc).__name__
                job.status = exc.http_status if exc.http_status != 500 else 400
                job.state = "failed"
            except Exception:  # noqa: BLE001 - a job's thread must end with a page, not a traceback
                log.exception("job %s (%s) failed", job.id, title)
                job.error, job.status, job.state = "an unexpected error ended it: see the server's log", 500, "failed"
            finally:
                job.finished = dt.datetime.now(dt.UTC)

        threading.Thread(target=run, name=f"pps-web-job-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def running(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.state == "running"]


_STORE_LOCK = threading.Lock()


def jobs(request: Request) -> JobStore:
    """The app's job store (made on first use)."""
    state = request.app.state
    with _STORE_LOCK:
        store = getattr(state, "jobs", None)
        if store is None:
            store = state.jobs = JobStore()
    return store
