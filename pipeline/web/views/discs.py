"""Discs: what the next build puts on which disc, building (in the background, with progress),
downloading an image to burn, verifying a disc from the drive, where each disc is kept, and the
discs to destroy or consolidate with the record of a disc destroyed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from pipeline import authority, media
from pipeline.web.app import call, current, flash_url, form, render, see_other, workspace
from pipeline.web.jobs import jobs
from pipeline.web.views._common import in_transaction, text, today
from pps_archive.errors import InvalidValue

nav = [("/discs", "Discs", None)]


def _overview(ws) -> dict:  # noqa: ANN001
    with ws.reader() as s:
        return {"register": media.register(s), "planned": [d.as_dict() for d in media.plan(s, ws.config)],
                "retire": media.retirements(s, today())}


async def discs_page(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    data = await call(_overview, ws)
    building = [j for j in jobs(request).running() if j.title == BUILD_TITLE]
    return render(request, "discs_list.html", **data, building=building)


BUILD_TITLE = "Building discs"


async def discs_build(request: Request) -> Response:
    sess = current(request)
    await form(request)
    ws = workspace(request)
    out = await call(media.images_dir, ws)
    job = jobs(request).start(
        BUILD_TITLE, sess.account,
        lambda progress: media.build(ws, out, passphrase=sess.auth, actor=sess.account, today=today(), progress=progress),
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
    source = text(data, "source").strip()
    if not source:
        raise InvalidValue("give the drive or the disc to read: a device such as /dev/sr0, or where the CD is mounted")
    from pipeline.source_paths import check_source

    result = await call(media.verify, ws, check_source(ws, source), full=bool(data.get("full")), passphrase=sess.auth, actor=sess.account)
    return render(request, "discs_verified.html", r=result)


async def discs_store(request: Request) -> Response:
    sess = current(request)
    data = await form(request)
    ws = workspace(request)
    label, location = request.path_params["label"], text(data, "location").strip()
    if not location:
        raise InvalidValue("say where the disc is kept, e.g. 'locked cupboard, shelf 2'")
    label = await call(in_transaction, ws, lambda s: media.store(s, label, location, actor=sess.account).label)
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


routes = [
    Route("/discs", discs_page, methods=["GET"]),
    Route("/discs/build", discs_build, methods=["POST"]),
    Route("/discs/verify", discs_verify, methods=["POST"]),
    Route("/discs/{label}/image", discs_image, methods=["GET"]),
    Route("/discs/{label}/store", discs_store, methods=["POST"]),
    Route("/discs/{label}/destroy", discs_destroy, methods=["POST"]),
]
