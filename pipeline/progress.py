"""Progress of long work, for a front-end to draw: a callback with a small frozen value.

Library functions that take a while (ingest of a batch, media build, full verification, the
disposal run) accept ``progress: ProgressCallback | None``. They call it with ``done == 0`` when the
total is known, then once per unit finished, ``done`` rising to ``total``. The callback only
draws: it must not raise, and it never sees a name, only a stage and counts. The CLI draws a bar
on a terminal (pipeline/cli/_progress.py); a web app can push the values to a page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    stage: str  #: what is being counted, e.g. "ingest", "build", "verify", "dispose"
    done: int
    total: int


ProgressCallback = Callable[[Progress], None]


def report(progress: ProgressCallback | None, stage: str, done: int, total: int) -> None:
    """Call ``progress`` if there is one (library code calls this, never the callback itself)."""
    if progress is not None:
        progress(Progress(stage=stage, done=done, total=total))
