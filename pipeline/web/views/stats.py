"""Statistics: the anonymous counts for monitoring the service, with charts drawn on the server.
Small numbers are suppressed by the library (:mod:`pipeline.stats`); a chart never undoes that."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline.stats import statistics
from pipeline.web.app import call, current, render, workspace
from pipeline.web.charts import bar_chart
from pipeline.web.views._common import day, reading, today

nav: list[tuple[str, str, str | None]] = []  # under Reports (the menu stays one line at 1280 px)


async def stats_page(request: Request) -> Response:
    current(request)
    ws = workspace(request)
    as_of = day(request.query_params.get("as_of"), "the date", default=today(), days_ahead=365 * 100)
    data = await call(reading, ws, statistics, as_of)
    tables = [(key.replace("_", " ").capitalize(), table) for key, table in data.items() if isinstance(table, dict)]
    charts = [(title, table, bar_chart(title, table)) for title, table in tables]
    return render(request, "stats.html", data=data, charts=charts)


routes = [Route("/statistics", stats_page, methods=["GET"])]
