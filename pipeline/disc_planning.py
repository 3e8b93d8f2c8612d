"""Which pending items go on which disc, and when a disc is worth burning (issue 13).

A pure decision on plain values, used by :func:`pipeline.media.plan` and by the simulation in
``bench/disc_planning.py``. The rule (``media.planning = "fill-or-wait"``, the default):

1. The pending items are grouped by the year their case is due for disposal (a *cohort*), and a
   cohort is packed onto as few discs as it needs, first-fit decreasing with a case's items kept
   together. Every disc that comes out at least ``media.fill_percent`` full is built at once.
2. What is left (the under-filled remainder of each cohort) waits, until the oldest item in it has
   waited ``media.max_wait_days`` since it was filed, or a build consolidates discs or is asked to
   build everything now. Then the whole remainder, every year together, is packed first-fit
   decreasing onto as few discs as it needs and all of them are built. A disc holding several
   years is labelled with the latest: it expires whole when its last case is due (the earlier
   cases on it are crypto-erased on their own date all the same).

So retained paper waits for its disc at most ``max_wait_days`` after it was filed, plus the time
until the next ``media build`` (a weekly build: at most ``max_wait_days + 7`` days), plus the
burning and the verification from the drive that unlock its shredding.

``media.planning = "every-build"`` is the behaviour before: every build puts everything pending on
discs at once, one set of discs per disposal year, filled in case order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

PLANNINGS = ("fill-or-wait", "every-build")


@dataclass(frozen=True)
class Rule:
    planning: str = "fill-or-wait"
    fill_percent: float = 90.0
    max_wait_days: int = 42

    @classmethod
    def of(cls, media: dict) -> Rule:
        """From the ``[media]`` section of the configuration (validated there)."""
        return cls(media["planning"], float(media["fill_percent"]), int(media["max_wait_days"]))


@dataclass(frozen=True)
class Pending:
    """One item to place: its key (a document id), case, disposal year, the blob sizes it puts
    on a disc, and the day it was filed (from when its paper waits)."""

    key: Hashable
    case_ref: str
    year: int
    sizes: tuple[int, ...]
    since: dt.date


@dataclass(frozen=True)
class Bin:
    year: int  # the latest disposal year of its items
    items: tuple[Pending, ...]

    @property
    def sizes(self) -> list[int]:
        return [n for i in self.items for n in i.sizes]


@dataclass(frozen=True)
class Decision:
    build: tuple[Bin, ...]
    waiting: tuple[Pending, ...]
    #: the day the waiting items will be built at the latest (None: nothing waits)
    due_on: dt.date | None

    @property
    def waiting_bytes(self) -> int:
        return sum(sum(i.sizes) for i in self.waiting)


#: an upper bound of a disc's image size from the sum of its blobs' sizes, each rounded up to
#: whole 2,048-byte sectors, and their number (archive_media.iso.estimate_totals)
Estimate = Callable[[int, int], int]
SECTOR = 2048


def _load(sizes: Sequence[int]) -> tuple[int, int]:
    return sum(-(-n // SECTOR) * SECTOR for n in sizes), len(sizes)


def _fits(estimate: Estimate, capacity: int, *loads: tuple[int, int]) -> bool:
    return estimate(sum(d for d, _ in loads), sum(f for _, f in loads)) <= capacity


def fill_of(b: Bin, estimate: Estimate) -> int:
    """The bound of the bin's image size (what the fill is measured with)."""
    return estimate(*_load(b.sizes))


def decide(items: Sequence[Pending], capacity: int, estimate: Estimate, rule: Rule, today: dt.date, *,
           now: bool = False) -> Decision:
    """What to build on ``today`` (see the module docstring). ``now``: build everything pending
    (a consolidation, or a person asking), packed as tightly as the fill-or-wait rule packs."""
    for item in items:
        if not _fits(estimate, capacity, _load(item.sizes)):
            from pps_archive.errors import InvalidValue

            raise InvalidValue(f"document {item.key} ({sum(item.sizes)} bytes) is larger than a disc's capacity of {capacity} bytes")
    if rule.planning == "every-build" and not now:
        return Decision(tuple(_in_case_order(items, capacity, estimate)), (), None)
    build: list[Bin] = []
    rest: list[Pending] = []
    for year in sorted({i.year for i in items}):
        for b in pack([i for i in items if i.year == year], capacity, estimate):
            if fill_of(b, estimate) * 100 >= rule.fill_percent * capacity:
                build.append(b)
            else:
                rest.extend(b.items)
    if not rest:
        return Decision(tuple(build), (), None)
    due_on = min(i.since for i in rest) + dt.timedelta(days=rule.max_wait_days)
    if now or due_on <= today:
        return Decision(tuple(build) + tuple(pack(rest, capacity, estimate)), (), None)
    return Decision(tuple(build), tuple(sorted(rest, key=_order)), due_on)


def _order(i: Pending) -> tuple:
    return (i.case_ref, i.key)


def pack(items: Sequence[Pending], capacity: int, estimate: Estimate) -> list[Bin]:
    """First-fit decreasing, a case's items as one unit (split in case order only when a case is
    larger than a disc). Deterministic: the same items give the same discs."""
    units: dict[str, list[Pending]] = {}
    for i in sorted(items, key=_order):
        units.setdefault(i.case_ref, []).append(i)
    pieces: list[tuple[list[Pending], tuple[int, int]]] = []
    for unit in units.values():
        load = _load([n for i in unit for n in i.sizes])
        if _fits(estimate, capacity, load):
            pieces.append((unit, load))
        else:
            pieces.extend((list(b.items), _load(b.sizes)) for b in _in_case_order(unit, capacity, estimate))
    pieces.sort(key=lambda p: (-p[1][0], _order(p[0][0])))
    bins: list[list[Pending]] = []
    loads: list[tuple[int, int]] = []
    for piece, load in pieces:
        for n, b in enumerate(bins):
            if _fits(estimate, capacity, loads[n], load):
                b.extend(piece)
                loads[n] = (loads[n][0] + load[0], loads[n][1] + load[1])
                break
        else:
            bins.append(list(piece))
            loads.append(load)
    out = [Bin(max(i.year for i in b), tuple(sorted(b, key=_order))) for b in bins]
    return sorted(out, key=lambda b: (b.year, _order(b.items[0])))


def _in_case_order(items: Sequence[Pending], capacity: int, estimate: Estimate) -> list[Bin]:
    """The planner before issue 13: per disposal year, in case order, a new disc when one is full."""
    out: list[Bin] = []
    for year in sorted({i.year for i in items}):
        current: list[Pending] = []
        load = (0, 0)
        for item in sorted((i for i in items if i.year == year), key=_order):
            extra = _load(item.sizes)
            if current and not _fits(estimate, capacity, load, extra):
                out.append(Bin(year, tuple(current)))
                current, load = [], (0, 0)
            current.append(item)
            load = (load[0] + extra[0], load[1] + extra[1])
        if current:
            out.append(Bin(year, tuple(current)))
    return out
