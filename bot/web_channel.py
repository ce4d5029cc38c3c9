"""The web channel: the citizens' chat at ``/`` and the officers' desk at ``/petugas``.

Always on: with no configuration at all, this is how a person tries the bot. Its
messages go through the durable inbox and the outbox like every channel's; its
sender records rows as the transcript, and the hub wakes the pages watching it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from starlette.routing import BaseRoute

from bot.settings import Settings
from conversations.core.context import CoreContext
from conversations.core.domain import OutboxItem
from conversations.core.inbox import Inbox
from conversations.core.messages import Channel, MediaRef
from conversations.core.ports import FileStore, WebStore
from conversations.core.ratelimit import SendLimits
from handlers.web.chat import ChatOptions, WebChat
from handlers.web.desk import WebDesk
from handlers.web.intake import WebIntake
from handlers.web.pages import Pages
from handlers.web.security import Signer
from handlers.web.sender import Hub, WebSender

SECRET_NAME = "web_signing_key"


class StoredPhotos:
    """A web upload is kept by the bot on arrival; "fetching" it reads the stored file."""

    def __init__(self, files: FileStore):
        self.files = files

    async def fetch(self, media: MediaRef) -> bytes:
        return await self.files.load(media.file_id)


class WebChannel:
    name = Channel.WEB.value

    def __init__(self, settings: Settings, store: WebStore, files: FileStore):
        self.settings = settings
        self.store = store
        self.intake = WebIntake()
        self.sender = WebSender()
        # Nothing leaves the machine: the only limit is what the pages can read.
        self.limits = SendLimits(
            global_per_second=1000.0, private_per_second=1000.0, private_burst=1000
        )
        self.fetcher = StoredPhotos(files)
        self.hub = Hub()
        self.chat: WebChat | None = None
        self.desk: WebDesk | None = None

    async def prepare(self, ctx: CoreContext) -> None:
        """Build the chat and the desk over the core, with the key every process shares."""
        given = self.settings.web_secret.get_secret_value()
        secret = given or await self.store.secret(SECRET_NAME, secrets.token_urlsafe(48))
        signer = Signer(secret)
        pages = Pages(ctx.catalog, ctx.config.city_name)
        secure = self.settings.public_url.startswith("https://")
        options = ChatOptions(
            secure_cookies=secure,
            session_per_minute=self.settings.web_session_per_minute,
            address_per_minute=self.settings.web_address_per_minute,
        )
        self.chat = WebChat(ctx, self.store, signer, self.hub, pages, options)
        self.desk = WebDesk(ctx, self.store, signer, pages, secure_cookies=secure)

    def sent(self, item: OutboxItem) -> None:
        if item.channel == self.name:
            self.hub.notify(item.chat_id)

    def routes(self, inbox: Inbox) -> list[BaseRoute]:
        assert self.chat is not None and self.desk is not None, "prepare() first"
        return [*self.chat.routes(inbox), *self.desk.routes()]

    async def start(self, inbox: Inbox, on_fatal: Callable[[str], None]) -> None:
        """The pages are served by the process's web server; nothing else to start."""

    async def stop(self) -> None:
        # Open event streams end, so the web server can stop at once.
        self.hub.close()

    async def close(self) -> None:
        return None
