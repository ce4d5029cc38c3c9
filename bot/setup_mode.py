"""Set-up mode: the token is there, ADMIN_CHAT_ID not yet, and finding it is the point.

``aduan run`` without ADMIN_CHAT_ID answers ``/id`` (to a group's administrators)
in every group the bot is in, and nothing else: complaints cannot be handled
before the complaint desk exists. Updates read here are not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Bot, ReplyParameters
from telegram.error import NetworkError, TelegramError

from bot.logging_setup import guard_secrets
from bot.settings import Settings
from bot.startup import network_problem, reach_bot_api
from conversations.core.i18n import Catalog
from conversations.core.messages import InboundKind
from handlers.telegram.officers import TelegramChatAdmins
from handlers.telegram.translate import from_update

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


class SetupMode:
    """Has ``start`` and ``stop`` like the bot itself, so ``aduan run`` can run either."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.task: asyncio.Task[None] | None = None
        # Like the bot's: set if it must stop on its own (it never does here).
        self.fatal: asyncio.Future[str] | None = None

    async def start(self) -> None:
        settings = self.settings
        self.fatal = asyncio.get_running_loop().create_future()
        missing = [key for key in settings.missing_keys() if key != "ADMIN_CHAT_ID"]
        if missing:
            raise SystemExit(f"missing settings: {', '.join(missing)} (see .env.example)")
        guard_secrets(settings.secrets())
        token = settings.telegram_bot_token.get_secret_value()
        base_url = settings.telegram_api_base_url
        me = await reach_bot_api(token, base_url)
        bot = Bot(token, base_url=f"{base_url}/bot", base_file_url=f"{base_url}/file/bot")
        await bot.initialize()
        self.task = asyncio.create_task(self._answer_ids(bot))
        log.warning(
            "set-up mode: ADMIN_CHAT_ID is not set, so the bot only answers /id. Add "
            "@%s to your admin group as an administrator, send /id@%s there, put the id "
            "in .env as ADMIN_CHAT_ID and start again",
            me.username,
            me.username,
        )

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _answer_ids(self, bot: Bot) -> None:
        catalog = Catalog.load(default=self.settings.default_language)
        admins = TelegramChatAdmins(bot, ttl=0.0)
        offset: int | None = None
        try:
            while True:
                try:
                    updates = await bot.get_updates(
                        offset=offset,
                        timeout=self.settings.telegram_poll_timeout,
                        allowed_updates=["message"],
                    )
                except NetworkError as error:
                    log.warning(
                        "cannot reach the Telegram Bot API at %s: %s; retrying in %g s",
                        self.settings.telegram_api_base_url,
                        network_problem(error),
                        RETRY_SECONDS,
                    )
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                except TelegramError as error:
                    # e.g. 409: another process polls with this token, or a webhook is set.
                    log.warning(
                        "getUpdates failed: %s; retrying in %g s", error.message, RETRY_SECONDS
                    )
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                for update in updates:
                    offset = update.update_id + 1
                    inbound = from_update(update)
                    if (
                        inbound is None
                        or inbound.is_private
                        or inbound.kind is not InboundKind.COMMAND
                        or inbound.command != "id"
                    ):
                        continue
                    chat = inbound.chat
                    try:
                        if not inbound.sender_is_chat and not await admins.is_admin(
                            chat.chat_id, inbound.sender.user_id
                        ):
                            continue
                        if chat.thread_id is None:
                            text = catalog.t(None, "officer.chat_id", chat_id=chat.chat_id)
                        else:
                            text = catalog.t(
                                None,
                                "officer.chat_topic_id",
                                chat_id=chat.chat_id,
                                thread_id=chat.thread_id,
                            )
                        await bot.send_message(
                            int(chat.chat_id),
                            text,
                            message_thread_id=chat.thread_id,
                            reply_parameters=ReplyParameters(
                                inbound.message_id or 0, allow_sending_without_reply=True
                            ),
                        )
                    except TelegramError as error:
                        log.warning("could not answer /id in chat %s: %s", chat.chat_id, error)
                        continue
                    title = update.effective_chat.title if update.effective_chat else ""
                    topic = f", topic id {chat.thread_id}" if chat.thread_id is not None else ""
                    log.warning("/id in %r: chat id %s%s", title, chat.chat_id, topic)
        finally:
            await bot.shutdown()
