"""Outbox items -> Bot API calls, and Bot API errors -> delivery outcomes."""

from __future__ import annotations

import logging
import re
import warnings
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from conversations.core.domain import OutboxItem
from conversations.core.messages import Reply
from conversations.core.ports import FileStore, SendOutcome, SendResult

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
# Telegram's words for a file id it will not send as a photo ("can't use file of
# type Document as Photo", "wrong file identifier/HTTP URL specified", ...).
FILE_REFUSED = re.compile(r"(?i)file|identifier|type")
CAPTION_LIMIT = 1024
CALLBACK_LIMIT = 64

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply | None


def telegram_length(text: str) -> int:
    """Telegram counts UTF-16 code units: an emoji outside the BMP counts as two."""
    return len(text.encode("utf-16-le")) // 2


def _fitting(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split at line breaks where possible; Telegram refuses longer messages."""
    parts: list[str] = []
    while telegram_length(text) > limit:
        fit = _fitting(text, limit)
        cut = text.rfind("\n", 0, fit)
        if cut < fit // 2:
            cut = fit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts


def trim(text: str, limit: int) -> str:
    if telegram_length(text) <= limit:
        return text
    return text[: _fitting(text, limit - 1)] + "…"


def markup(reply: Reply) -> Markup:
    if reply.ask_location:
        rows = [[KeyboardButton(reply.location_button or "📍", request_location=True)]]
        rows += [[KeyboardButton(choice.label) for choice in row] for row in reply.choices]
        return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)
    if reply.choices:
        for row in reply.choices:
            for choice in row:
                if len(choice.id.encode()) > CALLBACK_LIMIT:
                    raise ValueError(f"callback data over {CALLBACK_LIMIT} bytes: {choice.id}")
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(c.label, callback_data=c.id) for c in row]
                for row in reply.choices
            ]
        )
    if reply.force_reply:
        return ForceReply()
    if reply.remove_keyboard:
        return ReplyKeyboardRemove()
    return None


class TelegramSender:
    def __init__(self, bot: Bot):
        self.bot = bot

    def message_count(self, item: OutboxItem) -> int:
        """Messages ``deliver`` sends: one per album photo, one per part of a long text."""
        reply = item.payload["reply"]
        if item.kind == "edit" or reply.get("location") or reply.get("file"):
            return 1
        if reply.get("photos"):
            return min(10, max(1, len(item.payload.get("photos", []))))
        return len(split_text(str(reply.get("text", ""))))

    async def deliver(self, item: OutboxItem, files: FileStore) -> SendResult:
        try:
            message_id = await self._send(item, files)
        except ValueError as error:
            # A reply that cannot be rendered (e.g. callback data over 64 bytes)
            # will never succeed; retrying would only hold up the chat's queue.
            return SendResult(SendOutcome.REJECTED, detail=str(error))
        except RetryAfter as error:
            with warnings.catch_warnings():
                # PTB 22 warns that retry_after becomes a timedelta; both are handled.
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                value: Any = error.retry_after
            seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
            return SendResult(SendOutcome.RETRY_AFTER, retry_after=seconds, detail=str(error))
        except Forbidden as error:
            return SendResult(SendOutcome.FORBIDDEN, detail=str(error))
        except BadRequest as error:
            text = str(error).lower()
            if "message is not modified" in text:
                return SendResult(SendOutcome.SENT, detail=str(error))
            if "thread not found" in text or "topic_deleted" in text or "topic was deleted" in text:
                return SendResult(SendOutcome.THREAD_GONE, detail=str(error))
            return SendResult(SendOutcome.REJECTED, detail=str(error))
        except NetworkError as error:
            return SendResult(SendOutcome.TRANSIENT, detail=str(error))
        except TelegramError as error:
            return SendResult(SendOutcome.REJECTED, detail=str(error))
        return SendResult(SendOutcome.SENT, message_id=message_id)

    async def _send(self, item: OutboxItem, files: FileStore) -> int | None:
        reply = Reply.from_dict(item.payload["reply"])
        chat_id = int(item.chat_id)
        thread = item.thread_id
        if item.kind == "edit":
            target = int(item.payload["message_id"])
            await self.bot.edit_message_text(
                trim(reply.text, TEXT_LIMIT),
                chat_id=chat_id,
                message_id=target,
                reply_markup=markup(reply),  # type: ignore[arg-type]
            )
            return target
        if reply.location is not None:
            sent = await self.bot.send_location(
                chat_id,
                latitude=reply.location.latitude,
                longitude=reply.location.longitude,
                message_thread_id=thread,
                reply_to_message_id=item.payload.get("reply_to"),
                allow_sending_without_reply=True,
            )
            return sent.message_id
        if reply.file is not None:
            return await self._stored_file(item, reply, files)
        if reply.photos:
            return await self._photos(item, reply, files)
        parts = split_text(reply.text)
        swap = reply.remove_keyboard and bool(reply.choices) and not reply.ask_location
        sent_last: Message | None = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            # One message carries one keyboard kind: to drop the location keyboard
            # and show buttons, send with the removal, then add the buttons.
            keyboard = (ReplyKeyboardRemove() if swap else markup(reply)) if last else None
            sent_last = await self.bot.send_message(
                chat_id,
                part,
                message_thread_id=thread,
                reply_markup=keyboard,
                reply_to_message_id=item.payload.get("reply_to") if index == 0 else None,
                allow_sending_without_reply=True,
            )
        if swap and sent_last is not None:
            await self.bot.edit_message_reply_markup(
                chat_id,
                sent_last.message_id,
                reply_markup=markup(reply),  # type: ignore[arg-type]
            )
        return sent_last.message_id if sent_last else None

    async def _stored_file(self, item: OutboxItem, reply: Reply, files: FileStore) -> int:
        """A file the bot made (a report): uploaded from the file store, as a photo or
        as a document with its name."""
        stored = reply.file
        assert stored is not None
        data = await files.load(stored.path)
        caption = trim(reply.text, CAPTION_LIMIT) if reply.text else None
        reply_to = item.payload.get("reply_to")
        if stored.as_photo:
            sent = await self.bot.send_photo(
                int(item.chat_id),
                data,
                caption=caption,
                message_thread_id=item.thread_id,
                reply_to_message_id=reply_to,
                allow_sending_without_reply=True,
            )
        else:
            sent = await self.bot.send_document(
                int(item.chat_id),
                data,
                filename=stored.name,
                caption=caption,
                message_thread_id=item.thread_id,
                reply_to_message_id=reply_to,
                allow_sending_without_reply=True,
            )
        return sent.message_id

    async def _photos(self, item: OutboxItem, reply: Reply, files: FileStore) -> int:
        photos: list[dict[str, Any]] = list(item.payload.get("photos", []))[:10]
        sources: list[Any] = []
        for photo in photos:
            if _file_id(photo):
                sources.append(photo["file_id"])
            else:
                sources.append(await files.load(photo["path"]))
        try:
            return await self._send_photos(item, reply, sources)
        except BadRequest as error:
            # A file id Telegram will not take as a photo (an image that came in as a
            # document, an id from another bot): send the stored files instead, once.
            if not FILE_REFUSED.search(str(error)) or not any(_file_id(p) for p in photos):
                raise
            log.warning("outbox item %s: file ids refused (%s); uploading", item.id, error)
        uploads = [await files.load(photo["path"]) for photo in photos]
        return await self._send_photos(item, reply, uploads)

    async def _send_photos(self, item: OutboxItem, reply: Reply, sources: list[Any]) -> int:
        caption = trim(reply.text, CAPTION_LIMIT) if reply.text else None
        reply_to = item.payload.get("reply_to")
        if len(sources) == 1:
            sent = await self.bot.send_photo(
                int(item.chat_id),
                sources[0],
                caption=caption,
                message_thread_id=item.thread_id,
                reply_to_message_id=reply_to,
                allow_sending_without_reply=True,
            )
            return sent.message_id
        media = [
            InputMediaPhoto(source, caption=caption if index == 0 else None)
            for index, source in enumerate(sources)
        ]
        messages = await self.bot.send_media_group(
            int(item.chat_id),
            media,
            message_thread_id=item.thread_id,
            reply_to_message_id=reply_to,
            allow_sending_without_reply=True,
        )
        return messages[0].message_id


def _file_id(photo: dict[str, Any]) -> bool:
    return photo.get("channel") == "telegram" and bool(photo.get("file_id"))
