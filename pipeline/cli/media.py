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


@media.command("plan")
@click.option("--capacity", callback=_capacity, metavar="SIZE", help="Data per disc (default: media.capacity).")
@consolidate_option
@json_option
@pass_app
def media_plan(app: AppContext, capacity: int | None, consolidate: tuple[str, ...], as_json: bool) -> None:
    """What the next 'media build' would put on which disc."""
    from pipeline import media as m

    ws = app.workspace()
    with ws.transaction() as s:
        discs = [d.as_dict() for d in m.plan(s, ws.config, capacity, consolidate)]
    if as_json:
        print_json(discs)
    else:
        print_table(discs, ["label", "dispose_year", "items", "cases", "bytes"], empty="nothing to archive: every retained document is on a disc")


@media.command("build")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the images.")
@click.option("--capacity", callback=_capacity, metavar="SIZE", help="Data per disc (default: media.capacity).")
@consolidate_option
@as_of_option
@by_option
@json_option
@pass_app
def media_build(app: AppContext, out: Path, capacity: int | None, consolidate: tuple[str, ...], as_of: dt.date, actor: str,
                as_json: bool) -> None:
    """Build the planned images (read back before they are registered)."""
    from pipeline import media as m
    from pipeline.cli._progress import progress_bar

    ws = app.workspace()
    auth = unlock(ws, actor)
    with progress_bar("building discs", quiet=as_json) as progress:
        built = m.build(ws, out, capacity, auth=auth, today=as_of, consolidate=consolidate, progress=progress)
    if as_json:
        print_json(built)
        return
    for b in built:
        click.echo(f"{b['label']}: {b['items']} items, {b['bytes']} bytes -> {b['path']}")
    click.echo("nothing to build" if not built else "burn each image to a CD-R, then run 'pps-archive media verify' on the disc")


@media.command("verify")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--full", is_flag=True, help="Also decrypt every item and compare its hash (needs the passphrase).")
@by_option
@json_option
@pass_app
def media_verify(app: AppContext, sources: tuple[Path, ...], full: bool, actor: str, as_json: bool) -> None:
    """Read images or mounted discs back; a disc that passes counts as archived."""
    from pipeline import media as m
    from pipeline.cli._progress import progress_bar
    from pipeline.cli.admin import passphrase_if_available

    ws = app.workspace()
    # a read from the disc counts only with the key (its mark is MACed): a login, else the passphrase if given
    secret = None if full or app.user else passphrase_if_available()
    auth = unlock(ws, actor, secret) if full or app.user or secret is not None else None
    reports = []
    for src in sources:
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


@media.command("list")
@json_option
@pass_app
def media_list(app: AppContext, as_json: bool) -> None:
    """The disc register."""
    from pipeline import media as m

    ws = app.workspace()
    with ws.reader() as s:
        rows = m.register(s)
    print_json(rows) if as_json else print_table(rows, ["label", "status", "items", "location", "verified_at", "verified_from", "read_from_disc_at", "items_rehashed"], empty="no discs")


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
