"""What is kept of an inbound event: clean text, values within the stored lengths.

Every channel's events pass through ``clean_inbound`` before they are handled,
so both databases see the same values: PostgreSQL refuses NUL characters, lone
surrogates and strings longer than a column, SQLite takes them all. The column
lengths live here, and ``storage.tables`` uses the same numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from conversations.core.messages import Inbound, InboundKind, Location, MediaRef, Person

# Stored lengths (characters), shared with the tables.
NAME_MAX = 200
USERNAME_MAX = 64
PHONE_MAX = 32
EXTERNAL_ID_MAX = 64
CHAT_ID_MAX = 64
MIME_MAX = 100
FILE_ID_MAX = 256
# Longer than any valid answer: the dialogue says what the limit of each step is.
TEXT_MAX = 20_000
CHOICE_MAX = 256

# C0 controls but tab and newline, DEL, C1 controls, and lone surrogates (which
# JSON can carry and no database can store).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_PHONE_DROP = re.compile(r"[\s().\-]")


def clean_text(text: str | None, limit: int = TEXT_MAX) -> str | None:
    if text is None:
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text)[:limit]


def clean_line(text: str | None, limit: int) -> str | None:
    """A one-line value (a name): no line breaks, trimmed, within ``limit``."""
    cleaned = clean_text(text, limit * 2)
    if cleaned is None:
        return None
    cleaned = " ".join(cleaned.split())
    return cleaned[:limit] or None


def clean_phone(phone: str | None) -> str | None:
    """A phone number as digits with an optional leading +, or None if it is none."""
    if not phone:
        return None
    compact = _PHONE_DROP.sub("", phone)
    if not re.fullmatch(r"\+?\d{4,20}", compact):
        return None
    return compact[:PHONE_MAX]


def clean_mime(mime: str | None) -> str | None:
    if not mime:
        return None
    mime = mime.strip().lower()
    return mime if len(mime) <= MIME_MAX and _MIME.fullmatch(mime) else None


def valid_location(location: Location | None) -> bool:
    if location is None:
        return False
    lat, lon = location.latitude, location.longitude
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (lat, lon)):
        return False
    return -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0


def _person(person: Person) -> Person:
    return Person(
        user_id=person.user_id,
        display_name=clean_line(person.display_name, NAME_MAX) or "-",
        username=clean_line(person.username, USERNAME_MAX),
        phone=clean_phone(person.phone),
        language_code=clean_line(person.language_code, 16),
    )


def _media(media: MediaRef) -> MediaRef:
    size = media.size if isinstance(media.size, int) and media.size >= 0 else None
    return replace(media, mime_type=clean_mime(media.mime_type), size=size)


def clean_inbound(inbound: Inbound) -> Inbound | None:
    """The event as the core may handle it, or None when it names nobody we can store."""
    if (
        not inbound.sender.user_id
        or len(inbound.sender.user_id) > EXTERNAL_ID_MAX
        or not inbound.chat.chat_id
        or len(inbound.chat.chat_id) > CHAT_ID_MAX
    ):
        return None
    kind = inbound.kind
    location = inbound.location
    unsupported = inbound.unsupported
    if kind is InboundKind.LOCATION and not valid_location(location):
        kind, location, unsupported = InboundKind.UNSUPPORTED, None, "location"
    return replace(
        inbound,
        sender=_person(inbound.sender),
        kind=kind,
        location=location if valid_location(location) else None,
        unsupported=unsupported,
        text=clean_text(inbound.text),
        args=clean_text(inbound.args) or "",
        choice=clean_text(inbound.choice, CHOICE_MAX),
        command=clean_line(inbound.command, 64),
        media=tuple(_media(m) for m in inbound.media),
        contact_phone=clean_phone(inbound.contact_phone),
        reply_to_bot_text=clean_text(inbound.reply_to_bot_text),
    )
