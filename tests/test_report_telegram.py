"""``/laporan`` and the monthly recap, end to end over the fake Bot API.

The city's database holds the December 2026 dataset (tests/support/reports.py); the
bot runs with a clock stopped in January 2027. Budi works at the complaint desk,
Wati at PUPR, whose officers work in their own group.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from PIL import Image

from bot.runtime import KanalAduan
from tests.fakes.telegram_api import FakeChat, FakeTelegram, SentMessage
from tests.support.bot import FRAMEWORKS, running_bot
from tests.support.core import FrozenClock
from tests.support.desk import FAST_LIMITS, City, build_city
from tests.support.reports import AS_OF, Dataset, december_database, wib

# Telegram's own limit for groups: the report's messages must fit in it like any others.
GROUP_LIMIT = {**FAST_LIMITS, "telegram_group_per_minute": 20}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def city(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> City:
    return build_city(fake, sqlite_url, tmp_path, getattr(request, "param", "ptb"))


@pytest.fixture
async def dataset(city: City, tmp_path: Path) -> Dataset:
    async with december_database(city.database_url, tmp_path / "data") as db:
        return db.dataset


def running(city: City, clock: FrozenClock) -> AbstractAsyncContextManager[KanalAduan]:
    return running_bot(
        city.fake,
        city.database_url,
        city.tmp_path,
        clock,
        city_config_path=city.city_path,
        telegram_framework=city.framework,
        **GROUP_LIMIT,
    )


def photos(fake: FakeTelegram, chat: FakeChat) -> list[SentMessage]:
    return [m for m in fake.messages_to(chat) if m.method == "sendPhoto"]


def documents(fake: FakeTelegram, chat: FakeChat) -> list[SentMessage]:
    return [m for m in fake.messages_to(chat) if m.method == "sendDocument"]


def workbook(fake: FakeTelegram, message: SentMessage) -> openpyxl.Workbook:
    assert message.document is not None
    data = fake.file_bytes(str(message.document["file_id"]))
    return openpyxl.load_workbook(io.BytesIO(data))


def tickets(book: openpyxl.Workbook) -> set[str]:
    sheet = book["Aduan"]
    assert isinstance(sheet, Worksheet)
    return {str(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True) if row[0]}


@pytest.mark.parametrize("city", FRAMEWORKS, indirect=True)
async def test_laporan_in_the_admin_group_sends_the_chart_and_the_workbook(
    city: City, dataset: Dataset
) -> None:
    fake = city.fake
    async with running(city, FrozenClock(AS_OF)):
        command = city.desk.send_command_in(city.admin, "/laporan 2026-12")
        await fake.wait_for(lambda: documents(fake, city.admin), timeout=30)
        await fake.wait_idle(quiet=0.3)
    [chart] = photos(fake, city.admin)
    [document] = documents(fake, city.admin)
    assert (chart.text or "").startswith("📊 Laporan aduan Desember 2026 – seluruh Kota Blitar")
    assert "Aduan masuk: 7" in (chart.text or "")
    assert "Ditindaklanjuti tepat waktu: 33,3%" in (chart.text or "")
    assert chart.reply_to_message_id == command["message"]["message_id"]
    assert chart.photo is not None
    image = Image.open(io.BytesIO(fake.file_bytes(str(chart.photo[-1]["file_id"]))))
    assert image.format == "PNG" and image.size[0] == 1100
    assert document.document is not None
    assert document.document["file_name"] == "laporan-aduan-2026-12.xlsx"
    assert document.document["mime_type"] == XLSX
    assert tickets(workbook(fake, document)) == {dataset.tickets[n] for n in "ABCDEFH"}
    assert fake.limit_violations(group_per_min=20) == []


async def test_an_agency_group_gets_its_own_agency_only(city: City, dataset: Dataset) -> None:
    fake = city.fake
    async with running(city, FrozenClock(AS_OF)):
        city.pupr_officer.send_command_in(city.pupr, "/laporan 2026-12")
        await fake.wait_for(lambda: documents(fake, city.pupr), timeout=30)
        await fake.wait_idle(quiet=0.3)
    [chart] = photos(fake, city.pupr)
    assert "Dinas Pekerjaan Umum dan Penataan Ruang (PUPR)" in (chart.text or "")
    assert "Aduan masuk: 4" in (chart.text or "")
    [document] = documents(fake, city.pupr)
    assert tickets(workbook(fake, document)) == {dataset.tickets[n] for n in "ABEH"}
    assert photos(fake, city.admin) == documents(fake, city.admin) == []


async def test_wrong_months_strangers_and_the_public_page(city: City, dataset: Dataset) -> None:
    fake = city.fake
    async with running(city, FrozenClock(AS_OF)) as app:
        assert app.web is not None
        # The first page imports matplotlib and draws the chart: seconds on a busy machine.
        async with httpx.AsyncClient(timeout=60) as http:
            page = await http.get(f"{app.web.url}/statistik")
        assert page.status_code == 200
        assert "Statistik aduan warga – Kota Blitar" in page.text
        city.desk.send_command_in(city.admin, "/laporan desember")
        await city.group_hears(city.admin, "/laporan TTTT-BB")
        city.desk.send_command_in(city.admin, "/laporan 2027-02")
        await city.group_hears(city.admin, "Bulan 2027-02 belum dimulai")
        city.stranger.send_command_in(city.admin, "/laporan 2026-12")
        await fake.wait_idle(quiet=0.5)
    assert photos(fake, city.admin) == documents(fake, city.admin) == []


async def test_the_monthly_recap_goes_out_once_across_a_restart(
    city: City, dataset: Dataset
) -> None:
    fake = city.fake
    # Monday 4 January 2027, 08:30 WIB: the first working day of the month (the 1st is
    # New Year's Day, the 2nd cuti bersama and a Saturday).
    clock = FrozenClock(wib(2027, 1, 4, 8, 30))
    async with running(city, clock):
        await fake.wait_for(lambda: documents(fake, city.admin), timeout=30)
    [recap] = photos(fake, city.admin)
    assert (recap.text or "").startswith("🗓️ Rekap bulanan aduan Desember 2026")
    clock.advance(hours=2)
    async with running(city, clock) as app:
        await fake.wait_idle(quiet=0.5)
        assert not (await app.duties.scan()).recap
        await fake.wait_idle(quiet=0.5)
    assert len(photos(fake, city.admin)) == 1
    assert len(documents(fake, city.admin)) == 1
