"""The Telegram channel's parts on aiogram 3 (``TELEGRAM_FRAMEWORK=aiogram``): its Bot
calls ``{base}/bot<token>/<method>`` and fetches files from ``{base}/file/bot<token>/<path>``
(``TelegramAPIServer.from_base``), as python-telegram-bot does with the same base URL."""

from __future__ import annotations

import logging
import mimetypes
import time
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import GetChatAdministrators, TelegramMethod
from aiogram.types import BotCommand, InputFile
from aiohttp import FormData

from conversations.core.messages import MediaRef
from conversations.core.profile import BotProfile
from handlers.telegram.aio.intake import AiogramIntake, raw_updates
from handlers.telegram.aio.sender import AiogramSender
from handlers.telegram.common import ALLOWED_UPDATES

log = logging.getLogger(__name__)


class TypedUploads(AiohttpSession):
    """aiogram's session, whose uploads carry the type their name says (a report's
    ``.xlsx`` arrives as a spreadsheet, not as ``application/octet-stream``), as
    python-telegram-bot's do."""

    def build_form_data(self, bot: Bot, method: TelegramMethod[Any]) -> FormData:
        form = FormData(quote_fields=False)
        files: dict[str, InputFile] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:
                form.add_field(key, prepared)
        for key, upload in files.items():
            name = upload.filename or key
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            form.add_field(key, upload.read(bot), filename=name, content_type=kind)
        return form


def aiogram_bot(token: str, api_base_url: str) -> Bot:
    session = TypedUploads(api=TelegramAPIServer.from_base(api_base_url))
    return Bot(token, session=session)


class AiogramMediaFetcher:
    def __init__(self, bot: Bot):
        self.bot = bot

    async def fetch(self, media: MediaRef) -> bytes:
        file = await self.bot.get_file(media.file_id)
        if file.file_path is None:
            raise ValueError(f"Telegram gave no path for file {media.unique_id}")
        data = await self.bot.download_file(file.file_path)
        assert data is not None
        return data.read()


class RawGetChatAdministrators(GetChatAdministrators):
    """Only the members' ids are needed: read as raw JSON, so a member field that this
    aiogram version requires and a Bot API server of another version omits (or the other
    way round) does not turn every officer check into an error."""

    __returning__ = list[dict[str, Any]]


class AiogramChatAdmins:
    """getChatAdministrators, cached per chat for ``ttl`` seconds."""

    def __init__(
        self, bot: Bot, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.bot = bot
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def is_admin(self, chat_id: str, user_id: str) -> bool:
        cached = self._cache.get(chat_id)
        now = self.clock()
        if cached is None or now - cached[0] > self.ttl:
            members: Any = await self.bot(RawGetChatAdministrators(chat_id=int(chat_id)))
            ids = frozenset(
                str(member["user"]["id"])
                for member in members
                if isinstance(member, dict)
                and isinstance(member.get("user"), dict)
                and not member["user"].get("is_bot")
            )
            cached = (now, ids)
            self._cache[chat_id] = cached
        return user_id in cached[1]


class AiogramForumTopics:
    """createForumTopic: the bot must be an admin allowed to manage topics."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def create(self, chat_id: str, name: str) -> int:
        topic = await self.bot.create_forum_topic(chat_id=int(chat_id), name=name[:128])
        log.info("created forum topic %s in chat %s", topic.message_thread_id, chat_id)
        return topic.message_thread_id


async def introduce(bot: Bot, profiles: list[BotProfile]) -> None:
    """The bot's commands and descriptions, as ``handlers.telegram.profile.introduce``."""
    for index, profile in enumerate(profiles):
        for language in ([None] if index == 0 else []) + [profile.language]:
            try:
                await bot.set_my_commands(
                    commands=[
                        BotCommand(command=name, description=text)
                        for name, text in profile.commands
                    ],
                    language_code=language,
                )
                await bot.set_my_description(
                    description=profile.description, language_code=language
                )
                await bot.set_my_short_description(
                    short_description=profile.short_description, language_code=language
                )
            except TelegramAPIError:
                log.warning("could not register the bot's commands (%s)", language, exc_info=True)


class AiogramTelegram:
    name = "aiogram"

    def __init__(self, token: str, api_base_url: str):
        self.bot = aiogram_bot(token, api_base_url)
        self.intake = AiogramIntake(self.bot)
        self.sender = AiogramSender(self.bot)
        self.topics = AiogramForumTopics(self.bot)
        self.fetcher = AiogramMediaFetcher(self.bot)
        self.admins = AiogramChatAdmins(self.bot)
        self.fetch = raw_updates(self.bot)

    async def initialize(self, profiles: list[BotProfile]) -> None:
        me = await self.bot.me()
        self.intake.username = me.username or ""
        await introduce(self.bot, profiles)

    async def set_webhook(self, url: str, secret: str) -> None:
        await self.bot.set_webhook(
            url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )  # fmt: skip

    async def delete_webhook(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)

    async def close(self) -> None:
        await self.bot.session.close()
