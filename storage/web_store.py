"""What the web chat and the web desk read and keep: transcripts (delivered outbox rows),
officer accounts and sessions, and the shared secret that signs cookies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.core.domain import OfficerAccount, OfficerSession, OutboxItem
from storage.mapping import row_values, to_db_time, to_record
from storage.tables import AppSecretRow, OfficerAccountRow, OfficerSessionRow, OutboxRow


class SqlWebStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def transcript(
        self, channel: str, chat_id: str, after: int = 0, limit: int = 200
    ) -> list[OutboxItem]:
        o: Any = OutboxRow
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(OutboxRow)
                    .where(
                        o.channel == channel,
                        o.chat_id == chat_id,
                        o.status == "sent",
                        o.id > after,
                    )
                    .order_by(o.id)
                    .limit(limit)
                )
            ).scalars()
            return [to_record(row, OutboxItem) for row in rows]

    async def recent(self, channel: str, chat_id: str, limit: int = 50) -> list[OutboxItem]:
        o: Any = OutboxRow
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(OutboxRow)
                    .where(o.channel == channel, o.chat_id == chat_id, o.status == "sent")
                    .order_by(o.id.desc())
                    .limit(limit)
                )
            ).scalars()
            return [to_record(row, OutboxItem) for row in rows]

    async def sent_item(self, item_id: int) -> OutboxItem | None:
        async with self._sessions() as session:
            row = await session.get(OutboxRow, item_id)
            if row is None or row.status != "sent":
                return None
            return to_record(row, OutboxItem)

    async def secret(self, name: str, make: str) -> str:
        async with self._sessions() as session:
            row = await session.get(AppSecretRow, name)
            if row is not None:
                return row.value
            session.add(AppSecretRow(name=name, value=make))
            try:
                await session.commit()
            except IntegrityError:
                # Another process made it first: theirs holds for everyone.
                await session.rollback()
                row = await session.get(AppSecretRow, name)
                assert row is not None
                return row.value
            return make

    async def account(self, username: str) -> OfficerAccount | None:
        a: Any = OfficerAccountRow
        async with self._sessions() as session:
            row = (
                await session.execute(select(OfficerAccountRow).where(a.username == username))
            ).scalar_one_or_none()
            return to_record(row, OfficerAccount) if row else None

    async def account_by_id(self, account_id: int) -> OfficerAccount | None:
        async with self._sessions() as session:
            row = await session.get(OfficerAccountRow, account_id)
            return to_record(row, OfficerAccount) if row else None

    async def accounts(self) -> list[OfficerAccount]:
        a: Any = OfficerAccountRow
        async with self._sessions() as session:
            rows = (await session.execute(select(OfficerAccountRow).order_by(a.username))).scalars()
            return [to_record(row, OfficerAccount) for row in rows]

    async def add_account(self, account: OfficerAccount) -> OfficerAccount:
        values = row_values(account)
        values.pop("id")
        async with self._sessions() as session, session.begin():
            row = OfficerAccountRow(**values)
            session.add(row)
            await session.flush()
            account.id = row.id
        return account

    async def update_account(self, account: OfficerAccount) -> None:
        values = row_values(account)
        values.pop("id")
        a: Any = OfficerAccountRow
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OfficerAccountRow).where(a.id == account.id).values(**values)
            )

    async def add_session(self, session_record: OfficerSession) -> None:
        async with self._sessions() as session, session.begin():
            session.add(OfficerSessionRow(**row_values(session_record)))

    async def session(self, token_hash: str, now: datetime) -> OfficerSession | None:
        async with self._sessions() as session:
            row = await session.get(OfficerSessionRow, token_hash)
            if row is None:
                return None
            record = to_record(row, OfficerSession)
            return record if record.expires_at > now else None

    async def end_session(self, token_hash: str) -> None:
        s: Any = OfficerSessionRow
        async with self._sessions() as session, session.begin():
            await session.execute(delete(OfficerSessionRow).where(s.token_hash == token_hash))

    async def end_sessions(self, account_id: int) -> None:
        s: Any = OfficerSessionRow
        async with self._sessions() as session, session.begin():
            await session.execute(delete(OfficerSessionRow).where(s.account_id == account_id))

    async def forget_expired(self, now: datetime) -> int:
        s: Any = OfficerSessionRow
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(OfficerSessionRow).where(s.expires_at <= to_db_time(now))
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
