"""The report's files: the workbook opened with openpyxl, the chart decoded, the CSV export,
and privacy in every one of them (and on the public page)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import pytest_asyncio
from openpyxl.worksheet.worksheet import Worksheet
from PIL import Image
from sqlalchemy import select
from sqlmodel import col

from bot.cli import main
from conversations.core.domain import OutboxItem
from conversations.core.indicators import Period
from conversations.core.messages import Reply
from conversations.core.ports import FileStore, SendOutcome, SendResult
from conversations.core.reports import (
    REQUEST_KIND,
    Report,
    ReportRequest,
    Reports,
    ReportSender,
    ReportTexts,
)
from handlers.reports import FileRenderer
from handlers.reports.csv_export import CsvComplaints
from handlers.web.statistics import StatisticsPage
from storage.database import session_factory
from storage.files import LocalFileStore
from storage.report_queries import SqlReportQueries
from storage.tables import OutboxRow
from tests.support.reports import (
    ANONYMOUS_ID,
    ANONYMOUS_NAME,
    ANONYMOUS_USERNAME,
    CONFIDENTIAL_ADDRESS,
    CONFIDENTIAL_DESCRIPTION,
    DESCRIPTION,
    DecemberDatabase,
    december_database,
)

DECEMBER = Period.month(2026, 12)
module = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def city(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DecemberDatabase]:
    folder = tmp_path_factory.mktemp("db")
    async with december_database(f"sqlite+aiosqlite:///{folder / 'aduan.db'}", folder) as db:
        yield db


@pytest.fixture
def reports(city: DecemberDatabase) -> Reports:
    queries = SqlReportQueries(session_factory(city.engine), city.core.ctx.calendar)
    return Reports(city.core.ctx, queries, FileRenderer())


@pytest.fixture
def texts(reports: Reports) -> ReportTexts:
    return reports.texts("id")


def sheet_rows(book: openpyxl.Workbook, name: str) -> list[tuple[object, ...]]:
    sheet = book[name]
    assert isinstance(sheet, Worksheet)
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def table(rows: list[tuple[object, ...]], first: str) -> list[dict[str, object]]:
    """The rows under the header row whose first cell is ``first``, keyed by header."""
    start = next(i for i, r in enumerate(rows) if r and r[0] == first)
    header = [str(h) for h in rows[start]]
    return [dict(zip(header, r, strict=True)) for r in rows[start + 1 :] if r and r[0]]


@module
class TestTheWorkbook:
    async def test_the_summary_has_a_row_per_agency_and_the_total(
        self, reports: Reports, texts: ReportTexts
    ) -> None:
        report = await reports.build(DECEMBER)
        book = openpyxl.load_workbook(io.BytesIO(FileRenderer().workbook(report, texts)))
        assert book.sheetnames == [
            "Ringkasan", "Kategori", "Kanal", "Tren bulanan", "Aduan", "Definisi",
        ]  # fmt: skip
        rows = sheet_rows(book, "Ringkasan")
        assert rows[0][0] == "Laporan aduan Desember 2026 – seluruh Kota Blitar"
        summary = {str(r["Perangkat daerah"]): r for r in table(rows, "Perangkat daerah")}
        assert set(summary) == {
            "Dinas Pekerjaan Umum dan Penataan Ruang (PUPR)",
            "Dinas Lingkungan Hidup (DLH)",
            "Dinas Perhubungan (Dishub)",
            "Total",
        }
        pupr = summary["Dinas Pekerjaan Umum dan Penataan Ruang (PUPR)"]
        assert pupr["Aduan masuk"] == 4
        assert pupr["Diverifikasi tepat waktu (%)"] == 75
        assert pupr["Ditindaklanjuti tepat waktu (%)"] == pytest.approx(100 / 3)
        assert pupr["Lewat batas saat ini"] == 2
        total = summary["Total"]
        assert total["Aduan masuk"] == 7
        assert total["Waktu verifikasi, median (hari kerja)"] == pytest.approx(0.572917, abs=1e-6)
        assert total["Penilaian rata-rata (1–5)"] == 3
        dlh = summary["Dinas Lingkungan Hidup (DLH)"]
        assert dlh["Ditindaklanjuti tepat waktu (%)"] is None  # nothing dispatched
        months = table(sheet_rows(book, "Tren bulanan"), "Bulan")
        assert [(m["Bulan"], m["Aduan masuk"]) for m in months] == [
            ("November 2026", 1),
            ("Desember 2026", 7),
        ]
        definitions = dict(table(sheet_rows(book, "Definisi"), "Indikator")[0])
        assert definitions["Indikator"] == "Aduan masuk"

    async def test_every_complaint_with_its_deadlines_history_and_privacy(
        self, reports: Reports, texts: ReportTexts, city: DecemberDatabase
    ) -> None:
        report = await reports.build(DECEMBER)
        book = openpyxl.load_workbook(io.BytesIO(FileRenderer().workbook(report, texts)))
        complaints = {str(r["Tiket"]): r for r in table(sheet_rows(book, "Aduan"), "Tiket")}
        tickets = city.dataset.tickets
        assert set(complaints) == {tickets[name] for name in "ABCDEFH"}
        a = complaints[tickets["A"]]
        assert a["Pelapor"] == "Siti Rahayu"
        assert a["Privasi"] == "Biasa"
        assert a["Diajukan"] == datetime(2026, 12, 23, 16, 0)
        assert a["Batas verifikasi"] == datetime(2026, 12, 30, 23, 59)
        assert a["Verifikasi"] == "tepat waktu"
        assert a["Hari kerja sampai verifikasi"] == pytest.approx(0.75)
        assert a["Batas tindak lanjut"] == datetime(2027, 1, 6, 23, 59)
        history = str(a["Riwayat status"]).split("\n")
        assert history[0] == "23-12-2026 16:00 diajukan (– → Baru) oleh pelapor"
        assert history[1] == "28-12-2026 10:00 diverifikasi (Baru → Terverifikasi) oleh Budi"
        assert len(history) == 6
        e = complaints[tickets["E"]]
        assert (e["Pelapor"], e["Privasi"]) == ("Anonim", "Anonim, 🔒 RAHASIA")
        assert e["Dibuka kembali"] == "ya"
        d = complaints[tickets["D"]]
        assert d["Privasi"] == "🔒 RAHASIA"
        assert d["Uraian"] == CONFIDENTIAL_DESCRIPTION  # an internal file keeps it, marked
        f = complaints[tickets["F"]]
        assert (f["Verifikasi"], f["Lewat batas saat ini"]) == ("terlambat", "ya")

    async def test_an_agencys_workbook_holds_only_its_complaints(
        self, reports: Reports, texts: ReportTexts, city: DecemberDatabase
    ) -> None:
        report = await reports.build(DECEMBER, agency="dlh")
        book = openpyxl.load_workbook(io.BytesIO(FileRenderer().workbook(report, texts)))
        rows = sheet_rows(book, "Ringkasan")
        assert rows[0][0] == "Laporan aduan Desember 2026 – Dinas Lingkungan Hidup (DLH)"
        summary = [r["Perangkat daerah"] for r in table(rows, "Perangkat daerah")]
        assert summary == ["Dinas Lingkungan Hidup (DLH)", "Total"]
        complaints = [r["Tiket"] for r in table(sheet_rows(book, "Aduan"), "Tiket")]
        assert sorted(map(str, complaints)) == sorted(city.dataset.tickets[n] for n in "CD")


@module
async def test_the_chart_is_a_png_with_a_bar_pair_per_agency(
    reports: Reports, texts: ReportTexts
) -> None:
    city_chart = Image.open(io.BytesIO(FileRenderer().chart(await reports.build(DECEMBER), texts)))
    assert city_chart.format == "PNG"
    one = Image.open(
        io.BytesIO(FileRenderer().chart(await reports.build(DECEMBER, agency="dlh"), texts))
    )
    # 10 x 110 px wide; the agency panel grows with the agencies shown (3 against 1).
    assert city_chart.size[0] == one.size[0] == 1100
    assert city_chart.size[1] > one.size[1] > 500


@module
async def test_a_period_without_complaints_is_one_line(reports: Reports, tmp_path: Path) -> None:
    replies = await reports.messages(
        ReportRequest(Period.month(2026, 6), None, "id"), LocalFileStore(tmp_path)
    )
    assert [r.text for r in replies] == [
        "📊 Laporan aduan Juni 2026 – seluruh Kota Blitar: belum ada aduan yang masuk."
    ]
    recap = ReportRequest(Period.month(2026, 6), None, "id", recap=True)
    assert await reports.messages(recap, LocalFileStore(tmp_path)) == []


def test_aduan_export_writes_csv_and_xlsx(
    city: DecemberDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", city.url)
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "media"))
    out = tmp_path / "aduan.csv"
    main(
        ["export", "--from", "2026-12-01", "--to", "2026-12-31", "--format", "csv", "-o", str(out)]
    )
    with out.open(encoding="utf-8-sig", newline="") as source:
        rows = list(csv.DictReader(source))
    assert len(rows) == 7
    a = next(r for r in rows if r["Tiket"] == city.dataset.tickets["A"])
    assert a["Diajukan"] == "2026-12-23T16:00:00+07:00"
    assert a["Hari kerja sampai verifikasi"] == "0.7500"
    assert a["Riwayat status"].count("\n") == 5
    # --to is the last day included: 1 January is not.
    book_path = tmp_path / "pupr.xlsx"
    main(["export", "--from", "2026-11-30", "--to", "2026-12-31", "--agency", "pupr",
          "--lang", "en", "-o", str(book_path)])  # fmt: skip
    book = openpyxl.load_workbook(book_path)
    complaints = table(sheet_rows(book, "Complaints"), "Ticket")
    names = "ABEHG"
    assert sorted(str(r["Ticket"]) for r in complaints) == sorted(
        city.dataset.tickets[n] for n in names
    )


def test_aduan_export_refuses_a_backwards_period_and_a_missing_folder(
    city: DecemberDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", city.url)
    with pytest.raises(SystemExit) as stop:
        main(["export", "--from", "2026-12-31", "--to", "2026-12-01", "-o", str(tmp_path / "x")])
    assert stop.value.code == 1
    assert "--to is before --from" in capfd.readouterr().err
    assert not (tmp_path / "x").exists()
    missing = tmp_path / "laporan" / "aduan.csv"
    with pytest.raises(SystemExit) as stop:
        main(["export", "--from", "2026-12-01", "--to", "2026-12-31", "-o", str(missing)])
    assert stop.value.code == 1
    [said] = capfd.readouterr().err.strip().splitlines()
    assert said.endswith(
        f"-o {missing}: the folder {missing.parent} does not exist; create it or correct the path"
    )
    assert not missing.parent.exists()


# privacy -----------------------------------------------------------------------------------


def xlsx_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def outputs(
    city: DecemberDatabase, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Every kind of report output, as searchable text."""
    queries = SqlReportQueries(session_factory(city.engine), city.core.ctx.calendar)
    reports = Reports(city.core.ctx, queries, FileRenderer())
    renderer = FileRenderer()
    found: dict[str, str] = {}
    for lang, scope in (("id", None), ("id", "pupr"), ("en", None)):
        texts = reports.texts(lang)
        report: Report = await reports.build(DECEMBER, agency=scope)
        name = f"{lang}:{scope or 'city'}"
        found[f"xlsx {name}"] = xlsx_text(renderer.workbook(report, texts))
        found[f"png {name}"] = renderer.chart(report, texts).decode("latin-1")
        target = io.StringIO()
        CsvComplaints(target, texts).write(report.complaints)
        found[f"csv {name}"] = target.getvalue()
    page = StatisticsPage(reports)
    for lang in ("id", "en"):
        found[f"page {lang}"] = await page.html(lang)
    store = LocalFileStore(tmp_path_factory.mktemp("files"))
    replies = await reports.messages(ReportRequest(DECEMBER, None, "id"), store)
    found["captions"] = "\n".join(r.text for r in replies)
    return found


def test_no_output_names_an_anonymous_reporter(outputs: dict[str, str]) -> None:
    for what, text in outputs.items():
        for secret in (ANONYMOUS_NAME, ANONYMOUS_USERNAME, ANONYMOUS_ID):
            assert secret not in text, f"{secret!r} in {what}"
    # The search does find names where they belong: a named reporter in the files.
    assert "Siti Rahayu" in outputs["xlsx id:city"]
    assert "Siti Rahayu" in outputs["csv id:pupr"]


def test_the_public_page_holds_no_personal_data_and_no_complaint_text(
    outputs: dict[str, str],
) -> None:
    for lang in ("id", "en"):
        page = outputs[f"page {lang}"]
        for private in (
            CONFIDENTIAL_DESCRIPTION,
            CONFIDENTIAL_ADDRESS,
            DESCRIPTION,
            "Jembatan kayu",
            "Jl. Merdeka",
            "Siti Rahayu",
            "Bambang",
            "7770123",
            "ADU-26",
        ):
            assert private not in page, f"{private!r} on the {lang} page"


def test_files_mark_confidential_complaints(outputs: dict[str, str]) -> None:
    assert "🔒 RAHASIA" in outputs["xlsx id:city"]
    assert "🔒 RAHASIA" in outputs["csv id:pupr"]
    assert "🔒 CONFIDENTIAL" in outputs["csv en:city"]


# the outbox request -------------------------------------------------------------------------


class PlatformSender:
    def __init__(self) -> None:
        self.delivered: list[OutboxItem] = []

    def message_count(self, item: OutboxItem) -> int:
        return 1

    async def deliver(self, item: OutboxItem, files: FileStore) -> SendResult:
        self.delivered.append(item)
        return SendResult(SendOutcome.SENT, message_id=1)


class BrokenRenderer:
    def chart(self, report: Report, texts: ReportTexts) -> bytes:
        raise RuntimeError("no fonts")

    def workbook(self, report: Report, texts: ReportTexts) -> bytes:
        return b""


async def queued(city: DecemberDatabase, prefix: str) -> list[OutboxRow]:
    async with session_factory(city.engine)() as session:
        rows = await session.execute(
            select(OutboxRow).where(col(OutboxRow.dedupe_key).startswith(prefix))
        )
        return sorted(rows.scalars(), key=lambda row: row.dedupe_key)


@module
async def test_a_report_request_becomes_its_two_messages_once(
    city: DecemberDatabase, tmp_path: Path
) -> None:
    queries = SqlReportQueries(session_factory(city.engine), city.core.ctx.calendar)
    platform = PlatformSender()
    files = LocalFileStore(tmp_path)
    request = OutboxItem(
        channel="telegram",
        chat_id="-1001",
        kind=REQUEST_KIND,
        payload={**ReportRequest(DECEMBER, "pupr", "en").payload(), "reply_to": 77},
        dedupe_key="report:update-1",
    )
    broken = ReportSender(platform, Reports(city.core.ctx, queries, BrokenRenderer()))
    assert broken.message_count(request) == 0
    result = await broken.deliver(request, files)
    assert result.outcome is SendOutcome.TRANSIENT  # retried later, like a network error
    assert await queued(city, "report:update-1") == []

    sender = ReportSender(platform, Reports(city.core.ctx, queries, FileRenderer()))
    assert (await sender.deliver(request, files)).outcome is SendOutcome.SENT
    # A second delivery (a crash before the request was marked sent) adds nothing.
    assert (await sender.deliver(request, files)).outcome is SendOutcome.SENT
    rows = await queued(city, "report:update-1")
    assert [(r.dedupe_key, r.kind, r.chat_id) for r in rows] == [
        ("report:update-1:0", "report_file", "-1001"),
        ("report:update-1:1", "report_file", "-1001"),
    ]
    chart, book = (Reply.from_dict(r.payload["reply"]) for r in rows)
    assert rows[0].payload["reply_to"] == 77
    assert chart.file is not None and chart.file.as_photo
    assert chart.file.name == "complaint-report-2026-12-pupr.png"
    assert book.file is not None and book.file.name == "complaint-report-2026-12-pupr.xlsx"
    assert (tmp_path / book.file.path).read_bytes()[:2] == b"PK"  # a zip: the XLSX
    assert platform.delivered == []

    other = OutboxItem("telegram", "-1001", "reply", {"reply": {"text": "hi"}}, "reply:1")
    await sender.deliver(other, files)
    assert platform.delivered == [other]
    assert sender.message_count(other) == 1
