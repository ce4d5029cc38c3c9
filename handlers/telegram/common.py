"""What both Telegram adapters (python-telegram-bot and aiogram) share: the raw update's
inbox entry, our own ``getUpdates`` loop and webhook route, Telegram's text limits, and
the outbox sender's plan. Nothing here imports a Telegram framework: each adapter brings
the calls (``fetch`` for polling, the ``BotApiSender`` primitives for sending) and maps
its own exceptions onto the neutral ones below.

The loop fetches raw updates, stores them (``Inbox.ingest``) and only then asks for the
next offset; while the database is away it keeps asking for the same offset (Telegram
keeps updates for 24 hours). Raw JSON is stored, so an update a framework cannot parse
never stalls the loop, and order per chat and exactly-once come from the inbox, not from
the framework's dispatcher.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from conversations.core.domain import OutboxItem
from conversations.core.inbox import ChannelIntake, Inbox, InboxEntry
from conversations.core.messages import Inbound, InboundKind, Reply
from conversations.core.ports import FileStore, SendOutcome, SendResult

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
WEBHOOK_BODY_LIMIT = 1024 * 1024
CALLBACK_TEXT_LIMIT = 200
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_LIMIT = 64
# Telegram's words for a file id it will not send as a photo ("can't use file of
# type Document as Photo", "wrong file identifier/HTTP URL specified", ...).
FILE_REFUSED = re.compile(r"(?i)file|identifier|type")
# Message kinds the bot does not take, named in its answer ("a sticker cannot ...").
UNSUPPORTED_KINDS = (
    "sticker",
    "voice",
    "video",
    "video_note",
    "animation",
    "audio",
    "document",
    "poll",
    "dice",
)


# -- raw updates into the inbox ---------------------------------------------------------


def update_chat_id(update: dict[str, Any]) -> Any:
    """The chat a raw update belongs to (its lane in the inbox), or None."""
    for field in ("message", "edited_message", "channel_post", "edited_channel_post"):
        message = update.get(field)
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return message["chat"].get("id")
    query = update.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return message["chat"].get("id")
        sender = query.get("from")
        if isinstance(sender, dict):
            return sender.get("id")
    member = update.get("my_chat_member")
    if isinstance(member, dict) and isinstance(member.get("chat"), dict):
        return member["chat"].get("id")
    return None


def inbox_entry(update: Any) -> InboxEntry | None:
    """The inbox entry of a raw update; None when it carries no update id."""
    if not isinstance(update, dict):
        return None
    update_id = update.get("update_id")
    if not _is_int(update_id):
        return None
    chat = update_chat_id(update)
    return InboxEntry(
        key=f"tg:{update_id}",
        channel=CHANNEL,
        chat_key=f"{CHANNEL}:{chat}" if chat is not None else f"{CHANNEL}:?",
        payload=update,
    )


# -- embedded in another bot -------------------------------------------------------------
# Which updates a city's existing bot hands to Kanal Aduan (``bot.embed``). Kanal Aduan
# takes everything in its own chats (the complaint desk, the agencies' groups); in private
# chats its commands, every message that is not a command (the complaint dialogue) and the
# buttons pressed, except the commands and button prefixes the host keeps. Everything else
# (the host's commands, other groups) stays with the host's handlers.

# Every command the citizen dialogue and the officers' desk answer (with the aliases).
COMMANDS = frozenset(
    {
        "start", "menu", "lapor", "aduan_baru", "new", "batal", "cancel", "bahasa",
        "language", "aduansaya", "mine", "status", "bantuan", "help", "privasi", "privacy",
        "aduan", "antrian", "catatan", "laporan",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """Kanal Aduan's part of a shared bot's updates."""

    chats: frozenset[int]
    host_commands: frozenset[str] = frozenset()
    host_buttons: tuple[str, ...] = ()

    def takes(self, update: dict[str, Any]) -> bool:
        chat = update_chat_id(update)
        if chat in self.chats:
            return True
        query = update.get("callback_query")
        if isinstance(query, dict):
            message = query.get("message") or {}
            data = str(query.get("data") or "")
            private = (message.get("chat") or {}).get("type") == "private"
            return private and not data.startswith(self.host_buttons or ("\0",))
        message = update.get("message") or update.get("edited_message")
        if not isinstance(message, dict) or (message.get("chat") or {}).get("type") != "private":
            return False
        text = message.get("text")
        if not isinstance(text, str) or not text.startswith("/"):
            return True
        name = text[1:].split(maxsplit=1)[0].partition("@")[0].lower() if text[1:] else ""
        return name in COMMANDS and name not in self.host_commands


def claim(
    chats: Collection[int], host_commands: Collection[str] = (), host_buttons: Collection[str] = ()
) -> Claim:
    return Claim(
        frozenset(chats),
        frozenset(c.lstrip("/").lower() for c in host_commands),
        tuple(host_buttons),
    )


Ingest = Callable[[dict[str, Any]], Awaitable[None]]


# -- polling ----------------------------------------------------------------------------


class TokenRefused(Exception):
    """The Bot API refuses the token: polling stops for good."""


class SlowDown(Exception):
    """429 on ``getUpdates``."""

    def __init__(self, seconds: float):
        super().__init__(f"retry after {seconds}")
        self.seconds = seconds


class PollConflict(Exception):
    """409: another process (or a webhook) takes this bot's updates."""


class Unreachable(Exception):
    """Network trouble or any other refusal; ``str()`` is the reason."""


Fetch = Callable[[int | None, int], Awaitable[list[Any]]]


class TelegramPoller:
    """Long polling with ``getUpdates``; acknowledges only what the inbox stored.

    ``fetch(offset, timeout)`` is the framework's raw ``getUpdates`` call; it raises the
    neutral errors above."""

    def __init__(
        self,
        fetch: Fetch,
        inbox: Inbox,
        api_address: str,
        timeout: int = 30,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.fetch = fetch
        self.inbox = inbox
        self.api_address = api_address
        self.timeout = timeout
        self.sleep = sleep
        self.offset: int | None = None
        self.fatal: str | None = None

    async def run(self) -> None:
        pause = 0.0
        while True:
            try:
                raw = await self.fetch(self.offset, self.timeout)
            except TokenRefused:
                self.fatal = "the Telegram Bot API refuses TELEGRAM_BOT_TOKEN; check the token"
                log.error(self.fatal)
                return
            except SlowDown as error:
                log.warning("Telegram asks to slow down polling; retrying in %.0f s", error.seconds)
                await self.sleep(error.seconds)
                continue
            except PollConflict:
                pause = _next_pause(pause)
                log.warning(
                    "another bot instance (or a webhook) takes this bot's updates; "
                    "run one polling process only, or TELEGRAM_MODE=webhook; retrying in %.0f s",
                    pause,
                )
                await self.sleep(pause)
                continue
            except Unreachable as error:
                pause = _next_pause(pause)
                log.warning(
                    "cannot reach the Telegram Bot API at %s: %s; check the network or "
                    "TELEGRAM_API_BASE_URL; retrying in %.0f s",
                    self.api_address,
                    reason(str(error)),
                    pause,
                )
                await self.sleep(pause)
                continue
            if pause:
                log.info("the Telegram Bot API answers again")
                pause = 0.0
            if not isinstance(raw, list) or not raw:
                continue
            await self._store(raw)

    async def _store(self, raw: list[Any]) -> None:
        entries = [entry for entry in map(inbox_entry, raw) if entry is not None]
        ids = [u["update_id"] for u in raw if isinstance(u, dict) and _is_int(u.get("update_id"))]
        pause = 0.0
        while entries:
            try:
                await self.inbox.ingest(entries)
                break
            except Exception as error:
                pause = _next_pause(pause)
                log.warning(
                    "cannot store %d Telegram update(s) (%s): the database is out of reach; "
                    "they stay with Telegram; retrying in %.0f s",
                    len(entries),
                    type(error).__name__,
                    pause,
                )
                await self.sleep(pause)
        if pause:
            log.info("database reachable again; updates stored")
        if ids:
            self.offset = max(ids) + 1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _next_pause(pause: float) -> float:
    return min(30.0, max(1.0, pause * 2))


def reason(text: str) -> str:
    text = text.strip() or "unknown error"
    lowered = text.lower()
    if "name or service not known" in lowered or "nodename" in lowered:
        return "name not resolved"
    if "connection refused" in lowered or "connecterror" in lowered:
        return "connection refused"
    return text[:200]


# -- webhook ----------------------------------------------------------------------------


_TYPED_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,32}))?(?=\s|$)(.*)", re.S)


def typed_command(text: str, bot_username: str) -> tuple[str, str] | None:
    """A command read from cleaned text as Telegram reads one: control characters hide
    a command from Telegram (or shift its entity), the cleaned text is what was meant."""
    found = _TYPED_COMMAND.match(text.strip())
    if found is None:
        return None
    name, addressee, rest = found.groups()
    if addressee and addressee.lower() != bot_username.lower():
        return None  # a command for another bot in the same group
    return name.lower(), rest.strip()


class TelegramIntakePort(ChannelIntake, Protocol):
    """A framework's intake: ``ready`` once the bot knows itself (getMe); with
    ``answered_in_webhook`` citizens' presses were answered in the webhook response."""

    ready: bool
    answered_in_webhook: bool


def citizen_press(update: dict[str, Any]) -> str | None:
    """The id of a button press in a private chat (a citizen's), else None."""
    query = update.get("callback_query")
    if not isinstance(query, dict) or not isinstance(query.get("id"), str):
        return None
    message = query.get("message")
    chat = message.get("chat") if isinstance(message, dict) else None
    if not isinstance(chat, dict) or chat.get("type") != "private":
        return None
    return str(query["id"])


def press_answer(
    payload: dict[str, Any], inbound: Inbound, notice: str | None, answered_in_webhook: bool
) -> tuple[str, str | None] | None:
    """The press to answer after handling, with its text: (callback id, notice); None
    when there is none, or a citizen's press was answered in the webhook response."""
    if inbound.kind is not InboundKind.CHOICE or not inbound.callback_id:
        return None
    if answered_in_webhook and citizen_press(payload) is not None:
        return None
    return inbound.callback_id, notice[:CALLBACK_TEXT_LIMIT] if notice else None


def webhook_route(path: str, secret: str, inbox: Inbox) -> Route:
    """The Telegram webhook: the secret token is checked, the update stored, then 200."""

    async def receive(request: Request) -> Response:
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return PlainTextResponse("forbidden", status_code=401)
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > WEBHOOK_BODY_LIMIT):
            return PlainTextResponse("too large", status_code=413)
        body = await request.body()
        if len(body) > WEBHOOK_BODY_LIMIT:
            return PlainTextResponse("too large", status_code=413)
        try:
            update = json.loads(body)
        except ValueError:
            return PlainTextResponse("malformed JSON", status_code=400)
        entry = inbox_entry(update)
        if entry is None:
            return PlainTextResponse("not an update", status_code=400)
        try:
            await inbox.ingest([entry])
        except Exception as error:
            # Telegram retries until it gets a 2xx: nothing is lost.
            log.warning("webhook: cannot store update (%s); Telegram retries", type(error).__name__)
            return PlainTextResponse("unavailable", status_code=503)
        query = citizen_press(update)
        if query is not None:
            # A citizen's press never gets a notice: answered in this response, the
            # spinner stops without a request of its own (Bot API "webhook reply").
            return JSONResponse({"method": "answerCallbackQuery", "callback_query_id": query})
        return PlainTextResponse("ok")

    return Route(path, receive, methods=["POST"])


# -- texts ------------------------------------------------------------------------------


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


def check_callbacks(reply: Reply) -> None:
    for row in reply.choices:
        for choice in row:
            if len(choice.id.encode()) > CALLBACK_LIMIT:
                raise ValueError(f"callback data over {CALLBACK_LIMIT} bytes: {choice.id}")


# -- sending ----------------------------------------------------------------------------


class BotApiSender(ABC):
    """Outbox items -> Bot API calls, the same plan on every framework.

    A subclass brings the calls (its framework's keyboards and methods) and
    ``outcome``, which maps its framework's exceptions to a delivery outcome; the
    rate limits, retries and the handling of 403 stay in the core's ``Deliverer``."""

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
        except Exception as error:
            result = self.outcome(error)
            if result is None:
                raise
            return result
        return SendResult(SendOutcome.SENT, message_id=message_id)

    @abstractmethod
    def outcome(self, error: Exception) -> SendResult | None:
        """The outcome of a framework's error (``bad_request_outcome`` for a 400);
        None for an error that is none of Telegram's."""

    @abstractmethod
    def is_bad_request(self, error: Exception) -> bool: ...

    # the calls; ``keyboard`` is None, "remove" or the reply whose choices to show
    @abstractmethod
    async def send_text(
        self,
        chat_id: int,
        text: str,
        thread: int | None,
        keyboard: Reply | str | None,
        reply_to: int | None,
    ) -> int: ...

    @abstractmethod
    async def edit_text(self, chat_id: int, message_id: int, text: str, reply: Reply) -> None: ...

    @abstractmethod
    async def edit_keyboard(self, chat_id: int, message_id: int, reply: Reply) -> None: ...

    @abstractmethod
    async def send_location(
        self, chat_id: int, latitude: float, longitude: float, thread: int | None,
        reply_to: int | None,
    ) -> int: ...  # fmt: skip

    @abstractmethod
    async def send_photo(
        self, chat_id: int, photo: str | bytes, caption: str | None, thread: int | None,
        reply_to: int | None,
    ) -> int: ...  # fmt: skip

    @abstractmethod
    async def send_document(
        self, chat_id: int, data: bytes, filename: str, caption: str | None,
        thread: int | None, reply_to: int | None,
    ) -> int: ...  # fmt: skip

    @abstractmethod
    async def send_album(
        self, chat_id: int, photos: list[str | bytes], caption: str | None,
        thread: int | None, reply_to: int | None,
    ) -> int: ...  # fmt: skip

    async def _send(self, item: OutboxItem, files: FileStore) -> int | None:
        reply = Reply.from_dict(item.payload["reply"])
        check_callbacks(reply)
        chat_id = int(item.chat_id)
        thread = item.thread_id
        reply_to = item.payload.get("reply_to")
        if item.kind == "edit":
            target = int(item.payload["message_id"])
            await self.edit_text(chat_id, target, trim(reply.text, TEXT_LIMIT), reply)
            return target
        if reply.location is not None:
            return await self.send_location(
                chat_id, reply.location.latitude, reply.location.longitude, thread, reply_to
            )
        if reply.file is not None:
            return await self._stored_file(item, reply, files)
        if reply.photos:
            return await self._photos(item, reply, files)
        parts = split_text(reply.text)
        swap = reply.remove_keyboard and bool(reply.choices) and not reply.ask_location
        sent_last: int | None = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            # One message carries one keyboard kind: to drop the location keyboard
            # and show buttons, send with the removal, then add the buttons.
            keyboard: Reply | str | None = ("remove" if swap else reply) if last else None
            sent_last = await self.send_text(
                chat_id, part, thread, keyboard, reply_to if index == 0 else None
            )
        if swap and sent_last is not None:
            await self.edit_keyboard(chat_id, sent_last, reply)
        return sent_last

    async def _stored_file(self, item: OutboxItem, reply: Reply, files: FileStore) -> int:
        """A file the bot made (a report): uploaded from the file store, as a photo or
        as a document with its name."""
        stored = reply.file
        assert stored is not None
        data = await files.load(stored.path)
        caption = trim(reply.text, CAPTION_LIMIT) if reply.text else None
        reply_to = item.payload.get("reply_to")
        if stored.as_photo:
            return await self.send_photo(int(item.chat_id), data, caption, item.thread_id, reply_to)
        return await self.send_document(
            int(item.chat_id), data, stored.name, caption, item.thread_id, reply_to
        )

    async def _photos(self, item: OutboxItem, reply: Reply, files: FileStore) -> int:
        photos: list[dict[str, Any]] = list(item.payload.get("photos", []))[:10]
        sources: list[str | bytes] = []
        for photo in photos:
            if _file_id(photo):
                sources.append(photo["file_id"])
            else:
                sources.append(await files.load(photo["path"]))
        try:
            return await self._send_photos(item, reply, sources)
        except Exception as error:
            # A file id Telegram will not take as a photo (an image that came in as a
            # document, an id from another bot): send the stored files instead, once.
            if (
                not self.is_bad_request(error)
                or not FILE_REFUSED.search(str(error))
                or not any(_file_id(p) for p in photos)
            ):
                raise
            log.warning("outbox item %s: file ids refused (%s); uploading", item.id, error)
        uploads: list[str | bytes] = [await files.load(photo["path"]) for photo in photos]
        return await self._send_photos(item, reply, uploads)

    async def _send_photos(self, item: OutboxItem, reply: Reply, sources: list[str | bytes]) -> int:
        caption = trim(reply.text, CAPTION_LIMIT) if reply.text else None
        reply_to = item.payload.get("reply_to")
        chat_id = int(item.chat_id)
        if len(sources) == 1:
            return await self.send_photo(chat_id, sources[0], caption, item.thread_id, reply_to)
        return await self.send_album(chat_id, sources, caption, item.thread_id, reply_to)


def bad_request_outcome(text: str) -> SendResult:
    """What a 400 means for delivery, from Telegram's description."""
    lowered = text.lower()
    if "message is not modified" in lowered:
        return SendResult(SendOutcome.SENT, detail=text)
    if any(gone in lowered for gone in ("thread not found", "topic_deleted", "topic was deleted")):
        return SendResult(SendOutcome.THREAD_GONE, detail=text)
    return SendResult(SendOutcome.REJECTED, detail=text)


def _file_id(photo: dict[str, Any]) -> bool:
    return photo.get("channel") == "telegram" and bool(photo.get("file_id"))
