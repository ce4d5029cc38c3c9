"""Run the real bot (python-telegram-bot or aiogram, polling) against the fake Bot API on
127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.runtime import KanalAduan
from bot.settings import Settings
from bot.telegram_channel import TelegramFramework
from conversations.core.ports import Clock
from handlers.telegram.aio.framework import AiogramTelegram, aiogram_bot
from handlers.telegram.aio.sender import AiogramSender
from handlers.telegram.common import BotApiSender
from handlers.telegram.framework import PtbTelegram
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz"
ADMIN_CHAT_ID = -1001234567890
# TELEGRAM_FRAMEWORK values: the Telegram contract suite runs on each.
FRAMEWORKS = ("ptb", "aiogram")


def bot_settings(
    fake: FakeTelegram, database_url: str, tmp_path: Path, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": fake.base_url,
        "admin_chat_id": ADMIN_CHAT_ID,
        "database_url": database_url,
        "media_dir": tmp_path / "media",
        "telegram_poll_timeout": 1,
        "web_port": 0,
        "outbox_interval_seconds": 0.2,
        # Conversations in tests run faster than a person types; tests about the
        # rate limits themselves set these back to Telegram's figures.
        "telegram_private_rate": 50.0,
        "telegram_private_burst": 50,
        "telegram_group_per_minute": 3000,
        **overrides,
    }
    return Settings.model_validate(values)


@asynccontextmanager
async def running_bot(
    fake: FakeTelegram,
    database_url: str,
    tmp_path: Path,
    clock: Clock | None = None,
    **overrides: object,
) -> AsyncIterator[KanalAduan]:
    app = KanalAduan(bot_settings(fake, database_url, tmp_path, **overrides), clock=clock)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@asynccontextmanager
async def framework_sender(fake: FakeTelegram, framework: str) -> AsyncIterator[BotApiSender]:
    """The outbox's sending port on ``framework``, talking to the fake Bot API."""
    if framework == "aiogram":
        bot = aiogram_bot(TOKEN, fake.base_url)
        try:
            yield AiogramSender(bot)
        finally:
            await bot.session.close()
        return
    parts = PtbTelegram(TOKEN, fake.base_url)  # the Bot and requests the bot runs with
    try:
        await parts.bot.initialize()
        yield parts.sender
    finally:
        await parts.close()


@asynccontextmanager
async def framework_parts(
    fake: FakeTelegram, framework: str, token: str = TOKEN
) -> AsyncIterator[TelegramFramework]:
    """A framework's Telegram parts (Bot, intake, sender, raw ``getUpdates``) on the fake."""
    parts: TelegramFramework = (
        AiogramTelegram(token, fake.base_url)
        if framework == "aiogram"
        else PtbTelegram(token, fake.base_url)
    )
    try:
        yield parts
    finally:
        await parts.close()
