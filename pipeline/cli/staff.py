"""``pps-archive staff ...``: staff accounts, each with its own key slot."""

from __future__ import annotations

import os
import sys

import click

from pipeline.cli._common import (
    AppContext, json_option, login_user, pass_app, print_json, print_table, prompt_secret, typed_consent, unlock, yes_option,
)

ROLES = ("staff", "manager")


def _new_password(name: str, *, what: str = "New password") -> bytes:
    """A new password: $PPS_ARCHIVE_NEW_PASSWORD_FILE, else $PPS_ARCHIVE_PASSWORD_FILE when this
    command logs in with the recovery passphrase (the file is then free), else the prompt (twice)."""
    from pipeline.passphrase import ENV_NEW_PASSWORD_FILE, ENV_PASSWORD_FILE, get_password

    env = ENV_NEW_PASSWORD_FILE
    if os.environ.get(env) is None and login_user() is None and os.environ.get(ENV_PASSWORD_FILE) is not None:
        env = ENV_PASSWORD_FILE
    return get_password(os.environ, prompt_secret if sys.stdin.isatty() else None, text=f"{what} for {name}", env=env,
                        confirm=True)


@click.group()
def staff() -> None:
    """Staff accounts: each password opens the account's own copy of the master key (a key slot).

    Managing accounts needs a manager's login (--user NAME of a manager, or the recovery passphrase).
    New passwords come from $PPS_ARCHIVE_NEW_PASSWORD_FILE or are asked for twice on the terminal."""


@staff.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="staff: file, review, shred; manager: also holds, disposal, keys, accounts.")
@pass_app
def staff_add(app: AppContext, name: str, role: str) -> None:
    """Add staff account NAME with its own key slot."""
    from pipeline import staff as lib

    ws = app.workspace()
    name = lib.validate_name(name)
    auth = unlock(ws)
    r = lib.add(ws, auth, name, role, _new_password(name))
    click.echo(f"staff account {r['name']} added ({r['role']})")


@staff.command("list")
@json_option
@pass_app
def staff_list(app: AppContext, as_json: bool) -> None:
    """The staff accounts (no login needed). Keys: name, role, status, failures, created_at,
    created_by, last_login_at, disabled_at."""
    from pipeline import staff as lib

    ws = app.workspace()
    with ws.reader() as s:
        rows = lib.list_accounts(s)
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["name", "role", "status", "failures", "last_login_at", "created_by"], empty="no staff accounts")


@staff.command("disable")
@click.argument("name")
@yes_option
@pass_app
def staff_disable(app: AppContext, name: str, yes: bool) -> None:
    """Disable account NAME: its key slot is overwritten and deleted; its name stays in the log."""
    from pipeline import staff as lib
    from pps_archive.errors import ExitCode

    ws = app.workspace()
    name = lib.validate_name(name)
    typed_consent(f"disable staff account {name}: its password will open nothing", yes)
    auth = unlock(ws)
    r = lib.disable(ws, auth, name)
    click.echo(f"staff account {r['name']} disabled; its key slot is destroyed")
    if not r["managers_left"]:
        click.echo("warning: no manager account is left: only the recovery passphrase can now manage accounts, lift "
                   "holds or approve disposal. Add a manager with 'pps-archive staff add NAME --role manager'.", err=True)
        click.get_current_context().exit(int(ExitCode.NO_MANAGER_ACCOUNT))


@staff.command("passwd")
@click.argument("name", required=False)
@pass_app
def staff_passwd(app: AppContext, name: str | None) -> None:
    """Change your own password (log in with --user), or, as a manager, account NAME's.

    Re-wraps that one key slot and nothing else. A one-time password from 'staff reset' opens
    only this command."""
    from pipeline import staff as lib

    ws = app.workspace()
    user = login_user()
    target = lib.validate_name(name) if name is not None else user
    if target is None:
        raise click.UsageError("name the account, or log in with --user NAME to change your own password")
    auth = unlock(ws)
    r = lib.change_password(ws, auth, _new_password(target), name=None if target == user else target)
    click.echo(f"the password of {r['name']} is changed (key slot version {r['slot_version']}); nothing else was re-encrypted")


@staff.command("reset")
@click.argument("name")
@pass_app
def staff_reset(app: AppContext, name: str) -> None:
    """Set a one-time password for NAME (a manager's action): it must be changed at the next login.
    Lifts a lock after failed logins too."""
    from pipeline import staff as lib

    ws = app.workspace()
    name = lib.validate_name(name)
    auth = unlock(ws)
    lib.reset(ws, auth, name, _new_password(name, what="One-time password"))
    click.echo(f"{name} has a one-time password: at the next login, 'pps-archive --user {name} staff passwd' sets their own")


@staff.command("unlock")
@click.argument("name")
@pass_app
def staff_unlock(app: AppContext, name: str) -> None:
    """Lift the lock of NAME after failed logins (a manager's action)."""
    from pipeline import staff as lib

    ws = app.workspace()
    name = lib.validate_name(name)
    auth = unlock(ws)
    r = lib.unlock_account(ws, auth, name)
    click.echo(f"staff account {r['name']} unlocked ({r['failures_cleared']} failed login(s) cleared)")
