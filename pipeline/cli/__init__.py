"""The ``pps-archive`` command line. Commands parse arguments, call one library function, print.

Library code raises :class:`pps_archive.errors.PPSArchiveError`; this is the only place that turns
errors into messages on stderr and exit codes, adding each error's ``cli_hint`` (the command that
puts it right) after the library's front-end-neutral message. Heavy modules are imported inside the commands so
that ``pps-archive --help`` stays instant.
"""

from __future__ import annotations

import errno
import logging
import sys
from pathlib import Path

import click

from pipeline.cli._common import AppContext
from pps_archive import __version__
from pps_archive.errors import ExitCode, PPSArchiveError

log = logging.getLogger("pps_archive")


class PPSGroup(click.Group):
    """Turns our errors into one line on stderr and the error's exit code; lists commands in order."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except PPSArchiveError as exc:
            click.echo(f"pps-archive: error: {exc.cli_text()}", err=True)
            ctx.exit(int(exc.exit_code))
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                _disk_full(ctx, exc)
            if exc.filename is None:
                raise
            from pps_archive.errors import FileAccess

            err = FileAccess(path=exc.filename, problem=(exc.strerror or str(exc)).lower())
            click.echo(f"pps-archive: error: {err}", err=True)
            ctx.exit(int(err.exit_code))
        except KeyboardInterrupt:
            click.echo("pps-archive: interrupted", err=True)
            ctx.exit(128 + 2)
        except Exception as exc:  # a full disk under any command (SQLite's "database or disk is full")
            from pipeline.diskspace import is_disk_full

            if isinstance(exc, (click.exceptions.Exit, click.ClickException)) or not is_disk_full(exc):
                raise
            _disk_full(ctx, exc)


def _disk_full(ctx: click.Context, exc: BaseException) -> None:
    from pps_archive.errors import DiskFull

    app = ctx.find_object(AppContext)
    where = getattr(exc, "filename", None) or (app.opened_data_dir() if app is not None else None) or "the data directory"
    err = DiskFull(path=where)
    click.echo(f"pps-archive: error: {err}", err=True)
    ctx.exit(int(err.exit_code))


@click.group(cls=PPSGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data directory. Default: $PPS_ARCHIVE_HOME, else the platform's user data dir.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="User configuration file (TOML). Default: $PPS_ARCHIVE_CONFIG, else config.toml in the data dir.")
@click.option("--user", "user", metavar="NAME", envvar="PPS_ARCHIVE_USER", default=None,
              help="Log in as this staff account (default: $PPS_ARCHIVE_USER) for commands that need a key or change "
                   "the lifecycle; its password from $PPS_ARCHIVE_PASSWORD_FILE or a prompt. Without it, the recovery "
                   "passphrase is used.")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.version_option(__version__, prog_name="pps-archive")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, config_file: Path | None, user: str | None, verbose: int) -> None:
    """Scan, file, encrypt and archive case documents to CD, and dispose of them on time.

    Start with 'pps-archive init'. Commands that need a key or change the lifecycle log in: as
    --user NAME (or $PPS_ARCHIVE_USER) with that account's password, else with the recovery
    passphrase from exactly one of $PPS_ARCHIVE_PASSPHRASE, $PPS_ARCHIVE_PASSPHRASE_FILE or a prompt.
    Listings only read the data directory and need no login.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("pps_archive").setLevel(level)
    ctx.obj = AppContext(data_dir=data_dir, config_file=config_file, user=" ".join(user.split()) if user else None)
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    from pipeline.cli import admin, cases, intake, lifecycle, media, reports, staff, web

    for command in (admin.init, cases.case, intake.coversheet, intake.ingest, intake.watch, intake.documents,
                    intake.review, intake.quarantine, media.media, media.restore, media.keys, lifecycle.archive_due,
                    lifecycle.shred_list, lifecycle.shred, lifecycle.dispose, lifecycle.stats, admin.audit, staff.staff, web.serve):
        cli.add_command(command)
    from pipeline.cli import rights

    for command in rights.register(cases.case):
        cli.add_command(command)
    for command in (reports.report, reports.message, reports.diary):  # issue 12: reports, messages, diaries
        cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="pps-archive", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return int(ExitCode.OK)
