"""Claiming and settling outbox rows for one worker; PostgreSQL claims with SKIP LOCKED."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from conversations.core.batches import Batches
from conversations.core.domain import CardLink, OutboxItem
from storage.claims import claim_lanes, release_rows
from storage.mapping import to_db_time, to_record
from storage.tables import CardLinkRow, CitizenRow, OutboxRow
from storage.workers import OUTBOX

UNSENT = ("pending", "sending")
# In a sent row's payload: the platform's message id, and the delivery statuses it
# reported since ("sent", "delivered", "read" or "failed", each with its time).
SENT_REF = "sent_ref"
DELIVERY = "delivery"
# How far back in one chat a status is looked for (statuses come within minutes).
RECENT = 200


_OUTBOX: Table = OutboxRow.__table__  # type: ignore[attr-defined]
_MARK_SENT = (
    _OUTBOX.update()
    .where(
        _OUTBOX.c.id == bindparam("ident"),
        _OUTBOX.c.status == "sending",
        _OUTBOX.c.owner == bindparam("me"),
    )
    .values(
        status="sent",
        sent_at=bindparam("sent_at"),
        sent_message_id=bindparam("message_id"),
        owner=None,
        lease_until=None,
        attempts=bindparam("attempts"),
        error=None,
    )
)


@dataclass(frozen=True)
class _Sent:
    item: OutboxItem
    message_id: int | None
    now: datetime
    ref: str | None


class SqlOutboxQueue:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        owner: str | None = None,
        owner_timeout: float = 10.0,
    ):
        self._sessions = sessions
        self.owner = owner or uuid.uuid4().hex
        self.owner_timeout = owner_timeout
        self._recording: Batches[_Sent, None] = Batches(self._record_sent)

    async def claim(
        self,
        now: datetime,
        limit: int,
        lease_seconds: float,
        per_chat: int = 10,
        skip: Sequence[tuple[str, str]] = (),
    ) -> list[OutboxItem]:
        async with self._sessions() as session, session.begin():
            rows = await claim_lanes(
                session,
                OUTBOX,
                owner=self.owner,
                now=now,
                owner_cutoff=now - timedelta(seconds=self.owner_timeout),
                lease_seconds=lease_seconds,
                limit=limit,
                per_lane=per_chat,
                skip_lanes=list(skip),
            )
            return [to_record(row, OutboxItem) for row in rows]

    def _mine(self, item: OutboxItem) -> Any:
        o: Any = OutboxRow
        return (o.id == item.id) & (o.status == "sending") & (o.owner == self.owner)

    async def mark_sent(
        self, item: OutboxItem, message_id: int | None, now: datetime, ref: str | None = None
    ) -> None:
        """Record a sent row. Rows sent while a record is being written are written
        together in the next transaction: one commit for many sends."""
        await self._recording.add([_Sent(item, message_id, now, ref)])

    async def _record_sent(self, batch: list[_Sent]) -> None:
        async with self._sessions() as session, session.begin():
            await self._write_sent(session, batch)

    async def _write_sent(self, session: AsyncSession, batch: list[_Sent]) -> None:
        await session.execute(
            _MARK_SENT,
            [
                {
                    "ident": sent.item.id,
                    "me": self.owner,
                    "sent_at": to_db_time(sent.now),
                    "message_id": sent.message_id,
                    "attempts": sent.item.attempts + 1,
                }
                for sent in batch
            ],
        )
        for sent in batch:
            item, message_id = sent.item, sent.message_id
            if sent.ref is not None:
                await session.execute(
                    update(OutboxRow)
                    .where(col(OutboxRow.id) == item.id)
                    .values(payload={**item.payload, SENT_REF: sent.ref})
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

    async def delivery_status(
        self, channel: str, chat_id: str, ref: str, state: str, now: datetime
    ) -> OutboxItem | None:
        """Record a delivery status on the sent row it is about; the row, if found."""
        o: Any = OutboxRow
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(OutboxRow)
                    .where(o.channel == channel, o.chat_id == chat_id, o.status == "sent")
                    .order_by(o.id.desc())
                    .limit(RECENT)
                )
            ).scalars()
            row = next((r for r in rows if r.payload.get(SENT_REF) == ref), None)
            if row is None:
                return None
            seen = dict(row.payload.get(DELIVERY) or {})
            seen.setdefault(state, now.astimezone(UTC).isoformat())
            row.payload = {**row.payload, DELIVERY: seen}
            return to_record(row, OutboxItem)

    async def reschedule(
        self, item: OutboxItem, at: datetime, error: str, count_attempt: bool = True
    ) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(self._mine(item))
                .values(
                    status="pending",
                    next_attempt_at=at,
                    owner=None,
                    lease_until=None,
                    attempts=item.attempts + (1 if count_attempt else 0),
                    error=error[:500],
                )
            )

    async def release(self, items: Sequence[OutboxItem]) -> None:
        async with self._sessions() as session, session.begin():
            await release_rows(
                session, OUTBOX, self.owner, [i.id for i in items if i.id is not None]
            )

    async def mark_failed(self, item: OutboxItem, error: str, now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(self._mine(item))
                .values(
                    status="failed",
                    owner=None,
                    lease_until=None,
                    attempts=item.attempts + 1,
                    error=error[:500],
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
                .values(status="unreachable", owner=None, lease_until=None, error=error[:500])
            )
            await session.execute(
                update(CitizenRow)
                .where(c.channel == item.channel, c.chat_id == item.chat_id)
                .values(unreachable=True)
            )


__all__ = ["CardLink", "SqlOutboxQueue"]
