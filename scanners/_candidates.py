"""The candidate table: what each drop folder holds, since when each file has been unchanged,
and which units are due for the final check.

A unit is what one ``on_ready`` call hands over: one ordinary file, or all single-page files of
one batch (same subfolder, same ``batch`` group of the profile's ``group_pattern``) in page order.
Pure bookkeeping with an injected clock value: no file-system access, no threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from scanners._dropscan import Refusal, SeenFile

_NEVER = -math.inf


@dataclass
class _Entry:
    seen: SeenFile
    since: float  # clock value when this fingerprint was first seen


@dataclass
class Unit:
    profile: str
    key: tuple[str, str]  # ("file", rel) or ("group", subfolder/batch)
    quiet: float  # how long everything must have been unchanged
    members: list[_Entry] = field(default_factory=list)
    paths: frozenset[Path] = frozenset()
    members_since: float = _NEVER  # membership last changed (a page appeared or vanished)
    reported: tuple | None = None  # identity handed to on_ready successfully
    reported_at: float = _NEVER
    retry_at: float = _NEVER
    failures: int = 0
    busy_since: float | None = None
    busy_warned: bool = False

    @property
    def is_group(self) -> bool:
        return self.key[0] == "group"

    @property
    def identity(self) -> tuple:
        return tuple((e.seen.path, e.seen.fp) for e in self.members)

    @property
    def quiet_since(self) -> float:
        return max([self.members_since, *(e.since for e in self.members)])

    def ready_at(self, rescan: float) -> float:
        at = self.quiet_since + self.quiet
        if self.reported is not None and self.reported == self.identity:
            at = max(at, self.reported_at + rescan)
        return max(at, self.retry_at)


class CandidateTable:
    def __init__(self, stable_seconds: float, rescan_seconds: float) -> None:
        self.stable = stable_seconds
        self.rescan = rescan_seconds
        self._entries: dict[str, dict[Path, _Entry]] = {}
        self._units: dict[str, dict[tuple[str, str], Unit]] = {}
        self._refused: dict[str, dict[Path, tuple]] = {}

    def update(self, profile: str, files: list[SeenFile], now: float, group_wait: float) -> None:
        """Replace what ``profile``'s folder holds with this listing."""
        old = self._entries.get(profile, {})
        new: dict[Path, _Entry] = {}
        for f in files:
            e = old.get(f.path)
            if e is not None and e.seen.fp == f.fp:
                e.seen = f
            else:
                e = _Entry(f, now)
            new[f.path] = e
        self._entries[profile] = new

        grouped: dict[tuple[str, str], list[_Entry]] = {}
        for e in new.values():
            key = ("group", e.seen.batch) if e.seen.batch is not None else ("file", e.seen.rel)
            grouped.setdefault(key, []).append(e)
        old_units = self._units.get(profile, {})
        units: dict[tuple[str, str], Unit] = {}
        for key, members in grouped.items():
            members.sort(key=lambda e: (e.seen.page or 0, e.seen.rel))
            quiet = max(self.stable, group_wait) if key[0] == "group" else self.stable
            unit = old_units.get(key) or Unit(profile, key, quiet)
            paths = frozenset(e.seen.path for e in members)
            if paths != unit.paths:
                unit.paths, unit.members_since = paths, now
            unit.members = members
            units[key] = unit
        self._units[profile] = units

    def new_refusals(self, profile: str, refused: list[Refusal]) -> list[Refusal]:
        """The refusals not reported before (a path is reported again only if it changes)."""
        old = self._refused.get(profile, {})
        current = {r.path: (r.identity, r.reason) for r in refused}
        self._refused[profile] = current
        return [r for r in refused if old.get(r.path) != current[r.path]]

    def units(self) -> list[Unit]:
        return [u for per_profile in self._units.values() for u in per_profile.values()]

    def due(self, now: float) -> list[Unit]:
        """Units whose quiet time has passed, oldest first."""
        due = [u for u in self.units() if u.ready_at(self.rescan) <= now]
        return sorted(due, key=lambda u: (u.quiet_since, u.profile, u.key))

    def next_deadline(self) -> float | None:
        times = [u.ready_at(self.rescan) for u in self.units()]
        return min(times) if times else None

    def _backoff(self, failures: int) -> float:
        return min(self.rescan, max(self.stable, 0.1) * 2 ** max(failures - 1, 0))

    def mark_reported(self, unit: Unit, now: float) -> None:
        unit.reported, unit.reported_at = unit.identity, now
        unit.retry_at, unit.failures = _NEVER, 0
        unit.busy_since, unit.busy_warned = None, False

    def mark_failed(self, unit: Unit, now: float) -> None:
        """``on_ready`` raised: try again later, backing off up to the rescan interval."""
        unit.failures += 1
        unit.retry_at = now + self._backoff(unit.failures)

    def mark_busy(self, unit: Unit, now: float) -> bool:
        """Still open for writing or not readable yet: look again after another quiet period.

        Returns True once, when the unit has been busy for longer than the rescan interval
        (worth a warning: something holds the file open).
        """
        unit.retry_at = now + max(self.stable, 0.1)
        if unit.busy_since is None:
            unit.busy_since = now
        if not unit.busy_warned and now - unit.busy_since >= self.rescan:
            unit.busy_warned = True
            return True
        return False

    def mark_changed(self, unit: Unit, now: float) -> None:
        """The final check saw a different file: its quiet time starts again."""
        unit.members_since = now
