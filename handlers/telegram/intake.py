"""python-telegram-bot's part of the Telegram intake: raw update -> neutral event, the
answer to a pressed button, and the raw ``getUpdates`` call of our own polling loop
(``handlers.telegram.common.TelegramPoller``).

python-telegram-bot's Updater confirms a batch (the next ``getUpdates`` offset) while
its handlers still run, so a crash loses the batch: the shared loop is used instead.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from telegram import Bot, Update
from telegram.error import (
    Conflict,
    EndPointNotFound,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from conversations.core.messages import Inbound
from handlers.telegram.common import (
    ALLOWED_UPDATES,
    Fetch,
    PollConflict,
    SlowDown,
    TokenRefused,
    Unreachable,
    press_answer,
)
from handlers.telegram.translate import from_update

log = logging.getLogger(__name__)


class TelegramIntake:
    """The inbox's view of Telegram: raw update -> neutral event; answer a press.

    With ``answered_in_webhook``, citizens' presses were answered in the webhook
    response already (``webhook_route``) and are not answered again."""

    def __init__(self, bot: Bot, answered_in_webhook: bool = False):
        self.bot = bot
        self.answered_in_webhook = answered_in_webhook
        # Updates wait until the bot knows itself (getMe): "/cmd@name" needs its name.
        self.ready = False

    def decode(self, payload: dict[str, Any]) -> Inbound | None:
        try:
            update = Update.de_json(payload, self.bot)
            return from_update(update) if update is not None else None
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
            await self.bot.answer_callback_query(press[0], text=press[1])


def raw_updates(bot: Bot) -> Fetch:
    """``getUpdates`` as raw JSON: it is stored as it came, parsed later."""
    warnings.filterwarnings(
        "ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning
    )

    async def fetch(offset: int | None, wait: int) -> list[Any]:
        try:
            raw = await bot.do_api_request(
                "getUpdates",
                api_kwargs={
                    "offset": offset,
                    "timeout": wait,
                    "allowed_updates": ALLOWED_UPDATES,
                },
                read_timeout=wait + 10,
            )
        except (InvalidToken, EndPointNotFound) as error:
            # After start-up python-telegram-bot reports a refused token as an
            # unknown endpoint.
            raise TokenRefused() from error
        except RetryAfter as error:
            raise SlowDown(_seconds(error)) from error
        except Conflict as error:
            raise PollConflict() from error
        except TelegramError as error:
            raise Unreachable(str(error).strip() or type(error).__name__) from error
        return raw if isinstance(raw, list) else []

    return fetch


def _seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that retry_after becomes a timedelta; both are handled.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = error.retry_after
    try:
        return float(value.total_seconds())
    except AttributeError:
        return float(value)
