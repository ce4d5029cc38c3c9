"""``GET /healthz``: is the database reachable, how much waits, when did an update come."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conversations.core.inbox import InboxStore
from conversations.core.ports import Clock
from storage.mapping import from_db_time
from storage.tables import OutboxRow


async def outbox_backlog(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, datetime | None]:
    o: Any = OutboxRow
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxRow).where(o.status.in_(["pending", "sending"]))
        )
        oldest = await session.scalar(
            select(func.min(o.created_at)).where(o.status.in_(["pending", "sending"]))
        )
    return int(count or 0), from_db_time(oldest)


def health_route(
    sessions: async_sessionmaker[AsyncSession], inbox: InboxStore, clock: Clock
) -> Route:
    async def healthz(request: Request) -> Response:
        now = clock.now()
        try:
            counts = await inbox.counts()
            backlog, oldest = await outbox_backlog(sessions)
        except Exception as error:
            return JSONResponse(
                {"status": "error", "database": f"unreachable ({type(error).__name__})"},
                status_code=503,
            )
        last = counts.last_received
        return JSONResponse(
            {
                "status": "ok",
                "database": "ok",
                "outbox_backlog": backlog,
                "outbox_oldest_seconds": round((now - oldest).total_seconds(), 1)
                if oldest
                else None,
                "inbox_pending": counts.pending + counts.processing,
                "inbox_parked": counts.parked,
                "last_update_seconds": round((now - last).total_seconds(), 1) if last else None,
            }
        )

    return Route("/healthz", healthz, methods=["GET"])
