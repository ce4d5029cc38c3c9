"""The web chat's side of the outbox: a delivered row is the transcript.

Nothing is sent anywhere: the outbox row, once marked sent, is the message the
page shows (on load, after a reload, on another device). ``Hub`` wakes the open
pages of a chat (server-sent events) when one of its rows is recorded as sent;
pages also look again every few seconds, for rows another process delivered.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from conversations.core.domain import OutboxItem
from conversations.core.ports import FileStore, SendOutcome, SendResult


class WebSender:
    def message_count(self, item: OutboxItem) -> int:
        return 1

    async def deliver(self, item: OutboxItem, files: FileStore) -> SendResult:
        # No message id: the web desk reads complaints, not cards, so none is linked.
        return SendResult(SendOutcome.SENT)


class Hub:
    """Wakes those waiting for a chat's next message."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self.closed = False

    def listen(self, chat_id: str) -> asyncio.Future[None]:
        """Register before reading the transcript, so nothing sent meanwhile is missed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.closed:
            future.set_result(None)
        else:
            self._waiting[chat_id].add(future)
        return future

    async def wait(self, chat_id: str, future: asyncio.Future[None], timeout: float) -> None:  # noqa: ASYNC109
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            pass
        finally:
            waiting = self._waiting.get(chat_id)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    self._waiting.pop(chat_id, None)
            if not future.done():
                future.cancel()

    def notify(self, chat_id: str) -> None:
        for future in self._waiting.pop(chat_id, set()):
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """The server stops: every open stream ends."""
        self.closed = True
        for chat_id in list(self._waiting):
            self.notify(chat_id)
