"""``archive-due``, ``shred-list`` and ``shred confirm``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline.cli._common import (
    ID, AppContext, by_option, json_option, pass_app, print_json, print_table, real_date, typed_consent, unlock,
    view_as_of_option, yes_option,
)
from pps_archive.errors import DisposalNotApproved

if TYPE_CHECKING:
    from pipeline.authority import Unlocked
    from pipeline.workspace import Workspace


@click.command("archive-due")
@view_as_of_option
@json_option
@pass_app
def archive_due(app: AppContext, as_of: dt.date, as_json: bool) -> None:
    """Cases inactive for the archive period, and what is still to do for each."""
    from pipeline.lifecycle import archive_due as due

    from pipeline.media import discs_due_for_reread

    ws = app.workspace()
    with ws.reader() as s:
        rows = due(s, ws.config, as_of)
        discs = discs_due_for_reread(s, ws.config, as_of)
    if as_json:
        print_json(rows)
        _discs_due(discs, ws.config.section("media")["reread_months"], err=True)  # stdout stays the list of cases
        return
    for r in rows:
        r["holds"] = [f"{h['id']}:{h['reason']}" for h in r["holds"]]
        r["review"] = len(r["documents_in_review"])
        r["not_on_disc"] = len(r["not_on_verified_disc"])
        r["unshredded"] = len(r["paper_not_shredded"])
    print_table(rows, ["ref", "last_activity", "archive_due", "holds", "review", "not_on_disc", "unshredded", "archived"],
                empty=f"no case is due for archiving on {as_of}")
    _discs_due(discs, ws.config.section("media")["reread_months"], err=False)


def _discs_due(discs: list[dict], months: int, *, err: bool) -> None:
    if not discs:
        return
    click.echo(f"{len(discs)} disc(s) due for re-reading (every {months} months, with the disc in the drive: "
               f"'pps-archive media verify --full /dev/sr0') or for replacing:", err=err)
    for d in discs:
        click.echo(f"  {d['label']} ({d['location'] or 'no location recorded'}): {d['action']} - {d['reason']}, due {d['due_on']}",
                   err=err)


@click.command("shred-list")
@click.option("--pdf", "pdf", type=click.Path(dir_okay=False, path_type=Path), help="Also write a printable PDF of the list.")
@click.option("--all", "show_all", is_flag=True, help="Include entries already confirmed (--json always does).")
@click.option("--state", "states", multiple=True, metavar="STATE",
              help="Only entries in this state: waiting, pending, blocked or confirmed (repeatable).")
@view_as_of_option
@json_option
@pass_app
def shred_list(app: AppContext, pdf: Path | None, show_all: bool, states: tuple[str, ...], as_of: dt.date, as_json: bool) -> None:
    """Paper to shred: pending entries may be shredded now; waiting ones (a case still active) from
    their due_on date; blocked ones say why not."""
    from pipeline import shredding

    ws = app.workspace()
    with ws.transaction() as s:
        rows = shredding.shred_list(s, ws.config, today=as_of, include_confirmed=show_all or as_json, states=states or None)
    if pdf is not None:
        shredding.write_pdf(rows, pdf, ws.config.section("service")["name"], as_of)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        if r["blocked_hint"]:
            r["blocked_reason"] = f"{r['blocked_reason']}. {r['blocked_hint']}"
    print_table(rows, ["id", "case_ref", "class", "pages", "holder", "state", "due_on", "blocked_reason"], empty="nothing to shred")


@click.group()
def shred() -> None:
    """Record paper as shredded."""


@shred.command("confirm")
@click.argument("ids", nargs=-1, required=True, type=ID)
@by_option
@view_as_of_option  # a destructive command: a later date is refused by real_date, with that reason
@yes_option
@pass_app
def shred_confirm(app: AppContext, ids: tuple[int, ...], actor: str, as_of: dt.date, yes: bool) -> None:
    """Confirm shred-list entries IDS shredded (refused for waiting and blocked entries).

    Runs on the real date and needs a login (--user, else the recovery passphrase); the account is
    recorded in the audit log, and --by, if given, must be that account."""
    from pipeline import shredding
    from pipeline.actors import staff_name

    actor = staff_name(actor)
    real_date(as_of, "confirming paper shredded")
    ws = app.workspace()
    consent = typed_consent(f"confirm that {actor} has shredded the paper of shred-list "
                            f"entr{'y' if len(ids) == 1 else 'ies'} {', '.join(map(str, ids))}", yes)
    auth = unlock(ws, actor)
    with ws.transaction() as s:
        done = shredding.confirm(s, ws.config, list(ids), auth=auth, today=as_of, consent=consent)
    click.echo(f"confirmed shredded: {', '.join(map(str, done))}")


@click.command()
@click.option("--media", "sources", multiple=True, metavar="PATH",
              help="A disc: the drive (/dev/sr0), a mounted disc or an image; repeat it, give several paths after it, or a "
                   "quoted glob ('/media/discs/*.iso').")
@click.argument("more_sources", nargs=-1, metavar="[PATH]...")
@click.option("--one-by-one", "one_by_one", is_flag=True,
              help="Put the discs in one at a time: asks for the next disc until an empty answer. What was read is kept, "
                   "so a later sitting (the same command again) continues the round.")
@click.option("--round", "round_id", type=ID, metavar="ROUND",
              help="Use this round of discs (default: the open one; see --one-by-one).")
@click.option("--new-round", is_flag=True, help="Close the open round of discs and start a new one.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing, save nothing.")
@click.option("--prepare", is_flag=True, help="Save the plan for a second person's approval; prints its id and hash.")
@click.option("--approve", "approve_id", type=ID, metavar="PLAN_ID", help="Approve saved plan PLAN_ID (shown first).")
@click.option("--plan-hash", "plan_hash", metavar="SHA256",
              help="With --approve: the hash --prepare printed; refused if the plan saved is not that plan.")
@click.option("--execute", "execute_id", type=ID, metavar="PLAN_ID",
              help="Execute approved plan PLAN_ID, on its date, against the discs given with --media (or its round's).")
@view_as_of_option
@by_option
@yes_option
@json_option
@pass_app
def dispose(app: AppContext, sources: tuple[str, ...], more_sources: tuple[str, ...], one_by_one: bool, round_id: int | None,
            new_round: bool, dry_run: bool, prepare: bool, approve_id: int | None, plan_hash: str | None,
            execute_id: int | None, as_of: dt.date, actor: str, yes: bool, as_json: bool) -> None:
    """The annual disposal run: destroy the keys of cases due (crypto-erase), list discs to destroy.

    \b
    By default it takes two people (lifecycle.disposal_approvers = 2):
      pps-archive dispose --media DISC... --prepare --by ALICE     saves the plan: prints PLAN_ID and its hash
      pps-archive dispose --approve PLAN_ID --plan-hash HASH --by BOB   a different manager approves it
      pps-archive dispose --execute PLAN_ID --media DISC... --by BOB    destroys exactly what was approved
    The run is refused, and nothing destroyed, if the plan computed then differs from the one
    approved (a hold placed, activity recorded, a case or a disc added or missing). A plan expires
    after lifecycle.disposal_plan_days and once executed. With lifecycle.disposal_approvers = 1
    (an office of one) "dispose --media DISC... --yes" prepares and executes at once, and the
    certificate says "single approver by configuration".

    \b
    With one CD drive, put the discs in one at a time, over as many sittings as it takes:
      pps-archive dispose --one-by-one --by ALICE      asks for each disc, reads it, records it
    then "dispose --prepare" (no --media) makes the plan from the discs presented in that round,
    listing the registered discs not presented, and "dispose --execute PLAN_ID" (no --media) runs
    it against the same round.

    --dry-run shows the plan for any date. Every other step runs on the real date and needs a
    login (--user, else the recovery passphrase); approving and executing need a manager."""
    from pipeline import disposal, disposal_plans
    from pipeline.cli._discs import expand_media, insert_one_by_one

    modes = [m for m, on in (("--dry-run", dry_run), ("--prepare", prepare), ("--approve", approve_id is not None),
                             ("--execute", execute_id is not None)) if on]
    if len(modes) > 1:
        raise click.UsageError(f"give only one of {', '.join(modes)}")
    if plan_hash is not None and approve_id is None:
        raise click.UsageError("--plan-hash goes with --approve PLAN_ID")
    paths = expand_media([*sources, *more_sources])
    ws = app.workspace()
    logins: list = []

    def auth():  # noqa: ANN202 - one login for the whole command
        if not logins:
            logins.append(unlock(ws, actor))
        return logins[0]

    use_round = None
    if one_by_one or round_id is not None or new_round or (not paths and approve_id is None and execute_id is None):
        use_round = _dispose_round(ws, round_id, new_round, paths, one_by_one, auth, insert_one_by_one, as_json,
                                   presenting_only=not modes and not yes)
        if use_round is None:  # presenting only, or no round and no discs
            return
        paths = []
    if dry_run:
        result = disposal.dry_run(ws, paths, as_of, round=use_round, auth=auth() if use_round is not None else None)
        if as_json:
            print_json(result)
            return
        click.echo(f"disposal plan for {as_of} (dry run, nothing changed):")
        _print_plan(result["dispose"], result)
        return
    if approve_id is not None:
        shown = disposal_plans.show(ws, approve_id)
        _print_saved(shown, as_json)
        consent = typed_consent(f"approve disposal plan {approve_id} (SHA-256 {shown['sha256']}), which destroys the records "
                                f"of {len(shown['plan']['dispose'])} case(s) for good", yes)
        done = disposal_plans.approve(ws, approve_id, plan_hash or shown["sha256"], auth=auth(), consent=consent)
        if as_json:
            print_json(done)
            return
        click.echo(f"disposal plan {done['id']} approved by {done['approved_by']}; execute it with: pps-archive dispose "
                   f"--execute {done['id']}" + (" (the discs of its round are used)" if done["plan"].get("round") else " --media DISC..."))
        return
    if execute_id is not None:
        shown = disposal_plans.show(ws, execute_id)
        if not paths and shown["plan"].get("round") is None:
            raise click.UsageError("give the discs with --media (every disc in the cupboard)")
        real_date(dt.date.fromisoformat(shown["as_of"]), "the disposal run")
        _print_saved(shown, as_json)
        consent = typed_consent(_destroy_words(shown), yes)
        _print_certificate(_execute(ws, execute_id, paths, auth=auth(), consent=consent, as_json=as_json), as_json)
        return
    real_date(as_of, "preparing the disposal run" if prepare else "the disposal run")
    if not prepare:
        try:
            disposal_plans.ensure_one_person_allowed(ws.config)
        except DisposalNotApproved as exc:
            raise DisposalNotApproved(what=exc.fields["what"], problem=exc.fields["problem"], next=(
                "Prepare it: 'pps-archive dispose --media DISC... --prepare --by NAME'; a different manager approves "
                "it: 'pps-archive dispose --approve PLAN_ID --plan-hash HASH --by NAME'; then 'pps-archive dispose "
                "--execute PLAN_ID --media DISC...'.")) from None
    saved = disposal_plans.prepare(ws, paths, as_of, auth=auth(), round=use_round)
    if prepare:
        if as_json:
            print_json(saved)
            return
        _print_saved(saved, as_json)
        click.echo(f"next: a manager other than {saved['prepared_by']} approves it with\n  pps-archive dispose --approve "
                   f"{saved['id']} --plan-hash {saved['sha256']} --by NAME")
        return
    if not as_json:
        _print_saved(saved, as_json)
    consent = typed_consent(_destroy_words(saved), yes)  # the plan shown is the plan executed
    _print_certificate(_execute(ws, saved["id"], paths, auth=auth(), consent=consent, as_json=as_json), as_json)


def _dispose_round(ws, round_id, new_round, paths, one_by_one, auth, insert_one_by_one, as_json, *,  # noqa: ANN001, ANN202, PLR0913
                   presenting_only: bool):
    """Present the discs into the round (given ones, then one at a time); return the round to
    plan from, or None when this command only presents discs (or there is neither round nor disc)."""
    from pipeline import disc_rounds
    from pipeline.cli._discs import echo_presented, echo_round
    from pipeline import verify_marks as marks

    presenting = one_by_one or bool(paths) or new_round
    if not presenting:  # plan from the open round, if there is one
        with ws.transaction() as s:
            found = disc_rounds.get_round(s, round_id, disc_rounds.DISPOSE) if round_id is not None else \
                disc_rounds.current_round(s, disc_rounds.DISPOSE)
            rid = found.id if found is not None else None
        if rid is None:
            raise click.UsageError("give the discs with --media (every disc in the cupboard), or put them in one at a time "
                                   "with --one-by-one")
        return rid
    unlocked = auth()
    with ws.transaction() as s:
        r = disc_rounds.get_round(s, round_id, disc_rounds.DISPOSE) if round_id is not None else \
            disc_rounds.open_round(s, disc_rounds.DISPOSE, actor=unlocked.actor, new=new_round)
        rid = r.id

    errors = []

    def present(path):  # noqa: ANN001, ANN202 - each disc in its own transaction: kept as soon as it is read
        with ws.transaction() as s:
            r = disc_rounds.present_disc(s, ws, rid, path, auth=unlocked)
        if r.error is not None:
            errors.append(r.error)
        return r.as_dict()

    results = []
    for path in paths:
        results.append(present(path))
        if not as_json:
            echo_presented(results[-1])
    if one_by_one:
        results += insert_one_by_one(present, quiet=as_json)
    refused = [r for r in results if r["outcome"] == "refused"]
    if not presenting_only:
        if errors and not one_by_one:  # given on the command line: the run does not go on without it
            raise errors[0]
        return rid
    with ws.transaction() as s:
        st = disc_rounds.status(s, rid, mark_key=marks.mark_key(unlocked.master))
    if as_json:
        print_json({"round": st, "results": results})
    else:
        echo_round(st)
        click.echo("next: put in the other discs the same way (now or another day), then 'pps-archive dispose --prepare' "
                   "makes the plan from this round")
    if refused:
        from pps_archive.errors import ExitCode

        click.echo(f"pps-archive: warning: {len(refused)} disc(s) refused and not recorded: "
                   + "; ".join(f"{r['media']}: {r['problem']}" for r in refused), err=True)
        click.get_current_context().exit(int(ExitCode.DISCS_REFUSED))
    return None


def _execute(ws: Workspace, plan_id: int, sources: list[Path], *, auth: Unlocked, consent: str, as_json: bool) -> dict:
    """Execute the plan with a progress bar (cases disposed of) for a person at a terminal."""
    from pipeline import disposal_plans
    from pipeline.cli._progress import progress_bar

    with progress_bar("disposing of cases", quiet=as_json) as progress:
        return disposal_plans.execute(ws, plan_id, sources, auth=auth, consent=consent, progress=progress)


def _destroy_words(saved: dict) -> str:
    refs = [d["case_ref"] for d in saved["plan"]["dispose"]]
    return f"destroy the records of {len(refs)} case(s) for good ({', '.join(refs) or 'none'}), as disposal plan {saved['id']} says"


def _print_saved(saved: dict, as_json: bool) -> None:
    if as_json:
        return
    click.echo(f"disposal plan {saved['id']} for {saved['as_of']} ({saved['state']}): prepared by {saved['prepared_by']} "
               f"at {saved['prepared_at']}, expires {saved['expires_at']}")
    click.echo(f"  SHA-256: {saved['sha256']}")
    if saved["approved_by"]:
        click.echo(f"  approved by {saved['approved_by']} at {saved['approved_at']}")
    _print_plan(saved["plan"]["dispose"], saved["plan"])


def _print_certificate(cert: dict, as_json: bool) -> None:
    if as_json:
        print_json(cert)
        return
    click.echo(f"disposal run {cert['run']} on {cert['run_date']}:")
    _print_plan(cert["destroyed"], cert | {"held": cert["held_back"], "kept_reactivated": cert["kept_reactivated"],
                                           "kept_in_review": cert["kept_in_review"]})
    if cert.get("approval"):
        click.echo(f"  approval: {cert['approval']['approval']}")
    click.echo(f"certificate: {', '.join(cert['files'])}")


def _print_plan(cases: list[dict], p: dict) -> None:
    click.echo(f"  cases to dispose of: {', '.join(c['case_ref'] for c in cases) or 'none'}")
    for h in p.get("held", []):
        click.echo(f"  held back: {h['case_ref']} ({', '.join(x['words'] for x in h['holds'])})")
    for k in p.get("kept_reactivated", []):
        click.echo(f"  kept (reactivated): {k['case_ref']}, now dispose after {k['register_says']}")
    for k in p.get("kept_in_review", []):
        click.echo(f"  kept (documents in review: was it reactivated?): {k['case_ref']}, review items "
                   f"{', '.join(map(str, k['documents']))}")
    for d in p.get("discs_to_destroy", []):
        click.echo(f"  destroy disc {d['label']} ({d['location'] or 'location not recorded'})")
    for d in p.get("discs_to_consolidate", []):
        click.echo(f"  consolidate disc {d['label']}: re-burn the live items of {', '.join(d['live_cases'])}, then destroy it")
    for label in p.get("discs_not_presented", p.get("not_presented", [])):
        click.echo(f"  not presented: disc {label} is in the register but was not read")
    for label in p.get("discs_not_registered", p.get("not_registered", [])):
        click.echo(f"  not registered: disc {label} was read but is not in this archive's register")
    unfiled = p.get("unfiled") or {}
    if any(unfiled.values()):
        entries = len(unfiled.get("quarantine_entries", []))
        click.echo(f"  never filed to a case, aged out: {len(unfiled.get('review_items', []))} review item(s), "
                   f"{entries} quarantine entr{'y' if entries == 1 else 'ies'}")


@click.command()
@view_as_of_option
@json_option
@pass_app
def stats(app: AppContext, as_of: dt.date, as_json: bool) -> None:
    """Anonymous statistics for monitoring the service (counts under 5 shown as <5)."""
    from pipeline.stats import statistics

    ws = app.workspace()
    with ws.reader() as s:
        data = statistics(s, as_of)
    if as_json:
        print_json(data)
        return
    click.echo(f"statistics as of {data['as_of']} (counts under {data['suppressed_below']} are shown as <{data['suppressed_below']})")
    for key, table in data.items():
        if isinstance(table, dict):
            click.echo(f"\n{key.replace('_', ' ')}:")
            for k, v in table.items():
                click.echo(f"  {k:<32} {v}")
