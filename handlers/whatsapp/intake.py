"""WhatsApp webhooks into the durable inbox, and stored messages out of it as
neutral events.

Our own route, not pywa's: pywa's answers 200 before its handlers run, so a crash
would lose the message. Here the signature (``X-Hub-Signature-256``, HMAC-SHA256
of the raw body with the app secret) is checked before anything is parsed, every
message is stored under its WhatsApp message id (``wamid``), and only then comes
the 200: Meta retries anything else, and a redelivered id is skipped by the inbox,
however the body around it is written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from conversations.core.inbox import Inbox, InboxEntry
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
from handlers.whatsapp.words import WITH_ARGUMENTS, WORDS

log = logging.getLogger(__name__)

CHANNEL = Channel.WHATSAPP.value
BODY_LIMIT = 1024 * 1024
UNSUPPORTED = {
    "audio": "voice",
    "voice": "voice",
    "video": "video",
    "sticker": "sticker",
    "document": "document",
}
# A 👍 on the bot's message, or WhatsApp's own notices (a changed number): no answer.
IGNORED = frozenset({"reaction", "system", "ephemeral"})

# (recipient, wamid, status, error code, error title)
OnStatus = Callable[[str, str, str, int | None, str], Awaitable[None]]


def signature_ok(body: bytes, header: str, app_secret: str) -> bool:
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.strip().encode(), expected.encode())


class Malformed(ValueError):
    """A body that is not a WhatsApp webhook update."""


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{what} is not a list")
    return value


def inbox_entries(update: Any, phone_number_id: str) -> list[InboxEntry]:
    """One entry per message and per delivery status for our number; raises
    ``Malformed`` for a body of another shape."""
    body = _dict(update, "the body")
    if body.get("object") != "whatsapp_business_account":
        raise Malformed("not a WhatsApp Business Account update")
    entries: list[InboxEntry] = []
    for entry in _list(body.get("entry"), "entry"):
        for change in _list(_dict(entry, "entry").get("changes"), "changes"):
            change = _dict(change, "change")
            if change.get("field") != "messages":
                continue
            value = _dict(change.get("value"), "value")
            metadata = _dict(value.get("metadata", {}), "metadata")
            if str(metadata.get("phone_number_id", "")) != phone_number_id:
                # Another number of the same app: not ours to answer.
                continue
            contacts = [c for c in _list(value.get("contacts"), "contacts") if isinstance(c, dict)]
            for message in _list(value.get("messages"), "messages"):
                entries.append(_message_entry(_dict(message, "message"), contacts))
            for status in _list(value.get("statuses"), "statuses"):
                entries.append(_status_entry(_dict(status, "status")))
    # The same message twice in one body is still one message.
    return list({entry.key: entry for entry in entries}.values())


def _sender_id(message: dict[str, Any], contact: dict[str, Any]) -> str:
    for value in (message.get("from"), contact.get("wa_id"), contact.get("user_id")):
        if isinstance(value, str) and value:
            return value
    raise Malformed("a message without a sender")


def _message_entry(message: dict[str, Any], contacts: list[dict[str, Any]]) -> InboxEntry:
    wamid = message.get("id")
    if not isinstance(wamid, str) or not wamid:
        raise Malformed("a message without an id")
    sender = message.get("from")
    first = contacts[0] if contacts else {}
    contact = next((c for c in contacts if sender and c.get("wa_id") == sender), first)
    user = _sender_id(message, contact)
    return InboxEntry(
        key=f"wa:{wamid}"[:160],
        channel=CHANNEL,
        chat_key=f"{CHANNEL}:{user}"[:96],
        payload={"message": message, "contact": contact},
    )


def _status_entry(status: dict[str, Any]) -> InboxEntry:
    wamid, state = status.get("id"), status.get("status")
    if not isinstance(wamid, str) or not isinstance(state, str):
        raise Malformed("a status without an id")
    # Failed statuses come without ``contacts``; the recipient is all there is.
    recipient = str(status.get("recipient_id") or status.get("recipient_user_id") or "?")
    return InboxEntry(
        key=f"wa:status:{wamid}:{state}"[:160],
        channel=CHANNEL,
        # Not the citizen's lane: a status is no message from them (see ``window``).
        chat_key=f"{CHANNEL}-status:{recipient}"[:96],
        payload={"status": status},
    )


def _command(text: str) -> tuple[str, str] | None:
    word, _, rest = text.strip().partition(" ")
    name = WORDS.get(word.lower().lstrip("/"))
    if name is None or (rest.strip() and name not in WITH_ARGUMENTS):
        return None
    return name, rest.strip()


def _media(message: dict[str, Any], kind: str) -> MediaRef | None:
    media = message.get(kind)
    if not isinstance(media, dict) or not isinstance(media.get("id"), str):
        return None
    return MediaRef(
        file_id=media["id"],
        unique_id=str(media.get("sha256") or media["id"]),
        kind="photo",
        mime_type=str(media.get("mime_type") or "image/jpeg"),
    )


def decode_message(message: dict[str, Any], contact: dict[str, Any]) -> Inbound | None:
    user = _sender_id(message, contact)
    profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}
    name = str((profile or {}).get("name") or "").strip() or "WhatsApp"
    wa_id = contact.get("wa_id") or message.get("from")
    base = Inbound(
        chat=ChatAddress(Channel.WHATSAPP, user),
        sender=Person(
            user_id=user,
            display_name=name[:128],
            phone=f"+{wa_id}" if isinstance(wa_id, str) and wa_id.isdigit() else None,
        ),
        kind=InboundKind.UNSUPPORTED,
        update_key=f"wa:{message.get('id')}",
        is_private=True,
    )
    kind = message.get("type")
    if kind in IGNORED:
        return None
    if kind == "text":
        text = str(_dict(message.get("text", {}), "text").get("body") or "")
        command = _command(clean_text(text) or "")
        if command is not None:
            return replace(
                base, kind=InboundKind.COMMAND, text=text, command=command[0], args=command[1]
            )
        return replace(base, kind=InboundKind.TEXT, text=text)
    if kind == "interactive":
        interactive = _dict(message.get("interactive", {}), "interactive")
        picked = interactive.get("button_reply") or interactive.get("list_reply")
        if isinstance(picked, dict) and isinstance(picked.get("id"), str):
            return replace(base, kind=InboundKind.CHOICE, choice=picked["id"])
        return replace(base, unsupported="other")
    if kind == "button":
        # A quick-reply button of a template: its text, as if typed.
        button = _dict(message.get("button", {}), "button")
        return replace(base, kind=InboundKind.TEXT, text=str(button.get("text") or ""))
    if kind == "location":
        place = _dict(message.get("location", {}), "location")
        lat, lon = place.get("latitude"), place.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            return replace(base, kind=InboundKind.LOCATION, location=Location(lat, lon))
        return replace(base, unsupported="other")
    if kind == "image":
        media = _media(message, "image")
        if media is None:
            return replace(base, unsupported="other")
        caption = _dict(message["image"], "image").get("caption")
        return replace(
            base,
            kind=InboundKind.PHOTO,
            media=(media,),
            text=caption if isinstance(caption, str) and caption.strip() else None,
        )
    if kind == "document":
        document = message.get("document")
        if isinstance(document, dict) and str(document.get("mime_type", "")).startswith("image/"):
            media = _media(message, "document")
            if media is not None:
                return replace(base, kind=InboundKind.PHOTO, media=(media,))
    if kind == "contacts":
        cards = _list(message.get("contacts"), "contacts")
        phones = [p for card in cards if isinstance(card, dict) for p in card.get("phones", [])]
        # Only the citizen's own number counts (anyone can share someone else's card).
        own = next(
            (p for p in phones if isinstance(p, dict) and p.get("wa_id") == message.get("from")),
            None,
        )
        phone = str(own.get("phone")) if own else None
        return replace(
            base,
            kind=InboundKind.CONTACT,
            contact_phone=phone,
            sender=replace(base.sender, phone=phone or base.sender.phone),
        )
    return replace(base, unsupported=UNSUPPORTED.get(str(kind), "other"))


class WhatsAppIntake:
    """The inbox's view of WhatsApp: a stored message -> a neutral event; a stored
    delivery status -> ``on_status``."""

    def __init__(self, on_status: OnStatus | None = None):
        self.on_status = on_status

    def decode(self, payload: dict[str, Any]) -> Inbound | None:
        message = payload.get("message")
        if not isinstance(message, dict):
            return None
        try:
            contact = payload.get("contact")
            return decode_message(message, contact if isinstance(contact, dict) else {})
        except (Malformed, TypeError, ValueError) as error:
            log.warning("unreadable WhatsApp message ignored (%s)", error)
            return None

    async def apply_other(self, payload: dict[str, Any]) -> bool:
        status = payload.get("status")
        if not isinstance(status, dict):
            return False
        if self.on_status is None:
            return True
        errors = [e for e in status.get("errors") or [] if isinstance(e, dict)]
        first = errors[0] if errors else {}
        code = first.get("code")
        title = str(first.get("title") or first.get("message") or "")[:200]
        recipient = str(status.get("recipient_id") or status.get("recipient_user_id") or "")
        await self.on_status(
            recipient,
            str(status.get("id")),
            str(status.get("status")),
            code if isinstance(code, int) else None,
            title,
        )
        return True

    async def finish(self, payload: dict[str, Any], inbound: Inbound, notice: str | None) -> None:
        """Nothing to answer: a pressed WhatsApp button needs no acknowledgement."""


def webhook_routes(
    path: str, phone_number_id: str, app_secret: str, verify_token: str, inbox: Inbox
) -> list[Route]:
    """``GET``: Meta's verification handshake; ``POST``: signed updates, stored, then 200."""

    async def verify(request: Request) -> Response:
        query = request.query_params
        token = query.get("hub.verify_token", "")
        if query.get("hub.mode") == "subscribe" and hmac.compare_digest(
            token.encode(), verify_token.encode()
        ):
            return PlainTextResponse(query.get("hub.challenge", ""))
        return PlainTextResponse("forbidden", status_code=403)

    async def receive(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > BODY_LIMIT):
            return PlainTextResponse("too large", status_code=413)
        body = await request.body()
        if len(body) > BODY_LIMIT:
            return PlainTextResponse("too large", status_code=413)
        if not signature_ok(body, request.headers.get("x-hub-signature-256", ""), app_secret):
            return PlainTextResponse("bad signature", status_code=401)
        try:
            entries = inbox_entries(json.loads(body), phone_number_id)
        except (ValueError, Malformed) as error:
            log.warning("WhatsApp webhook: malformed body refused (%s)", error)
            return PlainTextResponse("malformed", status_code=400)
        try:
            await inbox.ingest(entries)
        except Exception as error:
            # Meta retries until it gets a 200: nothing is lost.
            log.warning(
                "WhatsApp webhook: cannot store update (%s); Meta retries", type(error).__name__
            )
            return PlainTextResponse("unavailable", status_code=503)
        return PlainTextResponse("ok")

    return [Route(path, verify, methods=["GET"]), Route(path, receive, methods=["POST"])]
