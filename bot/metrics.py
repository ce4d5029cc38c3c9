"""``GET /metrics`` in Prometheus' text format: what the bot did, and what waits now.

Counters and the latency histogram are fed by the core (``Observer``); the gauges
are read from the database at each scrape, so every process reports the same
backlog whichever one Prometheus asks.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.health import outbox_backlog
from conversations.core.inbox import InboxStore
from conversations.core.lifecycle import Status
from conversations.core.ports import Clock
from storage.mapping import to_db_time
from storage.tables import ComplaintRow

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The process's metrics; also the core's ``Observer``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "kanal_updates",
            "Inbound updates by outcome (handled, ignored, failed, parked).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kanal_update_seconds",
            "Time to apply one inbound update (decode, dialogue, commit).",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sends = Counter(
            "kanal_outbox_sends",
            "Outbox sends by outcome (sent, retry_after, transient, forbidden, rejected...).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.backlog = Gauge(
            "kanal_outbox_backlog", "Messages waiting to be sent.", registry=self.registry
        )
        self.oldest = Gauge(
            "kanal_outbox_oldest_seconds",
            "Age of the oldest message waiting to be sent (0 when none).",
            registry=self.registry,
        )
        self.inbox = Gauge(
            "kanal_inbox_updates",
            "Inbound updates not yet applied, by state.",
            ["state"],
            registry=self.registry,
        )
        self.overdue = Gauge(
            "kanal_complaints_overdue",
            "Open complaints past a deadline, by agency and deadline.",
            ["agency", "deadline"],
            registry=self.registry,
        )

    # Observer -----------------------------------------------------------------

    def update_handled(self, channel: str, outcome: str, seconds: float) -> None:
        self.updates.labels(channel, outcome).inc()
        if outcome in ("handled", "ignored"):
            self.latency.labels(channel).observe(seconds)

    def message_settled(self, channel: str, outcome: str) -> None:
        self.sends.labels(channel, outcome).inc()

    # scrape ----------------------------------------------------------------------

    async def refresh(
        self, sessions: async_sessionmaker[AsyncSession], inbox: InboxStore, now: datetime
    ) -> None:
        backlog, oldest = await outbox_backlog(sessions)
        self.backlog.set(backlog)
        self.oldest.set((now - oldest).total_seconds() if oldest else 0.0)
        counts = await inbox.counts()
        self.inbox.labels("pending").set(counts.pending + counts.processing)
        self.inbox.labels("parked").set(counts.parked)
        self.overdue.clear()
        for (agency, deadline), count in (await overdue_by_agency(sessions, now)).items():
            self.overdue.labels(agency, deadline).set(count)


async def overdue_by_agency(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> dict[tuple[str, str], int]:
    c: Any = ComplaintRow
    at = to_db_time(now)
    verify = and_(c.status.in_([Status.BARU.value, Status.TERVERIFIKASI.value]), c.verify_due < at)
    # Overdue for follow-up: dispatched and not yet acted on, as the escalations count.
    followup = and_(c.status == Status.DIDISPOSISIKAN.value, c.followup_due < at)
    found: dict[tuple[str, str], int] = {}
    async with sessions() as session:
        for name, condition in (("verify", verify), ("followup", followup)):
            rows = await session.execute(
                select(c.agency, func.count()).where(condition).group_by(c.agency)
            )
            for agency, count in rows.all():
                found[(str(agency), name)] = int(count)
    return found


def metrics_route(
    metrics: Metrics,
    sessions: async_sessionmaker[AsyncSession],
    inbox: InboxStore,
    clock: Clock,
) -> Route:
    async def scrape(request: Request) -> Response:
        # Counters still tell something when the database is away; /healthz says why.
        with contextlib.suppress(Exception):
            await metrics.refresh(sessions, inbox, clock.now())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", scrape, methods=["GET"])
