"""A realistic fake Telegram Bot API server for tests.

The bot under test talks to it over real HTTP (aiohttp on 127.0.0.1), exactly as it would talk
to api.telegram.org: ``POST {base_url}/bot<token>/<method>`` and
``GET {base_url}/file/bot<token>/<file_path>``.  Tests inject inbound updates through
:class:`FakeUser` helpers and observe what the bot sent through :class:`FakeTelegram`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import re
import struct
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

JSON = dict[str, Any]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
DEFAULT_ICON_COLOR = 7322096

# Methods whose success counts as one outgoing message for the rate statistics.
SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendMediaGroup",
        "sendLocation",
        "sendDocument",
        "copyMessage",
        "forwardMessage",
    }
)
# Methods that fail with 403 when the target chat blocked the bot.
CHAT_WRITE_METHODS = SEND_METHODS | {
    "sendChatAction",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
}

# PTB sends every parameter as a string; these ones carry JSON-encoded structures.
JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "media",
        "reply_parameters",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "link_preview_options",
        "allowed_updates",
        "results",
    }
)

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """An error answer of the Bot API, raised inside method handlers."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def envelope(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Entity offsets and lengths are counted in UTF-16 code units by Telegram."""
    return len(text.encode("utf-16-le")) // 2


_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_/])")


def command_entities(text: str) -> list[JSON]:
    """Telegram detects bot commands server side, wherever they appear in the text."""
    entities: list[JSON] = []
    for match in _COMMAND_RE.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    return entities


def _tiny_jpeg() -> bytes:
    """A valid 8x8 grey baseline JPEG, built by hand because Pillow is not a test dependency.

    Every coefficient is zero, so single-symbol Huffman tables (DC category 0, AC end-of-block)
    encode the only block as the two bits ``00``.
    """

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">HH", marker, len(payload) + 2) + payload

    quant = segment(0xFFDB, b"\x00" + b"\x01" * 64)
    frame = segment(0xFFC0, struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00")
    one_code = b"\x01" + b"\x00" * 15
    dc_table = segment(0xFFC4, b"\x00" + one_code + b"\x00")
    ac_table = segment(0xFFC4, b"\x10" + one_code + b"\x00")
    scan = segment(0xFFDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + quant + frame + dc_table + ac_table + scan + b"\x3f" + b"\xff\xd9"


TINY_JPEG = _tiny_jpeg()


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the first SOFn segment, or None when the bytes are not a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None


_HTML_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "a", "code", "pre", "blockquote", "tg-emoji",
    }
)  # fmt: skip


class _TelegramHtml(HTMLParser):
    """Strips the HTML subset Telegram accepts and rejects what Telegram would reject."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS and self.error is None:
            self.error = f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if (not self.stack or self.stack[-1] != tag) and self.error is None:
            self.error = f'Unmatched end tag "{tag}"'
        elif self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _strip_markdown_v2(text: str) -> str:
    out: list[str] = []
    pos = 0
    in_code = False
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if char == "`":
            in_code = not in_code
        elif in_code:
            # Inside code only ` and \ are special.
            out.append(char)
        elif text.startswith("](", pos):
            # The URL of an inline link is not shown and needs no escaping except ")".
            end = pos + 2
            while end < len(text) and text[end] != ")":
                end += 2 if text[end] == "\\" else 1
            pos = end
        elif char in ">#+-={}.!":
            raise bad_request(
                f"can't parse entities: Character '{char}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        elif char not in "_*~|[]()":
            out.append(char)
        pos += 1
    return "".join(out)


def parse_formatted(text: str, parse_mode: str | None) -> str:
    """The plain text Telegram stores for a formatted message (markup removed)."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        # A bare "<" that does not open a tag is a classic bug: Telegram refuses it.
        for match in re.finditer(r"<", text):
            if not re.match(r"</?[a-zA-Z][a-zA-Z0-9-]*(\s[^<>]*)?>", text[match.start() :]):
                raise bad_request(
                    'can\'t parse entities: Unexpected character "<" at byte offset '
                    f"{len(text[: match.start()].encode())}"
                )
        parser = _TelegramHtml()
        parser.feed(text)
        parser.close()
        if parser.error is None and parser.stack:
            parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
        if parser.error is not None:
            raise bad_request(f"can't parse entities: {parser.error}")
        return "".join(parser.parts)
    if mode == "markdownv2":
        return _strip_markdown_v2(text)
    if mode == "markdown":
        return re.sub(r"[*_`]", "", text)
    return text


def _to_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise bad_request(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise bad_request(f"invalid {name} specified") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1")


def _to_float(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def inline_buttons(markup: JSON | None) -> list[JSON]:
    if not markup:
        return []
    rows = markup.get("inline_keyboard") or []
    return [button for row in rows for button in row]


# --------------------------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------------------------


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    mime_type: str | None = None

    @property
    def file_size(self) -> int:
        return len(self.data)


@dataclass
class Topic:
    thread_id: int
    name: str
    icon_color: int
    closed: bool = False
    deleted: bool = False


@dataclass
class Call:
    """One HTTP call of the bot, successful or not."""

    method: str
    params: JSON
    time: float
    status: int = 200
    description: str | None = None
    # Made in the bot's answer to a webhook POST, not as a request of its own.
    in_webhook_reply: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class SentMessage:
    """A message the bot sent; kept up to date when the bot edits or deletes it."""

    method: str
    chat_id: int
    message_id: int
    thread_id: int | None
    text: str | None
    reply_markup: JSON | None
    photo: Any
    location: JSON | None
    time: float
    params: JSON
    reply_to_message_id: int | None
    document: JSON | None = None
    media_group_id: str | None = None
    deleted: bool = False
    edited: bool = False
    message: JSON = field(default_factory=dict, repr=False)

    @property
    def buttons(self) -> list[str]:
        """Visible texts of the inline buttons, flattened row by row."""
        return [str(button.get("text", "")) for button in inline_buttons(self.reply_markup)]

    def button_data(self, text: str) -> str:
        for button in inline_buttons(self.reply_markup):
            if button.get("text") == text:
                if "callback_data" not in button:
                    raise AssertionError(f"button {text!r} has no callback_data: {button}")
                return str(button["callback_data"])
        raise AssertionError(
            f"no inline button {text!r} in message {self.message_id} to chat {self.chat_id}; "
            f"available: {self.buttons}"
        )

    def summary(self) -> str:
        parts = [f"#{self.message_id} {self.method} -> {self.chat_id}"]
        if self.thread_id is not None:
            parts.append(f"thread={self.thread_id}")
        if self.text is not None:
            parts.append(repr(self.text[:200]))
        if self.buttons:
            parts.append(f"buttons={self.buttons}")
        if self.deleted:
            parts.append("(deleted)")
        return " ".join(parts)


@dataclass
class Edit:
    method: str
    chat_id: int
    message_id: int
    text: str | None
    reply_markup: JSON | None
    time: float
    params: JSON


@dataclass
class FailRule:
    method: str | None
    status: int
    retry_after: int | None
    chat_id: int | None
    times: int
    description: str | None = None


@dataclass
class _QueuedUpdate:
    update: JSON
    # Redelivered updates ignore the confirmed offset exactly once.
    forced: bool = False


class MessageLike(Protocol):
    """Anything naming a message: a SentMessage or python-telegram-bot's own Message."""

    @property
    def message_id(self) -> int: ...

    @property
    def chat_id(self) -> int: ...


# A message as tests refer to it: an object, an Update/Message dict, or a bare message_id.
MessageRef = SentMessage | MessageLike | JSON | int


class FakeChat:
    """A chat known to the fake server: a user's private chat or a supergroup."""

    def __init__(
        self,
        fake: FakeTelegram,
        chat_id: int,
        chat_type: str,
        *,
        title: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        is_forum: bool = False,
        admins: Iterable[int] = (),
    ) -> None:
        self.fake = fake
        self.id = chat_id
        self.type = chat_type
        self.title = title
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.is_forum = is_forum
        self.admins = list(admins)
        # The bot's own place in a group: "administrator" with every right but those
        # listed in ``bot_lacks`` (e.g. "can_manage_topics"), or "member", "left"...
        self.bot_status = "administrator"
        self.bot_lacks: set[str] = set()
        self.topics: dict[int, Topic] = {}
        # Every message of the chat as Telegram currently shows it, keyed by message_id.
        self.messages: dict[int, JSON] = {}
        self.deleted: set[int] = set()
        self._next_message_id = 1

    @property
    def chat_id(self) -> int:
        return self.id

    def next_message_id(self) -> int:
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def api(self) -> JSON:
        chat: JSON = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = self.first_name or ""
            if self.last_name:
                chat["last_name"] = self.last_name
        else:
            chat["title"] = self.title or ""
        if self.username:
            chat["username"] = self.username
        if self.is_forum:
            chat["is_forum"] = True
        return chat

    def topic(self, thread_id: int) -> Topic | None:
        return self.topics.get(thread_id)

    def __repr__(self) -> str:
        return f"FakeChat({self.id}, {self.type}, {self.title or self.first_name!r})"


class FakeUser:
    """A human Telegram user who talks to the bot (privately or in groups)."""

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        first_name: str,
        username: str | None,
        language_code: str | None,
        last_name: str | None,
    ) -> None:
        self.fake = fake
        self.id = user_id
        self.first_name = first_name
        self.username = username
        self.language_code = language_code
        self.last_name = last_name

    @property
    def user_id(self) -> int:
        return self.id

    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def chat(self) -> FakeChat:
        return self.fake.chats[self.id]

    def api(self) -> JSON:
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    # -- private chat ------------------------------------------------------------------------

    def send_text(self, text: str, *, reply_to: MessageRef | None = None) -> JSON:
        return self.fake.inbound_message(self.chat, self, _text_content(text), reply_to=reply_to)

    def send_command(self, text: str, *, reply_to: MessageRef | None = None) -> JSON:
        assert text.startswith("/"), f"a command starts with '/': {text!r}"
        return self.send_text(text, reply_to=reply_to)

    def send_photo(self, data: bytes | None = None, caption: str | None = None) -> JSON:
        return self.send_photo_in(self.chat, data=data, caption=caption)

    def send_location(self, lat: float, lon: float) -> JSON:
        return self.send_location_in(self.chat, lat, lon)

    def send_sticker(self, emoji: str = "👍") -> JSON:
        sticker_file = self.fake.register_file(TINY_JPEG, "stickers", ".webp", "image/webp")
        sticker: JSON = {
            "file_id": sticker_file.file_id,
            "file_unique_id": sticker_file.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": sticker_file.file_size,
        }
        return self.fake.inbound_message(self.chat, self, {"sticker": sticker})

    def send_document(
        self, data: bytes, file_name: str = "dokumen.pdf", mime_type: str = "application/pdf"
    ) -> JSON:
        return self.send_document_in(self.chat, data, file_name, mime_type)

    def send_contact(self, phone: str, *, own: bool = True) -> JSON:
        contact: JSON = {"phone_number": phone, "first_name": self.first_name}
        if self.last_name:
            contact["last_name"] = self.last_name
        if own:
            contact["user_id"] = self.id
        return self.fake.inbound_message(self.chat, self, {"contact": contact})

    def send_voice(self, data: bytes = b"OggS fake voice", duration: int = 3) -> JSON:
        stored = self.fake.register_file(data, "voice", ".oga", "audio/ogg")
        voice: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.file_size,
        }
        return self.fake.inbound_message(self.chat, self, {"voice": voice})

    def send_message(self, content: JSON, chat: FakeChat | None = None, **kwargs: Any) -> JSON:
        """Escape hatch: an inbound message with arbitrary content fields."""
        return self.fake.inbound_message(chat or self.chat, self, dict(content), **kwargs)

    # -- any chat (groups) -------------------------------------------------------------------

    def send_text_in(
        self,
        chat: FakeChat,
        text: str,
        reply_to: MessageRef | None = None,
        thread_id: int | None = None,
    ) -> JSON:
        return self.fake.inbound_message(
            chat, self, _text_content(text), reply_to=reply_to, thread_id=thread_id
        )

    def send_command_in(
        self,
        chat: FakeChat,
        text: str,
        reply_to: MessageRef | None = None,
        thread_id: int | None = None,
    ) -> JSON:
        assert text.startswith("/"), f"a command starts with '/': {text!r}"
        return self.send_text_in(chat, text, reply_to=reply_to, thread_id=thread_id)

    def send_photo_in(
        self,
        chat: FakeChat,
        data: bytes | None = None,
        caption: str | None = None,
        reply_to: MessageRef | None = None,
        thread_id: int | None = None,
    ) -> JSON:
        sizes = self.fake.register_photo(TINY_JPEG if data is None else data)
        content: JSON = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
            entities = command_entities(caption)
            if entities:
                content["caption_entities"] = entities
        return self.fake.inbound_message(
            chat, self, content, reply_to=reply_to, thread_id=thread_id
        )

    def send_location_in(
        self, chat: FakeChat, lat: float, lon: float, thread_id: int | None = None
    ) -> JSON:
        location = {"latitude": lat, "longitude": lon}
        return self.fake.inbound_message(chat, self, {"location": location}, thread_id=thread_id)

    def send_document_in(
        self,
        chat: FakeChat,
        data: bytes,
        file_name: str = "dokumen.pdf",
        mime_type: str = "application/pdf",
        thread_id: int | None = None,
    ) -> JSON:
        suffix = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        stored = self.fake.register_file(data, "documents", suffix, mime_type)
        document: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": stored.file_size,
        }
        return self.fake.inbound_message(chat, self, {"document": document}, thread_id=thread_id)

    # -- buttons -----------------------------------------------------------------------------

    def press(
        self,
        message: MessageRef,
        callback_data: str,
        chat: FakeChat | int | None = None,
    ) -> JSON:
        """Press an inline button: a callback_query carrying the message as currently shown."""
        return self.fake.callback_update(self, message, callback_data, chat)

    def press_button(
        self,
        message: MessageRef,
        text: str,
        chat: FakeChat | int | None = None,
    ) -> JSON:
        current = self.fake.resolve_message(message, chat, default_chat=self.id)
        markup = current.get("reply_markup")
        for button in inline_buttons(markup):
            if button.get("text") == text:
                if "callback_data" not in button:
                    raise AssertionError(f"button {text!r} has no callback_data: {button}")
                chat_id = current["chat"]["id"]
                return self.press(current["message_id"], button["callback_data"], chat_id)
        available = [str(button.get("text")) for button in inline_buttons(markup)]
        raise AssertionError(
            f"no inline button {text!r} in message {current['message_id']} "
            f"(chat {current['chat']['id']}); available buttons: {available}"
        )

    def __repr__(self) -> str:
        return f"FakeUser({self.id}, {self.first_name!r})"


def _without_reply(message: JSON) -> JSON:
    """Telegram nests only one level of reply_to_message."""
    copy = json.loads(json.dumps(message))
    copy.pop("reply_to_message", None)
    return dict(copy)


def _text_content(text: str) -> JSON:
    content: JSON = {"text": text}
    entities = command_entities(text)
    if entities:
        content["entities"] = entities
    return content


Handler = Callable[[JSON, dict[str, "UploadedFile"]], Awaitable[Any]]


@dataclass
class UploadedFile:
    name: str
    filename: str
    content_type: str | None
    data: bytes


class FakeTelegram:
    """The fake Bot API server plus the test-facing API to drive and observe the bot."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz",
        bot_username: str = "kanal_aduan_bot",
        bot_first_name: str = "Kanal Aduan",
    ) -> None:
        self.token = token
        bot_id = token.split(":", 1)[0]
        self.bot_user: JSON = {
            "id": int(bot_id) if bot_id.isdigit() else 123456,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.chats: dict[int, FakeChat] = {}
        self.users: dict[int, FakeUser] = {}
        self.files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_counter = itertools.count(1)

        self._queue: list[_QueuedUpdate] = []
        self._update_ids = itertools.count(100_000_001)
        self._callback_ids = itertools.count(7_000_000_000_001)
        self._media_group_ids = itertools.count(13_000_000_000_000_001)
        self._pending_callbacks: set[str] = set()
        self.delivered_updates: list[JSON] = []

        self.sent: list[SentMessage] = []
        # The same messages by chat: benchmarks wait on hundreds of chats at once.
        self._sent_by_chat: dict[int, list[SentMessage]] = defaultdict(list)
        self._photo_sizes_by_file: dict[str, list[JSON]] = {}
        self.calls: list[Call] = []
        self.edits: list[Edit] = []
        self.callback_answers: list[JSON] = []
        self.deleted_messages: list[tuple[int, int]] = []
        self.downloads: list[str] = []
        self.commands: dict[str, list[JSON]] = {}
        # The bot's description and short description, by language_code ("" = default).
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.get_updates_calls = 0
        self._send_events: list[tuple[float, int]] = []
        # Send times (``sent[].time`` and the rate checks) come from this clock; a test
        # may share a virtual clock with the bot's rate limiter to check limits fast.
        self.send_clock: Callable[[], float] = time.monotonic
        self._fail_rules: list[FailRule] = []
        self._slow: dict[str, float] = {}
        # When set, sends beyond Telegram's limits get 429 as on the real server.
        self.enforce_limits = False
        self._blocked: set[int] = set()
        self._cursors: dict[int, int] = {}
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self._closing = False
        self._poll_generation = 0
        # Webhook mode: updates are POSTed to this URL instead of waiting for getUpdates.
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_max_connections = 40
        self.webhook_posts: list[tuple[JSON, int]] = []  # (update, HTTP status or 0)
        # Several bot processes sharing one database: the fake plays their load balancer,
        # POSTing each update to the next of these addresses in turn (the webhook URL's
        # path kept), so no balancer hop stands between Telegram and the processes.
        self.webhook_backends: list[str] = []
        # Per chat, the index in ``webhook_backends`` of each update it accepted.
        self.webhook_routes: dict[object, list[int]] = defaultdict(list)
        self._webhook_turn = 0
        self._webhook_task: asyncio.Task[None] | None = None
        self._changed: asyncio.Event | None = None
        self._chat_events: dict[int, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._methods: dict[str, Handler] = self._method_table()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self._closing = False
        return self

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._webhook_task
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started; await fake.start() first")
        return f"http://127.0.0.1:{self._port}"

    @property
    def bot_id(self) -> int:
        return int(self.bot_user["id"])

    def _notify(self) -> None:
        # Wakes long polls and wait_for(); the event is created lazily inside the running loop.
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _notify_chat(self, chat_id: Any) -> None:
        try:
            event = self._chat_events.pop(int(chat_id))
        except (KeyError, TypeError, ValueError):
            return
        event.set()

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    # -- world building ----------------------------------------------------------------------

    def private_user(
        self,
        user_id: int = 1001,
        first_name: str = "Siti",
        username: str | None = None,
        language_code: str | None = "id",
        last_name: str | None = None,
    ) -> FakeUser:
        user = FakeUser(self, user_id, first_name, username, language_code, last_name)
        self.users[user_id] = user
        self.chats[user_id] = FakeChat(
            self,
            user_id,
            "private",
            first_name=first_name,
            last_name=last_name,
            username=username,
        )
        return user

    def group(
        self,
        chat_id: int = -1001234567890,
        title: str = "Meja Aduan",
        is_forum: bool = False,
        admins: Iterable[int] = (),
        username: str | None = None,
    ) -> FakeChat:
        chat = FakeChat(
            self,
            chat_id,
            "supergroup",
            title=title,
            is_forum=is_forum,
            admins=admins,
            username=username,
        )
        self.chats[chat_id] = chat
        return chat

    def chat(self, chat: FakeChat | FakeUser | int) -> FakeChat:
        chat_id = chat if isinstance(chat, int) else chat.id
        if chat_id not in self.chats:
            raise AssertionError(f"unknown chat {chat_id}; known: {sorted(self.chats)}")
        return self.chats[chat_id]

    def add_topic(
        self, chat: FakeChat | int, name: str, icon_color: int = DEFAULT_ICON_COLOR
    ) -> int:
        """Create a forum topic as if a human admin did it; returns its message_thread_id."""
        return self._create_topic(self.chat(chat), name, icon_color, self.bot_user)

    def delete_topic(self, chat_id: FakeChat | int, thread_id: int) -> None:
        topic = self.chat(chat_id).topic(thread_id)
        if topic is None:
            raise AssertionError(f"no topic {thread_id} in chat {chat_id}")
        topic.deleted = True

    def _create_topic(self, chat: FakeChat, name: str, icon_color: int, creator: JSON) -> int:
        # Like Telegram: the thread id is the id of the "topic created" service message.
        thread_id = chat.next_message_id()
        chat.topics[thread_id] = Topic(thread_id, name, icon_color)
        chat.messages[thread_id] = {
            "message_id": thread_id,
            "date": int(time.time()),
            "chat": chat.api(),
            "from": creator,
            "message_thread_id": thread_id,
            "is_topic_message": True,
            "forum_topic_created": {"name": name, "icon_color": icon_color},
        }
        return thread_id

    # -- files -------------------------------------------------------------------------------

    def register_file(
        self, data: bytes, folder: str, suffix: str, mime_type: str | None = None
    ) -> StoredFile:
        number = next(self._file_counter)
        stored = StoredFile(
            file_id=f"AgACAgUAAxkBAAI{number:06d}{folder[:3].upper()}FakeFileId",
            file_unique_id=f"AQAD{number:06d}X",
            data=bytes(data),
            file_path=f"{folder}/file_{number}{suffix}",
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def register_photo(self, data: bytes) -> list[JSON]:
        """Several PhotoSize entries like Telegram (thumbnails first, largest last)."""
        width, height = jpeg_size(data) or (1280, 960)
        sizes: list[JSON] = []
        for limit in (90, 320, 800, 1280):
            scale = min(1.0, limit / max(width, height))
            stored = self.register_file(data, "photos", ".jpg", "image/jpeg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": stored.file_size,
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                }
            )
            if scale == 1.0:
                break
        return sizes

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].data

    # -- inbound updates ---------------------------------------------------------------------

    def push_update(self, payload: JSON) -> JSON:
        """Queue a raw update (update_id assigned here) and wake the bot's long poll."""
        update: JSON = {"update_id": next(self._update_ids), **payload}
        self._queue.append(_QueuedUpdate(update))
        self._notify()
        return update

    def redeliver(self, update: JSON) -> JSON:
        """Deliver an already delivered update again, with the SAME update_id."""
        self._queue.append(_QueuedUpdate(json.loads(json.dumps(update)), forced=True))
        self._notify()
        return update

    @property
    def pending_updates(self) -> list[JSON]:
        return [queued.update for queued in self._queue]

    def inbound_message(
        self,
        chat: FakeChat,
        sender: FakeUser,
        content: JSON,
        *,
        reply_to: MessageRef | None = None,
        thread_id: int | None = None,
    ) -> JSON:
        message_id = chat.next_message_id()
        message: JSON = {
            "message_id": message_id,
            "from": sender.api(),
            "chat": chat.api(),
            "date": int(time.time()),
        }
        replied: JSON | None = None
        if reply_to is not None:
            replied = self.resolve_message(reply_to, chat.id)
            if thread_id is None and replied.get("is_topic_message"):
                thread_id = replied.get("message_thread_id")
        if chat.is_forum and thread_id is not None:
            topic = chat.topic(thread_id)
            if topic is None or topic.deleted:
                raise AssertionError(f"chat {chat.id} has no open topic {thread_id}")
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            # Telegram quirk: a plain message in a topic "replies" to the topic's service message.
            if replied is None and thread_id in chat.messages:
                replied = chat.messages[thread_id]
        if replied is not None:
            message["reply_to_message"] = _without_reply(replied)
        message.update(content)
        chat.messages[message_id] = message
        return self.push_update({"message": message})

    def resolve_message(
        self,
        message: MessageRef,
        chat: FakeChat | int | None = None,
        *,
        default_chat: int | None = None,
    ) -> JSON:
        """The message as the chat currently shows it (edits applied)."""
        if isinstance(message, dict):
            inner = message.get("message") or message.get("edited_message") or message
            if "callback_query" in message:
                inner = message["callback_query"]["message"]
            chat_id, message_id = int(inner["chat"]["id"]), int(inner["message_id"])
        elif not isinstance(message, int):
            chat_id, message_id = int(message.chat_id), int(message.message_id)
        else:
            if chat is None and default_chat is None:
                raise AssertionError("a bare message_id needs the chat as well")
            target = chat if chat is not None else default_chat
            assert target is not None
            chat_id = target.id if isinstance(target, FakeChat) else int(target)
            message_id = int(message)
        known = self.chat(chat_id)
        if message_id in known.deleted:
            raise AssertionError(f"message {message_id} in chat {chat_id} was deleted")
        if message_id not in known.messages:
            raise AssertionError(f"no message {message_id} in chat {chat_id}")
        return known.messages[message_id]

    def callback_update(
        self,
        user: FakeUser,
        message: MessageRef,
        callback_data: str,
        chat: FakeChat | int | None = None,
    ) -> JSON:
        current = self.resolve_message(message, chat, default_chat=user.id)
        query_id = str(next(self._callback_ids))
        self._pending_callbacks.add(query_id)
        query: JSON = {
            "id": query_id,
            "from": user.api(),
            "message": json.loads(json.dumps(current)),
            "chat_instance": f"-{abs(current['chat']['id']) * 7 + 13}",
            "data": callback_data,
        }
        return self.push_update({"callback_query": query})

    # -- HTTP layer --------------------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
        params: JSON = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            elif content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        files[name] = UploadedFile(
                            name, value.filename, value.content_type, value.file.read()
                        )
                    else:
                        params[name] = value
        for name in JSON_PARAMS:
            raw = params.get(name)
            if isinstance(raw, str | bytes):
                try:
                    params[name] = json.loads(raw)
                except ValueError:
                    raise bad_request(f"can't parse {name} JSON object") from None
        return params, files

    async def _handle_api(self, request: web.Request) -> web.Response:
        method_name = request.match_info["method"]
        handler = self._methods.get(method_name.lower())
        canonical = self._canonical.get(method_name.lower(), method_name)
        is_poll = canonical == "getUpdates"
        if not is_poll:
            self._in_flight += 1
            self._last_activity = time.monotonic()
        call = Call(canonical, {}, time.monotonic())
        try:
            params, files = await self._read_params(request)
            call.params = params
            for name, upload in files.items():
                call.params.setdefault(name, f"<upload {upload.filename} {len(upload.data)} bytes>")
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found")
            self._check_faults(canonical, params)
            if is_poll and self.webhook_url is not None:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if is_poll:
                result = await self._get_updates(params, request)
            else:
                result = await handler(params, files)
                delay = self._slow.get(canonical)
                if delay:
                    # Done on the server, answered late: a client killed meanwhile
                    # never learns that its message went out.
                    await asyncio.sleep(delay)
        except ApiError as error:
            call.status, call.description = error.status, error.description
            return _json_response(error.envelope(), error.status)
        finally:
            if is_poll:
                self.get_updates_calls += 1
            else:
                self._in_flight -= 1
                self._last_activity = time.monotonic()
            self.calls.append(call)
            self._notify()
            self._notify_chat(call.params.get("chat_id"))
        return _json_response({"ok": True, "result": result}, 200)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json_response(ApiError(401, "Unauthorized").envelope(), 401)
        stored = self._files_by_path.get(request.match_info["path"])
        self.downloads.append(request.match_info["path"])
        if stored is None:
            return _json_response(ApiError(404, "Not Found").envelope(), 404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    def _check_faults(self, method: str, params: JSON) -> None:
        chat_id = self._maybe_chat_id(params)
        for rule in self._fail_rules:
            if rule.times <= 0:
                continue
            if rule.method is not None and rule.method.lower() != method.lower():
                continue
            if rule.chat_id is not None and rule.chat_id != chat_id:
                continue
            rule.times -= 1
            self._fail_rules = [r for r in self._fail_rules if r.times > 0]
            raise ApiError(
                rule.status,
                rule.description or _status_text(rule.status, rule.retry_after),
                rule.retry_after,
            )
        if self.enforce_limits and method in SEND_METHODS and chat_id is not None:
            self._enforce_limits(chat_id)
        if method in CHAT_WRITE_METHODS and chat_id in self._blocked:
            if chat_id > 0:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")

    def _enforce_limits(self, chat_id: int) -> None:
        now = self.send_clock()
        recent = [t for t, _ in self._send_events if now - t < 1.0]
        if len(recent) >= 30:
            raise ApiError(429, _status_text(429, 1), 1)
        times = self._send_times(chat_id)
        if chat_id < 0:
            window = [t for t in times if now - t < 60.0]
            if len(window) >= 20:
                wait = max(1, int(60.0 - (now - window[0])) + 1)
                raise ApiError(429, _status_text(429, wait), wait)
        elif len([t for t in times if now - t < 1.0]) >= 3:
            raise ApiError(429, _status_text(429, 1), 1)

    def _maybe_chat_id(self, params: JSON) -> int | None:
        value = params.get("chat_id")
        if value is None:
            return None
        with contextlib.suppress(ApiError):
            return self._chat_for(value).id
        with contextlib.suppress(ValueError, TypeError):
            return int(value)
        return None

    def _chat_for(self, value: Any) -> FakeChat:
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, str) and value.startswith("@"):
            for chat in self.chats.values():
                if chat.username and chat.username.lower() == value[1:].lower():
                    return chat
            raise bad_request("chat not found")
        chat_id = _to_int(value, "chat_id")
        if chat_id not in self.chats:
            raise bad_request("chat not found")
        return self.chats[chat_id]

    # -- fault injection ---------------------------------------------------------------------

    def fail_next(
        self,
        method: str | None = "sendMessage",
        status: int = 429,
        retry_after: int | None = 2,
        chat_id: int | None = None,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Make the next `times` matching calls fail (method=None matches every method)."""
        self._fail_rules.append(
            FailRule(
                method, status, retry_after if status == 429 else None, chat_id, times, description
            )
        )

    def heal(self) -> None:
        """Forget every planned failure and slowness."""
        self._fail_rules.clear()
        self._slow.clear()

    def respond_slowly(self, method: str, seconds: float) -> None:
        """Answer ``method`` only ``seconds`` after doing it (0: at once again)."""
        self._slow[method] = seconds

    @property
    def calls_in_flight(self) -> int:
        """Requests the server has taken and not yet answered (getUpdates excluded)."""
        return self._in_flight

    def block(self, chat_id: FakeChat | FakeUser | int) -> None:
        self._blocked.add(chat_id if isinstance(chat_id, int) else chat_id.id)

    def unblock(self, chat_id: FakeChat | FakeUser | int) -> None:
        self._blocked.discard(chat_id if isinstance(chat_id, int) else chat_id.id)

    # -- building bot messages ---------------------------------------------------------------

    def _validate_markup(self, params: JSON) -> JSON | None:
        markup = params.get("reply_markup")
        if markup in (None, "", {}):
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request('can\'t parse inline keyboard button: field "inline_keyboard"')
            for button in (button for row in rows for button in row):
                if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                    raise bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    data = str(button["callback_data"]).encode()
                    if not 1 <= len(data) <= CALLBACK_DATA_LIMIT:
                        raise bad_request("BUTTON_DATA_INVALID")
            if not any(rows):
                return None
        return dict(markup)

    @staticmethod
    def _inline_only(markup: JSON | None) -> JSON | None:
        """Messages echo only inline keyboards; reply keyboards live on the client."""
        if markup and "inline_keyboard" in markup:
            return markup
        return None

    def _text_param(self, params: JSON, name: str = "text") -> str:
        raw = params.get(name)
        text = "" if raw is None else str(raw)
        plain = parse_formatted(text, params.get("parse_mode"))
        if not plain.strip():
            raise bad_request("message text is empty")
        if utf16_len(plain) > TEXT_LIMIT:
            raise bad_request("message is too long")
        return plain

    def _caption_param(self, params: JSON, name: str = "caption") -> str | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return None
        plain = parse_formatted(str(raw), params.get("parse_mode"))
        if utf16_len(plain) > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
        return plain or None

    def _thread_and_reply(self, chat: FakeChat, params: JSON) -> tuple[int | None, JSON | None]:
        thread_id = (
            _to_int(params["message_thread_id"], "message_thread_id")
            if params.get("message_thread_id") not in (None, "")
            else None
        )
        reply_id: int | None = None
        allow_missing = _to_bool(params.get("allow_sending_without_reply", False))
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict) and reply_parameters.get("message_id") is not None:
            reply_id = _to_int(reply_parameters["message_id"], "message_id")
            allow_missing = allow_missing or _to_bool(
                reply_parameters.get("allow_sending_without_reply", False)
            )
        elif params.get("reply_to_message_id") not in (None, ""):
            reply_id = _to_int(params["reply_to_message_id"], "reply_to_message_id")
        replied: JSON | None = None
        if reply_id is not None:
            if reply_id in chat.messages and reply_id not in chat.deleted:
                replied = chat.messages[reply_id]
            elif not allow_missing:
                raise bad_request("message to be replied not found")
        if thread_id is None and replied is not None and replied.get("is_topic_message"):
            thread_id = replied.get("message_thread_id")
        if thread_id is not None:
            topic = chat.topic(thread_id)
            if chat.is_forum:
                if topic is None or topic.deleted:
                    raise bad_request("message thread not found")
                if replied is None:
                    replied = chat.messages.get(thread_id)
            elif thread_id not in chat.messages:
                raise bad_request("message thread not found")
        return thread_id, replied

    def _new_bot_message(
        self,
        method: str,
        chat: FakeChat,
        params: JSON,
        content: JSON,
        *,
        markup: JSON | None = None,
        count_send: bool = True,
        thread_and_reply: tuple[int | None, JSON | None] | None = None,
    ) -> SentMessage:
        thread_id, replied = thread_and_reply or self._thread_and_reply(chat, params)
        message_id = chat.next_message_id()
        message: JSON = {
            "message_id": message_id,
            "from": dict(self.bot_user),
            "chat": chat.api(),
            "date": int(time.time()),
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
        if replied is not None:
            message["reply_to_message"] = _without_reply(replied)
        message.update(content)
        inline = self._inline_only(markup)
        if inline is not None:
            message["reply_markup"] = inline
        chat.messages[message_id] = message
        now = self.send_clock()
        sent = SentMessage(
            method=method,
            chat_id=chat.id,
            message_id=message_id,
            thread_id=thread_id,
            text=content.get("text", content.get("caption")),
            reply_markup=markup,
            photo=content.get("photo"),
            location=content.get("location"),
            time=now,
            params=params,
            reply_to_message_id=(
                int(replied["message_id"])
                if replied is not None and "forum_topic_created" not in replied
                else None
            ),
            document=content.get("document"),
            media_group_id=content.get("media_group_id"),
            message=message,
        )
        self.sent.append(sent)
        self._sent_by_chat[sent.chat_id].append(sent)
        for size in sent.photo or ():
            self._photo_sizes_by_file.setdefault(str(size["file_id"]), list(sent.photo))
        if count_send:
            self._send_events.append((now, chat.id))
        return sent

    def _file_from(self, value: Any, upload: UploadedFile | None, kind: str) -> StoredFile:
        """Resolve a file parameter: an upload, a known file_id, or an HTTP URL."""
        if upload is not None:
            suffix = "." + upload.filename.rsplit(".", 1)[-1] if "." in upload.filename else ""
            folder = {"photo": "photos", "document": "documents"}.get(kind, kind)
            return self.register_file(upload.data, folder, suffix, upload.content_type)
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self.register_file(TINY_JPEG, "photos", ".jpg", "image/jpeg")
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _upload_for(
        self, value: Any, files: dict[str, UploadedFile], name: str
    ) -> UploadedFile | None:
        if isinstance(value, str) and value.startswith("attach://"):
            attached = files.get(value[len("attach://") :])
            if attached is None:
                raise bad_request(f"file {value} not found in the request")
            return attached
        return files.get(name)

    def _photo_sizes(self, stored: StoredFile) -> list[JSON]:
        if stored.file_id in self._photo_sizes_by_file:
            return list(self._photo_sizes_by_file[stored.file_id])
        for chat in self.chats.values():
            for message in chat.messages.values():
                sizes = message.get("photo") or []
                if any(size["file_id"] == stored.file_id for size in sizes):
                    return list(sizes)
        return self.register_photo(stored.data)

    # -- Bot API methods: updates and bot ----------------------------------------------------

    async def _get_me(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSON, request: web.Request) -> list[JSON]:
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # a newer poll terminates an older one, as on the real server
        offset = _to_int(params.get("offset") or 0, "offset")
        limit = max(1, min(100, _to_int(params.get("limit") or 100, "limit")))
        timeout = max(0.0, _to_float(params.get("timeout") or 0, "timeout"))
        deadline = time.monotonic() + timeout
        while True:
            if request.transport is None or request.transport.is_closing():
                # The client gave up (e.g. PTB stopped polling): hand out nothing, lose nothing.
                return []
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            self._confirm(offset)
            ready = [q for q in self._queue if q.forced or q.update["update_id"] >= offset]
            if offset < 0:
                ready = self._queue[offset:]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0 or self._closing:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event().wait(), remaining)
        batch = ready[:limit]
        for queued in batch:
            queued.forced = False
        updates = [json.loads(json.dumps(queued.update)) for queued in batch]
        self.delivered_updates.extend(updates)
        return updates

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            # A negative offset keeps only the last -offset updates, forgetting the rest.
            self._queue = self._queue[offset:]
            return
        self._queue = [q for q in self._queue if q.forced or q.update["update_id"] >= offset]

    async def _delete_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        if _to_bool(params.get("drop_pending_updates", False)):
            self._queue.clear()
        self.webhook_url = None
        self.webhook_secret = None
        return True

    async def _set_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params, files)
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if _to_bool(params.get("drop_pending_updates", False)):
            self._queue.clear()
        self.webhook_url = url
        self.webhook_secret = None if secret is None else str(secret)
        self.webhook_max_connections = max(1, min(100, int(params.get("max_connections", 40))))
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._pump_webhook())
        self._notify()
        return True

    async def _pump_webhook(self) -> None:
        """Like Telegram: POST updates until the bot answers 2xx, up to ``max_connections``
        at once; one chat's updates one after another, in order."""
        posting: set[int] = set()
        async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as tasks:
            while not self._closing and self.webhook_url is not None:
                changed = self._event()
                chats = {_update_chat(q.update) for q in self._queue if id(q) in posting}
                for queued in list(self._queue):
                    if len(posting) >= self.webhook_max_connections:
                        break
                    chat = _update_chat(queued.update)
                    if chat not in chats:
                        posting.add(id(queued))
                        tasks.create_task(self._post_update(session, queued, posting))
                    chats.add(chat)  # the chat's later updates wait their turn
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), 1.0)

    async def _post_update(
        self, session: aiohttp.ClientSession, queued: _QueuedUpdate, posting: set[int]
    ) -> None:
        headers = {"Content-Type": "application/json"}
        if self.webhook_secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
        status, body = 0, b""
        backend = -1
        try:
            assert self.webhook_url is not None
            url = self.webhook_url
            if self.webhook_backends:
                backend = self._webhook_turn % len(self.webhook_backends)
                self._webhook_turn += 1
                url = self.webhook_backends[backend] + urlsplit(url).path
            async with session.post(
                url,
                data=json.dumps(queued.update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                status = response.status
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError, AssertionError):
            status = 0
        self.webhook_posts.append((queued.update, status))
        if 200 <= status < 300:
            if backend >= 0:
                self.webhook_routes[_update_chat(queued.update)].append(backend)
            await self._webhook_reply(body)
            self._queue = [q for q in self._queue if q is not queued]
            self.delivered_updates.append(json.loads(json.dumps(queued.update)))
        else:
            await asyncio.sleep(0.2)  # Telegram retries later
        posting.discard(id(queued))
        self._notify()

    async def _webhook_reply(self, body: bytes) -> None:
        """Like Telegram: a JSON body with ``method`` is a Bot API call made in the answer
        to the webhook (its result never reaches the bot)."""
        try:
            reply = json.loads(body) if body else None
        except ValueError:
            return
        if not isinstance(reply, dict) or not isinstance(reply.get("method"), str):
            return
        params = {key: value for key, value in reply.items() if key != "method"}
        name = str(reply["method"])
        handler = self._methods.get(name.lower())
        call = Call(self._canonical.get(name.lower(), name), params, time.monotonic())
        call.in_webhook_reply = True
        try:
            if handler is None:
                raise ApiError(404, "Not Found")
            await handler(params, {})
        except ApiError as error:
            call.status, call.description = error.status, error.description
        self.calls.append(call)
        self._notify()
        self._notify_chat(params.get("chat_id"))

    async def _get_webhook_info(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    @staticmethod
    def _commands_key(params: JSON) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    async def _set_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            name = str(command.get("command", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("command description must be non-empty")
        self.commands[self._commands_key(params)] = list(commands)
        return True

    async def _get_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        return list(self.commands.get(self._commands_key(params), []))

    async def _delete_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _set_my_description(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        return self._set_description(self.descriptions, params, "description", 512)

    async def _set_my_short_description(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        return self._set_description(self.short_descriptions, params, "short_description", 120)

    @staticmethod
    def _set_description(store: dict[str, str], params: JSON, name: str, limit: int) -> bool:
        text = str(params.get(name) or "")
        if utf16_len(text) > limit:
            raise bad_request(f"{name.upper()}_TOO_LONG")
        language = str(params.get("language_code") or "")
        if text:
            store[language] = text
        else:
            store.pop(language, None)
        return True

    async def _get_my_description(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return {"description": self.descriptions.get(str(params.get("language_code") or ""), "")}

    async def _get_my_short_description(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        language = str(params.get("language_code") or "")
        return {"short_description": self.short_descriptions.get(language, "")}

    async def _accept(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        return True

    async def _send_chat_action(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self._chat_for(params.get("chat_id"))
        return True

    # -- Bot API methods: sending ------------------------------------------------------------

    async def _send_message(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._chat_for(params.get("chat_id"))
        text = self._text_param(params)
        markup = self._validate_markup(params)
        content: JSON = {"text": text}
        return self._new_bot_message("sendMessage", chat, params, content, markup=markup).message

    async def _send_photo(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._chat_for(params.get("chat_id"))
        caption = self._caption_param(params)
        markup = self._validate_markup(params)
        sizes = self._photo_param(
            params.get("photo"), self._upload_for(params.get("photo"), files, "photo")
        )
        content: JSON = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        return self._new_bot_message("sendPhoto", chat, params, content, markup=markup).message

    def _photo_param(self, value: Any, upload: UploadedFile | None) -> list[JSON]:
        if upload is not None:
            return self.register_photo(upload.data)
        if value in (None, ""):
            raise bad_request("there is no photo in the request")
        stored = self._file_from(value, None, "photo")
        if (
            isinstance(value, str)
            and value in self.files
            and not stored.file_path.startswith("photos/")
        ):
            # Like Telegram: a file id keeps its type; a document's id is no photo.
            kind = stored.file_path.split("/", 1)[0].rstrip("s").capitalize()
            raise bad_request(f"can't use file of type {kind} as Photo")
        return self._photo_sizes(stored)

    async def _send_document(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._chat_for(params.get("chat_id"))
        caption = self._caption_param(params)
        markup = self._validate_markup(params)
        value = params.get("document")
        upload = self._upload_for(value, files, "document")
        if upload is None and value in (None, ""):
            raise bad_request("there is no document in the request")
        content: JSON = {"document": self._document_json(value, upload)}
        if caption is not None:
            content["caption"] = caption
        return self._new_bot_message("sendDocument", chat, params, content, markup=markup).message

    def _document_json(self, value: Any, upload: UploadedFile | None) -> JSON:
        stored = self._file_from(value, upload, "document")
        document: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_name": upload.filename if upload else stored.file_path.rsplit("/", 1)[-1],
        }
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        return document

    async def _send_location(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._chat_for(params.get("chat_id"))
        latitude = _to_float(params.get("latitude"), "latitude")
        longitude = _to_float(params.get("longitude"), "longitude")
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise bad_request("wrong coordinates specified")
        markup = self._validate_markup(params)
        content: JSON = {"location": {"latitude": latitude, "longitude": longitude}}
        return self._new_bot_message("sendLocation", chat, params, content, markup=markup).message

    async def _send_media_group(self, params: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        chat = self._chat_for(params.get("chat_id"))
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media in the media group: must be 2-10 items")
        contents: list[JSON] = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in (
                "photo",
                "document",
                "video",
                "audio",
            ):
                raise bad_request("can't parse InputMedia: unsupported media type")
            upload = self._upload_for(item.get("media"), files, "")
            caption = self._caption_param(item)
            content: JSON
            if item["type"] == "photo":
                content = {"photo": self._photo_param(item.get("media"), upload)}
            else:
                content = {"document": self._document_json(item.get("media"), upload)}
            if caption is not None:
                content["caption"] = caption
            contents.append(content)
        placement = self._thread_and_reply(chat, params)
        group_id = str(next(self._media_group_ids))
        messages = [
            self._new_bot_message(
                "sendMediaGroup",
                chat,
                params,
                {**content, "media_group_id": group_id},
                count_send=False,
                thread_and_reply=placement,
            ).message
            for content in contents
        ]
        # Every item of an album is a message of its own for Telegram's limits.
        now = self.send_clock()
        self._send_events.extend((now, chat.id) for _ in messages)
        return messages

    async def _get_file(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        stored = self.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.file_size > 20 * 1024 * 1024:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }

    # -- Bot API methods: editing and callbacks ----------------------------------------------

    def _editable(self, params: JSON) -> tuple[FakeChat, JSON, SentMessage | None]:
        if params.get("inline_message_id"):
            raise bad_request("inline messages are not supported by the fake")
        chat = self._chat_for(params.get("chat_id"))
        message_id = _to_int(params.get("message_id"), "message_id")
        message = chat.messages.get(message_id)
        if message is None or message_id in chat.deleted:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise bad_request("message can't be edited")
        sent = next(
            (s for s in reversed(self._sent_by_chat[chat.id]) if s.message_id == message_id),
            None,
        )
        return chat, message, sent

    def _apply_edit(
        self,
        method: str,
        chat: FakeChat,
        message: JSON,
        sent: SentMessage | None,
        changes: JSON,
        markup: JSON | None,
        params: JSON,
    ) -> JSON:
        inline = self._inline_only(markup)
        unchanged = all(message.get(key) == value for key, value in changes.items())
        if unchanged and message.get("reply_markup") == inline:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        if inline is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = inline
        message["edit_date"] = int(time.time())
        if sent is not None:
            sent.text = message.get("text", message.get("caption"))
            sent.reply_markup = inline
            sent.edited = True
        self.edits.append(
            Edit(
                method,
                chat.id,
                int(message["message_id"]),
                message.get("text", message.get("caption")),
                inline,
                time.monotonic(),
                params,
            )
        )
        return message

    async def _edit_message_text(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat, message, sent = self._editable(params)
        text = self._text_param(params)
        markup = self._validate_markup(params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        return self._apply_edit(
            "editMessageText", chat, message, sent, {"text": text}, markup, params
        )

    async def _edit_message_caption(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat, message, sent = self._editable(params)
        caption = self._caption_param(params)
        markup = self._validate_markup(params)
        if not any(key in message for key in ("photo", "document", "video", "audio")):
            raise bad_request("there is no caption in the message to edit")
        return self._apply_edit(
            "editMessageCaption", chat, message, sent, {"caption": caption}, markup, params
        )

    async def _edit_message_reply_markup(
        self, params: JSON, files: dict[str, UploadedFile]
    ) -> JSON:
        chat, message, sent = self._editable(params)
        markup = self._validate_markup(params)
        return self._apply_edit("editMessageReplyMarkup", chat, message, sent, {}, markup, params)

    async def _delete_message(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        chat = self._chat_for(params.get("chat_id"))
        message_id = _to_int(params.get("message_id"), "message_id")
        if message_id not in chat.messages or message_id in chat.deleted:
            raise bad_request("message to delete not found")
        chat.deleted.add(message_id)
        self.deleted_messages.append((chat.id, message_id))
        for sent in self._sent_by_chat[chat.id]:
            if sent.message_id == message_id:
                sent.deleted = True
        return True

    async def _answer_callback_query(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._pending_callbacks:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get("text")
        if text is not None and len(str(text)) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        self._pending_callbacks.discard(query_id)
        self.callback_answers.append(
            {
                "callback_query_id": query_id,
                "text": text,
                "show_alert": _to_bool(params.get("show_alert", False)),
                "url": params.get("url"),
                "cache_time": params.get("cache_time"),
                "time": time.monotonic(),
            }
        )
        return True

    # -- Bot API methods: copy / forward -----------------------------------------------------

    def _source_message(self, params: JSON, missing: str) -> JSON:
        source_chat = self._chat_for(params.get("from_chat_id"))
        message_id = _to_int(params.get("message_id"), "message_id")
        message = source_chat.messages.get(message_id)
        if message is None or message_id in source_chat.deleted:
            raise bad_request(missing)
        return message

    async def _copy_message(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._chat_for(params.get("chat_id"))
        source = self._source_message(params, "message to copy not found")
        if "forum_topic_created" in source:
            raise bad_request("message can't be copied")
        content: JSON = {
            key: json.loads(json.dumps(source[key]))
            for key in (
                "text", "entities", "photo", "caption", "caption_entities", "location",
                "document", "sticker", "contact", "voice", "video", "audio",
            )
            if key in source
        }  # fmt: skip
        if "caption" in params:
            content.pop("caption_entities", None)
            caption = self._caption_param(params)
            if caption is None:
                content.pop("caption", None)
            else:
                content["caption"] = caption
        markup = self._validate_markup(params)
        sent = self._new_bot_message("copyMessage", chat, params, content, markup=markup)
        return {"message_id": sent.message_id}

    async def _forward_message(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._chat_for(params.get("chat_id"))
        source = self._source_message(params, "message to forward not found")
        source_chat = self._chat_for(params.get("from_chat_id"))
        content = {
            key: json.loads(json.dumps(value))
            for key, value in source.items()
            if key not in ("message_id", "from", "chat", "date", "reply_to_message",
                           "message_thread_id", "is_topic_message", "reply_markup", "edit_date",
                           "forward_origin", "media_group_id")
        }  # fmt: skip
        origin: JSON
        if source_chat.type == "private" or source.get("from"):
            origin = {"type": "user", "date": source["date"], "sender_user": source["from"]}
        else:
            origin = {"type": "chat", "date": source["date"], "sender_chat": source_chat.api()}
        content["forward_origin"] = source.get("forward_origin", origin)
        return self._new_bot_message("forwardMessage", chat, params, content).message

    # -- Bot API methods: chats and topics ---------------------------------------------------

    async def _get_chat(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._chat_for(params.get("chat_id"))
        info = chat.api()
        # Fields ChatFullInfo requires since Bot API 7.3 / 9.0.
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return info

    def _user_json(self, user_id: int) -> JSON:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        user = self.users.get(user_id)
        if user is not None:
            return user.api()
        return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}

    def _member_json(self, chat: FakeChat, user_id: int) -> JSON:
        user = self._user_json(user_id)
        if chat.type == "private":
            status = "member"
        elif user_id == self.bot_id:
            status = chat.bot_status
        elif user_id in chat.admins:
            status = "administrator"
        elif user_id in self.users:
            status = "member"
        else:
            status = "left"
        if status != "administrator":
            return {"status": status, "user": user}
        rights = (
            "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
            "can_restrict_members", "can_promote_members", "can_change_info",
            "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories",
            "can_pin_messages", "can_manage_topics",
        )  # fmt: skip
        member: JSON = {"status": status, "user": user, "can_be_edited": False}
        member.update({"is_anonymous": False, **dict.fromkeys(rights, True)})
        if user_id == self.bot_id:
            member.update(dict.fromkeys(chat.bot_lacks, False))
        return member

    async def _get_chat_member(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._chat_for(params.get("chat_id"))
        return self._member_json(chat, _to_int(params.get("user_id"), "user_id"))

    async def _get_chat_administrators(
        self, params: JSON, files: dict[str, UploadedFile]
    ) -> list[JSON]:
        chat = self._chat_for(params.get("chat_id"))
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        members = [*chat.admins, *([self.bot_id] if chat.bot_status == "administrator" else [])]
        return [self._member_json(chat, user_id) for user_id in members]

    def _forum(self, params: JSON) -> FakeChat:
        chat = self._chat_for(params.get("chat_id"))
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        return chat

    def _existing_topic(self, params: JSON) -> tuple[FakeChat, Topic]:
        chat = self._forum(params)
        topic = chat.topic(_to_int(params.get("message_thread_id"), "message_thread_id"))
        if topic is None or topic.deleted:
            raise bad_request("message thread not found")
        return chat, topic

    async def _create_forum_topic(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat = self._forum(params)
        if chat.bot_status != "administrator" or "can_manage_topics" in chat.bot_lacks:
            raise bad_request("not enough rights to create a topic")
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        icon_color = _to_int(params.get("icon_color") or DEFAULT_ICON_COLOR, "icon_color")
        thread_id = self._create_topic(chat, name, icon_color, dict(self.bot_user))
        result: JSON = {"message_thread_id": thread_id, "name": name, "icon_color": icon_color}
        if params.get("icon_custom_emoji_id"):
            result["icon_custom_emoji_id"] = params["icon_custom_emoji_id"]
        return result

    async def _edit_forum_topic(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        _, topic = self._existing_topic(params)
        if params.get("name"):
            topic.name = str(params["name"])
        return True

    async def _close_forum_topic(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        _, topic = self._existing_topic(params)
        if topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    async def _reopen_forum_topic(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        _, topic = self._existing_topic(params)
        if not topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    async def _delete_forum_topic(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        _, topic = self._existing_topic(params)
        topic.deleted = True
        return True

    def _method_table(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._accept,  # dispatched to _get_updates, which needs the request
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._set_my_description,
            "getMyDescription": self._get_my_description,
            "setMyShortDescription": self._set_my_short_description,
            "getMyShortDescription": self._get_my_short_description,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendMediaGroup": self._send_media_group,
            "sendLocation": self._send_location,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "createForumTopic": self._create_forum_topic,
            "editForumTopic": self._edit_forum_topic,
            "closeForumTopic": self._close_forum_topic,
            "reopenForumTopic": self._reopen_forum_topic,
            "deleteForumTopic": self._delete_forum_topic,
        }
        for name in ("setChatMenuButton", "pinChatMessage", "unpinChatMessage", "setMyName"):
            table[name] = self._accept
        # Telegram method names are case-insensitive.
        self._canonical = {name.lower(): name for name in table}
        return {name.lower(): handler for name, handler in table.items()}

    # -- observing the bot -------------------------------------------------------------------

    def messages_to(
        self, chat_id: FakeChat | FakeUser | int, thread_id: int | None = None
    ) -> list[SentMessage]:
        """The bot's messages in that chat, in order, with edits applied and deletions dropped."""
        target = chat_id if isinstance(chat_id, int) else chat_id.id
        return [
            sent
            for sent in self._sent_by_chat.get(target, ())
            if not sent.deleted and (thread_id is None or sent.thread_id == thread_id)
        ]

    def texts_to(self, chat_id: FakeChat | FakeUser | int) -> list[str]:
        return [sent.text for sent in self.messages_to(chat_id) if sent.text is not None]

    def all_texts_except(self, chat_ids: Iterable[FakeChat | FakeUser | int]) -> list[str]:
        excluded = {c if isinstance(c, int) else c.id for c in chat_ids}
        return [
            sent.text
            for sent in self.sent
            if sent.chat_id not in excluded and not sent.deleted and sent.text is not None
        ]

    def describe_sent(self, chat_id: int | None = None, last: int = 20) -> str:
        rows = [s.summary() for s in self.sent if chat_id is None or s.chat_id == chat_id]
        failed = [f"{c.method} {c.status} {c.description}" for c in self.calls if not c.ok]
        text = "\n  ".join(rows[-last:]) or "(nothing)"
        if failed:
            text += "\n failed calls:\n  " + "\n  ".join(failed[-10:])
        return text

    async def wait_for(
        self,
        predicate: Callable[[], Any] | Callable[[FakeTelegram], Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - the test-facing API takes a timeout by design
    ) -> Any:
        """Wait until predicate() (or predicate(fake)) is truthy; returns its value."""
        takes_fake = _arity(predicate) >= 1
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self) if takes_fake else predicate()  # type: ignore[call-arg]
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"condition not met within {timeout}s; bot sent:\n  {self.describe_sent()}"
                )
            # Re-check periodically too: predicates may depend on state outside the fake.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event().wait(), min(remaining, 0.05))

    async def wait_for_chat(
        self,
        chat_id: FakeChat | FakeUser | int,
        predicate: Callable[[], Any],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Any:
        """Like ``wait_for`` for a predicate on one chat's messages, woken only by calls
        to that chat: cheap enough for hundreds of chats waiting at once (benchmarks)."""
        target = chat_id if isinstance(chat_id, int) else chat_id.id
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            event = self._chat_events.setdefault(target, asyncio.Event())
            remaining = deadline - time.monotonic()
            try:
                async with asyncio.timeout(max(0.0, remaining)):
                    await event.wait()
            except TimeoutError:
                raise AssertionError(
                    f"condition not met within {timeout}s; bot sent to {target}:\n  "
                    f"{self.describe_sent(target)}"
                ) from None
        return value

    async def next_message_to(
        self,
        chat_id: FakeChat | FakeUser | int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> SentMessage:
        """The next message to that chat after the one this method returned last time."""
        target = chat_id if isinstance(chat_id, int) else chat_id.id
        cursor = self._cursors.get(target, 0)

        def fresh() -> SentMessage | None:
            to_chat = self._sent_by_chat.get(target, [])
            return to_chat[cursor] if len(to_chat) > cursor else None

        try:
            message: SentMessage = await self.wait_for(fresh, timeout)
        except AssertionError:
            raise AssertionError(
                f"no new message to chat {target} within {timeout}s (already consumed {cursor}); "
                f"bot sent:\n  {self.describe_sent()}"
            ) from None
        self._cursors[target] = cursor + 1
        return message

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Return once the bot made no calls other than getUpdates for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            idle_for = now - self._last_activity
            if self._in_flight == 0 and idle_for >= quiet:
                return
            if now >= deadline:
                raise AssertionError(
                    f"bot did not become idle within {timeout}s; "
                    f"bot sent:\n  {self.describe_sent()}"
                )
            await asyncio.sleep(max(0.01, min(quiet - idle_for, deadline - now, 0.05)))

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    # -- rates -------------------------------------------------------------------------------

    def _send_times(self, chat_id: int | None = None) -> list[float]:
        return sorted(t for t, c in self._send_events if chat_id is None or c == chat_id)

    def max_rate(
        self, window: float = 1.0, chat_id: FakeChat | FakeUser | int | None = None
    ) -> int:
        """Most successful sends within any sliding window of `window` seconds."""
        target = chat_id if chat_id is None or isinstance(chat_id, int) else chat_id.id
        return _max_in_window(self._send_times(target), window)

    def limit_violations(
        self,
        global_per_sec: int = 30,
        private_per_sec: float = 1.0,
        private_burst: int = 3,
        group_per_min: int = 20,
    ) -> list[str]:
        """Human-readable breaches of Telegram's documented broadcast limits."""
        problems: list[str] = []
        overall = self.max_rate(1.0)
        if overall > global_per_sec:
            problems.append(f"global: {overall} messages within 1s (limit {global_per_sec}/s)")
        for chat_id in sorted({c for _, c in self._send_events}):
            times = self._send_times(chat_id)
            if chat_id > 0:
                burst = _max_in_window(times, 1.0)
                if burst > private_burst:
                    problems.append(
                        f"private chat {chat_id}: {burst} messages within 1s "
                        f"(burst limit {private_burst})"
                    )
                for window in (5.0, 10.0, 30.0, 60.0):
                    allowed = private_per_sec * window + private_burst
                    count = _max_in_window(times, window)
                    if count > allowed:
                        problems.append(
                            f"private chat {chat_id}: {count} messages within {window:g}s "
                            f"(limit {allowed:g})"
                        )
            else:
                count = _max_in_window(times, 60.0)
                if count > group_per_min:
                    problems.append(
                        f"group {chat_id}: {count} messages within 60s (limit {group_per_min}/min)"
                    )
        return problems


# --------------------------------------------------------------------------------------------
# Module helpers used by the server
# --------------------------------------------------------------------------------------------


def _update_chat(update: JSON) -> object:
    """The chat an update belongs to, for keeping one chat's updates in order."""
    for value in update.values():
        if isinstance(value, dict):
            message = value.get("message") if "data" in value else value
            chat = message.get("chat") if isinstance(message, dict) else None
            if isinstance(chat, dict):
                return chat.get("id")
            sender = value.get("from")
            if isinstance(sender, dict):
                return sender.get("id")
    return None


def _json_response(body: JSON | list[Any], status: int) -> web.Response:
    return web.json_response(
        body, status=status, dumps=lambda data: json.dumps(data, ensure_ascii=False)
    )


def _status_text(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}"
    return {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }.get(status, f"Error {status}")


def _max_in_window(times: list[float], window: float) -> int:
    best = 0
    start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _arity(func: Callable[..., Any]) -> int:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return 0
    return sum(
        1
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    )
