"""The WhatsApp channel on the Cloud API (pywa for the Graph calls): our own webhook
route on the process's web server, sending through the outbox, photos downloaded
through the Graph API. Officers stay in Telegram (or the web desk)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from starlette.routing import BaseRoute

from bot.settings import Settings
from conversations.core.context import CoreContext
from conversations.core.domain import OutboxItem
from conversations.core.inbox import Inbox
from conversations.core.messages import Channel, Reply
from conversations.core.outbox import queue
from conversations.core.ports import Clock
from conversations.core.ratelimit import Limiter, SendLimits
from handlers.whatsapp.client import WhatsAppMediaFetcher, http_client, whatsapp_client
from handlers.whatsapp.intake import CHANNEL, WhatsAppIntake, webhook_routes
from handlers.whatsapp.sender import UNDELIVERABLE, WINDOW, WhatsAppSender
from storage.redis_limits import RedisSendLimits

LastReceived = Callable[[str], Awaitable[datetime | None]]
RecordStatus = Callable[[str, str, str, str, datetime], Awaitable[OutboxItem | None]]
Notice = Callable[[OutboxItem, str], Awaitable[None]]


def whatsapp_limits(settings: Settings, redis: Redis | None = None) -> Limiter:
    """The number's throughput, and Meta's pair rate: one message per
    ``WHATSAPP_PAIR_SECONDS`` to one citizen, after a burst of ``WHATSAPP_PAIR_BURST``;
    in this process, or shared by every process through Redis."""
    values: dict[str, Any] = {
        "global_per_second": settings.whatsapp_rate,
        "private_per_second": 1.0 / settings.whatsapp_pair_seconds,
        "private_burst": settings.whatsapp_pair_burst,
    }
    if redis is None:
        return SendLimits(**values)
    prefix = f"kanal:whatsapp:{settings.whatsapp_phone_number_id}"
    return RedisSendLimits(redis, prefix=prefix, **values)


class WhatsAppChannel:
    name = Channel.WHATSAPP.value

    def __init__(self, settings: Settings, clock: Clock, redis: Redis | None = None):
        self.settings = settings
        self.http = http_client(settings.whatsapp_api_base_url)
        self.client = whatsapp_client(
            settings.whatsapp_phone_number_id,
            settings.whatsapp_access_token.get_secret_value(),
            self.http,
            settings.whatsapp_api_version,
        )
        self.intake = WhatsAppIntake()
        self.sender = WhatsAppSender(self.client, self._last_message, clock)
        self.limits = whatsapp_limits(settings, redis)
        self.fetcher = WhatsAppMediaFetcher(self.client)
        self.ctx: CoreContext | None = None
        self._last_received: LastReceived | None = None
        self._record_status: RecordStatus
        self._on_failed: Notice
        self._on_unreachable: Notice

    def prepare(
        self,
        ctx: CoreContext,
        last_received: LastReceived,
        record_status: RecordStatus,
        on_failed: Notice,
        on_unreachable: Notice,
    ) -> None:
        """Wire what needs the core: the city's template, the catalog, the inbox's
        record of when each citizen last wrote (the 24-hour window), and where
        delivery statuses go (the outbox rows, the desk)."""
        self.ctx = ctx
        self._last_received = last_received
        self._record_status = record_status
        self._on_failed = on_failed
        self._on_unreachable = on_unreachable
        self.sender.template = ctx.config.whatsapp_status_template
        self.sender.list_button = ctx.t(None, "whatsapp.list_button")
        self.sender.more = ctx.t(None, "whatsapp.more")
        hours = int(WINDOW.total_seconds() // 3600)
        self.sender.window_closed = ctx.t(None, "whatsapp.window_closed", hours=hours)
        self.intake.on_status = self.delivery_status

    async def _last_message(self, chat_id: str) -> datetime | None:
        assert self._last_received is not None, "prepare() first"
        return await self._last_received(f"{CHANNEL}:{chat_id}")

    async def delivery_status(
        self, recipient: str, wamid: str, state: str, code: int | None, reason: str
    ) -> None:
        """A status webhook: recorded on the outbox row it is about. A failed one is
        told to the desk as a failed send is (with the ticket, never who the citizen
        is); an undeliverable number marks the reporter unreachable, as a Telegram
        block does."""
        ctx = self.ctx
        assert ctx is not None, "prepare() first"
        item = await self._record_status(CHANNEL, recipient, wamid, state, ctx.clock.now())
        if state != "failed":
            return
        detail = f"WhatsApp {code or '-'}: {reason}"
        if item is None:
            await self._alert(recipient, code, reason)
        elif code == UNDELIVERABLE:
            async with ctx.uow() as uow:
                citizen = await uow.citizens.find_by_chat(CHANNEL, recipient)
                if citizen is not None:
                    citizen.unreachable = True
                    await uow.citizens.update(citizen)
                    await uow.commit()
            await self._on_unreachable(item, detail)
        else:
            await self._on_failed(item, detail)
        ctx.wake_outbox()

    async def _alert(self, recipient: str, code: int | None, reason: str) -> None:
        """A failure of a message the outbox no longer knows: the citizen's latest ticket."""
        ctx = self.ctx
        assert ctx is not None
        lang = ctx.catalog.default
        async with ctx.uow() as uow:
            citizen = await uow.citizens.find_by_chat(CHANNEL, recipient)
            latest = []
            if citizen is not None and citizen.id is not None:
                latest = await uow.complaints.for_citizen(citizen.id, limit=1)
            ticket = ""
            if latest:
                ticket = ctx.t(lang, "whatsapp.failed_ticket", ticket=latest[0].ticket)
            text = ctx.t(lang, "whatsapp.failed", ticket=ticket, reason=reason, code=code or "-")
            day = ctx.local(ctx.clock.now()).date().isoformat()
            key = f"alert:whatsapp-failed:{recipient}:{code}:{day}"
            await queue(uow, ctx.desk_chat, Reply(text), "alert", key)
            await uow.commit()

    def routes(self, inbox: Inbox) -> list[BaseRoute]:
        settings = self.settings
        return list(
            webhook_routes(
                settings.whatsapp_webhook_path,
                settings.whatsapp_phone_number_id,
                settings.whatsapp_app_secret.get_secret_value(),
                settings.whatsapp_verify_token.get_secret_value(),
                inbox,
            )
        )

    async def start(self, inbox: Inbox, on_fatal: Callable[[str], None]) -> None:
        """Meta calls the webhook on the web server; nothing else to start."""

    async def stop(self) -> None:
        return None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.http.aclose()
