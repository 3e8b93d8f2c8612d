"""Statistical reports over time, for the Local Authority and for the service's own monitoring.

The policy: "Statistical reports produced from the database are all anonymous and are used to help
the PPS monitor its service and identify issues and trends."

:func:`trends` counts, month by month between two dates: cases opened, active and archived (at the
month's end) and disposed of; documents received by class; holds placed by reason. Every count is
suppressed as :mod:`pipeline.stats` does (1 to 4 shown as ``"<5"``), and no totals are given (a
suppressed cell could be worked out by subtraction). Nothing comes from free text: only dates,
classes and hold reasons, which come from fixed lists. A case's activity over time comes from the
audit log (its opening and every recorded activity), so a month's "active" is what the register
said then. :func:`trends_csv`, :func:`trends_pdf` (a printable report with charts drawn by
``reportlab.graphics``) and :func:`trend_chart_svg` (one chart, for the web app) render it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.config import Config
from pipeline.dates import add_months
from pipeline.models import HOLD_REASONS, AuditEvent, Case, Document, Hold
from pipeline.stats import SUPPRESS_BELOW, SUPPRESSED, suppress
from pps_archive.errors import InvalidValue

CASE_MEASURES = ("opened", "active", "archived", "disposed")
GROUPS = ("cases", "documents_by_class", "holds_by_reason")
GROUP_TITLES = {"cases": "Cases", "documents_by_class": "Documents received, by class",
                "holds_by_reason": "Holds placed, by reason"}
#: the longest period one report covers, in months
MAX_MONTHS = 120

Cell = int | str


@dataclass(frozen=True)
class Trends:
    """Counts by month, already suppressed: ``groups[group][measure]`` is one cell a month."""

    start: dt.date
    end: dt.date
    months: tuple[str, ...]  # "YYYY-MM"
    groups: dict[str, dict[str, tuple[Cell, ...]]]
    suppressed_below: int = SUPPRESS_BELOW

    def as_dict(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "suppressed_below": self.suppressed_below,
                "months": list(self.months),
                "groups": {g: {m: list(v) for m, v in rows.items()} for g, rows in self.groups.items()}}


def _month_key(day: dt.date | dt.datetime) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months(start: dt.date, end: dt.date) -> list[tuple[str, dt.date]]:
    """(key, the month's last day within the period) for every month from ``start`` to ``end``."""
    out, first = [], start.replace(day=1)
    while first <= end:
        nxt = add_months(first, 1)
        out.append((_month_key(first), min(nxt - dt.timedelta(days=1), end)))
        first = nxt
    return out


def _activity(s: Session, cases: list) -> dict[str, list[dt.date]]:
    """Each case's activity dates, from the audit log (its opening and each recorded activity)."""
    days: dict[str, list[dt.date]] = defaultdict(list)
    stmt = (select(AuditEvent.case_ref, AuditEvent.details)
            .where(AuditEvent.action.in_(("case.open", "case.touch")), AuditEvent.case_ref.is_not(None)))
    for ref, details in s.execute(stmt.execution_options(yield_per=2000)):
        on = json.loads(details).get("on")
        if on:
            days[ref].append(dt.date.fromisoformat(str(on)[:10]))
    for c in cases:  # a register older than its log (or with no events) still counts its own dates
        days[c.ref].extend((c.opened_on, c.last_activity))
    return {ref: sorted(v) for ref, v in days.items()}


def trends(s: Session, cfg: Config, start: dt.date, end: dt.date) -> Trends:
    """The counts month by month from ``start`` to ``end`` (both included). Reads only."""
    if end < start:
        raise InvalidValue(f"the period ends ({end}) before it starts ({start})")
    months = _months(start, end)
    if len(months) > MAX_MONTHS:
        raise InvalidValue(f"a report covers at most {MAX_MONTHS} months: shorten the period")
    cases = list(s.scalars(select(Case).where(Case.opened_on <= end)))
    activity = _activity(s, cases)
    counts: dict[str, dict[str, Counter]] = {g: defaultdict(Counter) for g in GROUPS}
    for c in cases:
        counts["cases"]["opened"][_month_key(c.opened_on)] += 1
        if c.disposed_on is not None:
            counts["cases"]["disposed"][_month_key(c.disposed_on)] += 1
        for key, last_day in months:
            if c.opened_on > last_day or (c.disposed_on is not None and c.disposed_on <= last_day):
                continue
            seen = activity.get(c.ref, ())
            i = bisect.bisect_right(seen, last_day)
            last = seen[i - 1] if i else c.opened_on
            inactive = add_months(last, cfg.archive_after_months) <= last_day
            counts["cases"]["archived" if inactive else "active"][key] += 1
    lo, hi = dt.datetime.combine(start, dt.time.min), dt.datetime.combine(end, dt.time.max)
    for doc_class, created in s.execute(select(Document.doc_class, Document.created_at)
                                        .where(Document.created_at >= lo, Document.created_at <= hi)):
        counts["documents_by_class"][doc_class or "unclassified"][_month_key(created)] += 1
    for reason, placed in s.execute(select(Hold.reason, Hold.placed_on).where(Hold.placed_on >= start, Hold.placed_on <= end)):
        counts["holds_by_reason"][reason][_month_key(placed)] += 1
    measures = {"cases": CASE_MEASURES, "documents_by_class": (*cfg.classes, "unclassified"), "holds_by_reason": HOLD_REASONS}
    keys = [k for k, _ in months]
    groups = {g: {m: tuple(suppress(counts[g][m][k]) for k in keys) for m in measures[g]} for g in GROUPS}
    for extra in set(counts["documents_by_class"]) - set(measures["documents_by_class"]):  # a class since removed
        groups["documents_by_class"][extra] = tuple(suppress(counts["documents_by_class"][extra][k]) for k in keys)
    return Trends(start=start, end=end, months=tuple(keys), groups=groups)


def trends_csv(t: Trends) -> str:
    """One row a month; a column per group and measure (``cases_opened``, ``documents_by_class_EHCP``)."""
    import csv
    import io

    columns = [(g, m) for g in GROUPS for m in t.groups[g]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["month", *(f"{g}_{m}" for g, m in columns)])
    for i, month in enumerate(t.months):
        w.writerow([month, *(t.groups[g][m][i] for g, m in columns)])
    return buf.getvalue()


# --- charts (reportlab.graphics, imported only when drawn) ---------------------------------------

CHART_WIDTH, CHART_HEIGHT = 480, 220
_COLOURS = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6", "#a5a5a5", "#843c0c", "#375623")


def trend_chart(t: Trends, group: str):  # noqa: ANN201 - reportlab.graphics.shapes.Drawing
    """A bar chart of one group, a bar a measure for each month. A suppressed count is drawn as no
    bar, and its month is marked "<5" under the axis, so nothing under 5 can be read off it."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    if group not in t.groups:
        raise InvalidValue(f"{group!r} is not a chart: one of {', '.join(GROUPS)}")
    rows = t.groups[group]
    names = list(rows)
    d = Drawing(CHART_WIDTH, CHART_HEIGHT)
    d.add(String(10, CHART_HEIGHT - 14, GROUP_TITLES[group], fontName="Helvetica-Bold", fontSize=11))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 45, CHART_WIDTH - 170, CHART_HEIGHT - 75
    chart.data = [[v if isinstance(v, int) else 0 for v in rows[m]] or [0] for m in names]
    chart.valueAxis.valueMin = 0
    top = max((v for m in names for v in rows[m] if isinstance(v, int)), default=0)
    chart.valueAxis.valueMax = max(top, SUPPRESS_BELOW)
    chart.categoryAxis.categoryNames = [m[2:] for m in t.months]  # "25-03"
    chart.categoryAxis.labels.fontSize = 6 if len(t.months) > 12 else 7
    chart.categoryAxis.labels.angle = 45 if len(t.months) > 12 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(t.months) > 12 else "n"
    chart.valueAxis.labels.fontSize = 7
    chart.barSpacing = 0
    for i in range(len(names)):
        chart.bars[i].fillColor = colors.HexColor(_COLOURS[i % len(_COLOURS)])
        chart.bars[i].strokeColor = None
    d.add(chart)
    step = chart.width / max(1, len(t.months))
    for i in range(len(t.months)):
        if any(rows[m][i] == SUPPRESSED for m in names):
            d.add(String(chart.x + step * (i + 0.5), 10, SUPPRESSED, fontName="Helvetica", fontSize=6, textAnchor="middle"))
    legend = Legend()
    legend.x, legend.y = chart.x + chart.width + 15, CHART_HEIGHT - 30
    legend.fontSize, legend.dy, legend.dx, legend.columnMaximum = 7, 6, 6, 12
    legend.colorNamePairs = [(colors.HexColor(_COLOURS[i % len(_COLOURS)]), n.replace("_", " ")) for i, n in enumerate(names)]
    d.add(legend)
    d.add(String(legend.x, 12, f"{SUPPRESSED}: fewer than {SUPPRESS_BELOW}, not drawn", fontName="Helvetica", fontSize=6))
    return d


def trend_chart_svg(t: Trends, group: str) -> str:
    """One chart (:func:`trend_chart`) as an SVG document, for a web page."""
    from reportlab.graphics import renderSVG

    return renderSVG.drawToString(trend_chart(t, group))


def trends_pdf(t: Trends, service: str) -> bytes:
    """The printable report: the period, the suppression rule, and for each group its chart and
    its table of counts (landscape A4, twelve months a table)."""
    import io

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title="Statistical report", author=service, invariant=1)
    st = getSampleStyleSheet()
    story = [Paragraph(f"{service}: statistical report", st["Title"]),
             Paragraph(f"{t.start.isoformat()} to {t.end.isoformat()}, by month. Anonymous: counts from 1 to "
                       f"{SUPPRESS_BELOW - 1} are shown as {SUPPRESSED} and no totals are given. Active and archived "
                       f"cases are counted at each month's end.", st["Normal"]), Spacer(1, 5 * mm)]
    for n, group in enumerate(GROUPS):
        if n:
            story.append(PageBreak())
        story.append(trend_chart(t, group))
        story.append(Spacer(1, 4 * mm))
        rows = t.groups[group]
        for lo in range(0, len(t.months), 12):
            months = t.months[lo:lo + 12]
            data = [["", *months]] + [[m.replace("_", " "), *(str(v) for v in rows[m][lo:lo + 12])] for m in rows]
            table = Table(data, hAlign="LEFT")
            table.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 7), ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                                       ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e7e6e6")),
                                       ("ALIGN", (1, 1), (-1, -1), "RIGHT")]))
            story += [table, Spacer(1, 3 * mm)]
    doc.build(story)
    return buf.getvalue()
