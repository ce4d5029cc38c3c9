"""Registers the bot's commands and descriptions with Telegram (the "/" menu and the
screen before /start), in every catalog language."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand
from telegram.error import TelegramError

from conversations.core.profile import BotProfile

log = logging.getLogger(__name__)


async def introduce(bot: Bot, profiles: list[BotProfile]) -> None:
    """The first profile is also the default for users of any other language. A
    refusal is logged, never fatal: the bot works without its menu."""
    for index, profile in enumerate(profiles):
        for language in ([None] if index == 0 else []) + [profile.language]:
            try:
                await bot.set_my_commands(
                    [BotCommand(name, text) for name, text in profile.commands],
                    language_code=language,
                )
                await bot.set_my_description(profile.description, language_code=language)
                await bot.set_my_short_description(
                    profile.short_description, language_code=language
                )
            except TelegramError:
                log.warning("could not register the bot's commands (%s)", language, exc_info=True)
