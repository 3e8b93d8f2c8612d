"""The annual disposal: a dry-run plan for any date; a plan prepared by one person and approved,
by its hash, by a different manager; its execution in the background with progress; the
certificate to download and keep. The discs may be put in the server's drive one at a time, over
several sittings (a round of discs, :mod:`pipeline.disc_rounds`), and the plan prepared from the
discs presented. The two-person rule and every refusal are the library's
(:mod:`pipeline.disposal_plans`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from pipeline import authority, disc_rounds, disposal, disposal_plans
from pipeline.db import check_id
from pipeline.web.app import call, current, form, render, see_other, workspace
from pipeline.web.jobs import jobs
from pipeline.web.views._common import day, disc_source, paths, reading, text, today
from pps_archive.errors import InvalidValue

nav = [("/disposal", "Disposal", None)]

APPROVE_WORD, EXECUTE_WORD = "APPROVE", "DESTROY"


def _plan_id(request: Request) -> int:
    return check_id(int(request.path_params["plan"]), "a disposal plan")


async def disposal_page(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    plans = await call(disposal_plans.list_plans, ws)
    runs = await call(reading, ws, disposal.finished_runs)
    return render(request, "disposal_list.html", plans=plans, runs=runs, today=today().isoformat(),
                  approvers=disposal_plans.approvers_required(ws.config))


async def disposal_dry_run(request: Request) -> Response:
    current(request)
    data = await form(request)
    ws = workspace(request)
    as_of = day(text(data, "as_of"), "the date of the run", default=today(), days_ahead=365 * 100)
    plan = await call(disposal.dry_run, ws, paths(ws, text(data, "media")), as_of)
    return render(request, "disposal_plan.html", plan=plan, saved=None)


async def disposal_prepare(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    saved = await call(disposal_plans.prepare, ws, paths(ws, text(data, "media")), today(), auth=sess.auth)
    return see_other(request, f"/disposal/plans/{saved['id']}",
                     flash=f"Plan {saved['id']} prepared: a manager other than {saved['prepared_by']} approves it.")


async def disposal_show(request: Request) -> Response:
    current(request)
    saved = await call(disposal_plans.show, workspace(request), _plan_id(request))
    return render(request, "disposal_plan.html", plan=saved["plan"], saved=saved, approve_word=APPROVE_WORD,
                  execute_word=EXECUTE_WORD)


async def disposal_approve(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    plan_id = _plan_id(request)
    consent = authority.typed_confirmation(text(data, "confirm"), APPROVE_WORD, f"approving disposal plan {plan_id}")
    done = await call(disposal_plans.approve, workspace(request), plan_id, text(data, "sha256"), auth=sess.auth, consent=consent)
    return see_other(request, f"/disposal/plans/{plan_id}", flash=f"Plan {plan_id} approved by {done['approved_by']}.")


async def disposal_execute(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    plan_id = _plan_id(request)
    consent = authority.typed_confirmation(text(data, "confirm"), EXECUTE_WORD,
                                           f"destroying the records disposal plan {plan_id} lists, for good")
    sources = paths(ws, text(data, "media"))
    job = jobs(request).start(
        f"Disposal run of plan {plan_id}", sess.account,
        lambda progress: disposal_plans.execute(ws, plan_id, sources, auth=sess.auth, consent=consent, progress=progress),
        next_url=lambda cert: f"/disposal/runs/{cert['run']}")
    return see_other(request, f"/jobs/{job.id}")


async def disposal_run(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    run_id = check_id(int(request.path_params["run"]), "a disposal run")
    runs = await call(reading, ws, disposal.finished_runs)
    run = next((r for r in runs if r["run"] == run_id), None)
    if run is None:
        from pps_archive.errors import NotFound

        raise NotFound(f"no finished disposal run {run_id}")
    return render(request, "disposal_run.html", run=run)


async def disposal_certificate(request: Request) -> Response:
    current(request)
    run_id = check_id(int(request.path_params["run"]), "a disposal run")
    kind = request.path_params["kind"]
    path = await call(disposal.certificate_file, workspace(request), run_id, kind)
    return FileResponse(path, media_type="application/pdf" if kind == "pdf" else "application/json", filename=path.name,
                        headers={"cache-control": "no-store"})


# ---- the discs put in one at a time (a round of discs) --------------------------------------------

ROUND = {"purpose": disc_rounds.DISPOSE, "title": "Discs for the disposal run", "page": "/disposal/round",
         "read": "/disposal/round/read", "new": "/disposal/round/new", "prepare": "/disposal/round/prepare"}
DEFAULT_DEVICE = "/dev/sr0"


async def round_page(request: Request) -> Response:
    sess = current(request)
    st = await call(disc_rounds.overview, workspace(request), disc_rounds.DISPOSE, auth=sess.auth)
    return render(request, "discs_round.html", st=st, r=None, where=ROUND, device=DEFAULT_DEVICE)


async def round_read(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    request.state.back = ROUND["page"]
    source = disc_source(workspace(request), data)
    out = await call(disc_rounds.present_next, workspace(request), disc_rounds.DISPOSE, source, auth=sess.auth)
    return render(request, "discs_round.html", st=out["round"], r=out["result"], where=ROUND, device=str(source))


async def round_new(request: Request) -> Response:
    sess = current(request)
    await form(request)
    rid = await call(disc_rounds.restart, workspace(request), disc_rounds.DISPOSE, auth=sess.auth)
    return see_other(request, ROUND["page"], flash=f"Round {rid} started: put the discs in one at a time.")


async def round_prepare(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    request.state.back = ROUND["page"]
    value = text(data, "round").strip()
    if not value.isdigit():
        raise InvalidValue("no round of discs to prepare the plan from: put the discs in first")
    saved = await call(disposal_plans.prepare, workspace(request), [], today(), auth=sess.auth,
                       round=check_id(int(value), "a round of discs"))
    return see_other(request, f"/disposal/plans/{saved['id']}",
                     flash=f"Plan {saved['id']} prepared from round {value}: a manager other than {saved['prepared_by']} "
                           f"approves it.")


routes = [
    Route("/disposal", disposal_page, methods=["GET"]),
    Route("/disposal/dry-run", disposal_dry_run, methods=["POST"]),
    Route("/disposal/prepare", disposal_prepare, methods=["POST"]),
    Route("/disposal/round", round_page, methods=["GET"]),
    Route("/disposal/round/read", round_read, methods=["POST"]),
    Route("/disposal/round/new", round_new, methods=["POST"]),
    Route("/disposal/round/prepare", round_prepare, methods=["POST"]),
    Route("/disposal/plans/{plan:int}", disposal_show, methods=["GET"]),
    Route("/disposal/plans/{plan:int}/approve", disposal_approve, methods=["POST"]),
    Route("/disposal/plans/{plan:int}/execute", disposal_execute, methods=["POST"]),
    Route("/disposal/runs/{run:int}", disposal_run, methods=["GET"]),
    Route("/disposal/runs/{run:int}/certificate.{kind}", disposal_certificate, methods=["GET"]),
]
