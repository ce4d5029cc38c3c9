"""Delivers outbox rows: per-chat order, Telegram's limits, retries and backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from datetime import timedelta

from conversations.core.domain import OutboxItem
from conversations.core.ports import (
    Clock,
    FileStore,
    MessageSender,
    OutboxQueue,
    SendOutcome,
    SendResult,
)
from conversations.core.ratelimit import SendLimits

log = logging.getLogger(__name__)


class Deliverer:
    def __init__(
        self,
        queue: OutboxQueue,
        senders: dict[str, MessageSender],
        files: FileStore,
        clock: Clock,
        limits: SendLimits | None = None,
        max_attempts: int = 8,
        batch: int = 100,
        lease_seconds: float = 120.0,
    ):
        self.queue = queue
        self.senders = senders
        self.files = files
        self.clock = clock
        self.limits = limits or SendLimits()
        self.max_attempts = max_attempts
        self.batch = batch
        self.lease_seconds = lease_seconds
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self, interval: float) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("outbox delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many rows were settled."""
        async with self._lock:
            settled = 0
            while True:
                items = await self.queue.claim(self.clock.now(), self.batch, self.lease_seconds)
                if not items:
                    return settled
                by_chat: dict[tuple[str, str], list[OutboxItem]] = defaultdict(list)
                for item in items:
                    by_chat[(item.channel, item.chat_id)].append(item)
                results = await asyncio.gather(*(self._chat(rows) for rows in by_chat.values()))
                settled += sum(results)

    async def _chat(self, items: list[OutboxItem]) -> int:
        done = 0
        for index, item in enumerate(items):
            ok = await self._one(item)
            done += 1
            if not ok:
                # Keep the chat's order: later rows wait until this one goes out.
                for later in items[index + 1 :]:
                    await self.queue.reschedule(
                        later, self.clock.now(), "waiting for earlier message"
                    )
                break
        return done

    async def _one(self, item: OutboxItem) -> bool:
        while (wait := self.limits.wait_time(item.chat_id)) > 0:  # noqa: ASYNC110 (token bucket)
            await asyncio.sleep(wait)
        self.limits.take(item.chat_id)
        sender = self.senders.get(item.channel)
        if sender is None:
            await self.queue.mark_failed(item, f"no sender for {item.channel}", self.clock.now())
            return False
        try:
            result = await sender.deliver(item, self.files)
        except Exception as error:  # a bug in rendering must not stop the queue
            log.exception("outbox item %s could not be sent", item.id)
            result = SendResult(SendOutcome.TRANSIENT, detail=type(error).__name__)
        return await self._settle(item, result)

    async def _settle(self, item: OutboxItem, result: SendResult) -> bool:
        now = self.clock.now()
        detail = result.detail or result.outcome.value
        if result.outcome is SendOutcome.SENT:
            await self.queue.mark_sent(item, result.message_id, now)
            return True
        if result.outcome is SendOutcome.FORBIDDEN:
            log.info("chat %s blocked the bot; marked unreachable", item.chat_id)
            await self.queue.mark_unreachable(item, detail, now)
            return False
        if result.outcome is SendOutcome.REJECTED or item.attempts + 1 >= self.max_attempts:
            log.warning("outbox item %s failed: %s", item.id, detail)
            await self.queue.mark_failed(item, detail, now)
            return False
        if result.outcome is SendOutcome.RETRY_AFTER:
            delay = float(result.retry_after or 1.0)
        else:
            delay = min(300.0, 2.0**item.attempts) * (0.5 + random.random())
        await self.queue.reschedule(item, now + timedelta(seconds=delay), detail)
        return False
