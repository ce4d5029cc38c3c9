"""Telegram updates into the durable inbox: our own getUpdates loop, or a webhook.

python-telegram-bot's Updater confirms a batch (the next ``getUpdates`` offset)
while its handlers still run, so a crash loses the batch. This loop fetches the
raw updates, stores them (``Inbox.ingest``) and only then asks for the next
offset; while the database is away it keeps asking for the same offset
(Telegram keeps updates for 24 hours). Raw JSON is stored, so an update
python-telegram-bot cannot parse never stalls the loop.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Bot, Update
from telegram.error import (
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from conversations.core.inbox import Inbox, InboxEntry
from conversations.core.messages import Inbound, InboundKind
from handlers.telegram.translate import from_update

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
WEBHOOK_BODY_LIMIT = 1024 * 1024
CALLBACK_TEXT_LIMIT = 200


def _chat_id(update: dict[str, Any]) -> Any:
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
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return None
    chat = _chat_id(update)
    return InboxEntry(
        key=f"tg:{update_id}",
        channel=CHANNEL,
        chat_key=f"{CHANNEL}:{chat}" if chat is not None else f"{CHANNEL}:?",
        payload=update,
    )


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


class TelegramIntake:
    """The inbox's view of Telegram: raw update -> neutral event; answer a press.

    With ``answered_in_webhook``, citizens' presses were answered in the webhook
    response already (``webhook_route``) and are not answered again."""

    def __init__(self, bot: Bot, answered_in_webhook: bool = False):
        self.bot = bot
        self.answered_in_webhook = answered_in_webhook
        # Updates wait until the bot knows itself (getMe): "/cmd@name" needs its name.
        self.ready = False

    def decode(self, payload: dict[str, Any]) -> Inbound | None:
        try:
            update = Update.de_json(payload, self.bot)
            return from_update(update) if update is not None else None
        except Exception as error:
            log.warning(
                "unreadable Telegram update %s ignored (%s)",
                payload.get("update_id"),
                type(error).__name__,
            )
            return None

    async def finish(self, payload: dict[str, Any], inbound: Inbound, notice: str | None) -> None:
        if inbound.kind is InboundKind.CHOICE and inbound.callback_id:
            if self.answered_in_webhook and citizen_press(payload) is not None:
                return
            text = notice[:CALLBACK_TEXT_LIMIT] if notice else None
            await self.bot.answer_callback_query(inbound.callback_id, text=text)


Stored = Callable[[list[InboxEntry]], Awaitable[None]]


class TelegramPoller:
    """Long polling with ``getUpdates``; acknowledges only what the inbox stored."""

    def __init__(
        self,
        bot: Bot,
        inbox: Inbox,
        api_address: str,
        timeout: int = 30,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.bot = bot
        self.inbox = inbox
        self.api_address = api_address
        self.timeout = timeout
        self.sleep = sleep
        self.offset: int | None = None
        self.fatal: str | None = None
        # We ask for raw JSON on purpose: it is stored as it came, parsed later.
        warnings.filterwarnings(
            "ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning
        )

    async def run(self) -> None:
        pause = 0.0
        while True:
            try:
                raw = await self.bot.do_api_request(
                    "getUpdates",
                    api_kwargs={
                        "offset": self.offset,
                        "timeout": self.timeout,
                        "allowed_updates": ALLOWED_UPDATES,
                    },
                    read_timeout=self.timeout + 10,
                )
            except (InvalidToken, EndPointNotFound):
                # After start-up python-telegram-bot reports a refused token as an
                # unknown endpoint.
                self.fatal = "the Telegram Bot API refuses TELEGRAM_BOT_TOKEN; check the token"
                log.error(self.fatal)
                return
            except RetryAfter as error:
                wait = _seconds(error)
                log.warning("Telegram asks to slow down polling; retrying in %.0f s", wait)
                await self.sleep(wait)
                continue
            except Conflict:
                pause = _next_pause(pause)
                log.warning(
                    "another bot instance (or a webhook) takes this bot's updates; "
                    "run one polling process only, or TELEGRAM_MODE=webhook; retrying in %.0f s",
                    pause,
                )
                await self.sleep(pause)
                continue
            except (NetworkError, Forbidden, TelegramError) as error:
                pause = _next_pause(pause)
                log.warning(
                    "cannot reach the Telegram Bot API at %s: %s; check the network or "
                    "TELEGRAM_API_BASE_URL; retrying in %.0f s",
                    self.api_address,
                    _reason(error),
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


def _seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that retry_after becomes a timedelta; both are handled.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = error.retry_after
    try:
        return float(value.total_seconds())
    except AttributeError:
        return float(value)


def _reason(error: TelegramError) -> str:
    text = str(error).strip() or type(error).__name__
    lowered = text.lower()
    if "name or service not known" in lowered or "nodename" in lowered:
        return "name not resolved"
    if "connection refused" in lowered or "connecterror" in lowered:
        return "connection refused"
    return text[:200]


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
