"""``ingest``, ``watch``, ``documents``, ``review``, ``quarantine`` and ``coversheet``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipeline.cli._common import ID, AppContext, as_of_option, by_option, json_option, pass_app, print_json, print_table, unlock

DOC_COLUMNS = ["id", "case_ref", "class", "decision", "pages", "state", "source", "reason"]


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(readable=False, path_type=Path))
@click.option("--keep", is_flag=True, help="Leave the files where they are (by default they are removed once safely taken in, as from a drop folder).")
@click.option("--workers", type=click.IntRange(1, 32), default=None, help="Worker processes (default: intake.workers).")
@json_option
@pass_app
def ingest(app: AppContext, paths: tuple[Path, ...], keep: bool, workers: int | None, as_json: bool) -> None:
    """Process PATHS now, in the foreground, exactly as the daemon would.

    Without PATHS, finishes whatever is already queued (after a crash, say). Only regular files
    are taken: a missing path, a link, a folder, a device or a pipe is refused with its reason and
    left as it is, and the others are processed. Exit status 102 when a file went to quarantine,
    104 when a path was refused, 101 when one was a duplicate (warnings: see 'quarantine list').
    """
    from pipeline import intake
    from pipeline.cli._progress import progress_bar

    ws = app.workspace()
    with progress_bar("processing inputs", quiet=as_json) as progress:
        results = intake.ingest(ws, app.config_file, list(paths), keep=keep, workers=workers, progress=progress)
    if as_json:
        print_json({"inputs": results})
    else:
        _print_results(results)
    # warnings, not errors (borg's convention): something needs a person's attention
    from pps_archive.errors import ExitCode

    if any(r["outcome"] == "quarantined" for r in results):
        click.get_current_context().exit(int(ExitCode.QUARANTINED))
    if any(r["outcome"] == "refused" for r in results):
        click.get_current_context().exit(int(ExitCode.INPUTS_REFUSED))
    if any(r["outcome"] == "duplicate" for r in results):
        click.get_current_context().exit(int(ExitCode.DUPLICATE_INPUT))


def _print_results(results: list[dict]) -> None:
    for r in results:
        name = r["file"] if isinstance(r["file"], str) else f"{r['file'][0]} (+{len(r['file']) - 1})"
        line = f"{name}: {r['outcome']}"
        if r["documents"]:
            line += f", documents {', '.join(map(str, r['documents']))}"
        if r.get("reason"):
            line += f" — {r['reason']}"
        click.echo(line)


@click.command()
@click.option("--folder", "folders", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Watch this folder instead of the configured drop folders (repeatable).")
@pass_app
def watch(app: AppContext, folders: tuple[Path, ...]) -> None:
    """The daemon: watch the drop folders and process what lands. SIGTERM finishes cleanly."""
    import signal

    from pipeline.intake import Daemon

    ws = app.workspace()
    daemon = Daemon(ws, app.config_file, folders)
    signal.signal(signal.SIGTERM, lambda *_: daemon.stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.stop())
    daemon.run()


@click.command()
@click.option("--case", "case_ref", metavar="REF", help="Only this case's documents.")
@json_option
@pass_app
def documents(app: AppContext, case_ref: str | None, as_json: bool) -> None:
    """List documents with their case, class, decision and the reason for it."""
    from pipeline.documents import list_documents

    ws = app.workspace()
    with ws.reader() as s:
        rows = list_documents(s, case_ref=case_ref)
    print_json(rows) if as_json else print_table(rows, DOC_COLUMNS, empty="no documents")


@click.group()
def review() -> None:
    """The manual queue: documents the pipeline could not decide on its own."""


@review.command("list")
@json_option
@pass_app
def review_list(app: AppContext, as_json: bool) -> None:
    """Documents waiting for a person, with the reason."""
    from pipeline.documents import list_documents

    ws = app.workspace()
    with ws.reader() as s:
        rows = list_documents(s, decision="review")
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["id", "suggested_case_ref", "class", "sheet_decision", "pages", "source_pages", "reason"],
                    empty="the review queue is empty")


@review.command("assign")
@click.argument("doc", type=ID)
@click.option("--case", "case_ref", required=True, metavar="REF", help="The case the document belongs to.")
@click.option("--retain/--shred", "retain", default=None,
              help="Keep a scan (then shred the paper), or shred only. Without either, the decision its cover "
                   "sheet gave is taken; a document without one is refused.")
@click.option("--class", "doc_class", metavar="CLASS", help="The document class (default: the one the pipeline saw, if any).")
@as_of_option
@by_option
@pass_app
def review_assign(app: AppContext, doc: int, case_ref: str, retain: bool | None, doc_class: str | None, as_of: dt.date, actor: str) -> None:
    """File review item DOC to case --case, as --retain or --shred (or as its cover sheet said).

    A document filed SHRED keeps its encrypted review copy until its paper is confirmed shredded,
    so that 'review undo' can take the decision back.
    """
    from pipeline.review import assign

    ws = app.workspace()
    decision = None if retain is None else ("retain" if retain else "shred")
    row = assign(ws, doc, case_ref, decision, doc_class, actor=actor, passphrase=unlock(ws, actor), today=as_of)
    how = " (as its cover sheet said)" if row["decision_from"] == "cover sheet" else ""
    click.echo(f"document {row['id']}: {row['decision']} {row['class']} for {row['case_ref']}{how}")


@review.command("undo")
@click.argument("doc", type=int)
@as_of_option
@by_option
@pass_app
def review_undo(app: AppContext, doc: int, as_of: dt.date, actor: str) -> None:
    """Take back the review decision on DOC: it returns to the review queue.

    Its shred-list entry is withdrawn and a kept scan is encrypted to the archive key again
    (needs a login). Refused once its paper is confirmed shredded or its scan is on a disc.
    """
    from pipeline.review import undo

    ws = app.workspace()
    row = undo(ws, doc, actor=actor, passphrase=unlock(ws, actor), today=as_of)
    click.echo(f"document {row['id']}: back in the review queue (suggested case {row['suggested_case_ref']})")


@review.command("split")
@click.argument("doc", type=int)
@click.option("--pages", "pages", required=True, metavar="RANGES",
              help="The parts, comma-separated, each a page or a range: '1-3,4-6' makes two documents.")
@click.option("--drop", "drop", metavar="PAGES",
              help="Pages to drop, such as a separator sheet scanned as a page: '7' or '7,9-10'. Every page must "
                   "be in a part or dropped.")
@as_of_option
@by_option
@pass_app
def review_split(app: AppContext, doc: int, pages: str, drop: str | None, as_of: dt.date, actor: str) -> None:
    """Mend a mis-split review item DOC: each part becomes a review item of its own.

    A page range may be dropped as a separator with --drop; a page in no part and not dropped is
    refused, so nothing is lost by a typing mistake. The first part keeps DOC's id. Needs the
    passphrase (the review copy is cut in memory and encrypted again).
    """
    from pipeline.review import parse_ranges, split

    parts = parse_ranges(pages, "--pages")
    dropped = tuple(n for r in parse_ranges(drop, "--drop") for n in r) if drop else ()
    ws = app.workspace()
    rows = split(ws, doc, parts, dropped, actor=actor, passphrase=unlock(ws, actor), today=as_of)
    for row in rows:
        click.echo(f"document {row['id']}: {row['pages']} page(s), in review ({', '.join(row['source_pages'])})")


@click.group()
def quarantine() -> None:
    """Inputs that could not be processed, with what to do about each."""


@quarantine.command("list")
@json_option
@pass_app
def quarantine_list(app: AppContext, as_json: bool) -> None:
    """Files in quarantine: the name they had, why, and when they came."""
    from pipeline.quarantine import list_entries

    ws = app.workspace()
    with ws.reader() as s:
        rows = list_entries(s)
    print_json(rows) if as_json else print_table(rows, ["id", "file", "received_at", "reason"], empty="quarantine is empty")


@quarantine.command("export")
@click.argument("entry", type=ID)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write the file into.")
@by_option
@pass_app
def quarantine_export(app: AppContext, entry: int, out: Path, actor: str) -> None:
    """Decrypt quarantined file ENTRY so a person can look at it (needs a login: --user, else the recovery passphrase)."""
    from pipeline.quarantine import export

    ws = app.workspace()
    secret = unlock(ws, actor)
    with ws.transaction() as s:
        written = export(ws, s, entry, out, secret, actor=actor)
    for path in written:
        click.echo(f"written: {path} (delete it when done)")


@click.command()
@click.argument("ref")
@click.option("--class", "doc_class", required=True, metavar="CLASS", help="Document class (see config: classes).")
@click.option("--retain/--shred", "retain", required=True, default=None, help="Keep a scan of the document, or shred only.")
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The PDF to write.")
@click.option("--archiving", is_flag=True,
              help="For old paper scanned while archiving the case: filing it is not new activity on the case.")
@pass_app
def coversheet(app: AppContext, ref: str, doc_class: str, retain: bool, out: Path, archiving: bool) -> None:
    """Write a printable cover sheet for a document of case REF."""
    from pipeline.coversheets import write_cover_sheet

    ws = app.workspace(ready=False)
    sheet = write_cover_sheet(ws.config, ref, doc_class, "retain" if retain else "shred", out, archiving=archiving)
    what = f"{sheet.decision.upper()} {sheet.doc_class}" + (", archiving" if sheet.archiving else "")
    click.echo(f"cover sheet for {sheet.case_ref} ({what}) written to {out}")
