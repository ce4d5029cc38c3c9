"""Outbox items -> Bot API calls on aiogram, and aiogram's errors -> delivery outcomes
(the same outcomes as on python-telegram-bot; the plan is ``BotApiSender``'s)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)

from conversations.core.messages import Reply
from conversations.core.ports import SendOutcome, SendResult
from handlers.telegram.common import BotApiSender, bad_request_outcome, check_callbacks

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply | None


def markup(reply: Reply) -> Markup:
    if reply.ask_location:
        rows = [[KeyboardButton(text=reply.location_button or "📍", request_location=True)]]
        rows += [[KeyboardButton(text=choice.label) for choice in row] for row in reply.choices]
        return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)
    if reply.choices:
        check_callbacks(reply)
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=c.label, callback_data=c.id) for c in row]
                for row in reply.choices
            ]
        )
    if reply.force_reply:
        return ForceReply(force_reply=True)
    if reply.remove_keyboard:
        return ReplyKeyboardRemove(remove_keyboard=True)
    return None


def _inline(reply: Reply) -> InlineKeyboardMarkup | None:
    shown = markup(reply)
    return shown if isinstance(shown, InlineKeyboardMarkup) else None


def _replying(message_id: int | None) -> ReplyParameters | None:
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


def _file(source: str | bytes, name: str = "photo.jpg") -> str | BufferedInputFile:
    return BufferedInputFile(source, filename=name) if isinstance(source, bytes) else source


class AiogramSender(BotApiSender):
    def __init__(self, bot: Bot):
        self.bot = bot

    def outcome(self, error: Exception) -> SendResult | None:
        if not isinstance(error, TelegramAPIError):
            return None
        detail = error.message
        if isinstance(error, TelegramRetryAfter):
            return SendResult(
                SendOutcome.RETRY_AFTER, retry_after=float(error.retry_after), detail=detail
            )
        if isinstance(error, TelegramForbiddenError):
            return SendResult(SendOutcome.FORBIDDEN, detail=detail)
        if isinstance(error, TelegramBadRequest):
            return bad_request_outcome(detail)
        if isinstance(error, TelegramNetworkError | TelegramServerError):
            return SendResult(SendOutcome.TRANSIENT, detail=detail)
        return SendResult(SendOutcome.REJECTED, detail=detail)

    def is_bad_request(self, error: Exception) -> bool:
        return isinstance(error, TelegramBadRequest)

    async def send_text(
        self,
        chat_id: int,
        text: str,
        thread: int | None,
        keyboard: Reply | str | None,
        reply_to: int | None,
    ) -> int:
        shown: Markup = None
        if keyboard == "remove":
            shown = ReplyKeyboardRemove(remove_keyboard=True)
        elif isinstance(keyboard, Reply):
            shown = markup(keyboard)
        sent = await self.bot.send_message(
            chat_id=chat_id,
            text=text,
            message_thread_id=thread,
            reply_markup=shown,
            reply_parameters=_replying(reply_to),
        )
        return sent.message_id

    async def edit_text(self, chat_id: int, message_id: int, text: str, reply: Reply) -> None:
        await self.bot.edit_message_text(
            text=text, chat_id=chat_id, message_id=message_id, reply_markup=_inline(reply)
        )

    async def edit_keyboard(self, chat_id: int, message_id: int, reply: Reply) -> None:
        await self.bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=_inline(reply)
        )

    async def send_location(
        self,
        chat_id: int,
        latitude: float,
        longitude: float,
        thread: int | None,
        reply_to: int | None,
    ) -> int:
        sent = await self.bot.send_location(
            chat_id=chat_id,
            latitude=latitude,
            longitude=longitude,
            message_thread_id=thread,
            reply_parameters=_replying(reply_to),
        )
        return sent.message_id

    async def send_photo(
        self,
        chat_id: int,
        photo: str | bytes,
        caption: str | None,
        thread: int | None,
        reply_to: int | None,
    ) -> int:
        sent = await self.bot.send_photo(
            chat_id=chat_id,
            photo=_file(photo),
            caption=caption,
            message_thread_id=thread,
            reply_parameters=_replying(reply_to),
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
            chat_id=chat_id,
            document=BufferedInputFile(data, filename=filename),
            caption=caption,
            message_thread_id=thread,
            reply_parameters=_replying(reply_to),
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
        media: list[InputMediaPhoto] = [
            InputMediaPhoto(
                media=_file(source, f"photo{index}.jpg"),
                caption=caption if index == 0 else None,
            )
            for index, source in enumerate(photos)
        ]
        messages = await self.bot.send_media_group(
            chat_id=chat_id,
            media=media,  # type: ignore[arg-type]
            message_thread_id=thread,
            reply_parameters=_replying(reply_to),
        )
        return messages[0].message_id
