"""The public statistics page, served by Starlette through httpx's ASGI transport."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import httpx
import pytest
import pytest_asyncio
from PIL import Image
from starlette.applications import Starlette
from starlette.routing import Route

from conversations.core.indicators import ComplaintLine, Dimension, Figures, Period
from conversations.core.reports import Reports
from handlers.reports import FileRenderer
from handlers.web.statistics import StatisticsPage, statistics_route
from storage.database import session_factory
from storage.report_queries import SqlReportQueries
from tests.support.reports import DecemberDatabase, december_database

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def city(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DecemberDatabase]:
    folder = tmp_path_factory.mktemp("db")
    async with december_database(f"sqlite+aiosqlite:///{folder / 'aduan.db'}", folder) as db:
        yield db


class CountingQueries:
    """The real queries, counted; they fail while ``broken``."""

    def __init__(self, inner: SqlReportQueries):
        self.inner = inner
        self.scorecards = 0
        self.broken = False

    async def scorecard(
        self,
        period: Period,
        dimensions: Sequence[Dimension],
        as_of: datetime,
        agency: str | None = None,
    ) -> list[Figures]:
        if self.broken:
            raise ConnectionError("database down")
        self.scorecards += 1
        return await self.inner.scorecard(period, dimensions, as_of, agency)

    async def complaints(
        self,
        period: Period,
        as_of: datetime,
        agency: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[ComplaintLine]:
        raise AssertionError("the public page never reads complaints")


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def queries(city: DecemberDatabase) -> CountingQueries:
    return CountingQueries(SqlReportQueries(session_factory(city.engine), city.core.ctx.calendar))


@pytest.fixture
def reports(city: DecemberDatabase, queries: CountingQueries) -> Reports:
    return Reports(city.core.ctx, queries, FileRenderer())


def client(*routes: Route) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=Starlette(routes=list(routes)))
    return httpx.AsyncClient(transport=transport, base_url="http://kota.test")


async def test_the_page_shows_the_citys_figures(reports: Reports) -> None:
    async with client(statistics_route(reports)) as http:
        response = await http.get("/statistik")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<title>Statistik aduan warga – Kota Blitar</title>" in page
    # The last twelve months up to January 2027: November's, December's seven, January's.
    assert '<div class="card"><b>9</b>Aduan masuk</div>' in page
    assert "Februari 2026 – Januari 2027" in page
    assert "Jalan dan jembatan" in page
    assert "Dinas Lingkungan Hidup (DLH)" in page
    assert "<td>Ditolak</td><td>1</td>" in page
    assert "Definisi indikator" in page


async def test_the_chart_is_inline_and_nothing_is_loaded_from_elsewhere(reports: Reports) -> None:
    async with client(statistics_route(reports)) as http:
        page = (await http.get("/statistik")).text
    found = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert found
    chart = Image.open(io.BytesIO(base64.b64decode(found.group(1))))
    assert chart.format == "PNG" and chart.size[0] == 1100
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script" not in page and "<link" not in page


async def test_english_on_request(reports: Reports) -> None:
    async with client(statistics_route(reports)) as http:
        english = (await http.get("/statistik", params={"lang": "en"})).text
        unknown = (await http.get("/statistik", params={"lang": "xx"})).text
    assert "<title>Citizen complaint statistics – Kota Blitar</title>" in english
    assert "Complaints received" in english
    assert "Statistik aduan warga" in unknown


async def test_computed_at_most_once_per_cache_period(
    reports: Reports, queries: CountingQueries
) -> None:
    clock = Ticking()
    page = StatisticsPage(reports, ttl_seconds=300, clock=clock)
    async with client(Route("/statistik", page.endpoint)) as http:
        first = await http.get("/statistik")
        clock.now += 299
        second = await http.get("/statistik")
        assert queries.scorecards == 1
        assert second.text == first.text
        assert first.headers["cache-control"] == "public, max-age=300"
        clock.now += 2
        await http.get("/statistik")
        assert queries.scorecards == 2


async def test_the_last_page_is_served_while_the_database_is_down(
    reports: Reports, queries: CountingQueries
) -> None:
    clock = Ticking()
    page = StatisticsPage(reports, ttl_seconds=60, clock=clock)
    async with client(Route("/statistik", page.endpoint)) as http:
        queries.broken = True
        down = await http.get("/statistik")
        assert down.status_code == 503
        assert "Silakan coba lagi" in down.text
        queries.broken = False
        good = await http.get("/statistik")
        queries.broken = True
        clock.now += 61
        stale = await http.get("/statistik")
    assert stale.status_code == 200
    assert stale.text == good.text
