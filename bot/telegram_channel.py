"""The Telegram channel on python-telegram-bot: polling or webhook, sending, files,
and what the officers' desk needs (group administrators, forum topics)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from starlette.routing import BaseRoute
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.settings import Settings
from conversations.core.inbox import Inbox
from conversations.core.messages import Channel
from conversations.core.ports import UnitOfWorkFactory
from conversations.core.profile import BotProfile
from conversations.core.ratelimit import Limiter, SendLimits
from conversations.core.topics import TopicSender
from handlers.telegram.files import TelegramMediaFetcher
from handlers.telegram.intake import ALLOWED_UPDATES, TelegramIntake, TelegramPoller, webhook_route
from handlers.telegram.officers import TelegramChatAdmins, TelegramForumTopics
from handlers.telegram.profile import introduce
from handlers.telegram.sender import TelegramSender
from storage.redis_limits import RedisSendLimits


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

    def __init__(self, settings: Settings, uow: UnitOfWorkFactory, redis: Redis | None = None):
        self.settings = settings
        base = settings.telegram_api_base_url
        self.bot = Bot(
            settings.telegram_bot_token.get_secret_value(),
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            # python-telegram-bot's default is one connection: every send would queue.
            request=HTTPXRequest(connection_pool_size=64),
            get_updates_request=HTTPXRequest(connection_pool_size=1),
        )
        self.intake = TelegramIntake(
            self.bot, answered_in_webhook=settings.telegram_mode == "webhook"
        )
        self.sender = TopicSender(TelegramSender(self.bot), TelegramForumTopics(self.bot), uow)
        self.limits = telegram_limits(settings, redis)
        self.fetcher = TelegramMediaFetcher(self.bot)
        self.admins = TelegramChatAdmins(self.bot)
        self._poll_task: asyncio.Task[None] | None = None

    async def initialize(self, profiles: list[BotProfile]) -> None:
        await self.bot.initialize()
        self.intake.ready = True
        await introduce(self.bot, profiles)

    def routes(self, inbox: Inbox) -> list[BaseRoute]:
        if self.settings.telegram_mode != "webhook":
            return []
        return [
            webhook_route(
                self.settings.telegram_webhook_path, self.settings.webhook_secret(), inbox
            )
        ]

    async def start(self, inbox: Inbox, on_fatal: Callable[[str], None]) -> None:
        settings = self.settings
        if settings.telegram_mode == "webhook":
            await self.bot.set_webhook(
                f"{settings.public_url}{settings.telegram_webhook_path}",
                secret_token=settings.webhook_secret(),
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
            return
        await self.bot.delete_webhook(drop_pending_updates=False)
        poller = TelegramPoller(
            self.bot, inbox, settings.telegram_api_base_url, timeout=settings.telegram_poll_timeout
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
            await self.bot.shutdown()
