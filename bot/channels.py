"""What a channel (Telegram, WhatsApp, the web chat) brings to a bot process.

The runtime asks every configured channel for its parts, builds the inbox and the
outbox over all of them, then lets each channel start taking updates (polling,
a webhook it registers, a page it serves). Adding a channel means writing one of
these, not touching the core.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from starlette.routing import BaseRoute

from conversations.core.inbox import ChannelIntake, Inbox
from conversations.core.ports import MediaFetcher, MessageSender
from conversations.core.ratelimit import Limiter


class ChannelPlugin(Protocol):
    @property
    def name(self) -> str:
        """The Channel value its updates and outbox rows carry."""

    @property
    def intake(self) -> ChannelIntake: ...
    @property
    def sender(self) -> MessageSender: ...
    @property
    def limits(self) -> Limiter: ...
    @property
    def fetcher(self) -> MediaFetcher | None: ...

    def routes(self, inbox: Inbox) -> list[BaseRoute]:
        """Web routes (webhooks, pages), served by the process's one web server."""

    async def start(self, inbox: Inbox, on_fatal: Callable[[str], None]) -> None:
        """Begin taking updates into ``inbox``; the web server already listens.
        ``on_fatal`` stops the process with a reason (a revoked token)."""

    async def stop(self) -> None:
        """Stop taking updates (replies to the last ones are still delivered)."""

    async def close(self) -> None:
        """Release clients, after the outbox had its last round."""
