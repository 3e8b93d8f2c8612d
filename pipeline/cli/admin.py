"""``pps-archive init`` and ``pps-archive audit ...``."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click

from pipeline.cli._common import AppContext, pass_app, print_json, print_table


def prompt_passphrase(text: str, confirm: bool) -> str:
    return click.prompt(text, hide_input=True, confirmation_prompt=confirm, err=True)


def passphrase(confirm: bool = False) -> bytes:
    """The master passphrase from its one source (the prompt only on a terminal)."""
    import sys

    from pipeline.passphrase import get_passphrase

    return get_passphrase(os.environ, prompt_passphrase if sys.stdin.isatty() else None, confirm=confirm)


@click.command()
@pass_app
def init(app: AppContext) -> None:
    """Create the data dir, migrate the database to the newest schema and set up the master key.

    Safe to run again: it only upgrades the schema and checks the passphrase.
    """
    from pipeline.archive_init import initialise

    r = initialise(app.workspace(ready=False), lambda confirm: passphrase(confirm=confirm))
    click.echo(f"data directory: {r.data_dir}")
    click.echo(f"database: {r.database} (schema {r.schema})")
    click.echo(f"archive id: {r.archive_id}")
    if r.signed:
        click.echo(f"keys signed on first use (an archive made by an older version; see the audit log): {len(r.signed)} case key(s)")
    if r.repaired:
        click.echo("WARNING: put right from the keys' wrapped secrets: " + "; ".join(r.repaired)
                   + ". The database or the data directory was changed: find out by whom (audit log, backups).", err=True)
    click.echo("master key: " + ("created — keep the passphrase safe and back up the key store with 'pps-archive keys export'"
                                 if r.master_created else "checked"))


@click.group()
def audit() -> None:
    """The tamper-evident audit log."""


def passphrase_if_available() -> bytes | None:
    """The passphrase if a source is set or a terminal can prompt for it; else ``None``."""
    import sys

    from pipeline.passphrase import ENV_FILE, ENV_VALUE

    if os.environ.get(ENV_VALUE) is None and os.environ.get(ENV_FILE) is None and not sys.stdin.isatty():
        return None
    return passphrase()


@audit.command("verify")
@click.option("--structure-only", is_flag=True,
              help="Do not use the passphrase: check the hashes only (that proves nothing against someone who can write the database).")
@click.option("--media", "sources", multiple=True, type=click.Path(exists=True, path_type=Path), metavar="PATH",
              help="Also check that the audit head printed on this disc or image is still in the log (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout, nothing else.")
@pass_app
def audit_verify(app: AppContext, structure_only: bool, sources: tuple[Path, ...], as_json: bool) -> None:
    """Check the hash chain of the audit log and, with the passphrase, its seals.

    Edited, deleted or reordered events are reported; with the passphrase (from its usual source)
    so are events rewritten with recomputed hashes and removed seals. Events written since the last
    seal (by the intake daemon, which has no passphrase) are counted: the next command that uses
    the passphrase seals them. With --user, that account's login opens the seals instead. With --media, the audit head each disc carries must still be in the
    log: that catches a log rolled back to an earlier state."""
    from pipeline import audit as audit_log
    from pipeline import keystore

    from pipeline.cli._common import login_user, unlock

    ws = app.workspace()
    if structure_only:
        secret = None
    elif login_user() is not None:  # a staff login opens the seals too
        secret = unlock(ws)
    else:
        secret = passphrase_if_available()
    with ws.reader() as s:
        master = keystore.unlock(s, secret) if secret is not None else None
        report = audit_log.verify(s, master)
        anchored = audit_log.check_anchors(s, audit_log.disc_anchors(s, sources, ws.data_dir)) if sources else []
    if as_json:
        print_json({**report.as_dict(), "discs_checked": len(anchored)})
        return
    if anchored:
        click.echo(f"the audit heads of {len(anchored)} disc(s) are in the log")
    if report.keyed:
        click.echo(f"audit log intact: {report.events} events, head {report.head}; sealed with the master key up to "
                   f"event {report.sealed_seq} ({report.unsealed} later events not sealed yet)")
    else:
        click.echo(f"audit log structure intact: {report.events} events, head {report.head}, {report.seals} seals")
        click.echo("the seals were NOT checked (no passphrase): someone who can write the database could have rewritten "
                   "the log undetected. Set the passphrase and run this again to check them.", err=True)


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: write it as YYYY-MM-DD") from None


@audit.command("log")
@click.option("--case", "case_ref", metavar="REF", help="Only the events of this case.")
@click.option("--since", metavar="YYYY-MM-DD", callback=_since, default=None,
              help="Only the events from this day on (00:00 UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout, nothing else.")
@pass_app
def audit_log(app: AppContext, case_ref: str | None, since: dt.date | None, as_json: bool) -> None:
    """Read the audit log, oldest event first.

    Keys: seq, at (UTC), actor, action, case_ref, subject, details. The log holds staff names, case
    references and opaque ids, never free text about a family. Use 'audit verify' to check it."""
    from pipeline import audit as audit_log_lib

    ws = app.workspace()
    with ws.reader() as s:
        events = audit_log_lib.read_log(s, case_ref=case_ref, since=since)
    if as_json:
        print_json(events)
        return
    print_table(events, ["seq", "at", "actor", "action", "case_ref", "subject", "details"], empty="(no events)")
