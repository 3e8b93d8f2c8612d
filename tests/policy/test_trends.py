"""Statistical reports over time: anonymous counts by month, small numbers suppressed; CSV, PDF, SVG."""

from __future__ import annotations

import csv
import datetime as dt
import io

from pipeline import cases
from pipeline.trends import trend_chart_svg, trends, trends_csv, trends_pdf
from tests.auth_helpers import backdate, unlocked


def test_counts_over_time_are_anonymous_with_small_numbers_suppressed(session, cfg) -> None:  # noqa: ANN001
    """Policy: "Statistical reports produced from the database are all anonymous and are used to help the
    PPS monitor its service and identify issues and trends." Month by month: cases opened, active,
    archived, disposed; documents by class; holds by reason; every count from 1 to 4 shown as "<5"."""
    unlocked(session, cfg)
    refs = [f"PPS-2025-{n:04d}" for n in range(1, 8)]
    for ref in refs:
        cases.open_case(session, cfg, ref, today=dt.date(2025, 1, 10), actor="alice", consent_to_store=True)
    backdate(session, dt.date(2025, 1, 10))
    for ref in refs[:6]:  # six stay active: seen again in March
        cases.touch(session, ref, dt.date(2025, 3, 1), actor="alice")
    cases.place_hold(session, refs[0], "sar", "request", today=dt.date(2025, 2, 3), actor="alice")
    t = trends(session, cfg, dt.date(2025, 1, 1), dt.date(2025, 9, 30))
    assert t.months[0] == "2025-01" and t.months[-1] == "2025-09" and len(t.months) == 9
    c = t.groups["cases"]
    assert c["opened"][0] == 7 and c["opened"][1] == 0
    assert c["active"][0] == 7  # January's end
    assert c["active"][6] == 6 and c["archived"][6] == "<5"  # July: one case inactive for six months
    assert c["archived"][8] == 7 and c["active"][8] == 0
    assert t.groups["holds_by_reason"]["sar"][1] == "<5"
    assert set(t.groups["documents_by_class"]) >= set(cfg.classes) | {"unclassified"}
    rows = list(csv.DictReader(io.StringIO(trends_csv(t))))
    assert rows[0]["month"] == "2025-01" and rows[0]["cases_opened"] == "7" and rows[1]["holds_by_reason_sar"] == "<5"
    assert not any("total" in k for k in rows[0])  # no totals: a suppressed cell could be worked out
    text = " ".join(v for r in rows for v in r.values())
    assert not any(ref in text for ref in refs)
    svg = trend_chart_svg(t, "cases")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "&lt;5" in svg
    pdf = trends_pdf(t, cfg.section("service")["name"])
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000
