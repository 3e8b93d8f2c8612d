"""Shared bits for the drop-folder watcher tests: a fake clock and a recorder of callbacks."""

from __future__ import annotations

import threading
from pathlib import Path

from scanners.watch import ReadyInput


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """Collects ``on_ready`` / ``on_refused`` calls; threads can wait for them."""

    def __init__(self, *, take: bool = False) -> None:
        self.ready: list[ReadyInput] = []
        self.refused: list[tuple[Path, str]] = []
        self.take = take  # move reported files away, as the real intake does
        self._cond = threading.Condition()

    def on_ready(self, unit: ReadyInput) -> None:
        with self._cond:
            self.ready.append(unit)
            if self.take:
                for p in unit.paths:
                    p.unlink()
            self._cond.notify_all()

    def on_refused(self, path: Path, reason: str) -> None:
        with self._cond:
            self.refused.append((path, reason))
            self._cond.notify_all()

    def wait(self, predicate, timeout: float = 15.0) -> bool:  # noqa: ANN001
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def names(self) -> list[tuple[str, ...]]:
        return [u.names for u in self.ready]
