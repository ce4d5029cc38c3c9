"""The whole scorecard of one month, computed in SQL, over 10,000 and 1,000,000 complaints.

    BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/bench python -m bench.reports

PostgreSQL is taken from ``BENCH_DATABASE_URL`` (else ``TEST_DATABASE_URL``); its
``public`` schema is DROPPED and rebuilt, so give it a database of its own. Without
one, only the 10,000-complaint run on SQLite is made. Three years of complaints
(with their events: submission, verification, dispatch, follow-up, resolution,
"not fixed" and reopening, closing) are generated and copied in with COPY; the
scorecard of June 2026 (every indicator for the city, each agency, category and
channel) is then timed against a baseline measured in the same run: merely
fetching that month's complaint rows and their events, which any computation
outside the database would have to do first.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.core.indicators import Dimension, Period
from conversations.core.reports import SCORECARD
from conversations.core.workdays import WorkingCalendar
from storage import migrate
from storage.database import create_engine, is_sqlite, normalise_url, session_factory
from storage.report_queries import SqlReportQueries, citizen, complaint, event
from tests.support.core import sample_city

START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=3 * 365)
MONTH = Period.month(2026, 6)
AS_OF = datetime(2026, 12, 31, 3, 0, tzinfo=UTC)
CITIZENS = 5000
CHUNK = 20_000
GOALS_MS = {10_000: 200.0, 1_000_000: 2000.0}
COMPLAINT_COLUMNS = (
    "id", "ticket", "citizen_id", "channel", "chat_id", "language", "category", "agency",
    "description", "anonymous", "confidential", "status", "version", "created_at",
    "updated_at", "verify_due", "followup_due", "settle_due", "dispatched_at",
    "followed_up_at", "resolved_at", "closed_at", "rating",
)  # fmt: skip
EVENT_COLUMNS = (
    "complaint_id", "at", "action", "actor_role", "actor_name", "from_status", "to_status",
    "attachment_ids",
)  # fmt: skip


def _days(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(days=rng.uniform(low, high))


def generate(
    count: int, seed: int = 14
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Complaints and their events, ``CHUNK`` complaints at a time."""
    rng = random.Random(seed)
    categories = [(c.code, c.agency) for c in sample_city().categories]
    complaints: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        created = START + SPAN * (n / count) + timedelta(minutes=rng.uniform(0, 30))
        category, agency = categories[min(int(rng.paretovariate(1.2)) - 1, len(categories) - 1)]
        fate = rng.random()
        moves: list[tuple[datetime, str, str, str, str]] = [
            (created, "submit", "citizen", "", "baru")
        ]
        status = "baru"
        dispatched = followed = resolved = closed = None
        rating = None
        at = created + _days(rng, 0.05, 6.0)
        if fate < 0.03:
            pass  # never looked at yet
        elif fate < 0.07:
            moves.append((at, "verify", "desk", "baru", "terverifikasi"))
            status = "terverifikasi"
        elif fate < 0.12:
            moves.append((at, "reject", "desk", "baru", "ditolak"))
            status = "ditolak"
        elif fate < 0.15:
            moves.append((at, "notauth", "desk", "baru", "bukan_wewenang"))
            status = "bukan_wewenang"
        else:
            source = "baru"
            if rng.random() < 0.5:
                moves.append((at, "verify", "desk", "baru", "terverifikasi"))
                at += _days(rng, 0.0, 1.0)
                source = "terverifikasi"
            dispatched = at
            moves.append((at, "dispatch", "desk", source, "didisposisikan"))
            status = "didisposisikan"
            stage = rng.random()
            if stage > 0.08:
                followed = at = at + _days(rng, 0.05, 10.0)
                moves.append((at, "start", "agency", status, "ditindaklanjuti"))
                status = "ditindaklanjuti"
            if stage > 0.18:
                resolved = at = at + _days(rng, 0.5, 30.0)
                moves.append((at, "resolve", "agency", status, "selesai"))
                status = "selesai"
                if rng.random() < 0.05:
                    at += _days(rng, 0.5, 5.0)
                    moves.append((at, "survey_notfixed", "citizen", "", ""))
                    moves.append((at, "reopen", "citizen", "selesai", "ditindaklanjuti"))
                    resolved = at = at + _days(rng, 0.5, 10.0)
                    moves.append((at, "resolve", "agency", "ditindaklanjuti", "selesai"))
            if stage > 0.30:
                closed = at = at + _days(rng, 1.0, 14.0)
                by = "citizen" if rng.random() < 0.5 else "system"
                moves.append((at, "close", by, "selesai", "ditutup"))
                status = "ditutup"
                rating = rng.randint(1, 5) if rng.random() < 0.6 else None
        complaints.append(
            {
                "id": n,
                "ticket": f"B-{n:07d}",
                "citizen_id": 1 + n % CITIZENS,
                "channel": "whatsapp" if rng.random() < 0.2 else "telegram",
                "chat_id": str(1 + n % CITIZENS),
                "language": "id",
                "category": category,
                "agency": agency,
                "description": "Jalan berlubang di depan sekolah, mohon segera diperbaiki.",
                "anonymous": rng.random() < 0.08,
                "confidential": rng.random() < 0.05,
                "status": status,
                "version": len(moves),
                "created_at": created,
                "updated_at": moves[-1][0],
                "verify_due": created + timedelta(days=4.5),
                "followup_due": dispatched + timedelta(days=7.5) if dispatched else None,
                "settle_due": created + timedelta(days=60),
                "dispatched_at": dispatched,
                "followed_up_at": followed,
                "resolved_at": resolved,
                "closed_at": closed,
                "rating": rating,
            }
        )
        for moment, action, role, source, target in moves:
            events.append(
                {
                    "complaint_id": n,
                    "at": moment,
                    "action": action,
                    "actor_role": role,
                    "actor_name": "Petugas" if role in ("desk", "agency") else None,
                    "from_status": source or None,
                    "to_status": target or None,
                    "attachment_ids": [],
                }
            )
        if len(complaints) == CHUNK or n == count:
            yield complaints, events
            complaints, events = [], []


async def fill(engine: AsyncEngine, count: int) -> None:
    sessions = session_factory(engine)
    citizens = [
        {"id": n, "channel": "telegram", "external_id": str(n), "chat_id": str(n),
         "display_name": f"Warga {n}", "language": "id", "unreachable": False, "offered": []}
        for n in range(1, CITIZENS + 1)
    ]  # fmt: skip
    async with sessions() as session, session.begin():
        await session.execute(insert(citizen), citizens)
        if is_sqlite(str(engine.url)):
            for complaints, events in generate(count):
                # Core inserts: one executemany each (ORM bulk inserts go row by row here).
                await session.execute(insert(complaint), complaints)
                await session.execute(insert(event), events)
        else:
            raw = await (await session.connection()).get_raw_connection()
            copier: Any = raw.driver_connection
            for complaints, events in generate(count):
                await copier.copy_records_to_table(
                    "complaint",
                    records=[tuple(c[k] for k in COMPLAINT_COLUMNS) for c in complaints],
                    columns=COMPLAINT_COLUMNS,
                )
                await copier.copy_records_to_table(
                    "complaint_event",
                    records=[
                        tuple(
                            json.dumps(e[k]) if k == "attachment_ids" else e[k]
                            for k in EVENT_COLUMNS
                        )
                        for e in events
                    ],
                    columns=EVENT_COLUMNS,
                )
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        await connection.execute(
            text("ANALYZE" if is_sqlite(str(engine.url)) else "VACUUM ANALYZE")
        )


async def _best(repeats: int, work: Any) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        await work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


async def measure(url: str, count: int) -> dict[str, float]:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        started = time.perf_counter()
        await fill(engine, count)
        filled = time.perf_counter() - started
        config = sample_city()
        calendar = WorkingCalendar(config.timezone, config.cuti_bersama, config.extra_working_days)
        sessions = session_factory(engine)
        queries = SqlReportQueries(sessions, calendar)
        started = time.perf_counter()
        rows = await queries.scorecard(MONTH, SCORECARD, AS_OF)
        first = (time.perf_counter() - started) * 1000
        scorecard = await _best(5, lambda: queries.scorecard(MONTH, SCORECARD, AS_OF))
        trend = await _best(
            3, lambda: queries.scorecard(MONTH.months_back(6), (Dimension.MONTH,), AS_OF)
        )
        since, until = MONTH.bounds(calendar.tz)
        in_month = (complaint.c.created_at >= since, complaint.c.created_at < until)

        async def fetch() -> None:
            async with sessions() as session:
                (await session.execute(select(complaint).where(*in_month))).all()
                ids = select(complaint.c.id).where(*in_month)
                (await session.execute(select(event).where(event.c.complaint_id.in_(ids)))).all()

        baseline = await _best(5, fetch)
        async with sessions() as session:
            in_period = await session.scalar(
                select(func.count()).select_from(complaint).where(*in_month)
            )
        total = next(r for r in rows if r.dimension is Dimension.TOTAL)
        assert total.received == in_period
        return {
            "complaints": float(count),
            "month": float(in_period or 0),
            "groups": float(len(rows)),
            "fill_s": filled,
            "first_ms": first,
            "scorecard_ms": scorecard,
            "trend_ms": trend,
            "baseline_ms": baseline,
        }
    finally:
        await engine.dispose()


async def reset_postgres(url: str) -> None:
    """An empty `public` schema (the benchmarks own their database)."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


def report(kind: str, r: dict[str, float]) -> str:
    count = int(r["complaints"])
    goal = GOALS_MS.get(count)
    verdict = f" (goal < {goal:.0f} ms)" if goal else ""
    return (
        f"reports on {kind}, {count:,} complaints ({int(r['month']):,} in {MONTH.label}): "
        f"whole scorecard ({int(r['groups'])} rows: city, agencies, categories, channels) "
        f"{r['scorecard_ms']:.1f} ms{verdict}; first call incl. building the working-day "
        f"calendar {r['first_ms']:.1f} ms; baseline, fetching the month's complaints and "
        f"events {r['baseline_ms']:.1f} ms = scorecard {r['scorecard_ms'] / r['baseline_ms']:.2f}x "
        f"the fetch; 6-month trend {r['trend_ms']:.1f} ms; data built in {r['fill_s']:.0f} s"
    )


async def run() -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite+aiosqlite:///{Path(tmp) / 'reports.db'}"
        lines.append(report("SQLite", await measure(sqlite, 10_000)))
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not url:
        lines.append("reports on PostgreSQL: skipped (set BENCH_DATABASE_URL)")
        return lines
    url = normalise_url(url)
    for count in (10_000, 1_000_000):
        await reset_postgres(url)
        lines.append(report("PostgreSQL", await measure(url, count)))
    await reset_postgres(url)
    return lines


def main() -> None:
    for line in asyncio.run(run()):
        print(line)


if __name__ == "__main__":
    main()
