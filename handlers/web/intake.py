"""The web chat's messages into the durable inbox, and out of it as neutral events.

What a browser sends is stored as it came (``Inbox.ingest``) before the HTTP
answer, keyed by the browser and the id the page gave the message: a double
submit is the same key, so it is applied once.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from conversations.core.inbox import InboxEntry
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

CHANNEL = Channel.WEB.value
MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{16,48}")
KINDS = ("text", "choice", "location", "photo")


def inbox_entry(browser: str, payload: dict[str, Any]) -> InboxEntry:
    return InboxEntry(
        key=f"web:{browser}:{payload['id']}",
        channel=CHANNEL,
        chat_key=f"{CHANNEL}:{browser}",
        payload={**payload, "browser": browser},
    )


def _command(text: str) -> tuple[str, str] | None:
    if not text.startswith("/") or len(text) < 2:
        return None
    name, _, args = text[1:].partition(" ")
    if not re.fullmatch(r"[A-Za-z_]{1,32}", name):
        return None
    return name.lower(), args.strip()


class WebIntake:
    """The inbox's view of the web chat: a stored message -> a neutral event."""

    def decode(self, payload: dict[str, Any]) -> Inbound | None:
        browser = payload.get("browser")
        message_id = payload.get("id")
        kind = payload.get("kind")
        if not isinstance(browser, str) or not BROWSER_ID.fullmatch(browser):
            return None
        if not isinstance(message_id, str) or not MESSAGE_ID.fullmatch(message_id):
            return None
        base = Inbound(
            chat=ChatAddress(Channel.WEB, browser),
            sender=Person(browser, str(payload.get("name") or "-")),
            kind=InboundKind.UNSUPPORTED,
            update_key=f"web:{browser}:{message_id}",
            is_private=True,
        )
        text = payload.get("text")
        if kind == "text" and isinstance(text, str) and text.strip():
            # Control characters go first: "/start\x00" is /start (see core.sanitize).
            command = _command((clean_text(text) or "").strip())
            if command is not None:
                return replace(
                    base,
                    kind=InboundKind.COMMAND,
                    text=text,
                    command=command[0],
                    args=command[1],
                )
            return replace(base, kind=InboundKind.TEXT, text=text)
        choice = payload.get("choice")
        if kind == "choice" and isinstance(choice, str) and choice:
            return replace(base, kind=InboundKind.CHOICE, choice=choice)
        if kind == "location":
            lat, lon = payload.get("lat"), payload.get("lon")
            if isinstance(lat, int | float) and isinstance(lon, int | float):
                location = Location(float(lat), float(lon))
                return replace(base, kind=InboundKind.LOCATION, location=location)
        photo = payload.get("photo")
        if kind == "photo" and isinstance(photo, dict) and isinstance(photo.get("path"), str):
            media = MediaRef(
                file_id=str(photo["path"]),
                unique_id=str(photo.get("sha256") or ""),
                kind="photo",
                mime_type=str(photo.get("mime") or "image/jpeg"),
                size=int(photo.get("size") or 0) or None,
            )
            caption = text if isinstance(text, str) and text.strip() else None
            return replace(base, kind=InboundKind.PHOTO, media=(media,), text=caption)
        return base

    async def finish(self, payload: dict[str, Any], inbound: Inbound, notice: str | None) -> None:
        """Nothing to answer: the page reads its answers from the transcript."""
