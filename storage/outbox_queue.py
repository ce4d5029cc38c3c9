"""Claiming and settling outbox rows; PostgreSQL claims with SKIP LOCKED."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.core.domain import CardLink, OutboxItem
from storage.mapping import to_record
from storage.tables import CardLinkRow, CitizenRow, OutboxRow

UNSENT = ("pending", "sending")


class SqlOutboxQueue:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def claim(self, now: datetime, limit: int, lease_seconds: float) -> list[OutboxItem]:
        o: Any = OutboxRow
        async with self._sessions() as session, session.begin():
            due = or_(
                and_(
                    o.status == "pending",
                    or_(o.next_attempt_at.is_(None), o.next_attempt_at <= now),
                ),
                and_(o.status == "sending", o.lease_until <= now),
            )
            query = select(OutboxRow).where(due).order_by(o.id).limit(max(1, limit) * 4)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.execute(query)).scalars())
            if not rows:
                return []
            chats = {row.chat_id for row in rows}
            first = await session.execute(
                select(o.chat_id, func.min(o.id))
                .where(o.chat_id.in_(chats), o.status.in_(UNSENT))
                .group_by(o.chat_id)
            )
            oldest: dict[str, int] = {str(chat): int(ident) for chat, ident in first.all()}
            chosen: list[OutboxRow] = []
            taken: set[str] = set()
            blocked: set[str] = set()
            for row in rows:
                # Per-chat order: a chat's rows go out one after another, oldest first.
                if row.chat_id in blocked:
                    continue
                if oldest.get(row.chat_id) != row.id and row.chat_id not in taken:
                    blocked.add(row.chat_id)
                    continue
                chosen.append(row)
                taken.add(row.chat_id)
                if len(chosen) >= limit:
                    break
            lease = now + timedelta(seconds=lease_seconds)
            for row in chosen:
                row.status = "sending"
                row.lease_until = lease
            items = [to_record(row, OutboxItem) for row in chosen]
        return items

    async def mark_sent(self, item: OutboxItem, message_id: int | None, now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == item.id)  # type: ignore[arg-type]
                .values(
                    status="sent",
                    sent_at=now,
                    sent_message_id=message_id,
                    lease_until=None,
                    attempts=item.attempts + 1,
                    error=None,
                )
            )
            if item.kind == "card" and message_id is not None and item.complaint_id is not None:
                await session.merge(
                    CardLinkRow(
                        chat_id=item.chat_id,
                        message_id=message_id,
                        complaint_id=item.complaint_id,
                        role=str(item.payload.get("role", "desk")),
                        thread_id=item.thread_id,
                    )
                )

    async def reschedule(
        self, item: OutboxItem, at: datetime, error: str, count_attempt: bool = True
    ) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == item.id, OutboxRow.status == "sending")  # type: ignore[arg-type]
                .values(
                    status="pending",
                    next_attempt_at=at,
                    lease_until=None,
                    attempts=item.attempts + (1 if count_attempt else 0),
                    error=error[:500],
                )
            )

    async def release(self, item: OutboxItem) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == item.id, OutboxRow.status == "sending")  # type: ignore[arg-type]
                .values(status="pending", lease_until=None)
            )

    async def mark_failed(self, item: OutboxItem, error: str, now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == item.id)  # type: ignore[arg-type]
                .values(
                    status="failed", lease_until=None, attempts=item.attempts + 1, error=error[:500]
                )
            )

    async def mark_unreachable(self, item: OutboxItem, error: str, now: datetime) -> None:
        """A private chat blocked the bot: stop its queued rows and flag its citizen."""
        if not item.private:  # a group is nobody's account: fail this row only
            await self.mark_failed(item, error, now)
            return
        o: Any = OutboxRow
        c: Any = CitizenRow
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(o.chat_id == item.chat_id, o.channel == item.channel, o.status.in_(UNSENT))
                .values(status="unreachable", lease_until=None, error=error[:500])
            )
            await session.execute(
                update(CitizenRow)
                .where(c.channel == item.channel, c.chat_id == item.chat_id)
                .values(unreachable=True)
            )


__all__ = ["CardLink", "SqlOutboxQueue"]
