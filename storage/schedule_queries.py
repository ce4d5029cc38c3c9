"""The scheduler's read-only look-ups; every one is backed by an index on (status, column)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from conversations.core.domain import Complaint, Event
from conversations.core.lifecycle import Status
from conversations.core.ports import DigestFigures
from storage.mapping import from_db_time, to_db_time, to_record
from storage.repositories import _complaint
from storage.tables import ComplaintRow, EventRow, OutboxRow

FOLLOWUP_WINDOW_DAYS = 30
COLUMNS = ("verify_due", "followup_due", "settle_due", "autoclose_due", "resolved_at")


class SqlScheduleQueries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def due(
        self,
        column: str,
        statuses: Sequence[Status],
        before: datetime,
        limit: int = 500,
        after: tuple[datetime, int] | None = None,
    ) -> list[Complaint]:
        if column not in COLUMNS:
            raise ValueError(f"unknown deadline column {column!r}")
        field: Any = getattr(ComplaintRow, column)
        ident: Any = ComplaintRow.id
        status: Any = ComplaintRow.status
        query = select(ComplaintRow).where(
            status.in_([s.value for s in statuses]), field <= to_db_time(before)
        )
        if after is not None:
            value = to_db_time(after[0])
            query = query.where(or_(field > value, and_(field == value, ident > after[1])))
        query = query.order_by(field, ident).limit(limit)
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars().all()
        return [_complaint(row) for row in rows]

    async def on_hold(
        self, since_before: datetime, limit: int = 500, after: tuple[datetime, int] | None = None
    ) -> list[tuple[Complaint, Event]]:
        c: Any = ComplaintRow
        e: Any = EventRow
        later: Any = aliased(EventRow)
        # The hold is the complaint's latest move into tertunda.
        latest = (
            select(func.max(later.id))
            .where(later.complaint_id == c.id, later.to_status == Status.TERTUNDA.value)
            .scalar_subquery()
        )
        query = (
            select(ComplaintRow, EventRow)
            .join(EventRow, e.complaint_id == c.id)
            .where(
                c.status == Status.TERTUNDA.value,
                e.id == latest,
                e.at <= to_db_time(since_before),
            )
        )
        if after is not None:
            value = to_db_time(after[0])
            query = query.where(or_(e.at > value, and_(e.at == value, e.id > after[1])))
        query = query.order_by(e.at, e.id).limit(limit)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [(_complaint(row), to_record(event, Event)) for row, event in rows]

    async def queued_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        key: Any = OutboxRow.dedupe_key
        async with self._sessions() as session:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                rows = await session.execute(select(key).where(key.in_(chunk)))
                found.update(str(value) for value in rows.scalars())
        return found

    async def digest(self, since: datetime, until: datetime, now: datetime) -> DigestFigures:
        c: Any = ComplaintRow
        since_db, until_db, now_db = to_db_time(since), to_db_time(until), to_db_time(now)
        async with self._sessions() as session:
            new = await session.scalar(
                select(func.count())
                .select_from(ComplaintRow)
                .where(c.created_at >= since_db, c.created_at < until_db)
            )
            waiting = await session.scalar(
                select(func.count())
                .select_from(ComplaintRow)
                .where(c.status.in_([Status.BARU.value, Status.TERVERIFIKASI.value]))
            )
            resolved = await session.scalar(
                select(func.count())
                .select_from(ComplaintRow)
                .where(
                    c.status.in_([Status.SELESAI.value, Status.DITUTUP.value]),
                    c.resolved_at >= since_db,
                    c.resolved_at < until_db,
                )
            )
            # Verification is the desk's job whatever the category: its own line.
            overdue_verification = await session.scalar(
                select(func.count())
                .select_from(ComplaintRow)
                .where(
                    c.status.in_([Status.BARU.value, Status.TERVERIFIKASI.value]),
                    c.verify_due < now_db,
                )
            )
            # Overdue for follow-up: dispatched and not yet acted on by the agency
            # (the same rule as the escalations).
            overdue_rows = await session.execute(
                select(c.agency, func.count())
                .where(
                    c.status == Status.DIDISPOSISIKAN.value,
                    c.followup_due < now_db,
                )
                .group_by(c.agency)
            )
            followup_rows = await session.execute(
                select(c.dispatched_at, c.followed_up_at)
                .where(
                    c.followed_up_at >= to_db_time(until - timedelta(days=FOLLOWUP_WINDOW_DAYS)),
                    c.followed_up_at < until_db,
                    c.dispatched_at.is_not(None),
                )
                .limit(5000)
            )
            followups = [
                (from_db_time(a), from_db_time(b)) for a, b in followup_rows.all() if a and b
            ]
        return DigestFigures(
            new=int(new or 0),
            waiting_verification=int(waiting or 0),
            overdue_by_agency={str(agency): int(count) for agency, count in overdue_rows.all()},
            resolved=int(resolved or 0),
            followups=[(a, b) for a, b in followups if a is not None and b is not None],
            overdue_verification=int(overdue_verification or 0),
            followup_window_days=FOLLOWUP_WINDOW_DAYS,
        )
