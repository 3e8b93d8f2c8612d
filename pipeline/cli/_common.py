"""Shared CLI options and helpers: the app context, --json, --as-of, --by, typed consent."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pps_archive.errors import ConfirmationRefused

if TYPE_CHECKING:
    from pipeline.authority import Unlocked
    from pipeline.workspace import Workspace

ENV_STAFF = "PPS_ARCHIVE_STAFF"
ENV_USER = "PPS_ARCHIVE_USER"


@dataclass
class AppContext:
    data_dir: Path | None
    config_file: Path | None
    #: the staff account to log in as (--user / $PPS_ARCHIVE_USER); None: the recovery passphrase
    user: str | None = None
    _workspace: Workspace | None = field(default=None, repr=False)

    def workspace(self, *, ready: bool = True) -> Workspace:
        """The data dir's workspace; with ``ready`` it must be initialised and at the newest schema."""
        if self._workspace is None:
            from pipeline.workspace import Workspace

            self._workspace = Workspace.load(self.data_dir, self.config_file)
        if ready:
            self._workspace.ensure_ready()
        return self._workspace

    def opened_data_dir(self) -> Path | None:
        """The data dir of the workspace this command opened, if it got that far."""
        return self._workspace.data_dir if self._workspace is not None else None

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()


pass_app = click.make_pass_decorator(AppContext)


#: a date that only chooses what to show (listings, statistics, a dry run) may look further ahead
VIEW_YEARS_AHEAD = 100


def parse_day(value: str, what: str, *, days_ahead: int | None = None) -> dt.date:
    """A YYYY-MM-DD value; the library refuses it far after the real today (a mistyped year)."""
    from pipeline.dates import MAX_DAYS_AHEAD, not_far_ahead

    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: write it as YYYY-MM-DD", param_hint=what) from None
    return not_far_ahead(day, dt.date.today(), what, days=days_ahead or MAX_DAYS_AHEAD)


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date:
    return dt.date.today() if value is None else parse_day(value, "--as-of")


def _parse_view_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date:
    return dt.date.today() if value is None else parse_day(value, "--as-of", days_ahead=365 * VIEW_YEARS_AHEAD)


def as_of_option(fn: Callable) -> Callable:
    """--as-of for a command that records the date: at most a year after the real today."""
    return click.option("--as-of", "as_of", metavar="YYYY-MM-DD", callback=_parse_date, default=None,
                        help="Act as if today were this date (default: today).")(fn)


def view_as_of_option(fn: Callable) -> Callable:
    """--as-of for a command that only shows what would be true on that date."""
    return click.option("--as-of", "as_of", metavar="YYYY-MM-DD", callback=_parse_view_date, default=None,
                        help="Act as if today were this date (default: today).")(fn)


class DatabaseId(click.ParamType):
    """A record's id: a whole number an id column holds (1 to 2**31-1), else InvalidValue."""

    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        from pipeline.db import check_id

        if isinstance(value, int):
            return check_id(value, "an id")
        text = str(value).strip()
        digits = text[1:] if text.startswith("-") else text
        if not (digits.isascii() and digits.isdigit()):
            self.fail(f"{value!r} is not an id: write it as a whole number", param, ctx)
        return check_id(int(text), param.human_readable_name if param else "an id")


ID = DatabaseId()


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout, nothing else.")(fn)


def _staff_name(ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    from pipeline.actors import staff_name
    from pps_archive.errors import InvalidValue

    app = ctx.find_object(AppContext)
    user = app.user if app is not None else None
    if user is not None and value is not None and " ".join(value.split()) != user:
        from pps_archive.errors import ActorMismatch

        raise ActorMismatch(account=user, given=value)
    try:
        return staff_name(value or user or os.environ.get(ENV_STAFF) or getpass.getuser())
    except InvalidValue as exc:
        raise click.BadParameter(str(exc)) from None


def by_option(fn: Callable) -> Callable:
    return click.option("--by", "actor", metavar="NAME", callback=_staff_name, default=None,
                        help=f"The member of staff doing this, for the audit log: with --user it must be that account "
                             f"(default: --user, else ${ENV_STAFF}, else your login).")(fn)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def print_table(rows: Sequence[dict[str, Any]], columns: Iterable[str], empty: str = "(none)") -> None:
    columns = list(columns)
    if not rows:
        click.echo(empty)
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return ",".join(f"{k}={_cell(v)}" for k, v in value.items()) or "-"
    return str(value)


def typed_consent(what: str, yes: bool, word: str = "YES") -> str:
    """Ask the person to type ``word`` before a destructive action. Returns how consent was given,
    for the audit log: ``"--yes"`` or ``"typed"``."""
    if yes:
        return "--yes"
    if not sys.stdin.isatty():
        raise ConfirmationRefused(what=what, word=word)
    from pipeline.authority import typed_confirmation

    answer = click.prompt(f"{what}\nType {word} to go on", default="", show_default=False, err=True)
    return typed_confirmation(answer, word, what)


def yes_option(fn: Callable) -> Callable:
    return click.option("--yes", is_flag=True, help="Consent without the typed prompt (for scripts; recorded in the audit log).")(fn)


def real_date(as_of: dt.date, what: str) -> dt.date:
    """A destructive command runs on the real date: an --as-of later than today is refused."""
    from pipeline.authority import ensure_real_date

    return ensure_real_date(as_of, dt.date.today(), what)


def prompt_secret(text: str, confirm: bool) -> str:
    return click.prompt(text, hide_input=True, confirmation_prompt=confirm, err=True)


def login_user() -> str | None:
    """The staff account this command logs in as (--user, else $PPS_ARCHIVE_USER), or None."""
    app = click.get_current_context().find_object(AppContext)
    return app.user if app is not None else None


def unlock(ws: Workspace, actor: str | None = None, recovery: bytes | None = None) -> Unlocked:
    """Log in once for this command: as --user with its password ($PPS_ARCHIVE_PASSWORD_FILE or a
    prompt), else with the recovery passphrase from its one source (or ``recovery``, read already).
    A --by given on the command line must be the account that logged in (the library refuses another)."""
    from click.core import ParameterSource

    from pipeline import authority, staff
    from pipeline.cli.admin import passphrase
    from pipeline.passphrase import get_password

    ctx = click.get_current_context()
    given = actor if actor is not None and ctx.get_parameter_source("actor") == ParameterSource.COMMANDLINE else None
    user = login_user()
    if user is None:
        auth = authority.recover(ws, passphrase() if recovery is None else recovery)
    else:
        if given is not None and given != user:  # before the password is asked for
            from pps_archive.errors import ActorMismatch

            raise ActorMismatch(account=user, given=given)
        secret = get_password(os.environ, prompt_secret if sys.stdin.isatty() else None, text=f"Password for {user}")
        auth = staff.login(ws, user, secret)
    return authority.check_actor(auth, given)

