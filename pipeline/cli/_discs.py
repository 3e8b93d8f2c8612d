"""Discs on the command line: several paths and globs for --media, and the "insert the next disc" loop."""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable
from pathlib import Path

import click

PROMPT = "Insert the next disc, then type its device or path (e.g. /dev/sr0); press Enter alone when there are no more"


def expand_media(values: Iterable[str | Path], what: str = "--media") -> list[Path]:
    """Each value a path, or a glob (``'/media/discs/*.iso'``, quoted so the program expands it):
    the paths in order, each once; a path that does not exist, or a glob that matches nothing, is
    a usage error."""
    out: list[Path] = []
    for value in values:
        text = str(value)
        if Path(text).exists():
            found = [text]
        elif glob.has_magic(text):
            found = sorted(glob.glob(text))
            if not found:
                raise click.BadParameter(f"nothing matches {text!r}", param_hint=what)
        else:
            raise click.BadParameter(f"{text!r} does not exist", param_hint=what)
        for f in found:
            if Path(f) not in out:
                out.append(Path(f))
    return out


def insert_one_by_one(present: Callable[[Path], dict], *, quiet: bool) -> list[dict]:
    """Ask for the next disc until an empty answer (or the end of the input, for a script), and
    present each one as it is given; returns what :func:`present` said of each."""
    results = []
    while True:
        try:
            answer = click.prompt(PROMPT, default="", show_default=False, err=True).strip()
        except (click.Abort, EOFError):
            break
        if not answer:
            break
        try:
            paths = expand_media([answer], "the disc")
        except click.BadParameter as exc:
            click.echo(f"  {exc.format_message()}: put the disc in and try again", err=True)
            continue
        for path in paths:
            r = present(path)
            results.append(r)
            if not quiet:
                echo_presented(r)
    return results


def echo_presented(r: dict) -> None:
    label = r["label"] or "?"
    words = {
        "presented": f"disc {label} read and recorded ({r['items']} items)",
        "again": f"disc {label} was presented before in this round: nothing new recorded",
        "not_registered": f"disc {label} read, but it is not in this archive's register (the plan will say so)",
        "refused": f"REFUSED, set it aside: {r['problem']}",
    }[r["outcome"]]
    click.echo(f"  {r['media']}: {words}", err=r["outcome"] == "refused")
    if r["outcome"] != "refused":
        left = r["not_presented"]
        click.echo(f"  {r['presented']} disc(s) presented in round {r['round']}; still to come: "
                   f"{', '.join(left) if left else 'none'}")


def echo_round(st: dict) -> None:
    purpose = "the disposal run" if st["purpose"] == "dispose" else "the read-back"
    click.echo(f"round of discs {st['round']} for {purpose}, opened {st['opened_at']} by {st['opened_by']}"
               + (f", closed {st['closed_at']} ({st['closed_because']})" if st["closed_at"] else ""))
    for d in st["presented"]:
        extra = "" if d["registered"] else " (not in the register)"
        click.echo(f"  presented: {d['label']}, {d['items']} items, read from {d['read_from']} by {d['presented_by']} "
                   f"at {d['presented_at']}{extra}")
    click.echo(f"  not presented yet: {', '.join(st['not_presented']) or 'none'}")
