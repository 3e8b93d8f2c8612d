"""Issue 13, fewer and fuller discs: the planning rule, consolidation onto as few discs as possible,
and ``media plan``'s size equal to the built image's, to the byte. The rule itself as a pure
function, then through the CLI on real pipeline output and both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from archive_media.iso import estimate_totals
from pipeline import disc_planning as dp
from tests.cli_helpers import run
from tests.conftest import PASSPHRASE
from tests.factory import Cover, Doc, ScanFactory

MiB = 1 << 20
DAY = dt.date(2026, 3, 2)


def _items(n: int, size: int, year: int = 2032, since: dt.date = DAY, cases: int | None = None) -> list[dp.Pending]:
    return [dp.Pending(k, f"PPS-2026-{k % (cases or n):04d}", year, (size,), since) for k in range(n)]


def test_a_small_cohort_waits_until_its_oldest_item_has_waited_max_wait_days() -> None:
    rule = dp.Rule("fill-or-wait", 90, 42)
    items = _items(5, 600_000)
    waiting = dp.decide(items, 580 * MiB, estimate_totals, rule, DAY + dt.timedelta(days=41))
    assert (waiting.build, len(waiting.waiting), waiting.due_on) == ((), 5, DAY + dt.timedelta(days=42))
    due = dp.decide(items, 580 * MiB, estimate_totals, rule, DAY + dt.timedelta(days=42))
    assert [len(b.items) for b in due.build] == [5] and due.waiting == ()


def test_a_full_disc_is_built_at_once_and_only_the_remainder_waits() -> None:
    rule = dp.Rule("fill-or-wait", 90, 42)
    items = _items(150, 5 * MiB)  # 750 MiB: one full disc and a remainder
    d = dp.decide(items, 580 * MiB, estimate_totals, rule, DAY)
    assert len(d.build) == 1 and dp.fill_of(d.build[0], estimate_totals) >= 0.9 * 580 * MiB
    assert len(d.build[0].items) + len(d.waiting) == 150 and d.waiting


def test_the_remainder_of_every_year_goes_on_one_disc_labelled_with_the_latest_year() -> None:
    rule = dp.Rule("fill-or-wait", 90, 42)
    items = [*_items(3, 400_000, 2031), *[dp.Pending(10 + k, f"PPS-2026-01{k:02d}", 2032, (300_000,), DAY) for k in range(4)]]
    d = dp.decide(items, 580 * MiB, estimate_totals, rule, DAY + dt.timedelta(days=60))
    assert [(b.year, len(b.items)) for b in d.build] == [(2032, 7)]
    before = dp.decide(items, 580 * MiB, estimate_totals, dp.Rule("every-build", 90, 42), DAY)
    assert [(b.year, len(b.items)) for b in before.build] == [(2031, 3), (2032, 4)]  # the old behaviour


def test_first_fit_decreasing_packs_into_fewer_discs_than_case_order() -> None:
    """Sizes 6, 5, 4, 3, 2 (x 10 MiB) in case order on 11-unit discs: next-fit needs 3, FFD 2."""
    unit = 10 * MiB
    items = [dp.Pending(k, f"PPS-2026-{k:04d}", 2032, (n * unit - 2 * 2048,), DAY) for k, n in enumerate([3, 6, 2, 5, 4])]
    cap = 11 * unit
    assert len(dp.pack(items, cap, estimate_totals)) == 2
    assert len(dp._in_case_order(items, cap, estimate_totals)) == 3  # noqa: SLF001 - the planner before


def test_a_cases_items_stay_on_one_disc() -> None:
    items = _items(40, 3 * MiB, cases=7)
    for b in dp.pack(items, 50 * MiB, estimate_totals):
        for ref in {i.case_ref for i in b.items}:
            assert sum(i.case_ref == ref for i in b.items) == sum(i.case_ref == ref for i in items)


# --- through the CLI, on real documents ------------------------------------------------------------

REFS = ("PPS-2024-0137", "PPS-2024-0138", "PPS-2025-0201")


@pytest.fixture
def filed(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: ARG001 - both databases
    """Three cases (disposal years 2030, 2030, 2031), one retained document each, filed; no disc yet."""
    monkeypatch.setenv("PPS_ARCHIVE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PPS_ARCHIVE__MEDIA__ERROR_CORRECTION", "false")
    run("init")
    for ref, day in zip(REFS, ("2024-01-10", "2024-02-10", "2025-01-20"), strict=True):
        run("case", "open", ref, "--consent-to-store", "--as-of", day)
    parts = []
    for n, ref in enumerate(REFS):
        parts += [Cover(ref, "retain", "PPS-LETTER", archiving=True), Doc("pps-letter", ref, pages=1 + n)]  # keeps the dates
    batch = ScanFactory(seed=13).batch(tmp_path / "in", "scan_0001.pdf", parts, container="pdf-text", dpi=150)
    assert run("ingest", str(batch.files[0]), "--json").json()["inputs"][0]["outcome"] == "done"
    return tmp_path


def test_plan_bytes_are_the_built_image_bytes_exactly(filed: Path) -> None:
    planned = run("media", "plan", "--json").json()
    built = run("media", "build", "--out", str(filed / "discs"), "--json").json()
    assert [(p["label"], p["items"]) for p in planned] == [(b["label"], b["items"]) for b in built]
    assert len(built) == 2  # every-build (the tests' setting): one disc per disposal year
    for p, b in zip(planned, built, strict=True):
        assert p["bytes"] == b["bytes"] == Path(b["path"]).stat().st_size


def test_fill_or_wait_holds_small_discs_back_until_the_wait_is_up(filed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PPS_ARCHIVE__MEDIA__PLANNING", "fill-or-wait")
    today = dt.date.today()
    assert run("media", "plan", "--json").json() == []
    text = run("media", "plan").out
    assert "waiting for a fuller disc: 3 document(s)" in text and str(today + dt.timedelta(days=42)) in text
    assert run("media", "build", "--out", str(filed / "discs"), "--json").json() == []
    assert [d["items"] for d in run("media", "plan", "--now", "--json").json()] == [3]  # a person may ask for it now
    # on the day the wait is up, everything goes on one disc, both years together
    later = (today + dt.timedelta(days=42)).isoformat()
    planned = run("media", "plan", "--as-of", later, "--json").json()
    built = run("media", "build", "--out", str(filed / "discs"), "--as-of", later, "--json").json()
    assert [(b["label"], b["items"]) for b in built] == [("PPS-2031-001", 3)]
    assert planned[0]["bytes"] == built[0]["bytes"]


def test_consolidation_puts_the_live_items_of_several_discs_on_one(filed: Path) -> None:
    first = run("media", "build", "--out", str(filed / "discs"), "--json").json()
    assert sorted(b["label"] for b in first) == ["PPS-2030-001", "PPS-2031-001"]
    again = run("media", "build", "--out", str(filed / "discs"), "--consolidate", "PPS-2030-001",
                "--consolidate", "PPS-2031-001", "--json").json()
    assert [(b["label"], b["items"]) for b in again] == [("PPS-2031-002", 3)]
