"""Reports: an issue brought to the Local Authority, and the statistics over time.

- **The LA issue report** (``/reports``): the issue in the adviser's words, and, only with the
  parent/carer's recorded permission to be identified (the case page's toggle,
  :func:`pipeline.cases.set_la_identify_consent`), the case, its documents and identifying details.
  :func:`pipeline.reports.la_issue_report` withholds or refuses; the refusal is shown on the form.
  The report is shown as text on the page, or downloaded as PDF or text (each one built, and
  audited, again).
- **Trends** (``/reports/trends``): :func:`pipeline.trends.trends` month by month, its charts drawn
  by the library (:func:`pipeline.trends.trend_chart_svg`) and put inline without a style
  attribute (:func:`pipeline.web.charts.inline_svg`), as CSV and a printable PDF.
"""

from __future__ import annotations

import datetime as dt

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline import reports, trends
from pipeline.dates import add_months
from pipeline.web.app import attachment, call, current, form, render, workspace
from pipeline.web.charts import inline_svg
from pipeline.web.views._common import day, in_transaction, reading, text, today
from pps_archive.errors import InvalidValue, NotFound, PolicyRefusal

nav = [("/reports", "Reports", None)]


def _documents(value: str) -> list[int]:
    out = []
    for word in value.replace(",", " ").split():
        if not word.isdigit():
            raise InvalidValue(f"{word[:20]!r} is not a document number: give the documents' numbers, separated by spaces")
        out.append(int(word))
    return out


def _details(value: str) -> dict[str, str]:
    out = {}
    for line in value.splitlines():
        if not line.strip():
            continue
        label, sep, detail = line.partition(":")
        if not sep or not label.strip():
            raise InvalidValue("write each identifying detail on its own line as 'Label: value' (e.g. 'Parent/carer: ...')")
        out[label.strip()] = detail
    return out


def _fields(data: FormData | None) -> dict[str, str]:
    return {k: text(data, k) if data is not None else "" for k in ("issue", "case", "documents", "details")}


async def la_page(request: Request) -> Response:
    current(request)
    return render(request, "reports_la.html", fields=_fields(None), report=None, error=None)


async def la_report(request: Request) -> Response:
    sess = current(request)
    request.state.back = "/reports"  # the error page links back
    data = await form(request)
    ws = workspace(request)
    fields = _fields(data)
    try:
        rep = await call(in_transaction, ws, reports.la_issue_report, ws.config, sess.auth, issue=fields["issue"],
                         today=today(), ref=fields["case"].strip() or None, identifying=_details(fields["details"]),
                         documents=_documents(fields["documents"]))
    except (PolicyRefusal, InvalidValue, NotFound) as exc:  # re-shown on the form, with what was typed
        return render(request, "reports_la.html", status_code=exc.http_status, fields=fields, report=None, error=str(exc),
                      kind=type(exc).__name__)
    name = f"la-report-{rep.written_on.isoformat()}" + (f"-{rep.case_ref}" if rep.case_ref else "")
    if text(data, "as") == "pdf":
        return attachment(await call(reports.la_report_pdf, rep), name + ".pdf", "application/pdf")
    if text(data, "as") == "text":
        return attachment(rep.as_text().encode("utf-8"), name + ".txt", "text/plain; charset=utf-8")
    return render(request, "reports_la.html", fields=fields, report=rep, text=rep.as_text(), error=None)


def _period(request: Request) -> tuple[dt.date, dt.date]:
    q = request.query_params
    end = day(q.get("to"), "the last day", default=today(), days_ahead=3660)
    start = day(q.get("from"), "the first day", default=add_months(end, -11).replace(day=1), days_ahead=3660)
    return start, end


async def trends_page(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    start, end = _period(request)
    t = await call(reading, ws, trends.trends, ws.config, start, end)

    def draw() -> list[tuple[str, str, object]]:
        return [(g, trends.GROUP_TITLES[g], inline_svg(trends.trend_chart_svg(t, g), f"chart-{g}", trends.GROUP_TITLES[g]))
                for g in trends.GROUPS]

    charts = await call(draw)
    query = f"from={start.isoformat()}&to={end.isoformat()}"
    return render(request, "reports_trends.html", t=t, charts=charts, start=start.isoformat(), end=end.isoformat(),
                  query=query)


async def trends_csv(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    start, end = _period(request)
    t = await call(reading, ws, trends.trends, ws.config, start, end)
    return attachment(trends.trends_csv(t).encode("utf-8"), f"statistics-{start.isoformat()}-{end.isoformat()}.csv",
                      "text/csv; charset=utf-8")


async def trends_pdf(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    start, end = _period(request)
    t = await call(reading, ws, trends.trends, ws.config, start, end)
    pdf = await call(trends.trends_pdf, t, ws.config.section("service")["name"])
    return attachment(pdf, f"statistics-{start.isoformat()}-{end.isoformat()}.pdf", "application/pdf")


routes = [
    Route("/reports", la_page, methods=["GET"]),
    Route("/reports/la-issue", la_report, methods=["POST"]),
    Route("/reports/trends", trends_page, methods=["GET"]),
    Route("/reports/trends.csv", trends_csv, methods=["GET"]),
    Route("/reports/trends.pdf", trends_pdf, methods=["GET"]),
]
