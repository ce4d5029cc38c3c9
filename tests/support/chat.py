"""Drive the neutral citizen chat like a person would, and read what the bot says."""

from __future__ import annotations

import itertools

from conversations.core.messages import (
    Channel,
    ChatAddress,
    Inbound,
    InboundKind,
    Location,
    MediaRef,
    Person,
    Reply,
)
from conversations.engine import CitizenChat
from tests.support.core import Core

_updates = itertools.count(1)


class TypingClock:
    """A person types about one message a second; the flood guard sees that pace."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


class Citizen:
    def __init__(self, core: Core, chat: CitizenChat, user_id: int = 1001, name: str = "Siti"):
        self.core = core
        self.chat = chat
        self.person = Person(str(user_id), name, username=name.lower(), language_code="id")
        self.address = ChatAddress(Channel.TELEGRAM, str(user_id))
        self.heard: list[Reply] = []
        if not isinstance(chat.flood.clock, TypingClock):
            chat.flood.clock = TypingClock()

    @property
    def last(self) -> Reply:
        return self.heard[-1]

    @property
    def last_text(self) -> str:
        return self.heard[-1].text

    async def _send(self, kind: InboundKind, **fields: object) -> list[Reply]:
        inbound = Inbound(
            chat=self.address,
            sender=self.person,
            kind=kind,
            update_key=f"test:{next(_updates)}",
            **fields,  # type: ignore[arg-type]
        )
        turn = await self.chat.handle(inbound)
        self.heard.extend(turn.replies)
        return turn.replies

    async def says(self, text: str) -> list[Reply]:
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            return await self._send(InboundKind.COMMAND, text=text, command=command, args=args)
        return await self._send(InboundKind.TEXT, text=text)

    async def presses(self, label: str) -> list[Reply]:
        """Press the button with this label on the latest message that has it."""
        for reply in reversed(self.heard):
            for row in reply.choices:
                for choice in row:
                    if choice.label == label or choice.id == label:
                        return await self._send(InboundKind.CHOICE, choice=choice.id)
        raise AssertionError(f"no button {label!r}; last buttons: {self.buttons()}")

    async def presses_on(self, reply: Reply, label: str) -> list[Reply]:
        """Press a button of an older message, the way a citizen scrolls up and taps it."""
        for row in reply.choices:
            for choice in row:
                if choice.label == label:
                    return await self._send(InboundKind.CHOICE, choice=choice.id)
        raise AssertionError(f"no button {label!r} on {reply.text[:40]!r}")

    async def shares_location(self, latitude: float, longitude: float) -> list[Reply]:
        return await self._send(InboundKind.LOCATION, location=Location(latitude, longitude))

    async def sends_photo(
        self,
        data: bytes = b"\xff\xd8\xff photo",
        caption: str | None = None,
        album: str | None = None,
    ) -> list[Reply]:
        """A photo, with a caption, or as part of an album (photos sent at once)."""
        file_id = f"photo-{next(_updates)}"
        self.core.fetcher.add(file_id, data)
        media = MediaRef(file_id, f"u-{file_id}", "photo", "image/jpeg", len(data))
        return await self._send(InboundKind.PHOTO, media=(media,), text=caption, media_group=album)

    async def sends_album(self, count: int, caption: str | None = None) -> list[Reply]:
        album = f"album-{next(_updates)}"
        for index in range(count):
            replies = await self.sends_photo(
                b"\xff\xd8\xff album %d" % index, caption if index == 0 else None, album
            )
        return replies

    async def sends_sticker(self) -> list[Reply]:
        return await self._send(InboundKind.UNSUPPORTED, unsupported="sticker")

    async def sends(self, unsupported: str) -> list[Reply]:
        """Something the bot cannot take: "voice", "video", "document"..."""
        return await self._send(InboundKind.UNSUPPORTED, unsupported=unsupported)

    async def replies_to(self, message_id: int, text: str) -> list[Reply]:
        """A reply (Telegram's "reply to this message") with text."""
        return await self._send(InboundKind.TEXT, text=text, reply_to_message_id=message_id)

    def buttons(self) -> list[str]:
        return [choice.label for row in self.last.choices for choice in row] if self.heard else []
