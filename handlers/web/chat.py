"""The citizens' web chat at ``/``: a translator between a browser and the inbox/outbox.

The browser is known by a random id in a signed, HttpOnly cookie (``aduan_warga``);
its conversation is the chat of that id. What it sends is stored in the inbox
before the answer (keyed by the page's own message id: a double submit counts
once); what the bot says is read from the outbox (the transcript), live over
server-sent events. Nothing of another browser's chat can be asked for: every
read is by the cookie's chat, and a photo by a message of that chat.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from conversations.core.context import CoreContext
from conversations.core.domain import OutboxItem
from conversations.core.inbox import Inbox
from conversations.core.messages import Channel, ChatAddress, Location, Reply
from conversations.core.outbox import queue
from conversations.core.ports import WebStore
from conversations.core.sanitize import TEXT_MAX, valid_location
from handlers.web.intake import BROWSER_ID, MESSAGE_ID, inbox_entry
from handlers.web.pages import STATIC_DIR, Pages, page_language, security_headers
from handlers.web.security import NotAnImage, RateLimit, Signer, check_image
from handlers.web.sender import Hub

log = logging.getLogger(__name__)

BROWSER_COOKIE = "aduan_warga"
TOKEN_HEADER = "x-aduan-token"
CONTINUE_MAX_AGE = 30 * 86400
BODY_LIMIT = 32 * 1024
LABEL_LIMIT = 120
STREAM_POLL_SECONDS = 3.0
KEEPALIVE_SECONDS = 15.0


@dataclass
class ChatOptions:
    secure_cookies: bool = False
    session_per_minute: int = 30
    address_per_minute: int = 120


class WebChat:
    def __init__(
        self,
        ctx: CoreContext,
        store: WebStore,
        signer: Signer,
        hub: Hub,
        pages: Pages,
        options: ChatOptions,
    ):
        self.ctx = ctx
        self.store = store
        self.signer = signer
        self.hub = hub
        self.pages = pages
        self.options = options
        self.per_session = RateLimit(options.session_per_minute, 60.0)
        self.per_address = RateLimit(options.address_per_minute, 60.0)

    # identity --------------------------------------------------------------------

    def browser(self, request: Request) -> str | None:
        found = self.signer.unsign("browser", request.cookies.get(BROWSER_COOKIE))
        return found if found and BROWSER_ID.fullmatch(found) else None

    def _set_browser(self, response: Response, browser: str) -> None:
        secure = self.options.secure_cookies
        response.set_cookie(
            BROWSER_COOKIE,
            self.signer.sign("browser", browser),
            max_age=365 * 86400,
            httponly=True,
            secure=secure,
            # Inside a city's iframe (another site) only SameSite=None cookies are sent.
            samesite="none" if secure else "lax",
            partitioned=secure,
        )

    def form_token(self, browser: str) -> str:
        return self.signer.mac("chat", browser)

    def visitor_name(self, browser: str) -> str:
        code = hashlib.sha256(browser.encode()).hexdigest()[:6]
        return self.ctx.t(None, "web.chat.visitor", code=code)

    def _t(self, request: Request, key: str, **values: object) -> str:
        return self.ctx.t(page_language(request, self.ctx.catalog), key, **values)

    def _error(self, request: Request, status: int, key: str, **values: object) -> JSONResponse:
        return JSONResponse({"error": self._t(request, key, **values)}, status_code=status)

    def _allowed(self, request: Request, browser: str) -> bool:
        address = request.client.host if request.client else "?"
        # Both windows count the attempt: a flood from one address cannot hide in many cookies.
        session_ok = self.per_session.allow(browser)
        return self.per_address.allow(address) and session_ok

    def _caller(self, request: Request) -> tuple[str | None, Response | None]:
        """The browser of a write request, or the answer refusing it."""
        browser = self.browser(request)
        if browser is None:
            return None, JSONResponse({"error": "no session"}, status_code=401)
        given = request.headers.get(TOKEN_HEADER, "")
        if not secrets.compare_digest(given, self.form_token(browser)):
            return None, JSONResponse({"error": "bad token"}, status_code=403)
        if not self._allowed(request, browser):
            return None, self._error(request, 429, "web.chat.too_fast")
        return browser, None

    # pages -----------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        lang = page_language(request, self.ctx.catalog)
        browser = self.browser(request)
        fresh = browser is None
        if browser is None:
            browser = secrets.token_urlsafe(18)
        settings = {
            "token": self.form_token(browser),
            "maxPhotoBytes": self.ctx.limits.max_photo_bytes,
            "lang": lang,
            "texts": {
                key: self.ctx.t(lang, f"web.chat.{key}")
                for key in (
                    "send",
                    "connecting",
                    "offline",
                    "failed",
                    "location_denied",
                    "not_an_image",
                    "too_long",
                    "continue_text",
                    "continue_copy",
                    "continue_close",
                    "start",
                )
            },
            "photoTooLarge": self.ctx.t(
                lang, "web.chat.photo_too_large", max_mb=self.ctx.limits.max_photo_bytes // 2**20
            ),
        }
        response = self.pages.render(
            request, "chat.html", lang, frame_anywhere=True, settings=settings
        )
        if fresh:
            self._set_browser(response, browser)
        return response

    async def continue_here(self, request: Request) -> Response:
        """The private link: this device continues the conversation of the one that made it."""
        browser = self.signer.unsign_timed(
            "continue", request.path_params["token"], CONTINUE_MAX_AGE
        )
        if browser is None or not BROWSER_ID.fullmatch(browser):
            return RedirectResponse("/?link=invalid", status_code=303)
        response = RedirectResponse("/", status_code=303)
        self._set_browser(response, browser)
        return response

    # reading -----------------------------------------------------------------------

    def message(self, item: OutboxItem) -> dict[str, Any]:
        reply = Reply.from_dict(item.payload["reply"])
        photos = item.payload.get("photos") or []
        return {
            "id": item.id,
            "own": item.kind == "echo",
            "text": reply.text,
            "choices": [[{"id": c.id, "label": c.label} for c in row] for row in reply.choices],
            "photos": [f"/chat/media/{item.id}/{index}" for index in range(len(photos))],
            "location": (
                {"lat": reply.location.latitude, "lon": reply.location.longitude}
                if reply.location
                else None
            ),
            "askLocation": reply.ask_location,
            "locationButton": reply.location_button,
        }

    async def _transcript(self, browser: str, after: int) -> list[dict[str, Any]]:
        items = await self.store.transcript(Channel.WEB.value, browser, after)
        return [self.message(item) for item in items if item.kind != "edit"]

    async def messages(self, request: Request) -> Response:
        browser = self.browser(request)
        if browser is None:
            return JSONResponse({"messages": []})
        after = _number(request.query_params.get("after"))
        return JSONResponse({"messages": await self._transcript(browser, after)})

    async def stream(self, request: Request) -> Response:
        browser = self.browser(request)
        if browser is None:
            return JSONResponse({"error": "no session"}, status_code=401)
        after = _number(request.headers.get("last-event-id") or request.query_params.get("after"))
        return StreamingResponse(
            self._events(browser, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _events(self, browser: str, after: int) -> AsyncIterator[str]:
        last = after
        quiet = 0.0
        yield "retry: 2000\n\n"
        while not self.hub.closed:
            waiting = self.hub.listen(browser)
            messages = await self._transcript(browser, last)
            for message in messages:
                last = max(last, int(message["id"]))
                yield f"id: {message['id']}\ndata: {json.dumps(message)}\n\n"
            if messages:
                quiet = 0.0
            elif quiet >= KEEPALIVE_SECONDS:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await self.hub.wait(browser, waiting, STREAM_POLL_SECONDS)
            quiet += STREAM_POLL_SECONDS

    async def media(self, request: Request) -> Response:
        browser = self.browser(request)
        item_id = _number(request.path_params["item"])
        index = _number(request.path_params["index"])
        item = await self.store.sent_item(item_id) if browser and item_id else None
        if (
            item is None
            or item.channel != Channel.WEB.value
            or item.chat_id != browser
            or index >= len(item.payload.get("photos") or [])
        ):
            return Response("not found", status_code=404)
        photo = item.payload["photos"][index]
        data = await self.ctx.files.load(str(photo["path"]))
        try:
            mime = check_image(data).mime_type
        except NotAnImage:
            return Response("not found", status_code=404)
        headers = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}
        return Response(data, media_type=mime, headers=headers)

    async def link(self, request: Request) -> Response:
        browser = self.browser(request)
        if browser is None:
            return JSONResponse({"error": "no session"}, status_code=401)
        token = self.signer.sign_timed("continue", browser)
        return JSONResponse({"url": str(request.url_for("continue", token=token))})

    # writing -----------------------------------------------------------------------

    async def send(self, request: Request) -> Response:
        browser, refused = self._caller(request)
        if refused is not None or browser is None:
            assert refused is not None
            return refused
        body = await request.body()
        if len(body) > BODY_LIMIT:
            return self._error(request, 413, "web.chat.too_long")
        try:
            data = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "malformed JSON"}, status_code=400)
        if not isinstance(data, dict) or not MESSAGE_ID.fullmatch(str(data.get("id", ""))):
            return JSONResponse({"error": "no message id"}, status_code=400)
        kind = data.get("kind")
        payload: dict[str, Any] = {"id": str(data["id"]), "kind": kind}
        lang = page_language(request, self.ctx.catalog)
        if kind == "text" and isinstance(data.get("text"), str) and data["text"].strip():
            # Never cut: the dialogue tells the citizen each step's limit and the real length.
            if len(data["text"]) > TEXT_MAX:
                return self._error(request, 413, "web.chat.too_long")
            payload["text"] = data["text"]
            echo = payload["text"]
        elif kind == "choice" and isinstance(data.get("choice"), str) and data["choice"]:
            payload["choice"] = data["choice"][:256]
            echo = str(data.get("label") or "")[:LABEL_LIMIT] or "…"
        elif kind == "location":
            if not _coordinates(data):
                return self._error(request, 422, "web.chat.bad_location")
            payload["lat"], payload["lon"] = float(data["lat"]), float(data["lon"])
            echo = self.ctx.t(
                lang, "web.chat.location_sent", lat=payload["lat"], lon=payload["lon"]
            )
        else:
            return JSONResponse({"error": "nothing to send"}, status_code=400)
        return await self._take(browser, payload, Reply(echo))

    async def photo(self, request: Request) -> Response:
        browser, refused = self._caller(request)
        if refused is not None or browser is None:
            assert refused is not None
            return refused
        limit = self.ctx.limits.max_photo_bytes
        max_mb = limit // 2**20
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > limit + BODY_LIMIT:
            return self._error(request, 413, "web.chat.photo_too_large", max_mb=max_mb)
        form = await request.form(max_files=1, max_fields=4, max_part_size=BODY_LIMIT)
        try:
            message_id = str(form.get("id") or "")
            upload = form.get("photo")
            if not MESSAGE_ID.fullmatch(message_id) or isinstance(upload, str) or upload is None:
                return JSONResponse({"error": "no photo"}, status_code=400)
            data = await upload.read(limit + 1)
            caption = str(form.get("caption") or "")
        finally:
            await form.close()
        if len(data) > limit:
            return self._error(request, 413, "web.chat.photo_too_large", max_mb=max_mb)
        try:
            image = check_image(data)
        except NotAnImage:
            return self._error(request, 415, "web.chat.not_an_image")
        stored = await self.ctx.files.save(image.data, "photo", image.mime_type)
        photo = {
            "path": stored.path,
            "sha256": stored.sha256,
            "size": stored.size,
            "mime": image.mime_type,
        }
        payload: dict[str, Any] = {"id": message_id, "kind": "photo", "photo": photo}
        if caption.strip():
            payload["text"] = caption
        echo = Reply(caption or self._t(request, "web.chat.photo_sent"))
        return await self._take(browser, payload, echo, photos=[photo])

    async def _take(
        self,
        browser: str,
        payload: dict[str, Any],
        echo: Reply,
        photos: list[dict[str, Any]] | None = None,
    ) -> Response:
        """Keep the citizen's words in the transcript, then the message in the inbox; answer
        only once both are stored. A resend of the same message id changes nothing."""
        payload["name"] = self.visitor_name(browser)
        entry = inbox_entry(browser, payload)
        try:
            async with self.ctx.uow() as uow:
                extra: dict[str, object] = {"photos": photos} if photos else {}
                await queue(
                    uow,
                    ChatAddress(Channel.WEB, browser),
                    echo,
                    "echo",
                    f"echo:{entry.key}"[:160],
                    extra=extra,
                )
                await uow.commit()
            await self.inbox.ingest([entry])
        except Exception as error:
            log.warning("web chat: cannot store a message (%s)", type(error).__name__)
            return JSONResponse({"error": "unavailable"}, status_code=503)
        self.ctx.wake_outbox()
        return JSONResponse({"ok": True}, status_code=202)

    # wiring ------------------------------------------------------------------------

    inbox: Inbox

    def routes(self, inbox: Inbox) -> list[BaseRoute]:
        self.inbox = inbox
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/lanjut/{token}", self.continue_here, methods=["GET"], name="continue"),
            Route("/chat/api/messages", self.messages, methods=["GET"]),
            Route("/chat/api/stream", self.stream, methods=["GET"]),
            Route("/chat/api/link", self.link, methods=["GET"]),
            Route("/chat/api/send", self.send, methods=["POST"]),
            Route("/chat/api/photo", self.photo, methods=["POST"]),
            Route("/chat/media/{item}/{index}", self.media, methods=["GET"]),
            Mount("/static/web", StaticFiles(directory=STATIC_DIR), name="web-static"),
        ]


def _number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 19 else 0


def _coordinates(data: dict[str, Any]) -> bool:
    """A point on Earth: two finite numbers within latitude and longitude ranges."""
    lat, lon = data.get("lat"), data.get("lon")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
        return False
    try:
        point = Location(float(lat), float(lon))  # type: ignore[arg-type]
    except OverflowError:
        return False
    return valid_location(point)


__all__ = ["BROWSER_COOKIE", "ChatOptions", "WebChat", "security_headers"]
