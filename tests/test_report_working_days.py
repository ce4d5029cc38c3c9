"""Working days and percentiles in SQL agree with ``WorkingCalendar`` and ``statistics``,
on random moments across the Christmas and New Year holidays (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.core.indicators import Dimension, Period
from conversations.core.workdays import WorkingCalendar
from storage.database import session_factory
from storage.report_queries import SqlReportQueries
from storage.tables import CitizenRow, ComplaintRow, EventRow
from tests.support.core import build_core
from tests.support.reports import AS_OF, wib


async def _random_complaints(
    engine: AsyncEngine, calendar: WorkingCalendar, count: int
) -> list[float]:
    """Complaints verified at random moments around the holidays; their working days
    as the calendar counts them."""
    rng = random.Random(2026)
    start = wib(2026, 12, 18)
    expected: list[float] = []
    complaints, events = [], []
    for n in range(1, count + 1):
        created = start + timedelta(minutes=rng.randrange(0, 14 * 24 * 60), seconds=rng.random())
        verified = created + timedelta(minutes=rng.randrange(1, 9 * 24 * 60))
        expected.append(calendar.working_days_between(created, verified))
        complaints.append(
            {
                "id": n,
                "ticket": f"T-{n}",
                "citizen_id": 1,
                "channel": "telegram",
                "chat_id": "1",
                "language": "id",
                "category": "jalan",
                "agency": "pupr",
                "description": "x" * 20,
                "status": "terverifikasi",
                "version": 1,
                "anonymous": False,
                "confidential": False,
                "created_at": created.astimezone(UTC),
                "verify_due": calendar.add_working_days(created, 3),
            }
        )
        events.append(
            {
                "complaint_id": n,
                "at": verified.astimezone(UTC),
                "action": "verify",
                "actor_role": "desk",
                "attachment_ids": [],
            }
        )
    async with session_factory(engine)() as session, session.begin():
        await session.execute(
            insert(CitizenRow).values(
                id=1,
                channel="telegram",
                external_id="1",
                chat_id="1",
                display_name="Siti",
                offered=[],
            )
        )
        await session.execute(insert(ComplaintRow), complaints)
        await session.execute(insert(EventRow), events)
    return expected


async def test_sql_working_days_and_percentiles_agree_with_the_calendar(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    calendar = build_core(engine, tmp_path).ctx.calendar
    expected = await _random_complaints(engine, calendar, 60)
    queries = SqlReportQueries(session_factory(engine), calendar)
    period = Period(wib(2026, 12, 18).date(), wib(2027, 1, 2).date())
    lines = await queries.complaints(period, AS_OF, limit=100)
    assert sorted(line.verify_days or 0 for line in lines) == pytest.approx(
        sorted(expected), abs=1e-6
    )
    totals = await queries.scorecard(period, (Dimension.TOTAL,), AS_OF)
    deciles = statistics.quantiles(expected, n=10, method="inclusive")
    assert totals[0].verify_days_median == pytest.approx(statistics.median(expected), abs=1e-6)
    assert totals[0].verify_days_p90 == pytest.approx(deciles[8], abs=1e-6)
