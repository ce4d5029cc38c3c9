"""Kanal Aduan inside a city's existing bot (python-telegram-bot or aiogram 3).

    kanal = EmbeddedKanal(Settings())      # the same .env; TELEGRAM_MODE is not used
    application.add_handler(kanal.ptb_handler(), group=-1)     # python-telegram-bot
    dispatcher.include_router(kanal.aiogram_router())          # aiogram, before your routers

Start it with the host (``post_init=kanal.start`` / ``dispatcher.startup.register``) and
stop it with the host. The host's framework takes the updates; Kanal Aduan's go into its
durable inbox and are applied from there, in order per chat and exactly once, as when it
runs alone. Its replies, card edits and pushes go out through its own outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from bot.runtime import KanalAduan
from bot.settings import Settings
from handlers.telegram.common import Claim, claim, inbox_entry
from handlers.telegram.embed import KanalAduanHandler

if TYPE_CHECKING:
    from aiogram import Router


class EmbeddedKanal:
    """``host_commands``: commands the host keeps for itself even where Kanal Aduan
    answers the same name (``/start``, ``/help``); ``host_buttons``: callback data
    prefixes of the host's own inline buttons in private chats."""

    def __init__(
        self,
        settings: Settings,
        host_commands: Collection[str] = (),
        host_buttons: Collection[str] = (),
    ):
        self.app = KanalAduan(settings, embedded=True)
        config = settings.city()
        chats = {settings.admin_chat_id} | {
            agency.chat_id for agency in config.agencies if agency.chat_id is not None
        }
        self.rule: Claim = claim(chats, host_commands, host_buttons)
        self.started = False
        # One update at a time, in the order the host's handlers call: aiogram runs
        # them concurrently, and the inbox applies a chat's updates in stored order.
        self._storing = asyncio.Lock()

    async def start(self, *_: Any, **__: Any) -> None:
        """Storage, outbox, scheduler, web server; takes the host's callback arguments."""
        if not self.started:
            await self.app.start()
            self.started = True

    async def stop(self, *_: Any, **__: Any) -> None:
        if self.started:
            self.started = False
            await self.app.stop()

    async def ingest(self, update: dict[str, Any]) -> None:
        """Store one raw update in the inbox (once per update id); it is applied at once."""
        entry = inbox_entry(update)
        if entry is None:
            return
        if not self.started:
            raise RuntimeError("Kanal Aduan is not started: call EmbeddedKanal.start first")
        async with self._storing:
            await self.app.inbox.ingest([entry])

    def ptb_handler(self) -> KanalAduanHandler:
        """For ``Application.add_handler(..., group=-1)``."""
        return KanalAduanHandler(self.rule, self.ingest)

    def aiogram_router(self) -> Router:
        """For ``Dispatcher.include_router`` (before the host's routers)."""
        from handlers.telegram.aio.embed import kanal_router

        return kanal_router(self.rule, self.ingest)
