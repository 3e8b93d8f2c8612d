"""``pps-archive init`` and ``pps-archive audit ...``."""

from __future__ import annotations

import os

import click

from pipeline.cli._common import AppContext, pass_app, print_json


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
    from pipeline import keystore
    from pipeline.db import migrate

    ws = app.workspace(ready=False)
    ws.create_dirs()
    before, after = migrate(ws.engine)
    with ws.transaction() as s:
        archive_id = keystore.ensure_archive_id(s)
        created = keystore.master_key_exists(s) is False
    secret = passphrase(confirm=created)
    with ws.transaction() as s:
        master = keystore.ensure_master_key(s, ws.config, secret, archive_id, actor="init")
        keys = keystore.authenticate_keys(s, master, ws.data_dir, actor="init")
    click.echo(f"data directory: {ws.data_dir}")
    click.echo(f"database: {'created' if before is None else 'upgraded' if before != after else 'up to date'} (schema {after})")
    click.echo(f"archive id: {archive_id}")
    if keys["signed"]:
        click.echo(f"keys signed on first use (an archive made by an older version; see the audit log): {len(keys['signed'])} case key(s)")
    if keys["repaired"]:
        click.echo("WARNING: put right from the keys' wrapped secrets: " + "; ".join(keys["repaired"])
                   + ". The database or the data directory was changed: find out by whom (audit log, backups).", err=True)
    click.echo("master key: " + ("created — keep the passphrase safe and back up the key store with 'pps-archive keys export'" if created else "checked"))


@click.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout, nothing else.")
@pass_app
def audit_verify(app: AppContext, as_json: bool) -> None:
    """Check the hash chain of the audit log: edited, deleted or reordered events are reported."""
    from pipeline import audit as audit_log

    ws = app.workspace()
    with ws.reader() as s:
        report = audit_log.verify(s)
    if as_json:
        print_json({"ok": True, "events": report.events, "head": report.head})
    else:
        click.echo(f"audit log intact: {report.events} events, head {report.head}")
