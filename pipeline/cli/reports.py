"""``report`` (to the Local Authority, statistics over time), ``message`` and ``diary``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.cli._common import ID, AppContext, as_of_option, json_option, parse_day, pass_app, print_json, print_table, unlock


@click.group()
def report() -> None:
    """Reports to the Local Authority and statistical reports (anonymous)."""


@report.command("la-issue")
@click.option("--issue", "issue", metavar="TEXT", help="The issue to bring to the Local Authority's attention.")
@click.option("--issue-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The issue, from a text file.")
@click.option("--case", "ref", metavar="REF", help="Name the case (only with the parent/carer's permission to be identified).")
@click.option("--detail", "details", metavar="LABEL=VALUE", multiple=True,
              help="An identifying detail (e.g. 'Parent/carer=...'): included only with that permission, else withheld.")
@click.option("--document", "documents", type=ID, multiple=True, help="A document of the case to refer to (with that permission).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report here (.pdf for a PDF, else text); default: print it.")
@as_of_option
@json_option
@pass_app
def report_la_issue(app: AppContext, issue: str | None, issue_file: Path | None, ref: str | None, details: tuple[str, ...],
                    documents: tuple[int, ...], out: Path | None, as_of: dt.date, as_json: bool) -> None:
    """Write a report of an issue to the Local Authority: anonymous unless the parent/carer gave
    permission to be identified ('case consent REF --identify-to-la yes').

    Without that permission a --case or --document is refused (exit 94), and the identifying details,
    case references, e-mail addresses, telephone numbers and postcodes in the text are withheld."""
    from pipeline.reports import la_issue_report, write_la_report

    if (issue is None) == (issue_file is None):
        raise click.UsageError("give the issue as --issue TEXT or --issue-file FILE")
    text = issue if issue is not None else issue_file.read_text(encoding="utf-8")
    pairs = {}
    for d in details:
        label, sep, value = d.partition("=")
        if not sep or not label.strip():
            raise click.BadParameter(f"{d!r}: write it as LABEL=VALUE", param_hint="--detail")
        pairs[label.strip()] = value
    ws = app.workspace()
    auth = unlock(ws)
    with ws.transaction() as s:
        rep = la_issue_report(s, ws.config, auth, issue=text, today=as_of, ref=ref, identifying=pairs, documents=documents)
    if out is not None:
        write_la_report(rep, out)
    if as_json:
        print_json({**rep.as_dict(), "written_to": str(out) if out else None})
    elif out is not None:
        how = f"naming case {rep.case_ref}" if rep.identified else f"anonymous, {rep.withheld} detail(s) withheld"
        click.echo(f"report to the Local Authority ({how}) written to {out}")
    else:
        click.echo(rep.as_text(), nl=False)


def _period(start: str | None, end: str | None) -> tuple[dt.date, dt.date]:
    from pipeline.dates import add_months

    to = dt.date.today() if end is None else parse_day(end, "--to", days_ahead=3660)
    frm = add_months(to, -11).replace(day=1) if start is None else parse_day(start, "--from", days_ahead=3660)
    return frm, to


@report.command("stats")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First day of the period (default: 11 months before --to, from the 1st).")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day of the period (default: today).")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the counts as CSV, a row a month.")
@click.option("--pdf", "pdf_out", type=click.Path(dir_okay=False, path_type=Path), help="Write a printable report with charts.")
@click.option("--svg", "svg_out", type=click.Path(dir_okay=False, path_type=Path), help="Write one chart (--chart) as SVG.")
@click.option("--chart", type=click.Choice(["cases", "documents_by_class", "holds_by_reason"]), default="cases",
              show_default=True, help="The chart --svg draws.")
@json_option
@pass_app
def report_stats(app: AppContext, start: str | None, end: str | None, csv_out: Path | None, pdf_out: Path | None,
                 svg_out: Path | None, chart: str, as_json: bool) -> None:
    """Statistics over time, month by month: cases opened, active, archived and disposed of;
    documents by class; holds by reason. Anonymous: counts under 5 are shown as <5, no totals.
    Without --csv, --pdf, --svg or --json the CSV is printed."""
    from pps_archive.atomic import atomic_write_bytes
    from pipeline.trends import trend_chart_svg, trends, trends_csv, trends_pdf

    frm, to = _period(start, end)
    ws = app.workspace()
    with ws.reader() as s:
        t = trends(s, ws.config, frm, to)
    for path, data in ((csv_out, lambda: trends_csv(t).encode()), (pdf_out, lambda: trends_pdf(t, ws.config.section("service")["name"])),
                       (svg_out, lambda: trend_chart_svg(t, chart).encode())):
        if path is not None:
            atomic_write_bytes(path, data(), mode=0o644)
            if not as_json:
                click.echo(f"written: {path}")
    if as_json:
        print_json(t.as_dict())
    elif csv_out is None and pdf_out is None and svg_out is None:
        click.echo(trends_csv(t), nl=False)


@click.command("message")
@click.option("--for", "recipient", required=True, metavar="NAME", help="Who the message is for (the parent/carer).")
@click.option("--caller", required=True, metavar="NAME", help="Who made the call (e.g. your first name).")
@click.option("--case", "ref", metavar="REF", help="The case the call is about: its names list is checked (never said).")
@click.option("--avoid", multiple=True, metavar="NAME", help="A name that must not be said (the child's, say); repeat as needed.")
@json_option
@pass_app
def message(app: AppContext, recipient: str, caller: str, ref: str | None, avoid: tuple[str, ...], as_json: bool) -> None:
    """The message to leave for a parent/carer: who it is for, who called, and the service's number
    (messages.template); refused (exit 95) if it would carry a case reference or a name or word
    about the child or case."""
    from pipeline.messages import build_message

    ws = app.workspace()
    auth = unlock(ws)
    with ws.transaction() as s:
        msg = build_message(s, ws.config, auth, recipient=recipient, caller=caller, ref=ref, avoid=avoid)
    if as_json:
        print_json(msg.as_dict())
    else:
        click.echo(msg.text)


@click.group()
def diary() -> None:
    """Staff diaries: everyone sees where appointments are booked, only the adviser and managers whose case."""


def _when(value: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(value.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise click.BadParameter(f"{value!r}: write it as 'YYYY-MM-DD HH:MM'", param_hint="--at") from None


@diary.command("book")
@click.option("--at", "at", required=True, metavar="'YYYY-MM-DD HH:MM'", help="When the appointment starts.")
@click.option("--minutes", type=click.IntRange(1, 720), default=60, show_default=True, help="How long it lasts.")
@click.option("--place", required=True, help="Where (seen by all staff): never who with.")
@click.option("--case", "ref", metavar="REF", help="The case it is for (seen only by you and managers); moves its last activity.")
@click.option("--staff", "staff", metavar="NAME", help="Whose diary (default: yours; another's needs a manager).")
@pass_app
def diary_book(app: AppContext, at: str, minutes: int, place: str, ref: str | None, staff: str | None) -> None:
    """Book an appointment."""
    from pipeline import diary as lib
    from pipeline.dates import utcnow

    starts = _when(at)
    ws = app.workspace()
    auth = unlock(ws)
    with ws.transaction() as s:
        slot = lib.book(s, ws.config, auth, starts_at=starts, minutes=minutes, place=place, ref=ref, staff=staff,
                        now=utcnow().replace(tzinfo=None))
    click.echo(f"appointment {slot.id} booked for {slot.staff}: {slot.starts_at:%Y-%m-%d %H:%M}-{slot.ends_at:%H:%M}, {slot.place}"
               + (f", case {slot.case_ref}" if slot.case_ref else ""))


@diary.command("week")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First day (default: today).")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True, help="How many days.")
@json_option
@pass_app
def diary_week(app: AppContext, start: str | None, days: int, as_json: bool) -> None:
    """Every booked slot: who, when, where; the case only for your own appointments (all, for a manager).
    Needs a login: the diary is for staff only."""
    from pipeline import diary as lib

    day = dt.date.today() if start is None else parse_day(start, "--from", days_ahead=3660)
    ws = app.workspace()
    auth = unlock(ws)
    with ws.transaction() as s:
        slots = [x.as_dict() for x in lib.week(s, auth, day, days)]
    if as_json:
        print_json(slots)
        return
    print_table(slots, ["id", "staff", "starts_at", "ends_at", "place", "case_ref"], empty="no appointments booked")


@diary.command("cancel")
@click.argument("appointment", type=ID)
@pass_app
def diary_cancel(app: AppContext, appointment: int) -> None:
    """Cancel APPOINTMENT (yours, or any as a manager)."""
    from pipeline import diary as lib
    from pipeline.dates import utcnow

    ws = app.workspace()
    auth = unlock(ws)
    with ws.transaction() as s:
        slot = lib.cancel(s, auth, appointment, now=utcnow().replace(tzinfo=None))
    click.echo(f"appointment {slot.id} cancelled")
