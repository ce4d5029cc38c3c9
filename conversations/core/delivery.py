"""Delivers outbox rows: per-chat order, Telegram's limits, retries and backoff.

Rows are claimed from the database (a lease, ``SKIP LOCKED`` on PostgreSQL), so
several processes can deliver from one queue and a crash loses nothing: a row
whose lease runs out is claimed again. Each chat's rows go out one after the
other, oldest first; many chats are served at once, paced by ``SendLimits``.

Outcomes: sent -> ``sent``; 429 -> rescheduled after ``retry_after`` (not counted
as a failed attempt); 5xx/network -> rescheduled with exponential backoff and
jitter, ``failed`` after ``max_attempts``; 403 from a private chat -> the citizen
is ``unreachable`` and the chat's queued rows stop, 403 from a group -> only that
row ``failed``; a refused request -> ``failed`` at once. ``on_failed`` and
``on_unreachable`` (also called for a group's 403) let the caller tell the desk.

Each row is paced by how many messages it really sends (an album of N photos
or a text split in N parts is N messages for Telegram's limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
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

Notice = Callable[[OutboxItem, str], Awaitable[None]]


async def _nothing(item: OutboxItem, detail: str) -> None:
    return None


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
        backoff_base: float = 2.0,
        backoff_max: float = 300.0,
        on_failed: Notice | None = None,
        on_unreachable: Notice | None = None,
    ):
        self.queue = queue
        self.senders = senders
        self.files = files
        self.clock = clock
        self.limits = limits or SendLimits()
        self.max_attempts = max_attempts
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.on_failed: Notice = on_failed or _nothing
        self.on_unreachable: Notice = on_unreachable or _nothing
        self._lock = asyncio.Lock()
        self._woken = False
        self._stopping = False
        self._background: set[asyncio.Task[None]] = set()

    # triggering ------------------------------------------------------------

    def wake(self) -> None:
        """Deliver soon (after a commit queued rows); cheap to call often."""
        if self._woken:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._woken = True
        task = loop.create_task(self._run_woken())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _run_woken(self) -> None:
        try:
            await self.run_once()
        except Exception:
            log.exception("outbox delivery round failed")

    async def close(self, grace: float = 5.0) -> None:
        """Stop: sends already on the wire finish and are recorded, nothing new starts.

        Unsent claimed rows are handed back at once, so a restart (or another
        process) sends them without waiting for their lease to run out.
        """
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                async with self._lock:
                    pass
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # one round -------------------------------------------------------------

    async def run_once(self) -> int:
        """Deliver until nothing is due; returns how many rows were handled."""
        if self._stopping:
            return 0
        async with self._lock:
            self._woken = False
            return await self._drain()

    async def _drain(self) -> int:
        settled = 0
        active: dict[asyncio.Task[int], int] = {}
        try:
            while True:
                in_flight = sum(active.values())
                if self._stopping and not active:
                    return settled
                if not self._stopping and (not active or in_flight <= self.batch // 2):
                    items = await self.queue.claim(
                        self.clock.now(), self.batch - in_flight, self.lease_seconds
                    )
                    claimed_at = time.monotonic()
                    by_chat: dict[tuple[str, str], list[OutboxItem]] = defaultdict(list)
                    for item in items:
                        by_chat[(item.channel, item.chat_id)].append(item)
                    for rows in by_chat.values():
                        task = asyncio.create_task(self._chat(rows, claimed_at))
                        active[task] = len(rows)
                if not active:
                    return settled
                done, _ = await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    active.pop(task)
                    settled += task.result()
        finally:
            for task in active:
                task.cancel()
            for task in active:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _chat(self, items: list[OutboxItem], claimed_at: float) -> int:
        done = 0
        for index, item in enumerate(items):
            # A slow chat (a busy group) must not outlive its lease, or another
            # process would claim the same rows: hand the rest back instead.
            if self._stopping or time.monotonic() - claimed_at > self.lease_seconds * 0.75:
                for later in items[index:]:
                    await self.queue.release(later)
                break
            try:
                ok = await self._one(item)
            except Exception:
                log.exception("outbox item %s: settling failed", item.id)
                ok = False
            done += 1
            if not ok:
                # Keep the chat's order: later rows wait until this one goes out.
                for later in items[index + 1 :]:
                    await self.queue.release(later)
                break
        return done

    async def _one(self, item: OutboxItem) -> bool:
        sender = self.senders.get(item.channel)
        if sender is None:
            await self.queue.mark_failed(item, f"no sender for {item.channel}", self.clock.now())
            await self._notify(self.on_failed, item, "no sender")
            return False
        try:
            count = sender.message_count(item)
        except Exception:  # a broken payload fails in deliver(), where it is reported
            count = 1
        await self.limits.acquire(item.chat_id, count)
        try:
            result = await sender.deliver(item, self.files)
        except Exception as error:  # a bug in rendering must not stop the queue
            log.exception("outbox item %s could not be sent", item.id)
            result = SendResult(SendOutcome.TRANSIENT, detail=type(error).__name__)
        return await self._settle(item, result)

    def backoff(self, attempts: int) -> float:
        """Seconds before retry number ``attempts + 1``: exponential, with jitter."""
        return min(self.backoff_max, self.backoff_base * 2.0**attempts) * (0.5 + random.random())

    async def _settle(self, item: OutboxItem, result: SendResult) -> bool:
        now = self.clock.now()
        detail = result.detail or result.outcome.value
        if result.outcome is SendOutcome.SENT:
            await self.queue.mark_sent(item, result.message_id, now)
            return True
        if result.outcome is SendOutcome.FORBIDDEN and not item.private:
            # A group that removed the bot (or took its rights) is no citizen: this
            # row fails, the group's other rows and every citizen stay as they are.
            log.error("group %s refuses the bot: %s", item.chat_id, detail)
            await self.queue.mark_failed(item, detail, now)
            await self._notify(self.on_unreachable, item, detail)
            return False
        if result.outcome is SendOutcome.FORBIDDEN:
            log.info("chat %s blocked the bot; marked unreachable", item.chat_id)
            await self.queue.mark_unreachable(item, detail, now)
            await self._notify(self.on_unreachable, item, detail)
            return False
        if result.outcome is SendOutcome.RETRY_AFTER:
            delay = max(0.0, float(result.retry_after if result.retry_after is not None else 1.0))
            log.info("429 for chat %s: waiting %.1fs", item.chat_id, delay)
            await self.queue.reschedule(
                item, now + timedelta(seconds=delay), detail, count_attempt=False
            )
            return False
        permanent = result.outcome in (SendOutcome.REJECTED, SendOutcome.THREAD_GONE)
        if permanent or item.attempts + 1 >= self.max_attempts:
            log.warning("outbox item %s failed: %s", item.id, detail)
            await self.queue.mark_failed(item, detail, now)
            await self._notify(self.on_failed, item, detail)
            return False
        delay = self.backoff(item.attempts)
        await self.queue.reschedule(item, now + timedelta(seconds=delay), detail)
        return False

    async def _notify(self, notice: Notice, item: OutboxItem, detail: str) -> None:
        try:
            await notice(item, detail)
        except Exception:
            log.exception("could not report outbox item %s", item.id)
