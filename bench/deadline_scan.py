"""One deadline scan over 100,000 open complaints (SQLite), index-backed vs. without indexes.

python -m bench.deadline_scan
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from conversations.core.context import CoreContext
from conversations.core.i18n import Catalog
from conversations.core.messages import Channel, ChatAddress
from conversations.core.reminders import scan_deadlines
from conversations.core.workdays import WorkingCalendar
from storage import migrate
from storage.database import create_engine, session_factory
from storage.files import LocalFileStore
from storage.schedule_queries import SqlScheduleQueries
from storage.tables import CitizenRow, ComplaintRow
from storage.unit_of_work import SqlUnitOfWork
from tests.support.core import sample_city

OPEN = 100_000
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # Thursday 10:00 WIB
INDEXES = (
    "ix_complaint_status_verify_due",
    "ix_complaint_status_followup_due",
    "ix_complaint_status_settle_due",
)


async def _fill(engine: object, count: int) -> None:
    rng = random.Random(7)
    sessions = session_factory(engine)  # type: ignore[arg-type]
    async with sessions() as session, session.begin():
        await session.execute(
            insert(CitizenRow).values(
                id=1, channel="telegram", external_id="1", chat_id="1", display_name="Siti"
            )
        )
        rows = []
        for n in range(count):
            created = NOW - timedelta(days=rng.uniform(0, 40))
            status = rng.choice(["baru", "terverifikasi", "didisposisikan", "ditindaklanjuti"])
            # Most deadlines lie ahead; about 0.2 % are due for a reminder or overdue.
            ahead = timedelta(
                days=rng.uniform(-1, 0.5) if rng.random() < 0.002 else rng.uniform(3, 60)
            )
            rows.append(
                {
                    "ticket": f"ADU-2611-{n:06d}",
                    "citizen_id": 1,
                    "channel": "telegram",
                    "chat_id": "1",
                    "language": "id",
                    "category": "jalan",
                    "agency": "pupr",
                    "description": "Jalan berlubang",
                    "status": status,
                    "version": 1,
                    "created_at": created,
                    "verify_due": NOW + ahead if status in ("baru", "terverifikasi") else None,
                    "followup_due": NOW + ahead if status == "didisposisikan" else None,
                    "settle_due": created + timedelta(days=60 + rng.uniform(0, 30)),
                    "anonymous": False,
                    "confidential": False,
                }
            )
            if len(rows) == 5000:
                await session.execute(insert(ComplaintRow), rows)
                rows = []
        if rows:
            await session.execute(insert(ComplaintRow), rows)


async def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'scan.db'}")
        await migrate.upgrade(engine)
        await _fill(engine, OPEN)
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
        sessions = session_factory(engine)
        config = sample_city()
        ctx = CoreContext(
            config=config,
            catalog=Catalog.load(),
            calendar=WorkingCalendar(config.timezone, config.cuti_bersama),
            uow=lambda: SqlUnitOfWork(sessions),
            files=LocalFileStore(Path(tmp)),
            desk_chat=ChatAddress(Channel.TELEGRAM, "-1001"),
        )
        queries = SqlScheduleQueries(sessions)

        async def timed(repeats: int = 5) -> float:
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                await scan_deadlines(ctx, queries, NOW)
                best = min(best, time.perf_counter() - started)
            return best

        first_started = time.perf_counter()
        queued = await scan_deadlines(ctx, queries, NOW)  # queues the reminders/escalations
        first = time.perf_counter() - first_started
        indexed = await timed()
        async with sessions() as session:
            started = time.perf_counter()
            await session.execute(text("SELECT count(*) FROM complaint"))
            count_all = time.perf_counter() - started
        async with engine.begin() as connection:
            for name in INDEXES:
                await connection.execute(text(f"DROP INDEX {name}"))
        unindexed = await timed(3)
        await engine.dispose()
    return {
        "open": float(OPEN),
        "queued": float(queued),
        "first_ms": first * 1000,
        "indexed_ms": indexed * 1000,
        "unindexed_ms": unindexed * 1000,
        "count_ms": count_all * 1000,
    }


def main() -> None:
    r = asyncio.run(run())
    print(
        f"deadline scan over {int(r['open'])} open complaints: {r['indexed_ms']:.1f} ms "
        f"(steady state, index-backed; first scan queuing {int(r['queued'])} notices "
        f"{r['first_ms']:.1f} ms); same scan without the (status, due) indexes "
        f"{r['unindexed_ms']:.1f} ms = {r['unindexed_ms'] / r['indexed_ms']:.1f}x slower; "
        f"SELECT count(*) {r['count_ms']:.1f} ms = {r['count_ms'] / r['indexed_ms']:.2f}x the scan"
    )


if __name__ == "__main__":
    main()
