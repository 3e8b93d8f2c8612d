"""Discs: what the next build puts on which disc (and what waits for a fuller disc, until when),
building (in the background, with progress), downloading an image or burning it to the server's
drive (in the background: written, read back and verified from the drive), verifying a disc from
the drive, the yearly read-back disc by disc (a round of discs), the discs due for re-reading and
those without error-correction data, where each disc is kept, and the discs to destroy or
consolidate with the record of a disc destroyed."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from starlette.exceptions import HTTPException

from pipeline import authority, burning, disc_rounds, media
from pipeline.web.app import call, current, flash_url, form, render, see_other, workspace
from pipeline.web.jobs import jobs
from pipeline.web.views._common import disc_source, in_transaction, text, today
from pps_archive.errors import InvalidValue

nav = [("/discs", "Discs", None)]


def _overview(ws) -> dict:  # noqa: ANN001
    with ws.reader() as s:
        report = media.plan_report(s, ws.config)
        return {"register": media.register(s), "planned": [d.as_dict() for d in report.discs],
                "waiting": report.summary(), "retire": media.retirements(s, today()),
                "reread": media.discs_due_for_reread(s, ws.config, today()),
                "reread_months": ws.config.section("media")["reread_months"],
                "without_ecc": media.without_error_correction(s)}


async def discs_page(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    data = await call(_overview, ws)
    running = jobs(request).running()
    building = [j for j in running if j.title == BUILD_TITLE]
    burning_now = [j for j in running if j.title.startswith(BURN_TITLE)]
    return render(request, "discs_list.html", **data, building=building, burning=burning_now, device=DEFAULT_DEVICE)


BUILD_TITLE = "Building discs"


async def discs_build(request: Request) -> Response:
    sess = current(request)
    await form(request)
    ws = workspace(request)
    out = await call(media.images_dir, ws)
    job = jobs(request).start(
        BUILD_TITLE, sess.account,
        lambda progress: media.build(ws, out, auth=sess.auth, today=today(), progress=progress),
        next_url=lambda built: flash_url(request, "/discs", f"Built {len(built)} disc(s): download each image and burn it to a CD-R."
                                         if built else "Nothing to build: every retained document is on a disc."))
    return see_other(request, f"/jobs/{job.id}")


async def discs_image(request: Request) -> Response:
    current(request)
    path = await call(media.image_file, workspace(request), request.path_params["label"])
    return FileResponse(path, media_type="application/octet-stream", filename=path.name,
                        headers={"cache-control": "no-store"})


async def discs_verify(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    result = await call(media.verify, ws, disc_source(ws, data), full=bool(data.get("full")), auth=sess.auth)
    return render(request, "discs_verified.html", r=result)


async def discs_store(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    label, location = request.path_params["label"], text(data, "location").strip()
    if not location:
        raise InvalidValue("say where the disc is kept, e.g. 'locked cupboard, shelf 2'")
    label = await call(in_transaction, ws, lambda s: media.store(s, label, location, auth=sess.auth).label)
    return see_other(request, "/discs", flash=f"Disc {label}: in the cupboard at {location}.")


async def discs_destroy(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    label = request.path_params["label"].strip().upper()
    consent = authority.typed_confirmation(text(data, "confirm"), label, f"recording disc {label} as physically destroyed")
    await call(in_transaction, ws, lambda s: media.destroy(s, ws.config, label, auth=sess.auth, today=today(),
                                                           consent=consent).label)
    return see_other(request, "/discs", flash=f"Disc {label}: recorded as destroyed on {today().isoformat()}.")


BURN_TITLE = "Burning disc"
DEFAULT_DEVICE = "/dev/sr0"


def _device(data, field: str = "device") -> Path:  # noqa: ANN001 - the form
    """The CD writer typed on the form: a block device (pipeline.source_paths.check_device)."""
    from pipeline.source_paths import check_device

    value = text(data, field).strip()
    if not value:
        raise InvalidValue("give the CD writer's device, e.g. /dev/sr0")
    return check_device(value)


async def discs_burn(request: Request) -> Response:
    """Burn the disc's image to the blank CD-R in the server's drive, in the background: written,
    read back and verified in full from the drive (pipeline.burning.burn)."""
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    label = request.path_params["label"].strip().upper()
    request.state.back = "/discs"
    device = _device(data)
    job = jobs(request).start(
        f"{BURN_TITLE} {label}", sess.account,
        lambda progress: burning.burn(ws, label, device, auth=sess.auth, progress=progress),
        next_url=lambda _result: f"/discs/burns/{job.id}")
    return see_other(request, f"/jobs/{job.id}")


async def discs_burnt(request: Request) -> Response:
    """What a burn did: verified from the drive, or why not (a failed burn shows its typed error)."""
    current(request)
    job = jobs(request).get(request.path_params["job"])
    if job is None or not job.title.startswith(BURN_TITLE):
        raise HTTPException(404, "No such burn: burns are kept while the server runs (a restart forgets them).")
    if job.state == "running":
        return see_other(request, f"/jobs/{job.id}")
    return render(request, "discs_burnt.html", status_code=job.status if job.state == "failed" else 200, job=job,
                  r=job.result)


# ---- the yearly read-back, disc by disc (a round of discs) ---------------------------------------

REREAD = {"purpose": disc_rounds.VERIFY, "title": "Read the discs back", "page": "/discs/reread",
          "read": "/discs/reread/read", "new": "/discs/reread/new", "prepare": None}


async def discs_reread(request: Request) -> Response:
    sess = current(request)
    st = await call(disc_rounds.overview, workspace(request), disc_rounds.VERIFY, auth=sess.auth)
    return render(request, "discs_round.html", st=st, r=None, where=REREAD, device=DEFAULT_DEVICE)


async def discs_reread_read(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    request.state.back = REREAD["page"]
    out = await call(disc_rounds.present_next, workspace(request), disc_rounds.VERIFY, disc_source(workspace(request), data),
                     auth=sess.auth, full=bool(data.get("full")))
    return render(request, "discs_round.html", st=out["round"], r=out["result"], where=REREAD, device=text(data, "source"))


async def discs_reread_new(request: Request) -> Response:
    sess = current(request)
    await form(request)
    rid = await call(disc_rounds.restart, workspace(request), disc_rounds.VERIFY, auth=sess.auth)
    return see_other(request, REREAD["page"], flash=f"Round {rid} started: put the discs in one at a time.")


routes = [
    Route("/discs", discs_page, methods=["GET"]),
    Route("/discs/build", discs_build, methods=["POST"]),
    Route("/discs/verify", discs_verify, methods=["POST"]),
    Route("/discs/reread", discs_reread, methods=["GET"]),
    Route("/discs/reread/read", discs_reread_read, methods=["POST"]),
    Route("/discs/reread/new", discs_reread_new, methods=["POST"]),
    Route("/discs/burns/{job}", discs_burnt, methods=["GET"]),
    Route("/discs/{label}/burn", discs_burn, methods=["POST"]),
    Route("/discs/{label}/image", discs_image, methods=["GET"]),
    Route("/discs/{label}/store", discs_store, methods=["POST"]),
    Route("/discs/{label}/destroy", discs_destroy, methods=["POST"]),
]
