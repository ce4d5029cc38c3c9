"""The Telegram channel's parts on python-telegram-bot (``TELEGRAM_FRAMEWORK=ptb``)."""

from __future__ import annotations

from telegram import Bot

from conversations.core.profile import BotProfile
from handlers.telegram.aiohttp_request import AiohttpRequest
from handlers.telegram.common import ALLOWED_UPDATES
from handlers.telegram.files import TelegramMediaFetcher
from handlers.telegram.intake import TelegramIntake, raw_updates
from handlers.telegram.officers import TelegramChatAdmins, TelegramForumTopics
from handlers.telegram.profile import introduce
from handlers.telegram.sender import TelegramSender


class PtbTelegram:
    name = "ptb"

    def __init__(self, token: str, api_base_url: str):
        # python-telegram-bot's default is one connection: every send would queue.
        self.requests = (AiohttpRequest(connection_pool_size=64), AiohttpRequest(1))
        self.bot = Bot(
            token,
            base_url=f"{api_base_url}/bot",
            base_file_url=f"{api_base_url}/file/bot",
            request=self.requests[0],
            get_updates_request=self.requests[1],
        )
        self.intake = TelegramIntake(self.bot)
        self.sender = TelegramSender(self.bot)
        self.topics = TelegramForumTopics(self.bot)
        self.fetcher = TelegramMediaFetcher(self.bot)
        self.admins = TelegramChatAdmins(self.bot)
        self.fetch = raw_updates(self.bot)

    async def initialize(self, profiles: list[BotProfile]) -> None:
        await self.bot.initialize()
        await introduce(self.bot, profiles)

    async def set_webhook(self, url: str, secret: str) -> None:
        await self.bot.set_webhook(
            url, secret_token=secret, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False
        )

    async def delete_webhook(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)

    async def close(self) -> None:
        await self.bot.shutdown()
        # A Bot that was never initialized skips its requests' shutdown, but they open
        # their sessions when first used.
        for request in self.requests:
            await request.shutdown()
