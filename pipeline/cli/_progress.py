"""A progress bar on the terminal for the library's progress callbacks (pipeline/progress.py).

Drawn on stderr with rich, only when a person is watching: never with ``--json`` (``quiet``) and
never when stdout or stderr is not a terminal (a script, a pipe, a log file, the test runner).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import IO

from pipeline.progress import Progress, ProgressCallback


def _isatty(stream: IO | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # a closed or stand-in stream
        return False


@contextlib.contextmanager
def progress_bar(description: str, *, quiet: bool = False, stream: IO | None = None,
                 stdout: IO | None = None) -> Iterator[ProgressCallback | None]:
    """A callback that moves a bar, or ``None`` (the library then reports nothing) when quiet."""
    err = sys.stderr if stream is None else stream
    out = sys.stdout if stdout is None else stdout
    if quiet or not _isatty(err) or not _isatty(out):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    with Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
             console=Console(file=err), transient=False) as bar:
        task = bar.add_task(description, total=None)

        def update(p: Progress) -> None:
            bar.update(task, total=p.total, completed=p.done)

        yield update
