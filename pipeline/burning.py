"""Burning discs, and mending a disc that a re-read found degraded.

- :func:`burn`: write a registered image to a blank CD-R (xorriso, :mod:`archive_media.burn`),
  read it back from the device byte for byte, then verify it in full from the device
  (:func:`pipeline.media.verify`), which alone moves the register to ``verified``. A burn to a
  pseudo-drive file is read back and verified as the image file it is: it never counts as a read
  from a disc.
- :func:`replace`: build a new disc from the vault copies holding exactly the live items of a
  degraded disc (the new disc records which disc it replaces; the old one is then destroyed
  with ``media destroy`` once the new one is verified from the drive).
- :func:`repair`: read a degraded disc's image back and repair it with its dvdisaster data, so
  that the same image can be burnt onto a new blank disc.

Each opens its own transactions (they run external programs between them); none prints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

from sqlalchemy import select

from pipeline import audit
from pipeline.dates import utcnow
from pipeline.models import Disc
from pipeline.progress import ProgressCallback
from pipeline.workspace import Workspace, make_private_dir
from pps_archive.errors import Conflict, DiscNotFound, IntegrityError, MediaError, PPSArchiveError


def _disc(s, label: str, *, lock: bool = False) -> Disc:  # noqa: ANN001 - a Session
    q = select(Disc).where(Disc.label == label)
    disc = s.scalars(q.with_for_update() if lock else q).one_or_none()
    if disc is None:
        raise DiscNotFound(label=label)
    if disc.status == "destroyed":
        raise Conflict(f"disc {label} was recorded as destroyed on {disc.destroyed_on}: there is nothing to burn or mend")
    return disc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _record(ws: Workspace, actor: str, event: str, label: str, **fields: object) -> None:
    with ws.transaction() as s:
        audit.record(s, actor, event, subject=f"disc:{label}", **fields)


def burn(ws: Workspace, label: str, device: Path, *, auth, image: Path | None = None,  # noqa: ANN001 - an Unlocked
         progress: ProgressCallback | None = None) -> dict:
    """Burn disc ``label``'s image (``image``, else the one 'media build' recorded) to the blank
    medium in ``device``, read it back and verify it in full from there.

    ``auth``: the login's keyring (any staff), needed by the full verification; the events record
    ``auth.actor``. Raises :class:`NoDrive`, :class:`DiscNotBlank`, :class:`DiscTooSmall` before
    anything is written; :class:`BurnFailed` when the write fails or the read-back differs (the
    register is unchanged then, the failure is in the audit log). The result holds the
    verification's report (``verification``); ``counts`` says whether it was a read from a disc
    that unlocks shredding, ``error_correction`` whether the disc carries dvdisaster data."""
    from archive_media import burn as b
    from pipeline import media
    from pps_archive.errors import BurnFailed

    actor = auth.actor

    with ws.transaction() as s:
        disc = _disc(s, label)
        recorded, size, sha, ecc = disc.image_path, disc.size, disc.iso_sha256, disc.ecc
    source = Path(image) if image is not None else (Path(recorded) if recorded else None)
    if source is None:
        raise MediaError(media=f"disc {label}", problem="no image file is recorded for it: give the path of its image (LABEL.iso)",
                         cli_hint="Give it with --image PATH.")
    if not source.is_file():
        raise MediaError(media=str(source), problem=f"the image of disc {label} is not there: give the path where it is now",
                         cli_hint="Give it with --image PATH.")
    if source.stat().st_size != size or _sha256(source) != sha:
        raise IntegrityError(what=f"image {source.name}", problem=(
            f"it is not the image registered for disc {label} (its size or SHA-256 differs): burn the right file, or "
            f"build a replacement from the vault"))
    state = b.probe(Path(device))
    b.check_writable(state, size, label)
    try:
        b.write(source, state, label)
        got_sha, got = b.read_back_sha256(Path(device), size)
        if got < size and state.kind == "optical":  # Linux often keeps the blank disc's size until a reload
            _record(ws, actor, "media.burnt", label, device_kind=state.kind, sectors=b.sectors(size), ecc=bool(ecc),
                    read_back="short")
            raise MediaError(media=str(device), problem=(
                f"disc {label} was written, but the drive gave back only {got} of {size} bytes (a drive often needs the "
                f"disc taken out and put back after a burn): do that, then verify it in full from the drive; until then "
                f"it does not count as archived"), cli_hint=f"Then: 'pps-archive media verify --full {device}'.")
        if (got_sha, got) != (sha, size):
            raise BurnFailed(label=label, device=str(device), problem=(
                f"the disc read back differs from the image ({got} of {size} bytes read, SHA-256 "
                f"{'matches' if got_sha == sha else 'differs'})"))
    except BurnFailed as exc:
        _record(ws, actor, "media.burn_failed", label, device_kind=state.kind, problem=str(exc.fields.get("problem", ""))[:200])
        raise
    with ws.transaction() as s:
        disc = _disc(s, label, lock=True)
        disc.burnt_at, disc.burnt_to = utcnow(), state.kind
        audit.record(s, actor, "media.burnt", subject=f"disc:{label}", device_kind=state.kind, sectors=b.sectors(size),
                     ecc=bool(ecc))
    if state.is_drive:
        report = media.verify(ws, Path(device), full=True, auth=auth, progress=progress)
    else:  # a pseudo-drive file: verify the bytes read back from it, as the image file they are
        copy = make_private_dir(ws.path("media")) / f".readback-{label}.iso"
        try:
            b.recover_image(Path(device), size, copy, sha, ecc=False)
            report = {**media.verify(ws, copy, full=True, auth=auth, progress=progress),
                      "media": str(device)}
        finally:
            copy.unlink(missing_ok=True)
    return {"label": label, "device": str(device), "burnt_to": state.kind, "medium": state.medium, "image": str(source),
            "sectors": b.sectors(size), "read_back": "identical", "status": report["status"], "counts": report["counts"],
            "error_correction": ecc, "verification": report}


def replace(ws: Workspace, label: str, out_dir: Path, *, auth, today: dt.date,  # noqa: ANN001 - an Unlocked
            capacity: int | None = None, progress: ProgressCallback | None = None) -> dict:
    """Build, from the vault copies, new disc images holding exactly the live items of disc
    ``label`` (degraded or failed), each recording that it replaces ``label``; the old disc is
    recorded as to be destroyed once a replacement is verified from the drive. Items of cases
    disposed of meanwhile are not re-burnt. :class:`Conflict` if it already has a live replacement."""
    from pipeline import media

    actor = auth.actor
    with ws.transaction() as s:
        _disc(s, label)
        other = s.scalars(select(Disc.label).where(Disc.replaces == label, Disc.status != "destroyed")).first()
        if other is not None:
            raise Conflict(f"disc {label} already has a replacement, disc {other}: burn it, verify it from the drive, then "
                           f"record {label} destroyed")
    built = media.build(ws, out_dir, capacity, auth=auth, today=today, progress=progress,
                        replacing=label)
    _record(ws, actor, "media.replacement_built", label, replacements=[b["label"] for b in built])
    return {"replaces": label, "built": built,
            "then": "burn each new disc, verify it from the drive, then record the old disc destroyed"}


def repair(ws: Workspace, label: str, device: Path, out_dir: Path, *, actor: str) -> dict:
    """Read disc ``label`` back from ``device`` and, where it differs from its registered image,
    repair it with the disc's own dvdisaster RS02 data; the image (``out_dir/LABEL.iso``, 0600)
    is then byte for byte the registered one, ready to burn onto a new blank disc.
    :class:`MediaError` if the disc carries no error-correction data, :class:`IntegrityError` if
    it cannot be repaired (replace it from the vault then)."""
    from archive_media import burn as b
    from pps_archive.atomic import fsync_dir

    with ws.transaction() as s:
        disc = _disc(s, label)
        size, sha, ecc = disc.size, disc.iso_sha256, disc.ecc
    if not ecc:
        raise MediaError(media=f"disc {label}", problem=(
            "it carries no error-correction data (dvdisaster) to repair it from: build a replacement from the vault copies"),
            cli_hint=f"To build it: 'pps-archive media replace {label} --out DIR'.")
    b.address_of(Path(device))  # NoDrive when there is nothing there
    out_dir.mkdir(parents=True, exist_ok=True)
    pending, final = out_dir / f".{label}.iso.part", out_dir / f"{label}.iso"
    try:
        recovered = b.recover_image(Path(device), size, pending, sha, ecc=True)
    except PPSArchiveError:
        _record(ws, actor, "media.repair_failed", label)
        raise
    os.chmod(pending, 0o600)
    pending.replace(final)
    fsync_dir(out_dir)
    with ws.transaction() as s:
        disc = _disc(s, label, lock=True)
        disc.image_path = str(final.resolve())
        audit.record(s, actor, "media.repaired", subject=f"disc:{label}", unreadable_sectors=recovered.unreadable_sectors,
                     used_ecc=recovered.repaired)
    return {"label": label, "image": str(final), "unreadable_sectors": recovered.unreadable_sectors,
            "repaired": recovered.repaired, "sha256": recovered.sha256,
            "then": "burn this image onto a new blank disc, verify it from the drive, and destroy the degraded copy"}
