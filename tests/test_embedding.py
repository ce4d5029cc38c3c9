"""Kanal Aduan mounted in a city's existing bot: on python-telegram-bot (an
``Application``) and on aiogram (a ``Dispatcher``). The city's own command and its
catch-all text handler keep working; Kanal Aduan's commands, buttons and dialogue reach
Kanal Aduan, through its durable inbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.embed import EmbeddedKanal
from handlers.telegram.common import claim
from storage.database import create_engine, session_factory
from storage.tables import InboxRow
from tests.fakes.telegram_api import FakeTelegram
from tests.support.bot import TOKEN, bot_settings
from tests.support.desk import FAST_LIMITS, City, build_city

WEATHER = "Cuaca Blitar hari ini: cerah berawan."


def kanal_for(city: City, framework: str) -> EmbeddedKanal:
    settings = bot_settings(
        city.fake,
        city.database_url,
        city.tmp_path,
        city_config_path=city.city_path,
        telegram_framework=framework,
        **FAST_LIMITS,
    )
    return EmbeddedKanal(settings)


@asynccontextmanager
async def city_bot_on_ptb(city: City) -> AsyncIterator[None]:
    """The city's python-telegram-bot bot, with Kanal Aduan added: README, "Embedding"."""
    from telegram import Update
    from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

    async def weather(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(WEATHER)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Kota bot: {update.effective_message.text}")

    kanal = kanal_for(city, "ptb")
    application = (
        Application.builder()
        .token(TOKEN)
        .base_url(f"{city.fake.base_url}/bot")
        .base_file_url(f"{city.fake.base_url}/file/bot")
        .post_init(kanal.start)
        .post_shutdown(kanal.stop)
        .build()
    )
    application.add_handler(CommandHandler("cuaca", weather))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.add_handler(kanal.ptb_handler(), group=-1)

    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=1)
    await application.start()
    try:
        yield
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        assert application.post_shutdown is not None
        await application.post_shutdown(application)


@asynccontextmanager
async def city_bot_on_aiogram(city: City) -> AsyncIterator[None]:
    """The city's aiogram bot, with Kanal Aduan's router included: README, "Embedding"."""
    from aiogram import Dispatcher, F, Router
    from aiogram.filters import Command
    from aiogram.types import Message

    from handlers.telegram.aio.framework import aiogram_bot

    city_router = Router()

    @city_router.message(Command("cuaca"))
    async def weather(message: Message) -> None:
        await message.answer(WEATHER)

    @city_router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"Kota bot: {message.text}")

    kanal = kanal_for(city, "aiogram")
    dispatcher = Dispatcher()
    dispatcher.include_router(kanal.aiogram_router())
    dispatcher.include_router(city_router)
    dispatcher.startup.register(kanal.start)
    dispatcher.shutdown.register(kanal.stop)
    bot = aiogram_bot(TOKEN, city.fake.base_url)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1)
    )
    await city.fake.wait_for(lambda: kanal.started, 30)
    try:
        yield
    finally:
        await dispatcher.stop_polling()
        await polling
        await bot.session.close()


HOSTS: dict[str, Callable[[City], AbstractAsyncContextManager[None]]] = {
    "ptb": city_bot_on_ptb,
    "aiogram": city_bot_on_aiogram,
}


async def inbox_keys(city: City) -> set[str]:
    engine = create_engine(city.database_url)
    try:
        async with session_factory(engine)() as session:
            return set((await session.execute(select(col(InboxRow.key)))).scalars())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("host", list(HOSTS))
async def test_a_city_bot_keeps_its_commands_and_kanal_aduan_takes_complaints(
    host: str, sqlite_url: str, tmp_path: Path
) -> None:
    async with FakeTelegram() as fake:
        city = build_city(fake, sqlite_url, tmp_path, host)
        async with HOSTS[host](city):
            asked = city.citizen.send_command("/cuaca")
            await city.citizen_hears(WEATHER)

            ticket = await city.file_complaint()
            assert not any(t.startswith("Kota bot:") for t in city.citizen_texts())
            notice = await city.press(city.desk, city.card(city.admin, ticket), "✅ Verifikasi")
            assert notice == "Berhasil. Status: Terverifikasi"
            await city.card_shows(city.admin, ticket, "Status: Terverifikasi", "oleh Budi")
            await city.citizen_hears(ticket, "Aduan Anda sudah diverifikasi petugas.")

            asked_again = city.stranger.send_command("/cuaca")
            await fake.wait_for(lambda: WEATHER in fake.texts_to(city.stranger))
        stored = await inbox_keys(city)
        assert len(stored) == 8  # seven steps of the dialogue, one press of an officer
        assert {f"tg:{u['update_id']}" for u in (asked, asked_again)}.isdisjoint(stored)


class TestWhatKanalAduanTakes:
    DESK = -100111
    rule = claim([DESK], host_commands=["/start"], host_buttons=["cuaca:"])

    @staticmethod
    def message(chat: dict[str, object], text: str) -> dict[str, object]:
        return {"update_id": 1, "message": {"chat": chat, "text": text}}

    @staticmethod
    def press(chat: dict[str, object], data: str) -> dict[str, object]:
        return {"update_id": 2, "callback_query": {"message": {"chat": chat}, "data": data}}

    def test_in_a_private_chat_its_commands_the_dialogue_and_its_buttons(self) -> None:
        private = {"id": 7, "type": "private"}
        assert self.rule.takes(self.message(private, "/lapor"))
        assert self.rule.takes(self.message(private, "/status@kanal_bot ADU-2611-0001"))
        assert self.rule.takes(self.message(private, "Jalan berlubang di depan SDN 2"))
        assert self.rule.takes(self.press(private, "d:category:jalan"))

    def test_the_host_keeps_its_commands_its_buttons_and_other_groups(self) -> None:
        private = {"id": 7, "type": "private"}
        other_group = {"id": -100222, "type": "supergroup"}
        assert not self.rule.takes(self.message(private, "/cuaca"))
        assert not self.rule.takes(self.message(private, "/start"))  # kept by the host
        assert not self.rule.takes(self.press(private, "cuaca:besok"))
        assert not self.rule.takes(self.message(other_group, "/antrian"))
        assert not self.rule.takes(self.message(other_group, "halo"))

    def test_everything_in_its_own_groups(self) -> None:
        desk = {"id": self.DESK, "type": "supergroup"}
        assert self.rule.takes(self.message(desk, "Sudah kami cek"))
        assert self.rule.takes(self.press(desk, "anything"))
