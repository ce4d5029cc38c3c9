"""The Telegram channel, on python-telegram-bot (default) or aiogram 3
(``TELEGRAM_FRAMEWORK``): polling or webhook, sending, files, and what the officers'
desk needs (group administrators, forum topics).

Both frameworks share the intake (our own ``getUpdates`` loop or webhook route into the
durable inbox, see ``handlers.telegram.common``) and the sender's plan; each brings its
Bot, its parsing of a raw update and its Bot API calls. ``external_intake`` is for a
bot that embeds Kanal Aduan (``bot.embed``): the host's framework takes the updates and
hands Kanal Aduan's to the inbox, so this channel neither polls nor sets a webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import Redis
from starlette.routing import BaseRoute

from bot.settings import Settings
from conversations.core.inbox import Inbox
from conversations.core.messages import Channel
from conversations.core.ports import ChatAdmins, ForumTopics, MediaFetcher, UnitOfWorkFactory
from conversations.core.profile import BotProfile
from conversations.core.ratelimit import Limiter, SendLimits
from conversations.core.topics import TopicSender
from handlers.telegram.common import (
    BotApiSender,
    Fetch,
    TelegramIntakePort,
    TelegramPoller,
    webhook_route,
)
from storage.redis_limits import RedisSendLimits


class TelegramFramework(Protocol):
    """What a Telegram framework brings (``handlers.telegram.framework.PtbTelegram``,
    ``handlers.telegram.aio.framework.AiogramTelegram``)."""

    @property
    def name(self) -> str: ...
    @property
    def bot(self) -> Any: ...
    @property
    def intake(self) -> TelegramIntakePort: ...
    @property
    def sender(self) -> BotApiSender: ...
    @property
    def topics(self) -> ForumTopics: ...
    @property
    def fetcher(self) -> MediaFetcher: ...
    @property
    def admins(self) -> ChatAdmins: ...
    @property
    def fetch(self) -> Fetch: ...

    async def initialize(self, profiles: list[BotProfile]) -> None: ...
    async def set_webhook(self, url: str, secret: str) -> None: ...
    async def delete_webhook(self) -> None: ...
    async def close(self) -> None: ...


def telegram_framework(settings: Settings) -> TelegramFramework:
    token = settings.telegram_bot_token.get_secret_value()
    if settings.telegram_framework == "aiogram":
        from handlers.telegram.aio.framework import AiogramTelegram

        return AiogramTelegram(token, settings.telegram_api_base_url)
    from handlers.telegram.framework import PtbTelegram

    return PtbTelegram(token, settings.telegram_api_base_url)


def telegram_limits(settings: Settings, redis: Redis | None = None) -> Limiter:
    """Telegram's limits: in this process, or shared by every process through Redis."""
    values: dict[str, Any] = {
        "global_per_second": settings.telegram_global_rate,
        "private_per_second": settings.telegram_private_rate,
        "private_burst": settings.telegram_private_burst,
        "group_per_minute": settings.telegram_group_per_minute,
    }
    if redis is None:
        return SendLimits(**values)
    # One bot's limits, whichever process sends: keyed by the bot, not the process.
    bot_id = settings.telegram_bot_token.get_secret_value().split(":", 1)[0]
    return RedisSendLimits(redis, prefix=f"kanal:telegram:{bot_id}", **values)


class TelegramChannel:
    name = Channel.TELEGRAM.value

    def __init__(
        self,
        settings: Settings,
        uow: UnitOfWorkFactory,
        redis: Redis | None = None,
        external_intake: bool = False,
    ):
        self.settings = settings
        self.framework = telegram_framework(settings)
        self.external_intake = external_intake
        self.intake = self.framework.intake
        self.intake.answered_in_webhook = (
            settings.telegram_mode == "webhook" and not external_intake
        )
        self.sender = TopicSender(self.framework.sender, self.framework.topics, uow)
        self.limits = telegram_limits(settings, redis)
        self.fetcher = self.framework.fetcher
        self.admins = self.framework.admins
        self._poll_task: asyncio.Task[None] | None = None

    async def initialize(self, profiles: list[BotProfile]) -> None:
        await self.framework.initialize(profiles)
        self.intake.ready = True

    def routes(self, inbox: Inbox) -> list[BaseRoute]:
        if self.settings.telegram_mode != "webhook" or self.external_intake:
            return []
        return [
            webhook_route(
                self.settings.telegram_webhook_path, self.settings.webhook_secret(), inbox
            )
        ]

    async def start(self, inbox: Inbox, on_fatal: Callable[[str], None]) -> None:
        settings = self.settings
        if self.external_intake:
            return
        if settings.telegram_mode == "webhook":
            await self.framework.set_webhook(
                f"{settings.public_url}{settings.telegram_webhook_path}", settings.webhook_secret()
            )
            return
        await self.framework.delete_webhook()
        poller = TelegramPoller(
            self.framework.fetch,
            inbox,
            settings.telegram_api_base_url,
            timeout=settings.telegram_poll_timeout,
        )

        async def poll() -> None:
            await poller.run()
            if poller.fatal:
                on_fatal(poller.fatal)

        self._poll_task = asyncio.get_running_loop().create_task(poll())

    async def stop(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poll_task

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.framework.close()
