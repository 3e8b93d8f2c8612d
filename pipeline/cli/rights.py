"""``pps-archive case erase|export|sar`` and ``pps-archive safeguarding``: the parent/carer's rights
and the safeguarding exception (pipeline.erasure, pipeline.subject_access, pipeline.safeguarding)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from pipeline.cli._common import (
    ID, AppContext, as_of_option, by_option, json_option, parse_day, pass_app, print_json, print_table, prompt_secret,
    real_date, typed_consent, unlock, view_as_of_option, yes_option,
)

ENV_EXPORT_PASSPHRASE = "PPS_ARCHIVE_EXPORT_PASSPHRASE"
ENV_EXPORT_PASSPHRASE_FILE = "PPS_ARCHIVE_EXPORT_PASSPHRASE_FILE"


def offer_text(offer: dict) -> str:
    """What `case consent --store no` says next: the erasure offered, or the hold that keeps the data."""
    ref = offer["case_ref"]
    held = (f"{len(offer['documents'])} document(s), {offer['vault_copies']} vault copy(ies), "
            f"{len(offer['paper'])} paper item(s) not yet shredded")
    text = f"intake files nothing more to case {ref} (new documents wait in review). Held: {held}."
    if offer["erasable"]:
        return text + f" A manager may erase them: 'pps-archive case erase {ref}'."
    return text + f" They are kept: {offer['reason']}."


@click.command("erase")
@click.argument("ref")
@view_as_of_option  # a destructive command: a later date is refused by real_date, with that reason
@by_option
@yes_option
@pass_app
def case_erase(app: AppContext, ref: str, as_of: dt.date, actor: str, yes: bool) -> None:
    """Erase everything held about case REF after its consent to store was withdrawn: its key is destroyed (the
    copies on discs become unreadable), its vault copies deleted, and a certificate lists the paper to shred or return.

    Refused while consent is recorded or a hold is in force. Runs on the real date and needs a manager's login (--user,
    else the recovery passphrase); asks for typed consent."""
    from pipeline import erasure

    real_date(as_of, "erasing a case")
    ws = app.workspace()
    with ws.reader() as s:
        offer = erasure.offer(s, ref)
    consent = typed_consent(f"erase case {offer['case_ref']}: its key is destroyed, {len(offer['documents'])} document(s) "
                            f"become unreadable for ever", yes)
    auth = unlock(ws, actor)
    cert = erasure.erase_case(ws, ref, auth=auth, today=as_of, consent=consent)
    click.echo(f"case {offer['case_ref']}: erased (key destroyed: {'yes' if cert['keys_destroyed'] else 'no key held'}); "
               f"certificate {cert['files'][0]}")
    for p in cert["paper"]:
        where = f"shred-list entry {p['id']}" if p["id"] else "review item"
        click.echo(f"  paper to shred or return: {where} (document {p['document']}, {p['pages']} page(s))")
    for d in cert["discs_to_destroy"]:
        click.echo(f"  disc to destroy: {d['label']} ({d['location'] or 'location not recorded'})")


def _export_passphrase(ref: str) -> bytes:
    from pipeline.passphrase import get_new_passphrase

    return get_new_passphrase(os.environ, prompt_secret if sys.stdin.isatty() else None, env_value=ENV_EXPORT_PASSPHRASE,
                              env_file=ENV_EXPORT_PASSPHRASE_FILE, label="Passphrase for the export",
                              what="the export passphrase", context=[ref, "pps", "export"])


@click.command("export")
@click.argument("ref")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The encrypted bundle to write (an age file: 'age -d' opens it with the passphrase).")
@click.option("--media", "media", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="A disc image or mount point to read documents from whose vault copy is gone (repeatable).")
@click.option("--close", is_flag=True, help="The export answers the subject access request: lift its hold.")
@view_as_of_option
@by_option
@yes_option
@pass_app
def case_export(app: AppContext, ref: str, out: Path, media: tuple[Path, ...], close: bool, as_of: dt.date, actor: str,
                yes: bool) -> None:
    """Subject access: everything held about case REF (documents, case record, consents, holds, shred records, audit
    events) as one ZIP with an index page, encrypted to a passphrase given now (typed twice, or
    $PPS_ARCHIVE_EXPORT_PASSPHRASE / $PPS_ARCHIVE_EXPORT_PASSPHRASE_FILE). Needs a manager's login."""
    from pipeline import subject_access

    real_date(as_of, "a subject access export")
    ws = app.workspace()
    secret = _export_passphrase(ref)
    consent = typed_consent(f"close the subject access request of case {ref} once exported (its hold is lifted)", yes) \
        if close else "not closed"
    auth = unlock(ws, actor)
    r = subject_access.export_case(ws, ref, out, secret, auth=auth, today=as_of, media=list(media), close=close, consent=consent)
    click.echo(f"case {r['case_ref']}: {r['documents']} document(s) exported to {out} ({r['from_vault']} from the vault, "
               f"{r['from_discs']} from discs, {r['paper_only']} paper only), encrypted to the passphrase given")
    if r["closed_hold"] is not None:
        click.echo(f"subject access request closed: hold {r['closed_hold']} lifted")


@click.group("sar")
def case_sar() -> None:
    """Subject access requests: opening one places a hold (nothing is destroyed after a request)."""


@case_sar.command("open")
@click.argument("ref")
@click.option("--note", required=True, help="What was asked and when it is due (kept in the database only).")
@as_of_option
@by_option
@pass_app
def sar_open(app: AppContext, ref: str, note: str, as_of: dt.date, actor: str) -> None:
    """Record a subject access request for case REF: a 'sar' hold is placed at once."""
    from pipeline import subject_access

    ws = app.workspace()
    auth = unlock(ws, actor)
    with ws.transaction() as s:
        h = subject_access.open_request(s, ref, note, today=as_of, auth=auth)
        hold_id, ref = h.id, h.case.ref
    click.echo(f"case {ref}: subject access request recorded, hold {hold_id} placed")


@case_sar.command("close")
@click.argument("ref")
@click.option("--hold", "hold_id", type=ID, default=None, help="The request's hold (if the case has more than one open).")
@view_as_of_option
@by_option
@yes_option
@pass_app
def sar_close(app: AppContext, ref: str, hold_id: int | None, as_of: dt.date, actor: str, yes: bool) -> None:
    """The subject access request of case REF is answered: lift its hold. Needs a manager's login; asks for typed consent."""
    from pipeline import subject_access

    real_date(as_of, "closing a subject access request")
    ws = app.workspace()
    consent = typed_consent(f"close the subject access request of case {ref}: its hold is lifted", yes)
    auth = unlock(ws, actor)
    with ws.transaction() as s:
        h = subject_access.close_request(s, ref, today=as_of, auth=auth, consent=consent, hold_id=hold_id)
        hold_id, ref = h.id, h.case.ref
    click.echo(f"case {ref}: subject access request closed, hold {hold_id} lifted")


# --- safeguarding ----------------------------------------------------------------------------------

def _text(value: str) -> str:
    """A text option; '-' reads it from standard input (so that it is not in the shell's history)."""
    return sys.stdin.read() if value == "-" else value


@click.group()
def safeguarding() -> None:
    """The safeguarding exception: concerns and disclosures, sealed to the case's key; managers read them."""


@safeguarding.command("record")
@click.argument("ref")
@click.option("--concern", required=True, help="The concern, in words ('-' reads it from standard input).")
@click.option("--decided-by", metavar="NAME", default=None, help="Who raised it (default: who records it).")
@click.option("--on", "on", metavar="YYYY-MM-DD", default=None, help="When it was raised (default: --as-of, else today).")
@as_of_option
@by_option
@pass_app
def sg_record(app: AppContext, ref: str, concern: str, decided_by: str | None, on: str | None, as_of: dt.date, actor: str) -> None:
    """Record a safeguarding concern about case REF; a safeguarding hold is placed. Any staff login."""
    from pipeline import safeguarding as sg

    ws = app.workspace()
    auth = unlock(ws, actor)
    with ws.transaction() as s:
        r = sg.record_concern(s, ref, _text(concern), today=as_of, auth=auth, decided_by=decided_by,
                              decided_on=parse_day(on, "--on") if on else None)
    click.echo(f"case {r.case_ref}: safeguarding concern {r.id} recorded (hold {r.hold})")


@safeguarding.command("disclose")
@click.argument("ref")
@click.option("--to", "to_whom", required=True, help="To whom it was disclosed (a role or an agency).")
@click.option("--shared", "what_shared", required=True, help="What was shared ('-' reads it from standard input).")
@click.option("--why", required=True, help="Why it was shared.")
@click.option("--decided-by", metavar="NAME", required=True, help="Who decided to disclose.")
@click.option("--on", "on", metavar="YYYY-MM-DD", default=None, help="When it was decided (default: --as-of, else today).")
@as_of_option
@by_option
@pass_app
def sg_disclose(app: AppContext, ref: str, to_whom: str, what_shared: str, why: str, decided_by: str, on: str | None,
                as_of: dt.date, actor: str) -> None:
    """Record a disclosure made under the safeguarding exception for case REF; a safeguarding hold is placed."""
    from pipeline import safeguarding as sg

    ws = app.workspace()
    auth = unlock(ws, actor)
    with ws.transaction() as s:
        r = sg.record_disclosure(s, ref, to_whom=to_whom, what_shared=_text(what_shared), why=why, decided_by=decided_by,
                                 decided_on=parse_day(on, "--on") if on else as_of, today=as_of, auth=auth)
    click.echo(f"case {r.case_ref}: safeguarding disclosure {r.id} recorded (hold {r.hold})")


@safeguarding.command("list")
@click.argument("ref")
@json_option
@by_option
@pass_app
def sg_list(app: AppContext, ref: str, as_json: bool, actor: str) -> None:
    """Show the safeguarding records of case REF (managers only; the reading is recorded in the audit log).
    Keys: id, case_ref, kind, decided_by, decided_on, recorded_by, recorded_at, hold, concern, to_whom, what_shared, why."""
    from pipeline import safeguarding as sg

    ws = app.workspace()
    auth = unlock(ws, actor)
    rows = [r.as_dict() for r in sg.read_records(ws, ref, auth=auth)]
    if as_json:
        print_json(rows)
        return
    print_table(rows, ["id", "kind", "decided_by", "decided_on", "concern", "to_whom", "what_shared", "why"],
                empty="no safeguarding records")


def register(case_group: click.Group) -> list[click.Command]:
    """Add the case subcommands to ``case``; the top-level commands to add to the CLI."""
    for command in (case_erase, case_export, case_sar):
        case_group.add_command(command)
    return [safeguarding]
