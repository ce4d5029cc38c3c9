"""The monthly recap is queued on the first working day of a month, from office hours, once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.core.reports import REQUEST_KIND, scan_recap
from storage.database import session_factory
from storage.schedule_queries import SqlScheduleQueries
from storage.tables import OutboxRow
from tests.support.core import ADMIN_CHAT, build_core
from tests.support.reports import wib


async def test_the_recap_waits_for_the_first_working_day_and_office_hours(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    ctx = build_core(engine, tmp_path).ctx
    queries = SqlScheduleQueries(session_factory(engine))
    # 1 January 2027 is New Year's Day, the 2nd cuti bersama and a Saturday, the 3rd a
    # Sunday: the first working day is Monday the 4th; office hours begin at 08:00.
    assert not await scan_recap(ctx, queries, wib(2027, 1, 1, 9))
    assert not await scan_recap(ctx, queries, wib(2027, 1, 4, 7, 59))
    assert await scan_recap(ctx, queries, wib(2027, 1, 4, 8))
    assert not await scan_recap(ctx, queries, wib(2027, 1, 4, 15))
    assert not await scan_recap(ctx, queries, wib(2027, 1, 6, 8))
    assert await scan_recap(ctx, queries, wib(2027, 2, 1, 10))
    async with session_factory(engine)() as session:
        rows = (await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars().all()  # type: ignore[arg-type]
    assert [(r.dedupe_key, r.kind, r.chat_id) for r in rows] == [
        ("recap:2026-12", REQUEST_KIND, ADMIN_CHAT),
        ("recap:2027-01", REQUEST_KIND, ADMIN_CHAT),
    ]
    assert rows[0].payload["period"] == ["2026-12-01", "2027-01-01"]
    assert rows[0].payload["agency"] is None
