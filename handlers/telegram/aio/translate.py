"""aiogram updates -> neutral inbound events (the same events as
``handlers.telegram.translate`` makes from python-telegram-bot's)."""

from __future__ import annotations

from dataclasses import replace

from aiogram.types import Message, Update, User

from conversations.core.messages import (
    Channel,
    ChatAddress,
    Inbound,
    InboundKind,
    Location,
    MediaRef,
    Person,
)
from conversations.core.sanitize import clean_text
from handlers.telegram.common import UNSUPPORTED_KINDS, typed_command


def person(user: User, phone: str | None = None) -> Person:
    return Person(
        user_id=str(user.id),
        display_name=user.full_name,
        username=user.username,
        phone=phone,
        language_code=user.language_code,
    )


def _address(message: Message) -> ChatAddress:
    thread = message.message_thread_id if message.is_topic_message else None
    return ChatAddress(Channel.TELEGRAM, str(message.chat.id), thread)


def _command(message: Message, bot_username: str) -> tuple[str, str] | None:
    text = message.text or ""
    cleaned = clean_text(text) or ""
    if cleaned != text:
        return typed_command(cleaned, bot_username)
    entity = next(iter(message.entities or ()), None)
    if not text.startswith("/") or entity is None or entity.type != "bot_command" or entity.offset:
        return None
    name, _, addressee = text[1 : entity.length].partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None  # a command for another bot in the same group
    return name.lower(), text[entity.length :].strip()


def _ids_ok(*values: object) -> bool:
    # The Bot API's ids are integers; anything else is not from Telegram.
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def from_update(update: Update, bot_username: str = "") -> Inbound | None:
    key = f"tg:{update.update_id}"
    query = update.callback_query
    if query is not None:
        if query.message is None or not isinstance(query.message, Message):
            return None
        if not _ids_ok(query.message.chat.id, query.from_user.id, query.message.message_id):
            return None
        return Inbound(
            chat=_address(query.message),
            sender=person(query.from_user),
            kind=InboundKind.CHOICE,
            update_key=key,
            message_id=query.message.message_id,
            is_private=query.message.chat.type == "private",
            choice=query.data or "",
            callback_id=query.id,
        )
    message = update.message
    if message is None or message.from_user is None:
        return None
    if not _ids_ok(message.chat.id, message.from_user.id, message.message_id):
        return None
    as_chat = message.sender_chat is not None and message.sender_chat.id == message.chat.id
    base = Inbound(
        chat=_address(message),
        sender=person(message.from_user),
        kind=InboundKind.UNSUPPORTED,
        update_key=key,
        message_id=message.message_id,
        is_private=message.chat.type == "private",
        reply_to_message_id=(
            message.reply_to_message.message_id
            if message.reply_to_message is not None and not _is_topic_root(message)
            else None
        ),
        reply_to_bot_text=_bot_text(message),
        sender_is_chat=as_chat,
        media_group=message.media_group_id,
    )
    if message.text is not None:
        command = _command(message, bot_username)
        if command is not None:
            return replace(
                base,
                kind=InboundKind.COMMAND,
                text=message.text,
                command=command[0],
                args=command[1],
            )
        return replace(base, kind=InboundKind.TEXT, text=message.text)
    if message.location is not None:
        location = Location(message.location.latitude, message.location.longitude)
        return replace(base, kind=InboundKind.LOCATION, location=location)
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.file_size or 0, p.width * p.height))
        media = MediaRef(
            largest.file_id, largest.file_unique_id, "photo", "image/jpeg", largest.file_size
        )
        return replace(base, kind=InboundKind.PHOTO, media=(media,), text=message.caption)
    document = message.document
    if document is not None and (document.mime_type or "").startswith("image/"):
        # An image "sent as file": its file id is a document's, which Telegram will
        # not send as a photo, so the kind stays "document".
        media = MediaRef(
            document.file_id,
            document.file_unique_id,
            "document",
            document.mime_type,
            document.file_size,
        )
        return replace(base, kind=InboundKind.PHOTO, media=(media,), text=message.caption)
    if message.contact is not None:
        # Only the sender's own contact card tells their number; anyone can share
        # someone else's.
        own = message.contact.user_id == message.from_user.id
        phone = message.contact.phone_number if own else None
        return replace(
            base,
            kind=InboundKind.CONTACT,
            sender=person(message.from_user, phone),
            contact_phone=phone,
        )
    what = next((k for k in UNSUPPORTED_KINDS if getattr(message, k, None)), "other")
    return replace(base, unsupported=what)


def _bot_text(message: Message) -> str | None:
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or not replied.from_user.is_bot:
        return None
    return replied.text or replied.caption


def _is_topic_root(message: Message) -> bool:
    # In forum topics every message "replies" to the topic's creation message.
    reply = message.reply_to_message
    return bool(message.is_topic_message and reply is not None and reply.forum_topic_created)
