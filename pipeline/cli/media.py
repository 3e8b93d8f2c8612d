"""``media ...``, ``restore`` and ``keys ...``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.cli._common import (
    ID, AppContext, as_of_option, by_option, json_option, pass_app, print_json, print_table, real_date, typed_consent, unlock,
    view_as_of_option, yes_option,
)


def _capacity(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    from pipeline.units import parse_size

    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group()
def media() -> None:
    """CD images: plan, build, verify, and the disc register."""


def consolidate_option(fn):  # noqa: ANN001, ANN201
    return click.option("--consolidate", "consolidate", multiple=True, metavar="LABEL",
                        help="Also re-burn the live items of this disc, so that it can be destroyed (repeatable).")(fn)


def now_option(fn):  # noqa: ANN001, ANN201
    return click.option("--now", "now", is_flag=True,
                        help="Put everything pending on discs now, even discs the planning rule would fill further first.")(fn)


@media.command("plan")
@click.option("--capacity", callback=_capacity, metavar="SIZE", help="Data per disc (default: media.capacity).")
@consolidate_option
@now_option
@view_as_of_option
@json_option
@pass_app
def media_plan(app: AppContext, capacity: int | None, consolidate: tuple[str, ...], now: bool, as_of: dt.date, as_json: bool) -> None:
    """What the next 'media build' would put on which disc, and what waits for a fuller disc.

    'bytes' is the exact size of the image the build writes (before error-correction data).
    Documents wait while their disc would be less than media.fill_percent full, at most
    media.max_wait_days after they were filed (docs/operations.md, "Fewer, fuller discs")."""
    from pipeline import media as m

    ws = app.workspace()
    with ws.transaction() as s:
        report = m.plan_report(s, ws.config, capacity, consolidate, today=as_of, now=now)
    discs = [d.as_dict() for d in report.discs]
    if as_json:
        print_json(discs)
        return
    print_table(discs, ["label", "dispose_year", "items", "cases", "bytes", "fill_percent"],
                empty="no disc to build now" if report.waiting else "nothing to archive: every retained document is on a disc")
    if report.waiting:
        click.echo(f"waiting for a fuller disc: {len(report.waiting)} document(s), {report.waiting_bytes} bytes, the oldest "
                   f"filed on {report.oldest_since}; built on {report.due_on} at the latest (or now with --now)")


@media.command("build")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the images.")
@click.option("--capacity", callback=_capacity, metavar="SIZE", help="Data per disc (default: media.capacity).")
@consolidate_option
@now_option
@as_of_option
@by_option
@json_option
@pass_app
def media_build(app: AppContext, out: Path, capacity: int | None, consolidate: tuple[str, ...], now: bool, as_of: dt.date,
                actor: str, as_json: bool) -> None:
    """Build the planned images (read back before they are registered).

    Only the discs the planning rule says are due (media.planning): run it as often as you like,
    e.g. weekly; 'media plan' shows what waits and until when."""
    from pipeline import media as m
    from pipeline.cli._progress import progress_bar

    ws = app.workspace()
    auth = unlock(ws, actor)
    with progress_bar("building discs", quiet=as_json) as progress:
        built = m.build(ws, out, capacity, auth=auth, today=as_of, consolidate=consolidate, progress=progress, now=now)
    _warn_without_ecc(built)  # on stderr, with --json too
    if as_json:
        print_json(built)
        return
    for b in built:
        click.echo(f"{b['label']}: {b['items']} items, {b['bytes']} bytes -> {b['path']}")
    click.echo("nothing to build now (see 'pps-archive media plan')" if not built else "burn each image to a CD-R: 'pps-archive media burn LABEL --device /dev/sr0'")


def _warn_without_ecc(built: list[dict]) -> None:
    bare = [b["label"] for b in built if not b["error_correction"]]
    if bare:
        click.echo(f"pps-archive: warning: {', '.join(bare)}: built WITHOUT error-correction data (dvdisaster), so a "
                   f"scratched or aged disc cannot be repaired from itself, only replaced from the vault "
                   f"(install dvdisaster and keep media.error_correction on; images under 512 KiB never get it)", err=True)


@media.command("verify")
@click.argument("sources", nargs=-1, metavar="ISO...")
@click.option("--full", is_flag=True, help="Also decrypt every item and compare its hash (needs the passphrase).")
@click.option("--one-by-one", "one_by_one", is_flag=True,
              help="Put the discs in one at a time: asks for the next disc until an empty answer, and keeps a round of the "
                   "discs read, so a later sitting (the same command again) continues it.")
@click.option("--new-round", is_flag=True, help="With --one-by-one: close the open round and start a new one.")
@by_option
@json_option
@pass_app
def media_verify(app: AppContext, sources: tuple[str, ...], full: bool, one_by_one: bool, new_round: bool, actor: str,
                 as_json: bool) -> None:
    """Read images or mounted discs back; a disc that passes counts as archived.

    ISO: an image, a mounted disc or the drive (/dev/sr0); several, or a quoted glob ('discs/*.iso')."""
    from pipeline import media as m
    from pipeline.cli._discs import expand_media
    from pipeline.cli._progress import progress_bar
    from pipeline.cli.admin import passphrase_if_available

    paths = expand_media(sources, "ISO")
    if not paths and not one_by_one:
        raise click.UsageError("give the discs to verify (or put them in one at a time with --one-by-one)")
    ws = app.workspace()
    # a read from the disc counts only with the key (its mark is MACed): a login, else the passphrase if given
    secret = None if full or app.user else passphrase_if_available()
    auth = unlock(ws, actor, secret) if full or app.user or secret is not None else None
    if one_by_one or new_round:
        reports = _verify_round(ws, paths, auth, full=full, actor=actor, one_by_one=one_by_one, new=new_round, as_json=as_json)
    else:
        reports = []
        for src in paths:
            with progress_bar(f"verifying {src.name}", quiet=as_json or not full) as progress:
                reports.append(m.verify(ws, src, full=full, auth=auth, claimed_by=actor, progress=progress))
        if as_json:
            print_json(reports)
        else:
            for r in reports:
                click.echo(f"{r['media']}: disc {r['label']} OK ({r['level']}, {r['items']} items, read from {r['verified_from']}) — {r['status']}")
    unvouched = [r for r in reports if r.get("without_passphrase")]
    not_counted = [r for r in reports if not r["counts"] and not r.get("without_passphrase")]
    if unvouched:
        from pps_archive.errors import ExitCode

        click.echo(f"pps-archive: warning: {', '.join(r['label'] for r in unvouched)}: read from the disc, but without the "
                   f"passphrase, so this unlocks no shredding: run it again with the passphrase (or with --full)", err=True)
        if not not_counted:
            click.get_current_context().exit(int(ExitCode.NOT_READ_FROM_DISC))
    if not_counted:  # a warning: verified, but it unlocks no shredding
        from pps_archive.errors import ExitCode

        click.echo(f"pps-archive: warning: {', '.join(r['label'] for r in not_counted)}: read from an image file or a "
                   f"folder, not from the disc, so this unlocks no shredding (media.archive_medium is \"optical\"): burn "
                   f"the image and verify the disc in the drive, e.g. 'pps-archive media verify /dev/sr0'", err=True)
        click.get_current_context().exit(int(ExitCode.NOT_READ_FROM_DISC))


def _verify_round(ws, paths, secret, *, full: bool, actor: str, one_by_one: bool, new: bool, as_json: bool) -> list[dict]:  # noqa: ANN001
    """The read-back of the cupboard, disc by disc, in a round of discs kept between sittings;
    returns the verification reports of the discs that passed. A refused or failed disc ends the
    command with the warning DISCS_REFUSED (the others were recorded)."""
    from pipeline import disc_rounds
    from pipeline.authority import Unlocked
    from pipeline.cli._discs import echo_presented, echo_round, insert_one_by_one

    who = secret.actor if isinstance(secret, Unlocked) else actor
    with ws.transaction() as s:
        rid = disc_rounds.open_round(s, disc_rounds.VERIFY, actor=who, new=new).id

    def present(path):  # noqa: ANN001, ANN202 - each disc in its own transaction
        with ws.transaction() as s:
            return disc_rounds.present_disc(s, ws, rid, path, auth=secret, actor=actor, full=full).as_dict()

    results = []
    for path in paths:
        results.append(present(path))
        if not as_json:
            echo_presented(results[-1])
    if one_by_one:
        results += insert_one_by_one(present, quiet=as_json)
    with ws.transaction() as s:
        st = disc_rounds.status(s, rid)
    if as_json:
        print_json({"round": st, "results": results})
    else:
        echo_round(st)
    refused = [r for r in results if r["outcome"] == "refused"]
    if refused:
        from pps_archive.errors import ExitCode

        click.echo(f"pps-archive: warning: {len(refused)} disc(s) refused or failed: "
                   + "; ".join(f"{r['media']}: {r['problem']}" for r in refused), err=True)
        click.get_current_context().exit(int(ExitCode.DISCS_REFUSED))
    return [r["verification"] for r in results if r["verification"]]


@media.command("list")
@json_option
@pass_app
def media_list(app: AppContext, as_json: bool) -> None:
    """The disc register."""
    from pipeline import media as m

    ws = app.workspace()
    with ws.reader() as s:
        rows = m.register(s)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        r["ecc"] = {True: "yes", False: "NO", None: "not recorded"}[r["error_correction"]]
    print_table(rows, ["label", "status", "items", "location", "verified_at", "verified_from", "read_from_disc_at", "items_rehashed",
                       "ecc"], empty="no discs")
    bare = [r["label"] for r in rows if r["error_correction"] is False and r["status"] != "destroyed"]
    if bare:
        click.echo(f"{len(bare)} disc(s) without error-correction data (ecc NO): a damaged one can only be replaced from "
                   f"the vault, not repaired from itself: {', '.join(bare)}")


@media.command("burn")
@click.argument("label")
@click.option("--device", "device", required=True, type=click.Path(path_type=Path),
              help="The CD writer, e.g. /dev/sr0 (a block device or a file is used as an xorriso pseudo-drive).")
@click.option("--image", "image", type=click.Path(dir_okay=False, path_type=Path),
              help="The image file, if not where 'media build' wrote it.")
@by_option
@json_option
@pass_app
def media_burn(app: AppContext, label: str, device: Path, image: Path | None, actor: str, as_json: bool) -> None:
    """Write disc LABEL's image to the blank CD-R in DEVICE, read it back and verify it in full from the drive.

    Needs a login (or the recovery passphrase) for the full verification. The register says 'verified' only once the
    disc read back from the drive has passed; a burn to a pseudo-drive file counts as an image, never as a disc."""
    from pipeline import burning
    from pipeline.cli._progress import progress_bar
    from pps_archive.errors import ExitCode

    ws = app.workspace()
    auth = unlock(ws, actor)
    with progress_bar(f"verifying {label}", quiet=as_json) as progress:
        r = burning.burn(ws, label, device, auth=auth, image=image, progress=progress)
    if as_json:
        print_json(r)
    else:
        v = r["verification"]
        click.echo(f"disc {label}: written to {device} and read back identical; verified in full ({v['items']} items, "
                   f"read from {v['verified_from']}) — {r['status']}")
        if r["counts"]:
            click.echo(f"now put it in the cupboard: 'pps-archive media store {label} --location \"...\"'")
    if not r["counts"]:
        click.echo(f"pps-archive: warning: {label}: {device} is not a drive, so this read back is an image file's and unlocks "
                   f"no shredding: burn the disc in the CD writer", err=True)
        click.get_current_context().exit(int(ExitCode.NOT_READ_FROM_DISC))
    if not r["error_correction"]:
        click.echo(f"pps-archive: warning: {label}: this disc carries no error-correction data (dvdisaster): if it degrades "
                   f"it can only be replaced from the vault", err=True)
        click.get_current_context().exit(int(ExitCode.NO_ERROR_CORRECTION))


@media.command("replace")
@click.argument("label")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the images.")
@as_of_option
@by_option
@json_option
@pass_app
def media_replace(app: AppContext, label: str, out: Path, as_of: dt.date, actor: str, as_json: bool) -> None:
    """Build a new disc from the vault copies with the live items of degraded disc LABEL (then burn it and destroy LABEL)."""
    from pipeline import burning

    ws = app.workspace()
    auth = unlock(ws, actor)
    r = burning.replace(ws, label, out, auth=auth, today=as_of)
    _warn_without_ecc(r["built"])
    if as_json:
        print_json(r)
        return
    for b in r["built"]:
        click.echo(f"{b['label']} (replaces {label}): {b['items']} items, {b['bytes']} bytes -> {b['path']}")
    if not r["built"]:
        click.echo(f"disc {label} holds no live item any more: nothing to re-burn; record it destroyed once shredded")
    else:
        click.echo(f"burn it: 'pps-archive media burn {r['built'][0]['label']} --device /dev/sr0'; once it is verified, "
                   f"shred disc {label} and record it: 'pps-archive media destroy {label}'")


@media.command("repair")
@click.argument("label")
@click.option("--device", "device", required=True, type=click.Path(exists=True, path_type=Path),
              help="The drive holding the degraded disc, e.g. /dev/sr0.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the repaired image.")
@by_option
@json_option
@pass_app
def media_repair(app: AppContext, label: str, device: Path, out: Path, actor: str, as_json: bool) -> None:
    """Read degraded disc LABEL back and repair its image from its own error-correction data (dvdisaster)."""
    from pipeline import burning

    ws = app.workspace()
    actor = unlock(ws, actor).actor  # a login, for the audit event; the repair itself needs no key
    r = burning.repair(ws, label, device, out, actor=actor)
    if as_json:
        print_json(r)
        return
    how = "repaired from its error-correction data" if r["repaired"] else "read back intact"
    click.echo(f"disc {label}: {how} ({r['unreadable_sectors']} unreadable sectors) -> {r['image']}")
    click.echo(f"burn it onto a new blank disc: 'pps-archive media burn {label} --device /dev/sr0', then shred the degraded copy")


@media.command("store")
@click.argument("label")
@click.option("--location", required=True, help="Where the disc is kept, e.g. 'locked cupboard, shelf 2'.")
@by_option
@pass_app
def media_store(app: AppContext, label: str, location: str, actor: str) -> None:
    """Record that verified disc LABEL is in the cupboard, and where."""
    from pipeline import media as m

    ws = app.workspace()
    auth = unlock(ws, actor)
    with ws.transaction() as s:
        m.store(s, label, location, auth=auth)
    click.echo(f"disc {label}: in the cupboard at {location}")


@media.command("destroy")
@click.argument("label")
@view_as_of_option  # a destructive command: a later date is refused by real_date, with that reason
@by_option
@yes_option
@pass_app
def media_destroy(app: AppContext, label: str, as_of: dt.date, actor: str, yes: bool) -> None:
    """Record that disc LABEL has been physically destroyed (after a disposal run listed it).

    Runs on the real date and needs a manager's login (--user, else the recovery passphrase), recorded in the audit log."""
    from pipeline import media as m

    real_date(as_of, "recording a disc destroyed")
    ws = app.workspace()
    consent = typed_consent(f"record disc {label} as physically destroyed", yes)
    auth = unlock(ws, actor)
    with ws.transaction() as s:
        m.destroy(s, ws.config, label, auth=auth, today=as_of, consent=consent)
    click.echo(f"disc {label}: recorded as destroyed on {as_of}")


@click.command()
@click.option("--media", "source", required=True, type=click.Path(exists=True, path_type=Path), help="Disc image or mounted disc.")
@click.option("--document", "document", required=True, type=ID, help="Document id (see 'pps-archive documents').")
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write the PDF.")
@click.option("--original", is_flag=True,
              help="The file as it came, byte for byte (kept beside the copy for a born-digital or signed PDF).")
@by_option
@pass_app
def restore(app: AppContext, source: Path, document: int, out: Path, original: bool, actor: str) -> None:
    """Decrypt one document from a disc (the decryption is recorded in the audit log)."""
    from pipeline import media as m

    ws = app.workspace()
    r = m.restore(ws, source, document, out, auth=unlock(ws, actor), original=original)
    what = "the original file of document" if r["original"] else "document"
    click.echo(f"{what} {r['document']} of case {r['case_ref']} restored from disc {r['disc']} to {r['out']}")


@click.group()
def keys() -> None:
    """Back up and restore the key store; export one case's key for an independent decrypt."""


@keys.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--valid-days", default=365, show_default=True, type=click.IntRange(1, 3650),
              help="The backup expires after this many days (a destroyed case key must not live on in old backups).")
@view_as_of_option  # a destructive command: a later date is refused by real_date, with that reason
@by_option
@yes_option
@pass_app
def keys_export(app: AppContext, out: Path, valid_days: int, as_of: dt.date, actor: str, yes: bool) -> None:
    """Write a backup of the wrapped key store (useless without the passphrase).

    Runs on the real date and needs a manager's login (--user, else the recovery passphrase), recorded in the audit log: the
    backup, its expiry included, is authenticated under the master key."""
    from pipeline.key_files import write_backup

    real_date(as_of, "exporting the key store")
    ws = app.workspace()
    consent = typed_consent(f"export the key store to {out}, valid for {valid_days} days", yes)
    auth = unlock(ws, actor)
    r = write_backup(ws, out, auth=auth, today=as_of, valid_days=valid_days, consent=consent)
    click.echo(f"key store backup written to {r['path']}; it expires on {r['expires']}")


@keys.command("import")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@view_as_of_option  # a later date only makes the expiry check stricter
@by_option
@pass_app
def keys_import(app: AppContext, backup: Path, as_of: dt.date, actor: str) -> None:
    """Restore missing keys from a backup of this archive (never keys of cases disposed of).

    Runs on the real date: an expired or altered backup is refused."""
    from pipeline import keystore
    from pipeline.cli.admin import passphrase

    ws = app.workspace()
    with ws.transaction() as s:
        r = keystore.import_backup(s, backup.read_bytes(), passphrase(), today=as_of, claimed_by=actor)
    click.echo(f"imported {r['added']} key(s) from the backup of {r['backup_created']}; {r['skipped_disposed']} of disposed cases skipped")


@keys.command("export-case")
@click.argument("ref")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@by_option
@yes_option
@pass_app
def keys_export_case(app: AppContext, ref: str, out: Path, actor: str, yes: bool) -> None:
    """Write case REF's key as an age identity file: 'age -d -i FILE ITEM.AGE' then decrypts its items."""
    from pipeline.key_files import write_case_key

    ws = app.workspace()
    consent = typed_consent(f"write the secret key of case {ref} to {out}", yes)
    auth = unlock(ws, actor)
    r = write_case_key(ws, ref, out, auth=auth, consent=consent)
    click.echo(f"the key of case {r['case_ref']} written to {r['path']} (mode 0600): destroy the file when done")


@keys.command("change-passphrase")
@by_option
@pass_app
def keys_change_passphrase(app: AppContext, actor: str) -> None:
    """Re-wrap the master key under a new passphrase (from $PPS_ARCHIVE_NEW_PASSPHRASE or a prompt)."""
    import os
    import sys

    from pipeline import keystore
    from pipeline.cli.admin import passphrase, prompt_passphrase
    from pipeline.passphrase import get_new_passphrase

    ws = app.workspace()
    old = passphrase()
    new = get_new_passphrase(os.environ, prompt_passphrase if sys.stdin.isatty() else None)
    keystore.change_recovery_passphrase(ws, old, new, claimed_by=actor)
    click.echo("master key re-wrapped under the new passphrase; nothing else was re-encrypted")
