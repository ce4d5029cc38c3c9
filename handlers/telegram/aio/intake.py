"""aiogram's part of the Telegram intake: raw update -> neutral event, the answer to a
pressed button, and the raw ``getUpdates`` call of the shared polling loop.

aiogram's own polling (``Dispatcher.start_polling``) handles updates concurrently and
confirms them before its handlers finish; it is not used. Updates go through the durable
inbox like on python-telegram-bot: stored before they are acknowledged, applied in order
per chat and exactly once (the update id is claimed in the same transaction).
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramConflictError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates
from aiogram.types import Update

from conversations.core.messages import Inbound
from handlers.telegram.aio.translate import from_update
from handlers.telegram.common import (
    ALLOWED_UPDATES,
    Fetch,
    PollConflict,
    SlowDown,
    TokenRefused,
    Unreachable,
    press_answer,
)

log = logging.getLogger(__name__)


class AiogramIntake:
    """The inbox's view of Telegram on aiogram."""

    def __init__(self, bot: Bot, answered_in_webhook: bool = False):
        self.bot = bot
        # Commands addressed to another bot ("/start@other_bot") are not ours; known
        # once ``getMe`` answered, and updates wait until then (``ready``).
        self.username = ""
        self.ready = False
        # Citizens' presses answered in the webhook response are not answered again.
        self.answered_in_webhook = answered_in_webhook

    def decode(self, payload: dict[str, Any]) -> Inbound | None:
        try:
            update = Update.model_validate(payload, context={"bot": self.bot})
            return from_update(update, self.username)
        except Exception as error:
            log.warning(
                "unreadable Telegram update %s ignored (%s)",
                payload.get("update_id"),
                type(error).__name__,
            )
            return None

    async def finish(self, payload: dict[str, Any], inbound: Inbound, notice: str | None) -> None:
        press = press_answer(payload, inbound, notice, self.answered_in_webhook)
        if press is not None:
            await self.bot.answer_callback_query(callback_query_id=press[0], text=press[1])


class RawGetUpdates(GetUpdates):
    """``getUpdates`` whose result stays raw JSON: stored as it came, parsed later, so an
    update aiogram cannot parse never stalls polling."""

    __returning__ = list[dict[str, Any]]


def raw_updates(bot: Bot) -> Fetch:
    async def fetch(offset: int | None, wait: int) -> list[Any]:
        method = RawGetUpdates(offset=offset, timeout=wait, allowed_updates=ALLOWED_UPDATES)
        try:
            raw: Any = await bot(method, request_timeout=wait + 10)
        except (TelegramUnauthorizedError, TelegramNotFound) as error:
            raise TokenRefused() from error
        except TelegramRetryAfter as error:
            raise SlowDown(float(error.retry_after)) from error
        except TelegramConflictError as error:
            raise PollConflict() from error
        except TelegramAPIError as error:
            raise Unreachable(error.message) from error
        except Exception as error:  # a body that is not the Bot API's JSON
            raise Unreachable(type(error).__name__) from error
        return raw if isinstance(raw, list) else []

    return fetch
