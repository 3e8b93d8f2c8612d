"""``pps-archive case ...``: the case register."""

from __future__ import annotations

import datetime as dt

import click

from pipeline.cli._common import (
    ID,
    AppContext,
    as_of_option,
    by_option,
    json_option,
    login_actor,
    parse_day,
    pass_app,
    print_json,
    print_table,
    real_date,
    typed_consent,
    unlock,
    yes_option,
    view_as_of_option,
)

# the hold reasons of pipeline.models, spelled here so that --help needs no database import
HOLD_REASONS = ("safeguarding", "sar", "foi", "complaint", "tribunal", "legal")


@click.group()
def case() -> None:
    """Open cases and record consents, activity and holds."""


@case.command("open")
@click.argument("ref")
@click.option("--anonymous", is_flag=True, help="The parent/carer stays anonymous (nothing but the reference is kept).")
@click.option("--consent-to-store", is_flag=True, help="The parent/carer has consented to information being kept.")
@as_of_option
@by_option
@pass_app
def case_open(app: AppContext, ref: str, anonymous: bool, consent_to_store: bool, as_of: dt.date, actor: str) -> None:
    """Open case REF and make its key (needs a login: --user, else the recovery passphrase). Without --consent-to-store its
    documents wait in the review queue."""
    from pipeline import cases

    ws = app.workspace()
    secret = unlock(ws, actor)
    with ws.transaction() as s:
        c = cases.open_case(s, ws.config, ref, today=as_of, actor=actor, anonymous=anonymous, consent_to_store=consent_to_store,
                            passphrase=secret)
        ref = c.ref
    click.echo(f"opened case {ref}" + ("" if consent_to_store else " (no consent to store yet: its documents will wait in review)"))


@case.command("consent")
@click.argument("ref")
@click.option("--store", type=click.Choice(["yes", "no"]), help="Consent to store information (required before filing).")
@click.option("--third-party", "party", metavar="NAME", help="A third party (a role such as 'SEN Team' or 'School').")
@click.option("--allow/--withdraw", "allow", default=None, help="Allow or withdraw contact with --third-party.")
@click.option("--identify-to-la", "identify", type=click.Choice(["yes", "no"]),
              help="Permission to be identified in reports to the Local Authority (without it they are anonymous).")
@as_of_option
@by_option
@pass_app
def case_consent(app: AppContext, ref: str, store: str | None, party: str | None, allow: bool | None, as_of: dt.date,
                 actor: str, identify: str | None) -> None:
    """Record the parent/carer's consents for case REF."""
    from pipeline import cases

    if identify is not None:
        if store is not None or party is not None:
            raise click.UsageError("give --identify-to-la yes|no on its own")
        ws = app.workspace()
        actor = login_actor(ws, actor)
        with ws.transaction() as s:
            c = cases.set_la_identify_consent(s, ref, identify == "yes", today=as_of, actor=actor)
            ref = c.ref
        click.echo(f"case {ref}: permission to be identified to the Local Authority "
                   f"{'recorded' if identify == 'yes' else 'withdrawn'}")
        return
    if (store is None) == (party is None):
        raise click.UsageError("give either --store yes|no, --identify-to-la yes|no or --third-party NAME --allow|--withdraw")
    if party is not None and allow is None:
        raise click.UsageError("--third-party needs --allow or --withdraw")
    if party is None and allow is not None:
        raise click.UsageError("--allow/--withdraw go with --third-party NAME")
    ws = app.workspace()
    actor = login_actor(ws, actor)
    with ws.transaction() as s:
        if store is not None:
            c = cases.set_store_consent(s, ref, store == "yes", today=as_of, actor=actor)
            msg = f"case {c.ref}: consent to store {'recorded' if store == 'yes' else 'withdrawn'}"
            if store == "no":
                from pipeline import erasure
                from pipeline.cli.rights import offer_text

                msg += "; " + offer_text(erasure.offer(s, c.ref))
        else:
            tp = cases.set_third_party_consent(s, ws.config, ref, party, bool(allow), today=as_of, actor=actor)
            msg = f"case {tp.case.ref}: contact with {tp.party} {'allowed' if allow else 'withdrawn'}"
    click.echo(msg)


@case.command("touch")
@click.argument("ref")
@click.option("--on", "on", metavar="YYYY-MM-DD", default=None, help="Date of the activity (default: --as-of, else today).")
@as_of_option
@by_option
@pass_app
def case_touch(app: AppContext, ref: str, on: str | None, as_of: dt.date, actor: str) -> None:
    """Record activity on case REF: its archive and disposal dates move on."""
    from pipeline import cases

    day = as_of if on is None else parse_day(on, "--on")
    ws = app.workspace()
    actor = login_actor(ws, actor)
    with ws.transaction() as s:
        c = cases.touch(s, ref, day, actor=actor)
        dates = cases.case_dates(ws.config, c.last_activity)
        ref = c.ref
    click.echo(f"case {ref}: last activity {c.last_activity}, archive due {dates.archive_due}, dispose after {dates.dispose_after}")


@case.command("hold")
@click.argument("ref")
@click.option("--reason", required=True, type=click.Choice(HOLD_REASONS),
              help="safeguarding concern, subject access request, FOI request, complaint, tribunal or legal.")
@click.option("--note", required=True, help="Why (kept in the database only; not in the audit log).")
@as_of_option
@by_option
@pass_app
def case_hold(app: AppContext, ref: str, reason: str, note: str, as_of: dt.date, actor: str) -> None:
    """Put case REF on hold: its paper is not shredded and its records are not disposed of."""
    from pipeline import cases

    ws = app.workspace()
    actor = login_actor(ws, actor)
    with ws.transaction() as s:
        h = cases.place_hold(s, ref, reason, note, today=as_of, actor=actor)
        hold_id, ref = h.id, h.case.ref
    click.echo(f"case {ref}: hold {hold_id} ({reason}) placed")


@case.command("release")
@click.argument("ref")
@click.option("--hold", "hold_id", required=True, type=ID, help="The hold's number (see 'case list').")
@view_as_of_option  # a destructive command: a later date is refused by real_date, with that reason
@by_option
@yes_option
@pass_app
def case_release(app: AppContext, ref: str, hold_id: int, as_of: dt.date, actor: str, yes: bool) -> None:
    """Release hold --hold of case REF: its paper may then be shredded and its records disposed of.

    Runs on the real date and needs a manager's login (--user, else the recovery passphrase), recorded in the audit log."""
    from pipeline import cases

    real_date(as_of, "releasing a hold")
    ws = app.workspace()
    consent = typed_consent(f"release hold {hold_id} of case {ref}: its paper may then be shredded and its records "
                            f"disposed of", yes)
    auth = unlock(ws, actor)
    with ws.transaction() as s:
        h = cases.release_hold(s, ref, hold_id, today=as_of, auth=auth, consent=consent)
        ref = h.case.ref
    click.echo(f"case {ref}: hold {hold_id} released")


@case.command("list")
@json_option
@view_as_of_option
@pass_app
def case_list(app: AppContext, as_json: bool, as_of: dt.date) -> None:
    """List the cases with their dates and holds."""
    from pipeline import cases

    ws = app.workspace()
    with ws.reader() as s:
        rows = cases.list_cases(s, ws.config, as_of)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        r["holds"] = [f"{h['id']}:{h['reason']}" for h in r["holds"]]
    print_table(rows, ["ref", "status", "last_activity", "archive_due", "dispose_after", "holds", "consent_to_store"], empty="no cases")
