"""What the officers' side needs from Telegram: group administrators and forum topics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from telegram import Bot

log = logging.getLogger(__name__)


class TelegramChatAdmins:
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
            members = await self.bot.get_chat_administrators(int(chat_id))
            ids = frozenset(str(member.user.id) for member in members if not member.user.is_bot)
            cached = (now, ids)
            self._cache[chat_id] = cached
        return user_id in cached[1]


class TelegramForumTopics:
    """createForumTopic: the bot must be an admin allowed to manage topics."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def create(self, chat_id: str, name: str) -> int:
        topic = await self.bot.create_forum_topic(int(chat_id), name[:128])
        log.info("created forum topic %s in chat %s", topic.message_thread_id, chat_id)
        return topic.message_thread_id
