"""Claiming and settling outbox rows; PostgreSQL claims with SKIP LOCKED."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.core.domain import CardLink, OutboxItem
from storage.mapping import to_record
from storage.tables import CardLinkRow, CitizenRow, OutboxRow

UNSENT = ("pending", "sending")


class SqlOutboxQueue:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def claim(self, now: datetime, limit: int, lease_seconds: float) -> list[OutboxItem]:
        async with self._sessions() as session, session.begin():
            due = or_(
                and_(
                    OutboxRow.status == "pending",  # type: ignore[arg-type]
                    or_(OutboxRow.next_attempt_at.is_(None), OutboxRow.next_attempt_at <= now),
                ),  # type: ignore[union-attr,operator]
                and_(OutboxRow.status == "sending", OutboxRow.lease_until <= now),  # type: ignore[arg-type,operator]
            )
            query = select(OutboxRow).where(due).order_by(OutboxRow.id).limit(limit * 4)  # type: ignore[arg-type]
            if session.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.execute(query)).scalars())
            if not rows:
                return []
            chats = {row.chat_id for row in rows}
            oldest = dict(
                (
                    await session.execute(
                        select(OutboxRow.chat_id, OutboxRow.id)
                        .where(OutboxRow.chat_id.in_(chats), OutboxRow.status.in_(UNSENT))  # type: ignore[attr-defined]
                        .order_by(OutboxRow.id)  # type: ignore[arg-type]
                    )
                ).all()[::-1]
            )
            chosen: list[OutboxRow] = []
            blocked: set[str] = set()
            for row in rows:
                # Per-chat order: a chat's rows go out one after another, oldest first.
                if row.chat_id in blocked:
                    continue
                if oldest.get(row.chat_id) != row.id and not any(
                    c.chat_id == row.chat_id for c in chosen
                ):
                    blocked.add(row.chat_id)
                    continue
                chosen.append(row)
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

    async def reschedule(self, item: OutboxItem, at: datetime, error: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == item.id)  # type: ignore[arg-type]
                .values(
                    status="pending",
                    next_attempt_at=at,
                    lease_until=None,
                    attempts=item.attempts + 1,
                    error=error[:500],
                )
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
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.chat_id == item.chat_id,
                    OutboxRow.channel == item.channel,
                    OutboxRow.status.in_(UNSENT),
                )  # type: ignore[attr-defined]
                .values(status="unreachable", lease_until=None, error=error[:500])
            )
            await session.execute(
                update(CitizenRow)
                .where(CitizenRow.channel == item.channel, CitizenRow.chat_id == item.chat_id)  # type: ignore[arg-type]
                .values(unreachable=True)
            )


__all__ = ["CardLink", "SqlOutboxQueue"]
