"""Outbox items -> WhatsApp Cloud API calls (through pywa), and Graph API errors ->
delivery outcomes.

WhatsApp lets a business send free-form messages only within 24 hours of the
citizen's last message. After that a status push goes out as the city's approved
template (ticket, new status, what happens next); anything else is refused, so the
outbox marks it failed and the officers are told, as for a message that cannot
be delivered.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from pywa.types.callback import Button, Section, SectionList, SectionRow
from pywa.types.templates import TemplateLanguage
from pywa_async.client import WhatsApp
from pywa_async.errors import WhatsAppError

from conversations.core.config import WhatsAppTemplate
from conversations.core.domain import OutboxItem
from conversations.core.messages import Reply
from conversations.core.ports import Clock, FileStore, SendOutcome, SendResult
from handlers.whatsapp.render import CAPTION_LIMIT, Outgoing, render, shorten
from handlers.whatsapp.words import without_slashes

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
# Graph API error codes (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
THROUGHPUT = 130429  # the number's messages per second
PAIR_RATE = 131056  # too many messages to one recipient in a short time
OUTSIDE_WINDOW = 131047  # more than 24 hours since the citizen's last message
UNDELIVERABLE = 131026  # not on WhatsApp, blocked us, or an old app
RETRY_LATER = frozenset({1, 2, 4, 80007, 131000, 131016, 133004})
THROUGHPUT_WAIT = 1.0
PAIR_WAIT = 6.0

LastMessage = Callable[[str], Awaitable[datetime | None]]


class OutsideWindow(Exception):
    """Free-form text after the 24-hour window, with no template for it."""


class WhatsAppSender:
    def __init__(
        self,
        client: WhatsApp,
        last_message: LastMessage,
        clock: Clock,
        template: WhatsAppTemplate | None = None,
        list_button: str = "Pilih",
        more: str = "⬇️",
    ):
        self.client = client
        self.last_message = last_message
        self.clock = clock
        self.template = template
        self.list_button = list_button
        self.more = more
        self.window_closed = "outside WhatsApp's 24-hour window"
        # How long to wait after Meta's throughput and pair-rate errors.
        self.throughput_wait = THROUGHPUT_WAIT
        self.pair_wait = PAIR_WAIT

    def message_count(self, item: OutboxItem) -> int:
        reply = Reply.from_dict(item.payload["reply"])
        if reply.photos:
            return max(1, len(item.payload.get("photos", [])))
        return len(render(reply, self.more))

    async def deliver(self, item: OutboxItem, files: FileStore) -> SendResult:
        try:
            wamid = await self._send(item, files)
        except OutsideWindow as error:
            return SendResult(SendOutcome.REJECTED, detail=str(error))
        except WhatsAppError as error:
            return self.outcome(error)
        except httpx.HTTPStatusError as error:  # a media download or upload
            code = error.response.status_code
            kind = SendOutcome.TRANSIENT if code >= 500 else SendOutcome.REJECTED
            return SendResult(kind, detail=f"HTTP {code}")
        except httpx.HTTPError as error:
            return SendResult(SendOutcome.TRANSIENT, detail=type(error).__name__)
        except ValueError as error:
            return SendResult(SendOutcome.REJECTED, detail=str(error)[:300])
        return SendResult(SendOutcome.SENT, ref=wamid)

    async def _within_window(self, chat_id: str) -> bool:
        last = await self.last_message(chat_id)
        return last is not None and self.clock.now() - last < WINDOW

    async def _send(self, item: OutboxItem, files: FileStore) -> str | None:
        reply = Reply.from_dict(item.payload["reply"])
        reply = replace(reply, text=without_slashes(reply.text))
        to = item.chat_id
        if not await self._within_window(to):
            summary = item.payload.get("summary")
            if item.kind == "push" and isinstance(summary, dict) and self.template is not None:
                return await self._template(to, summary)
            raise OutsideWindow(self.window_closed)
        if reply.photos:
            return await self._photos(to, reply, item.payload.get("photos", []), files)
        if reply.file is not None:
            data = await files.load(reply.file.path)
            sent = await self.client.send_document(
                to,
                data,
                filename=reply.file.name,
                caption=shorten(reply.text, CAPTION_LIMIT) or None,
                mime_type=reply.file.mime_type,
            )
            return sent.id
        wamid = None
        for message in render(reply, self.more):
            wamid = await self._one(to, message)
        return wamid

    async def _one(self, to: str, message: Outgoing) -> str:
        if message.kind == "location" and message.location is not None:
            point = message.location
            sent: Any = await self.client.send_location(
                to, latitude=point.latitude, longitude=point.longitude
            )
        elif message.kind == "location_request":
            sent = await self.client.request_location(to, message.text)
        elif message.kind == "buttons":
            buttons = [Button(title=title, callback_data=id_) for id_, title, _ in message.options]
            sent = await self.client.send_message(to, message.text, buttons=buttons)
        elif message.kind == "list":
            rows = [
                SectionRow(title=title, callback_data=id_, description=description or None)
                for id_, title, description in message.options
            ]
            section = Section(title=shorten(self.list_button, 24), rows=rows)
            options = SectionList(button_title=shorten(self.list_button, 20), sections=[section])
            sent = await self.client.send_message(to, message.text, buttons=options)
        else:
            sent = await self.client.send_message(to, message.text)
        return str(sent.id)

    async def _photos(
        self, to: str, reply: Reply, photos: list[dict[str, Any]], files: FileStore
    ) -> str | None:
        wamid = None
        for index, photo in enumerate(photos):
            data = await files.load(str(photo["path"]))
            caption = shorten(reply.text, CAPTION_LIMIT) if index == 0 and reply.text else None
            mime = mimetypes.guess_type(str(photo["path"]))[0] or "image/jpeg"
            sent = await self.client.send_image(to, data, caption=caption, mime_type=mime)
            wamid = sent.id
        return wamid

    async def _template(self, to: str, summary: dict[str, Any]) -> str:
        template = self.template
        assert template is not None
        values = [
            {"type": "text", "text": shorten(str(summary.get(name) or "-"), 300)}
            for name in template.parameters
        ]
        sent = await self.client.send_template(
            to,
            name=template.name,
            language=TemplateLanguage(template.language),
            params=[{"type": "body", "parameters": values}],
        )
        return str(sent.id)

    def outcome(self, error: WhatsAppError) -> SendResult:
        detail = f"{error.code} {error.message}"[:300]
        if error.code == THROUGHPUT:
            return SendResult(
                SendOutcome.RETRY_AFTER, retry_after=self.throughput_wait, detail=detail
            )
        if error.code == PAIR_RATE:
            return SendResult(SendOutcome.RETRY_AFTER, retry_after=self.pair_wait, detail=detail)
        if error.code == UNDELIVERABLE:
            return SendResult(SendOutcome.FORBIDDEN, detail=detail)
        status = error.status_code or 0
        if error.code in RETRY_LATER or status >= 500 or error.is_transient:
            return SendResult(SendOutcome.TRANSIENT, detail=detail)
        if error.code == 190:
            log.error("the Graph API refuses WHATSAPP_ACCESS_TOKEN (expired or revoked)")
            return SendResult(SendOutcome.TRANSIENT, detail=detail)
        return SendResult(SendOutcome.REJECTED, detail=detail)
