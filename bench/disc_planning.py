"""A simulated year of an office's archiving: discs burnt under the fill-or-wait rule against before.

    .venv/bin/python bench/disc_planning.py [--weeks 52] [--docs-per-week 10 50 200] [--seed 1]

Volumes assumed (state them when quoting the figures):

- ``--docs-per-week`` retained documents are filed each week (Monday to Friday, evenly); the default
  runs three offices: 10 (a small service), 50 and 200 a week;
- a document has 1 + a geometric number of extra pages, 4 pages on average (letters of 1-2 pages,
  reports and EHCPs of 10-40), and each page is an OCR'd PDF/A page of a 300 dpi scan, log-normal
  with a median of 90 KB (sigma 0.5): about 400 KB a document, and the age envelope adds ~200 bytes;
- 3 documents a case on average; a case was last active 6 to 18 months before its paper is
  archived, so its disposal year (last activity + 6 years) spans two calendar years;
- 580 MiB of data per disc (``media.capacity``'s default).

Three ways of running it, each for the same filings, with the real planner
(:func:`pipeline.disc_planning.decide`, the size bound :func:`archive_media.iso.estimate_totals`):

- before, weekly: ``media build`` every Friday, every pending document burnt (``every-build``);
- before, monthly: the same on the last Friday of each month (the issue's example);
- fill-or-wait: ``media build`` every Friday, with the defaults (a disc at least 90 % full is
  burnt at once, the rest when its oldest document has waited 42 days).

Prints discs burnt, their mean fill (the planner's size bound over the capacity; within about
0.1 % of the image for a disc over 100 MB), the longest and mean wait of a document's paper for
its disc, and the ratio of discs burnt before to discs burnt under the rule.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive_media.iso import estimate_totals  # noqa: E402
from pipeline import disc_planning as dp  # noqa: E402

CAPACITY = 580 * (1 << 20)
START = dt.date(2026, 1, 5)  # a Monday


def filings(weeks: int, per_week: int, seed: int) -> list[dp.Pending]:
    rng = random.Random(seed)
    out: list[dp.Pending] = []
    case_no, left_in_case, year = 0, 0, 0
    for w in range(weeks):
        for n in range(per_week):
            day = START + dt.timedelta(days=7 * w + (n * 5) // per_week)
            if left_in_case == 0:  # a new case: 1-5 documents, 3 on average
                case_no, left_in_case = case_no + 1, rng.randint(1, 5)
                last_active = day - dt.timedelta(days=rng.randint(183, 548))
                year = last_active.year + 6
            left_in_case -= 1
            pages = 1 + int(math.log(1 - rng.random()) / math.log(0.75))  # geometric: mean 4
            size = sum(int(rng.lognormvariate(math.log(90_000), 0.5)) for _ in range(pages)) + 200
            out.append(dp.Pending(len(out), f"PPS-{day.year}-{case_no:04d}", year, (size,), day))
    return out


def simulate(items: list[dp.Pending], weeks: int, rule: dp.Rule, build_days: list[dt.date]) -> dict:
    pending: list[dp.Pending] = []
    todo = sorted(items, key=lambda i: i.since)
    discs, waits = [], []
    for day in build_days:  # the builds go on after the last filing until nothing is left
        while todo and todo[0].since <= day:
            pending.append(todo.pop(0))
        decision = dp.decide(pending, CAPACITY, estimate_totals, rule, day)
        built = {i.key for b in decision.build for i in b.items}
        for b in decision.build:
            discs.append(dp.fill_of(b, estimate_totals) / CAPACITY)
            waits += [(day - i.since).days for i in b.items]
        pending = [i for i in pending if i.key not in built]
    return {"discs": len(discs), "fill": statistics.mean(discs) if discs else 0.0,
            "max_wait": max(waits, default=0), "mean_wait": statistics.mean(waits) if waits else 0.0}


def fridays(weeks: int) -> list[dt.date]:
    """Every Friday of the year and of the ten weeks after it (no filings then: the last go on discs)."""
    return [START + dt.timedelta(days=7 * w + 4) for w in range(weeks + 10)]


def last_fridays(weeks: int) -> list[dt.date]:
    days = fridays(weeks)
    return [d for d, nxt in zip(days, days[1:] + [None], strict=True) if nxt is None or nxt.month != d.month]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weeks", type=int, default=52)
    ap.add_argument("--docs-per-week", type=int, nargs="+", default=[10, 50, 200])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rule = dp.Rule("fill-or-wait", 90, 42)
    before = dp.Rule("every-build", 90, 42)
    print(f"{args.weeks} weeks, {CAPACITY >> 20} MiB a disc; rule: fill >= {rule.fill_percent:g} % or oldest waited "
          f"{rule.max_wait_days} days, 'media build' every Friday")
    head = (f"{'docs/week':>9} {'GB/year':>7} | {'before, weekly':>22} | {'before, monthly':>22} | {'fill-or-wait':>22} | "
            f"{'ratio wk':>8} {'ratio mo':>8}")
    print(head)
    print(f"{'':>9} {'':>7} | {'discs  fill  max wait':>22} | {'discs  fill  max wait':>22} | {'discs  fill  max wait':>22} |")
    print("-" * len(head))
    for per_week in args.docs_per_week:
        items = filings(args.weeks, per_week, args.seed)
        gb = sum(i.sizes[0] for i in items) / 1e9 * 52 / args.weeks
        rows = [simulate(items, args.weeks, before, fridays(args.weeks)),
                simulate(items, args.weeks, before, last_fridays(args.weeks)),
                simulate(items, args.weeks, rule, fridays(args.weeks))]
        cells = " | ".join(f"{r['discs']:>5} {100 * r['fill']:>4.0f}% {r['max_wait']:>5} d" for r in rows)
        print(f"{per_week:>9} {gb:>7.2f} | {cells:>22} | {rows[0]['discs'] / rows[2]['discs']:>8.1f} "
              f"{rows[1]['discs'] / rows[2]['discs']:>8.1f}")


if __name__ == "__main__":
    main()
