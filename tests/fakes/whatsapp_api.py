"""A fake WhatsApp Cloud API (Graph API) server for tests, on 127.0.0.1.

The bot reaches it through ``WHATSAPP_API_BASE_URL`` as it would reach
graph.facebook.com: ``POST /v<version>/<phone-number-id>/messages`` and ``/media``,
``GET /v<version>/<media-id>`` for a media URL, and that URL (on Meta's media
host, which the bot's transport sends here too) for the bytes. It checks what
Meta checks that matters to us (the token, button and list limits), records every
message, and can answer with Graph errors. Citizens (:class:`FakeCitizen`) write
to the bot by posting webhooks signed as Meta signs them, in the shapes of Meta's
documented examples.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

JSON = dict[str, Any]

PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "6281100000000"
TOKEN = "EAAG-test-access-token"
APP_SECRET = "test-app-secret-0123456789abcdef"
VERIFY_TOKEN = "kanal-verify-token"
MEDIA_HOST = "https://lookaside.fbsbx.com"

_ids = itertools.count(1)


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Sent:
    """One message the bot sent, as the Graph API received it."""

    to: str
    type: str
    body: JSON
    wamid: str

    @property
    def text(self) -> str:
        """What the citizen reads: the text, an interactive message's body, a caption."""
        if self.type == "text":
            return str(self.body["text"]["body"])
        if self.type == "interactive":
            return str(self.body["interactive"]["body"]["text"])
        if self.type in ("image", "document"):
            return str(self.body[self.type].get("caption") or "")
        if self.type == "template":
            values = self.body["template"]["components"][0]["parameters"]
            return " | ".join(str(v["text"]) for v in values)
        return ""

    @property
    def choices(self) -> list[tuple[str, str]]:
        """(id, title) of its reply buttons or list rows."""
        if self.type != "interactive":
            return []
        interactive = self.body["interactive"]
        action = interactive.get("action", {})
        if interactive["type"] == "button":
            return [(b["reply"]["id"], b["reply"]["title"]) for b in action["buttons"]]
        if interactive["type"] == "list":
            return [(r["id"], r["title"]) for s in action["sections"] for r in s["rows"]]
        return []

    @property
    def interactive_type(self) -> str | None:
        return str(self.body["interactive"]["type"]) if self.type == "interactive" else None


class GraphRefusal(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class FakeWhatsApp:
    phone_number_id: str = PHONE_NUMBER_ID
    token: str = TOKEN
    app_secret: str = APP_SECRET
    sent: list[Sent] = field(default_factory=list)
    refused: list[JSON] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    uploads: list[bytes] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    # Graph errors to answer to the next sends: (http status, code, message).
    failures: list[tuple[int, int, str]] = field(default_factory=list)
    webhook_url: str = ""
    _runner: web.AppRunner | None = None
    _port: int = 0

    # lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> FakeWhatsApp:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/{version}/{phone}/messages", self._messages)
        app.router.add_post("/{version}/{phone}/media", self._upload)
        app.router.add_get("/whatsapp_business/attachments/", self._download)
        app.router.add_get("/{version}/{media_id}", self._media_url)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # the Graph API -----------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "x"}
        if code in (130429, 131056, 131047, 131026):
            error["error_data"] = {"messaging_product": "whatsapp", "details": message}
        return web.json_response({"error": error}, status=status)

    async def _messages(self, request: web.Request) -> web.Response:
        self.requests.append("messages")
        if not self._authorised(request):
            return self._error(401, 190, "Invalid OAuth access token.")
        if request.match_info["phone"] != self.phone_number_id:
            return self._error(400, 100, "Unsupported post request.")
        body: JSON = await request.json()
        if self.failures:
            status, code, message = self.failures.pop(0)
            self.refused.append(body)
            return self._error(status, code, message)
        try:
            self._check(body)
        except GraphRefusal as refusal:
            self.refused.append(body)
            return self._error(refusal.status, refusal.code, refusal.message)
        to = str(body.get("to") or body.get("recipient"))
        wamid = f"wamid.OUT{next(_ids)}"
        self.sent.append(Sent(to, str(body["type"]), body, wamid))
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid}],
            }
        )

    @staticmethod
    def _check(body: JSON) -> None:
        """The limits Meta enforces and a renderer can get wrong."""

        def refuse(message: str) -> None:
            raise GraphRefusal(400, 131009, f"Parameter value is not valid: {message}")

        if body.get("messaging_product") != "whatsapp":
            refuse("messaging_product")
        kind = body.get("type")
        if kind == "text" and len(body["text"]["body"]) > 4096:
            refuse("text too long")
        if kind != "interactive":
            return
        interactive = body["interactive"]
        if len(interactive["body"]["text"]) > 1024:
            refuse("body too long")
        action = interactive.get("action", {})
        if interactive["type"] == "button":
            titles = [b["reply"]["title"] for b in action["buttons"]]
            if not 1 <= len(titles) <= 3 or any(len(t) > 20 for t in titles):
                refuse("buttons")
            if len(set(titles)) < len(titles):
                refuse("duplicate button titles")
        elif interactive["type"] == "list":
            rows = [r for s in action["sections"] for r in s["rows"]]
            if not 1 <= len(rows) <= 10 or any(len(r["title"]) > 24 for r in rows):
                refuse("list rows")
            if len(action["button"]) > 20:
                refuse("list button")

    async def _upload(self, request: web.Request) -> web.Response:
        self.requests.append("media")
        if not self._authorised(request):
            return self._error(401, 190, "Invalid OAuth access token.")
        data = await request.post()
        upload: Any = data["file"]
        content = upload.file.read()
        media_id = f"{next(_ids)}0000"
        self.media[media_id] = (content, upload.content_type)
        self.uploads.append(content)
        return web.json_response({"id": media_id})

    async def _media_url(self, request: web.Request) -> web.Response:
        self.requests.append("media_url")
        if not self._authorised(request):
            return self._error(401, 190, "Invalid OAuth access token.")
        media_id = request.match_info["media_id"]
        if media_id == self.phone_number_id:
            number = {"display_phone_number": "+62 811-0000-0000", "verified_name": "Lapor Kota"}
            return web.json_response({**number, "id": media_id})
        if media_id not in self.media:
            return self._error(400, 100, "Unsupported get request.")
        data, mime = self.media[media_id]
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                # Meta's media host; the bot's transport must bring it here.
                "url": f"{MEDIA_HOST}/whatsapp_business/attachments/?mid={media_id}&ext=1",
                "mime_type": mime,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": len(data),
                "id": media_id,
            }
        )

    async def _download(self, request: web.Request) -> web.Response:
        self.requests.append("download")
        if not self._authorised(request):
            return web.Response(status=401)
        found = self.media.get(request.query.get("mid", ""))
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[0], content_type=found[1])

    # webhooks to the bot -----------------------------------------------------------

    def envelope(self, value: JSON) -> JSON:
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": DISPLAY_NUMBER,
                "phone_number_id": self.phone_number_id,
            },
            **value,
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}
            ],
        }

    async def post(
        self, body: JSON | bytes, signature: str | None = "valid", url: str | None = None
    ) -> int:
        """Post a webhook to the bot; ``signature``: "valid", None (no header) or a value."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers["X-Hub-Signature-256"] = sign(raw, self.app_secret)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with self._session.post(url or self.webhook_url, data=raw, headers=headers) as r:
            await r.read()
            return r.status

    async def verify(self, mode: str, token: str, challenge: str) -> tuple[int, str]:
        query = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}
        async with self._session.get(self.webhook_url, params=query) as response:
            return response.status, await response.text()

    async def status(self, wamid: str, to: str, state: str, error: JSON | None = None) -> int:
        entry: JSON = {
            "id": wamid,
            "status": state,
            "timestamp": str(int(time.time())),
            "recipient_id": to,
        }
        if error is not None:
            entry["errors"] = [error]
        # Meta sends no "contacts" with a failed status.
        return await self.post(self.envelope({"statuses": [entry]}))

    def citizen(self, wa_id: str, name: str) -> FakeCitizen:
        return FakeCitizen(self, wa_id, name)

    # observing -------------------------------------------------------------------------

    def sent_to(self, wa_id: str) -> list[Sent]:
        return [m for m in self.sent if m.to == wa_id]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 8.0) -> Any:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; sent: {[m.text[:60] for m in self.sent]}")
            await asyncio.sleep(0.02)


@dataclass
class FakeCitizen:
    """A person on WhatsApp writing to the city's number."""

    fake: FakeWhatsApp
    wa_id: str
    name: str
    read: int = 0

    def _message(self, kind: str, content: JSON, wamid: str | None = None) -> JSON:
        return {
            "from": self.wa_id,
            "id": wamid or f"wamid.IN{next(_ids)}{self.wa_id}",
            "timestamp": str(int(time.time())),
            "type": kind,
            **content,
        }

    def update(self, message: JSON) -> JSON:
        contact = {
            "profile": {"name": self.name},
            "wa_id": self.wa_id,
            "user_id": f"ID.{self.wa_id}",
        }
        return self.fake.envelope({"contacts": [contact], "messages": [message]})

    async def send(self, kind: str, content: JSON, wamid: str | None = None) -> int:
        status = await self.fake.post(self.update(self._message(kind, content, wamid)))
        assert status == 200, status
        return status

    async def says(self, text: str, wamid: str | None = None) -> int:
        return await self.send("text", {"text": {"body": text}}, wamid)

    async def taps(self, title: str) -> None:
        """Tap a reply button or pick a list row, on the newest message that has it."""
        for message in reversed(self.fake.sent_to(self.wa_id)):
            for id_, shown in message.choices:
                if shown == title:
                    kind = "button_reply" if message.interactive_type == "button" else "list_reply"
                    reply = {kind: {"id": id_, "title": shown}, "type": kind}
                    content = {"context": {"from": DISPLAY_NUMBER, "id": message.wamid}}
                    await self.send("interactive", {"interactive": reply, **content})
                    return
        sent = [(m.text[:200], m.choices) for m in self.fake.sent_to(self.wa_id)]
        raise AssertionError(f"no choice {title!r}; sent: {sent}")

    async def shares_location(self, latitude: float, longitude: float) -> None:
        await self.send("location", {"location": {"latitude": latitude, "longitude": longitude}})

    async def sends_photo(self, data: bytes, caption: str | None = None) -> None:
        media_id = f"{next(_ids)}777"
        self.fake.media[media_id] = (data, "image/jpeg")
        image: JSON = {
            "mime_type": "image/jpeg",
            "sha256": hashlib.sha256(data).hexdigest(),
            "id": media_id,
        }
        if caption:
            image["caption"] = caption
        await self.send("image", {"image": image})

    async def sends_voice_note(self) -> None:
        voice = {"mime_type": "audio/ogg; codecs=opus", "sha256": "x", "id": "555", "voice": True}
        await self.send("audio", {"audio": voice})

    def last(self) -> Sent:
        return self.fake.sent_to(self.wa_id)[-1]

    async def hears(self, *texts: str) -> Sent:
        """Wait for a new message to this citizen containing every one of ``texts``."""

        def heard() -> Sent | None:
            messages = self.fake.sent_to(self.wa_id)
            for index in range(self.read, len(messages)):
                if all(t in messages[index].text for t in texts):
                    self.read = index + 1
                    return messages[index]
            return None

        found: Sent = await self.fake.wait_for(heard)
        return found
