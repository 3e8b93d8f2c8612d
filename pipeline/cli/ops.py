"""``pps-archive status`` and ``pps-archive backup`` (and ``backup restore``): looking after the machine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.cli._common import AppContext, by_option, json_option, pass_app, print_json
from pps_archive.errors import ExitCode


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@click.command()
@json_option
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Queue depth, oldest queued input, last input done, quarantine count, free space, discs due
    for re-reading and the audit chain's state. Needs no login.

    The audit chain is checked without the passphrase (its structure only; 'audit verify' checks
    its seals). Ends with warning 108 when the chain is broken. Keys of --json: queue_depth,
    oldest_queued_at, last_done_at, quarantine_count, data_dir, free_bytes, total_bytes,
    discs_due_for_reread (label, action, due_on of each), audit_chain (ok, events,
    head, keyed, problem), ok."""
    from pipeline.status import collect

    report = collect(app.workspace())
    if as_json:
        print_json(report)
    else:
        chain = report["audit_chain"]
        reread = report["discs_due_for_reread"]
        lines = [
            ("queue", f"{report['queue_depth']} input(s) waiting"
             + (f", the oldest since {report['oldest_queued_at']}" if report["oldest_queued_at"] else "")),
            ("last input done", report["last_done_at"] or "none yet"),
            ("quarantine", f"{report['quarantine_count']} entr{'y' if report['quarantine_count'] == 1 else 'ies'} "
             "(see 'pps-archive quarantine list')"),
            ("free space", f"{_size(report['free_bytes'])} of {_size(report['total_bytes'])} in {report['data_dir']}"),
            ("discs due for re-reading", (", ".join(f"{d['label']} ({d['action']}, due {d['due_on']})" for d in reread)
                                          + " (see 'pps-archive archive-due')") if reread else "none"),
            ("audit chain", f"structure intact, {chain['events']} events (seals not checked: 'pps-archive audit verify')"
             if chain["ok"] else f"BROKEN: {chain['problem']}"),
        ]
        width = max(len(k) for k, _ in lines)
        for k, v in lines:
            click.echo(f"{k.ljust(width)}  {v}")
    if not report["ok"]:
        click.get_current_context().exit(int(ExitCode.STATUS_UNHEALTHY))


@click.group(invoke_without_command=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the backup to this file (0600).")
@click.option("--valid-days", default=30, show_default=True, type=click.IntRange(1, 365),
              help="The backup expires after this many days (a destroyed case key must not live on in old backups).")
@pass_app
@click.pass_context
def backup(ctx: click.Context, app: AppContext, out: Path | None, valid_days: int) -> None:
    """An encrypted, expiring backup of the database: 'backup --out FILE'.

    SQLite's online backup or pg_dump, encrypted to the archive key; needs no login (a nightly
    timer can run it as the service's user). Restoring it needs the recovery passphrase, into a new
    data directory: 'backup restore FILE'. A backup cannot be restored on or after its expiry day."""
    if ctx.invoked_subcommand is not None:
        if out is not None:
            raise click.UsageError("--out makes a backup; give it without a subcommand")
        return
    if out is None:
        raise click.UsageError("give --out FILE (where to write the backup), or a subcommand such as 'restore'")
    from pipeline.backup import make_backup

    info = make_backup(app.workspace(), out, today=dt.date.today(), valid_days=valid_days)
    click.echo(f"database backup ({info['engine']}, {info['audit_head']['events']} audit events) written to {out}; "
               f"it expires on {info['expires']}: destroy it then")


@backup.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@by_option
@json_option
@pass_app
def backup_restore(app: AppContext, file: Path, actor: str, as_json: bool) -> None:
    """Restore a backup into this (new, empty) data directory or database, then verify it.

    Asks for the recovery passphrase (from its one source). Runs on the real date: an expired or
    altered backup is refused, and so is a data directory that already holds a database. Checks the
    table counts and the audit head against the backup and the audit chain with the master key.
    Ends with warning 106 when a disposal run's certificate in the data directory is as new as the
    backup or newer: run that disposal again at once."""
    from pipeline.backup import restore_backup
    from pipeline.cli.admin import passphrase

    ws = app.workspace(ready=False)
    r = restore_backup(ws, file.read_bytes(), passphrase(), today=dt.date.today(), actor=actor)
    if as_json:
        print_json(r)
    else:
        click.echo(f"restored the {r['engine']} backup of {r['created']} into {ws.data_dir}: "
                   f"{sum(r['counts'].values())} rows in {len(r['counts'])} tables, audit log intact and sealed "
                   f"({r['audit_events']} events, head {r['audit_head'][:16]}...)")
    if r["disposal_runs_since"]:
        click.echo("WARNING: disposal run(s) since this backup (" + ", ".join(r["disposal_runs_since"]) + "): the keys "
                   "they destroyed are back in the restored database. Run the disposal again now "
                   "(docs/operations.md, 'Backups of the database').", err=True)
        click.get_current_context().exit(int(ExitCode.RESTORED_BEFORE_DISPOSAL))
