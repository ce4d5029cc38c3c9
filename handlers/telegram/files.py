"""Downloading a Telegram file (getFile, then the file URL)."""

from __future__ import annotations

from telegram import Bot

from conversations.core.messages import MediaRef


class TelegramMediaFetcher:
    def __init__(self, bot: Bot):
        self.bot = bot

    async def fetch(self, media: MediaRef) -> bytes:
        file = await self.bot.get_file(media.file_id)
        return bytes(await file.download_as_bytearray())
