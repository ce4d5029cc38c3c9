"""``aduan export --from DATE --to DATE --format csv|xlsx -o FILE``.

Every complaint received from ``--from`` to ``--to`` (local dates, both included)
with its fields, status history and indicator values; the XLSX adds the scorecard
sheets. For archiving and for re-entering into other systems.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bot.settings import Settings
from conversations.core.context import CoreContext
from conversations.core.i18n import LANGUAGES, Catalog
from conversations.core.indicators import Period
from conversations.core.messages import Channel, ChatAddress
from conversations.core.reports import Reports
from conversations.core.workdays import WorkingCalendar
from handlers.reports import FileRenderer
from handlers.reports.csv_export import CsvComplaints
from handlers.reports.workbook import ReportWorkbook
from storage import migrate
from storage.database import create_engine, session_factory
from storage.files import LocalFileStore
from storage.report_queries import SqlReportQueries
from storage.unit_of_work import SqlUnitOfWork


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "export",
        help="write every complaint of a period (fields, status history, indicators) "
        "to CSV or XLSX",
    )
    parser.add_argument("--from", dest="start", type=_date, required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--to", dest="end", type=_date, required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--format", choices=("csv", "xlsx"), help="default: from the file name")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    parser.add_argument("--agency", metavar="CODE", help="only this agency's complaints")
    parser.add_argument(
        "--lang", choices=LANGUAGES, help="column names (default: DEFAULT_LANGUAGE)"
    )


def run(settings: Settings, args: argparse.Namespace) -> None:
    if args.end < args.start:
        raise SystemExit("--to is before --from")
    problem = _output_problem(args.output)
    if problem:
        raise SystemExit(problem)
    kind = args.format or ("xlsx" if args.output.suffix.lower() == ".xlsx" else "csv")
    config = settings.city()
    if args.agency and config.agency(args.agency) is None:
        codes = ", ".join(a.code for a in config.agencies)
        raise SystemExit(f"unknown agency {args.agency!r} (one of: {codes})")
    period = Period(args.start, args.end + timedelta(days=1))
    count = asyncio.run(_export(settings, period, kind, args.output, args.agency, args.lang))
    print(f"{count} complaints written to {args.output}")


def _output_problem(output: Path) -> str | None:
    """Why the file cannot be written, before the database is opened; no folder is made."""
    folder = output.parent
    if output.is_dir():
        return f"-o {output}: is a folder; give a file name such as {output / 'aduan.csv'}"
    if not folder.is_dir():
        return f"-o {output}: the folder {folder} does not exist; create it or correct the path"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"-o {output}: cannot write in the folder {folder}"
    return None


async def _export(
    settings: Settings,
    period: Period,
    kind: str,
    output: Path,
    agency: str | None,
    lang: str | None,
) -> int:
    config = settings.city()
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
        sessions = session_factory(engine)
        calendar = WorkingCalendar(config.timezone, config.cuti_bersama, config.extra_working_days)
        ctx = CoreContext(
            config=config,
            catalog=Catalog.load(default=settings.default_language),
            calendar=calendar,
            uow=lambda: SqlUnitOfWork(sessions),
            files=LocalFileStore(settings.media_dir),
            desk_chat=ChatAddress(Channel.TELEGRAM, str(settings.admin_chat_id)),
        )
        reports = Reports(ctx, SqlReportQueries(sessions, calendar), FileRenderer())
        texts = reports.texts(lang)
        as_of = ctx.clock.now()
        count = 0
        if kind == "csv":
            # utf-8-sig: spreadsheet programs then read Indonesian text right.
            with output.open("w", encoding="utf-8-sig", newline="") as target:
                writer = CsvComplaints(target, texts)
                async for page in reports.complaints(period, as_of, agency):
                    writer.write(page)
                    count += len(page)
            return count
        report = await reports.build(period, agency, as_of, with_complaints=False)
        book = ReportWorkbook(texts, period, agency, as_of)
        book.summary(report)
        async for page in reports.complaints(period, as_of, agency):
            book.complaints(page)
            count += len(page)
        with output.open("wb") as binary:
            book.save(binary)
        return count
    finally:
        await engine.dispose()
