"""The inbox table: storing updates before they are acknowledged, claiming them per chat."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.core.inbox import InboxCounts, InboxEntry, InboxItem
from storage.claims import claim_lanes, release_rows
from storage.mapping import from_db_time, to_db_time
from storage.tables import InboxRow
from storage.workers import INBOX

PER_CHAT = 20


def _item(row: InboxRow) -> InboxItem:
    assert row.id is not None
    return InboxItem(
        id=row.id,
        key=row.key,
        channel=row.channel,
        chat_key=row.chat_key,
        payload=dict(row.payload or {}),
        attempts=row.attempts,
    )


class SqlInboxStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        owner: str,
        owner_timeout: float = 10.0,
        per_chat: int = PER_CHAT,
    ):
        self._sessions = sessions
        self.owner = owner
        self.owner_timeout = owner_timeout
        self.per_chat = per_chat

    def _cutoff(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.owner_timeout)

    async def ingest(
        self, entries: Sequence[InboxEntry], now: datetime, lease_seconds: float
    ) -> list[InboxItem]:
        async with self._sessions() as session, session.begin():
            sqlite = session.get_bind().dialect.name == "sqlite"
            statement: Any = (sqlite_insert if sqlite else postgresql_insert)(InboxRow)
            received = to_db_time(now)
            await session.execute(
                statement.values(
                    [
                        {
                            "key": entry.key[:160],
                            "channel": entry.channel,
                            "chat_key": entry.chat_key[:96],
                            "payload": entry.payload,
                            "status": "pending",
                            "attempts": 0,
                            "received_at": received,
                        }
                        for entry in entries
                    ]
                ).on_conflict_do_nothing(index_elements=["key"])
            )
            rows = await claim_lanes(
                session,
                INBOX,
                owner=self.owner,
                now=now,
                owner_cutoff=self._cutoff(now),
                lease_seconds=lease_seconds,
                limit=len(entries) * self.per_chat,
                per_lane=self.per_chat,
                lanes=sorted({(entry.chat_key[:96],) for entry in entries}),
            )
            return [_item(row) for row in rows]

    async def claim(
        self, now: datetime, limit: int, lease_seconds: float, skip: Sequence[str] = ()
    ) -> list[InboxItem]:
        async with self._sessions() as session, session.begin():
            rows = await claim_lanes(
                session,
                INBOX,
                owner=self.owner,
                now=now,
                owner_cutoff=self._cutoff(now),
                lease_seconds=lease_seconds,
                limit=limit,
                per_lane=self.per_chat,
                skip_lanes=[(chat,) for chat in skip],
            )
            return [_item(row) for row in rows]

    def _mine(self, item: InboxItem) -> Any:
        i: Any = InboxRow
        return (i.id == item.id) & (i.status == "processing") & (i.owner == self.owner)

    async def finish(self, item: InboxItem, now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(InboxRow)
                .where(self._mine(item))
                .values(status="done", processed_at=now, payload=None, owner=None, lease_until=None)
            )

    async def retry(self, item: InboxItem, at: datetime, error: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(InboxRow)
                .where(self._mine(item))
                .values(
                    status="pending",
                    attempts=item.attempts + 1,
                    next_attempt_at=at,
                    owner=None,
                    lease_until=None,
                    error=error[:500],
                )
            )

    async def park(self, item: InboxItem, error: str, now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(InboxRow)
                .where(self._mine(item))
                .values(
                    status="parked",
                    attempts=item.attempts + 1,
                    processed_at=now,
                    owner=None,
                    lease_until=None,
                    error=error[:500],
                )
            )

    async def release(self, items: Sequence[InboxItem]) -> None:
        async with self._sessions() as session, session.begin():
            await release_rows(session, INBOX, self.owner, [item.id for item in items])

    async def ping(self) -> None:
        async with self._sessions() as session:
            await session.execute(text("SELECT 1"))

    async def counts(self) -> InboxCounts:
        i: Any = InboxRow
        async with self._sessions() as session:
            rows = await session.execute(
                select(i.status, func.count())
                .where(i.status.in_(["pending", "processing", "parked"]))
                .group_by(i.status)
            )
            by_status = {str(status): int(count) for status, count in rows.all()}
            last = await session.scalar(select(func.max(i.received_at)))
        return InboxCounts(
            pending=by_status.get("pending", 0),
            processing=by_status.get("processing", 0),
            parked=by_status.get("parked", 0),
            last_received=from_db_time(last),
        )

    async def last_received(self, chat_key: str) -> datetime | None:
        """When the newest update of a chat arrived (WhatsApp's 24-hour window)."""
        i: Any = InboxRow
        async with self._sessions() as session:
            last = await session.scalar(
                select(func.max(i.received_at)).where(i.chat_key == chat_key[:96])
            )
        return from_db_time(last)

    # operators -------------------------------------------------------------------

    async def parked(self, limit: int = 100) -> list[InboxRow]:
        i: Any = InboxRow
        async with self._sessions() as session:
            rows = await session.execute(
                select(InboxRow).where(i.status == "parked").order_by(i.id).limit(limit)
            )
            return list(rows.scalars())

    async def requeue(self, key: str | None = None) -> int:
        """Put parked updates back in line (one by key, or all)."""
        i: Any = InboxRow
        statement = update(InboxRow).where(i.status == "parked")
        if key is not None:
            statement = statement.where(i.key == key)
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                statement.values(status="pending", attempts=0, next_attempt_at=None, error=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def forget_done(self, before: datetime) -> int:
        """Delete handled updates older than ``before``; their keys only dedupe."""
        i: Any = InboxRow
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                InboxRow.__table__.delete().where(  # type: ignore[attr-defined]
                    i.status == "done", i.received_at < to_db_time(before)
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
