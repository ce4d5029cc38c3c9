"""Outbox items -> Bot API calls on python-telegram-bot, and its errors -> delivery
outcomes. The plan (splitting, keyboards, albums, the upload fallback) is shared:
``handlers.telegram.common.BotApiSender``."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

from telegram import Bot, InputMediaPhoto
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from conversations.core.messages import Reply
from conversations.core.ports import SendOutcome, SendResult
from handlers.telegram.common import (
    CALLBACK_LIMIT,
    CAPTION_LIMIT,
    TEXT_LIMIT,
    BotApiSender,
    bad_request_outcome,
    check_callbacks,
    split_text,
    telegram_length,
    trim,
)

__all__ = [
    "CALLBACK_LIMIT",
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "TelegramSender",
    "markup",
    "split_text",
    "telegram_length",
    "trim",
]

# The Bot API's JSON: these go only with raw calls, and python-telegram-bot's keyboard
# objects cost ~10x the CPU of the plain dicts (built, then turned back into dicts).
Markup = dict[str, Any] | None


def markup(reply: Reply) -> Markup:
    if reply.ask_location:
        location = {"text": reply.location_button or "📍", "request_location": True}
        rows: list[list[dict[str, Any]]] = [[location]]
        rows += [[{"text": choice.label} for choice in row] for row in reply.choices]
        return {"keyboard": rows, "resize_keyboard": True, "one_time_keyboard": True}
    if reply.choices:
        check_callbacks(reply)
        return {
            "inline_keyboard": [
                [{"text": c.label, "callback_data": c.id} for c in row] for row in reply.choices
            ]
        }
    if reply.force_reply:
        return {"force_reply": True}
    if reply.remove_keyboard:
        return {"remove_keyboard": True}
    return None


def _keyboard(keyboard: Reply | str | None) -> Markup:
    if keyboard == "remove":
        return {"remove_keyboard": True}
    return markup(keyboard) if isinstance(keyboard, Reply) else None


# Called raw (``TelegramSender.call``), which python-telegram-bot warns about.
RAW_METHODS = ("sendMessage", "sendLocation", "editMessageText", "editMessageReplyMarkup")


def _replying(message_id: int | None) -> dict[str, Any] | None:
    if message_id is None:
        return None
    return {"message_id": message_id, "allow_sending_without_reply": True}


class TelegramSender(BotApiSender):
    def __init__(self, bot: Bot):
        self.bot = bot
        warnings.filterwarnings(
            "ignore",
            message=rf"Please use 'Bot\.({'|'.join(RAW_METHODS)})'",
            category=PTBUserWarning,
        )

    async def call(self, method: str, **parameters: Any) -> Any:
        """A Bot API call answered with the raw JSON result: python-telegram-bot's own
        methods build the sent message as objects (a few hundred µs of CPU each) of which
        the outbox reads only the id. Errors are python-telegram-bot's."""
        try:
            return await self.bot.do_api_request(method, api_kwargs=parameters)
        except EndPointNotFound as error:
            # do_api_request reads 401/404 as an unknown method; here it is the token.
            raise InvalidToken(str(error.__cause__ or error)) from error

    def outcome(self, error: Exception) -> SendResult | None:
        if isinstance(error, RetryAfter):
            with warnings.catch_warnings():
                # PTB 22 warns that retry_after becomes a timedelta; both are handled.
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                value: Any = error.retry_after
            seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
            return SendResult(SendOutcome.RETRY_AFTER, retry_after=seconds, detail=str(error))
        if isinstance(error, Forbidden):
            return SendResult(SendOutcome.FORBIDDEN, detail=str(error))
        if isinstance(error, BadRequest):
            return bad_request_outcome(str(error))
        if isinstance(error, NetworkError):
            return SendResult(SendOutcome.TRANSIENT, detail=str(error))
        if isinstance(error, TelegramError):
            return SendResult(SendOutcome.REJECTED, detail=str(error))
        return None

    def is_bad_request(self, error: Exception) -> bool:
        return isinstance(error, BadRequest)

    async def send_text(
        self,
        chat_id: int,
        text: str,
        thread: int | None,
        keyboard: Reply | str | None,
        reply_to: int | None,
    ) -> int:
        sent = await self.call(
            "sendMessage",
            chat_id=chat_id,
            text=text,
            message_thread_id=thread,
            reply_markup=_keyboard(keyboard),
            reply_parameters=_replying(reply_to),
        )
        return int(sent["message_id"])

    async def edit_text(self, chat_id: int, message_id: int, text: str, reply: Reply) -> None:
        await self.call(
            "editMessageText",
            chat_id=chat_id,
            message_id=message_id,
            text=text,
            reply_markup=markup(reply),
        )

    async def edit_keyboard(self, chat_id: int, message_id: int, reply: Reply) -> None:
        await self.call(
            "editMessageReplyMarkup",
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=markup(reply),
        )

    async def send_location(
        self,
        chat_id: int,
        latitude: float,
        longitude: float,
        thread: int | None,
        reply_to: int | None,
    ) -> int:
        sent = await self.call(
            "sendLocation",
            chat_id=chat_id,
            latitude=latitude,
            longitude=longitude,
            message_thread_id=thread,
            reply_parameters=_replying(reply_to),
        )
        return int(sent["message_id"])

    async def send_photo(
        self,
        chat_id: int,
        photo: str | bytes,
        caption: str | None,
        thread: int | None,
        reply_to: int | None,
    ) -> int:
        sent = await self.bot.send_photo(
            chat_id,
            photo,
            caption=caption,
            message_thread_id=thread,
            reply_to_message_id=reply_to,
            allow_sending_without_reply=True,
        )
        return sent.message_id

    async def send_document(
        self,
        chat_id: int,
        data: bytes,
        filename: str,
        caption: str | None,
        thread: int | None,
        reply_to: int | None,
    ) -> int:
        sent = await self.bot.send_document(
            chat_id,
            data,
            filename=filename,
            caption=caption,
            message_thread_id=thread,
            reply_to_message_id=reply_to,
            allow_sending_without_reply=True,
        )
        return sent.message_id

    async def send_album(
        self,
        chat_id: int,
        photos: list[str | bytes],
        caption: str | None,
        thread: int | None,
        reply_to: int | None,
    ) -> int:
        media = [
            InputMediaPhoto(source, caption=caption if index == 0 else None)
            for index, source in enumerate(photos)
        ]
        messages = await self.bot.send_media_group(
            chat_id,
            media,
            message_thread_id=thread,
            reply_to_message_id=reply_to,
            allow_sending_without_reply=True,
        )
        return messages[0].message_id
