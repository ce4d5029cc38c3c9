"""The bot processes sharing one database, and the claims they hold.

Each process registers a worker row and beats its heart every few seconds; the
heartbeat also extends the leases of the inbox and outbox rows it holds, so a
row waiting on a slow chat is never claimed twice. A process that stops
cleanly hands its rows back; one that dies is found out two ways: on the same
host its pid is gone (a restart takes over at once), elsewhere its heartbeat
goes stale (another process takes over within ``timeout`` seconds).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.claims import QueueTable, extend_leases, live_owners, release_rows
from storage.mapping import from_db_time
from storage.tables import InboxRow, OutboxRow, WorkerRow

INBOX = QueueTable(InboxRow, ("chat_key",), "pending", "processing")
OUTBOX = QueueTable(OutboxRow, ("channel", "chat_id"), "pending", "sending")
QUEUES = (INBOX, OUTBOX)


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    heartbeat_at: datetime


def new_worker_id() -> str:
    return uuid.uuid4().hex


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class SqlWorkers:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        worker_id: str,
        timeout: float = 10.0,
        host: str | None = None,
        pid: int | None = None,
    ):
        self._sessions = sessions
        self.id = worker_id
        self.timeout = timeout
        self.host = host or socket.gethostname()
        self.pid = pid if pid is not None else os.getpid()

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.timeout)

    async def register(self, now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await self._reap(session, now)
            session.add(
                WorkerRow(
                    id=self.id,
                    host=self.host[:255],
                    pid=self.pid,
                    started_at=now,
                    heartbeat_at=now,
                )
            )

    async def others_alive(self, now: datetime) -> list[WorkerInfo]:
        async with self._sessions() as session, session.begin():
            await self._reap(session, now)
            worker: Any = WorkerRow
            rows = (
                await session.execute(
                    select(WorkerRow).where(
                        worker.id != self.id, worker.heartbeat_at > self.cutoff(now)
                    )
                )
            ).scalars()
            return [
                WorkerInfo(row.id, row.host, row.pid, from_db_time(row.heartbeat_at) or now)
                for row in rows
            ]

    async def release_orphans(self, now: datetime) -> int:
        """Hand back rows held by processes that are gone: a restart resumes at once."""
        released = 0
        async with self._sessions() as session, session.begin():
            await self._reap(session, now)
            for table in QUEUES:
                c = table.column
                result = await session.execute(
                    update(table.model)
                    .where(
                        c("status") == table.claimed,
                        or_(
                            c("owner").is_(None),
                            c("owner").not_in(live_owners(self.cutoff(now))),
                        ),
                    )
                    .values(status=table.waiting, owner=None, lease_until=None)
                )
                released += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return released

    async def heartbeat(self, now: datetime, lease_seconds: float) -> None:
        """Say this process is alive, then extend the leases that end within half a
        lease (so the heartbeat must run at least that often)."""
        async with self._sessions() as session, session.begin():
            worker: Any = WorkerRow
            result = await session.execute(
                update(WorkerRow).where(worker.id == self.id).values(heartbeat_at=now)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                # Reaped while the database was out of reach: come back.
                session.add(
                    WorkerRow(
                        id=self.id, host=self.host, pid=self.pid, started_at=now, heartbeat_at=now
                    )
                )
        # Each in its own transaction after the beat is committed: a beat never waits
        # on rows, and holds none of one queue's rows while it waits on the other's.
        until = now + timedelta(seconds=lease_seconds)
        ending = now + timedelta(seconds=lease_seconds / 2)
        for table in QUEUES:
            async with self._sessions() as session, session.begin():
                await extend_leases(session, table, self.id, until, ending_before=ending)

    async def deregister(self) -> None:
        async with self._sessions() as session, session.begin():
            for table in QUEUES:
                await release_rows(session, table, self.id)
            worker: Any = WorkerRow
            await session.execute(delete(WorkerRow).where(worker.id == self.id))

    async def _reap(self, session: AsyncSession, now: datetime) -> None:
        """Forget workers that are certainly gone: long silent, or dead on this host."""
        worker: Any = WorkerRow
        rows = (await session.execute(select(WorkerRow).where(worker.id != self.id))).scalars()
        gone = []
        for row in rows:
            beat = from_db_time(row.heartbeat_at) or now
            same_host = row.host == self.host
            # On this host a pid that no longer runs (or is ours now, after a
            # container restart) is a dead process, however fresh its heartbeat.
            if now - beat > timedelta(seconds=self.timeout * 6) or (
                same_host and (row.pid == self.pid or _pid_gone(row.pid))
            ):
                gone.append(row.id)
        if gone:
            await session.execute(delete(WorkerRow).where(worker.id.in_(gone)))
