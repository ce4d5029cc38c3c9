"""The public statistics page, ``GET /statistik``: counts and rates only.

No personal data and no complaint text ever reach it: it is drawn from scorecard
rows (``Reports.public``), never from complaints. Server-rendered HTML with inline
CSS and the trend chart as an inline PNG, so nothing external is loaded. Each
language's page is computed at most once per ``ttl_seconds``; while it is being
computed, other requests wait for it instead of computing it again, and when the
database fails the last page is served.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Sequence
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from conversations.core.indicators import INDICATORS, Dimension, Figures
from conversations.core.reports import PublicStatistics, Reports, ReportTexts

log = logging.getLogger(__name__)

KEY_FIGURES = (
    "received",
    "verify_on_time_pct",
    "followup_on_time_pct",
    "resolved_pct",
    "resolve_days_avg",
    "resolve_days_median",
    "overdue",
    "rating_avg",
    "fixed_pct",
)
GROUP_COLUMNS = (
    "received",
    "resolved_pct",
    "followup_on_time_pct",
    "resolve_days_avg",
    "resolve_days_median",
)
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2733;
background:#f6f7f9;line-height:1.45}
main{max-width:60rem;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.2rem;margin-top:2rem}
.muted{color:#5b6673;font-size:.9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(11rem,1fr));gap:.75rem}
.card{background:#fff;border-radius:.5rem;padding:.75rem;box-shadow:0 1px 2px #0002}
.card b{display:block;font-size:1.5rem}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.92rem}
th,td{padding:.4rem .5rem;border-bottom:1px solid #e3e6ea;text-align:right}
th:first-child,td:first-child{text-align:left}
img{width:100%;height:auto;background:#fff;border-radius:.5rem}
dt{font-weight:600;margin-top:.6rem}dd{margin-left:0}
nav{text-align:right;font-size:.9rem}
"""


def _table(texts: ReportTexts, label: str, rows: Sequence[Figures], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(texts.indicator(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = "".join(f"<td>{escape(texts.value(row, c))}</td>" for c in columns)
        body.append(f"<tr><td>{escape(texts.group(row.dimension, row.key))}</td>{cells}</tr>")
    return (
        f"<table><thead><tr><th>{escape(label)}</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def render_page(stats: PublicStatistics, texts: ReportTexts, chart: bytes, other: str) -> str:
    """The page's HTML; every text is escaped, every figure comes from ``stats``."""
    t = texts.t
    city = stats.city_name
    parts = [
        f'<!doctype html><html lang="{escape(texts.lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{escape(t('page.title', city=city))}</title><style>{STYLE}</style></head>",
        "<body><main>",
        f'<nav><a href="?lang={escape(other)}">{escape(t("page.other_language"))}</a></nav>',
        f"<h1>{escape(t('page.title', city=city))}</h1>",
        f"<p>{escape(t('page.intro', city=city, period=texts.period(stats.period)))}</p>",
        f'<p class="muted">{escape(t("page.updated", when=texts.moment(stats.as_of)))}</p>',
    ]
    total = stats.total
    if total is None:
        parts.append(f"<p>{escape(t('page.no_data'))}</p>")
    else:
        parts.append(f'<h2>{escape(t("page.key_figures"))}</h2><div class="cards">')
        for key in KEY_FIGURES:
            parts.append(
                f'<div class="card"><b>{escape(texts.value(total, key))}</b>'
                f"{escape(texts.indicator(key))}</div>"
            )
        parts.append("</div>")
    encoded = base64.b64encode(chart).decode("ascii")
    parts += [
        f"<h2>{escape(t('page.trend'))}</h2>",
        f'<img src="data:image/png;base64,{encoded}" alt="{escape(t("page.trend_alt"))}">',
    ]
    if total is not None:
        for key, dimension in (
            ("page.by_category", Dimension.CATEGORY),
            ("page.by_agency", Dimension.AGENCY),
        ):
            rows = sorted(stats.rows(dimension), key=lambda r: (-r.received, r.key))
            parts.append(f"<h2>{escape(t(key))}</h2>")
            parts.append(_table(texts, t(f"dimension.{dimension.value}"), rows, GROUP_COLUMNS))
        parts.append(f"<h2>{escape(t('page.by_status'))}</h2>")
        statuses = sorted(stats.rows(Dimension.STATUS), key=lambda r: (-r.received, r.key))
        parts.append(_table(texts, t("dimension.status"), statuses, ("received",)))
    parts.append(f"<h2>{escape(t('page.definitions'))}</h2><dl>")
    for indicator in INDICATORS:
        parts.append(
            f"<dt>{escape(texts.indicator(indicator.key))}</dt>"
            f"<dd>{escape(texts.definition(indicator.key))}</dd>"
        )
    parts.append("</dl></main></body></html>")
    return "".join(parts)


class StatisticsPage:
    def __init__(
        self,
        reports: Reports,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.reports = reports
        self.ttl = ttl_seconds
        self.clock = clock
        self._pages: dict[str, tuple[float, str]] = {}
        self._lock = asyncio.Lock()

    def _fresh(self, lang: str) -> str | None:
        cached = self._pages.get(lang)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        return None

    async def html(self, lang: str) -> str:
        page = self._fresh(lang)
        if page is not None:
            return page
        async with self._lock:
            page = self._fresh(lang)
            if page is not None:
                return page
            texts = self.reports.texts(lang)
            stats = await self.reports.public()
            # Imported here: matplotlib takes a while to load, the server need not wait.
            from handlers.reports.chart import trend_chart

            chart = await asyncio.to_thread(trend_chart, stats.months(), texts)
            languages = self.reports.ctx.catalog.languages
            other = next((code for code in languages if code != texts.lang), texts.lang)
            page = render_page(stats, texts, chart, other)
            self._pages[lang] = (self.clock(), page)
            return page

    async def endpoint(self, request: Request) -> Response:
        catalog = self.reports.ctx.catalog
        lang = request.query_params.get("lang", catalog.default)
        if lang not in catalog.languages:
            lang = catalog.default
        try:
            page = await self.html(lang)
        except Exception:
            log.exception("statistics page could not be computed")
            stale = self._pages.get(lang)
            if stale is None:
                return HTMLResponse(
                    escape(catalog.t(lang, "report.page.unavailable")), status_code=503
                )
            page = stale[1]
        return HTMLResponse(page, headers={"Cache-Control": f"public, max-age={int(self.ttl)}"})


def statistics_route(
    reports: Reports, ttl_seconds: float = 300.0, path: str = "/statistik"
) -> Route:
    """The route to mount in the web server: ``GET /statistik`` (``?lang=en`` for English)."""
    return Route(path, StatisticsPage(reports, ttl_seconds).endpoint, methods=["GET"])
