"""Neutral chat messages: what adapters translate platform updates to and from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    WEB = "web"


class InboundKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    CHOICE = "choice"
    LOCATION = "location"
    PHOTO = "photo"
    CONTACT = "contact"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class ChatAddress:
    channel: Channel
    chat_id: str
    thread_id: int | None = None


@dataclass(frozen=True)
class Person:
    """Who wrote: the platform's user, as much as it tells."""

    user_id: str
    display_name: str
    username: str | None = None
    phone: str | None = None
    language_code: str | None = None


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class MediaRef:
    """A platform file: its id on that platform and what the platform says of it."""

    file_id: str
    unique_id: str
    kind: str
    mime_type: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Inbound:
    chat: ChatAddress
    sender: Person
    kind: InboundKind
    update_key: str
    message_id: int | None = None
    # Photos sent together (an album) share this id; each arrives as its own event.
    media_group: str | None = None
    is_private: bool = True
    text: str | None = None
    command: str | None = None
    args: str = ""
    choice: str | None = None
    location: Location | None = None
    media: tuple[MediaRef, ...] = ()
    contact_phone: str | None = None
    unsupported: str | None = None
    reply_to_message_id: int | None = None
    # The text of the bot's own message being replied to, if it is one.
    reply_to_bot_text: str | None = None
    # Written "as the group" (an anonymous administrator): no person to name.
    sender_is_chat: bool = False
    # Set when the sender is a chat administrator, as reported by the platform.
    callback_id: str | None = None


YES = "yes"
NO = "no"


@dataclass(frozen=True)
class Choice:
    """A button: a stable id and its label; ``means`` marks the yes and no of a
    yes/no question, so a typed "ya" or "tidak" picks them."""

    id: str
    label: str
    means: str = ""


@dataclass(frozen=True)
class StoredFileRef:
    """A file the bot made and kept in its ``FileStore`` (a report's chart or workbook)."""

    path: str
    name: str
    mime_type: str
    as_photo: bool = False


@dataclass(frozen=True)
class Reply:
    """One outgoing message; choices are rows of buttons with stable ids."""

    text: str
    choices: tuple[tuple[Choice, ...], ...] = ()
    ask_location: bool = False
    photos: tuple[int, ...] = ()
    location: Location | None = None
    remove_keyboard: bool = False
    location_button: str = ""
    # Ask the client to open a reply to this message (officers giving a reason).
    force_reply: bool = False
    # Send this stored file, with ``text`` as its caption.
    file: StoredFileRef | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        loc = data.get("location")
        stored = data.get("file")
        return cls(
            text=data["text"],
            choices=tuple(tuple(Choice(**c) for c in row) for row in data.get("choices", ())),
            ask_location=bool(data.get("ask_location", False)),
            photos=tuple(data.get("photos", ())),
            location=Location(**loc) if loc else None,
            remove_keyboard=bool(data.get("remove_keyboard", False)),
            location_button=str(data.get("location_button", "")),
            force_reply=bool(data.get("force_reply", False)),
            file=StoredFileRef(**stored) if stored else None,
        )

    def choice_ids(self) -> list[str]:
        return [c.id for row in self.choices for c in row]


@dataclass(frozen=True)
class Answer:
    """What the core returns for one inbound event."""

    replies: tuple[Reply, ...] = ()
    callback_notice: str | None = None
    callback_alert: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
