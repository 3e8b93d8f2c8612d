"""A job's private working directory: every intermediate file of a job is named here.

``work/j<input id>-<attempt>/`` is created 0700 and removed when the job ends or fails, so the
plaintext of a scan exists only inside it (rule 2). Working folders left by a killed worker are
removed by :func:`sweep` before workers start.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import TracebackType

from pipeline.workspace import make_private_dir


class JobContext:
    def __init__(self, work_root: Path, input_id: int, attempt: int) -> None:
        self.root = work_root / f"j{input_id}-{attempt}"

    def __enter__(self) -> JobContext:
        # folders of this input's earlier attempts (a worker killed mid-job) go first
        for old in self.root.parent.glob(f"{self.root.name.split('-')[0]}-*"):
            shutil.rmtree(old, ignore_errors=True)
        make_private_dir(self.root)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def segment_pdf(self, n: int) -> Path:
        """The pages of document ``n`` as the scanner made them."""
        return self.root / f"seg{n:03d}.pdf"

    def tmp(self, name: str) -> Path:
        return self.root / name


def sweep(work_root: Path, keep: set[str] = frozenset()) -> list[str]:
    """Remove working folders of jobs no longer running (a worker was killed)."""
    removed = []
    for entry in work_root.iterdir():
        if entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed
