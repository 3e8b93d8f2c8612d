"""The page of a job started from another page (a disc build, a disposal run): it refreshes itself
while the job runs, then shows the outcome and a link onward."""

from __future__ import annotations

import copy

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline.web.app import current, render
from pipeline.web.jobs import jobs

nav: list[tuple[str, str, str | None]] = []


async def job_page(request: Request) -> Response:
    current(request)
    job = jobs(request).get(request.path_params["job"])
    if job is None:
        raise HTTPException(404, "No such job: jobs are kept while the server runs (a restart forgets them).")
    job = copy.copy(job)  # one moment's state: the thread may end the job while the page renders
    status = job.status if job.state == "failed" else 200
    return render(request, "jobs_show.html", status_code=status, job=job)


routes = [Route("/jobs/{job}", job_page, methods=["GET"])]
