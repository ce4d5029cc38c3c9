"""Delivers outbox rows: per-chat order, the platforms' limits, retries and backoff.

Rows are claimed from the database by this process's worker id (``SKIP LOCKED``
on PostgreSQL); the heartbeat keeps extending the leases of the rows it holds,
so a row waiting for a slow chat is never claimed a second time, and a process
that dies loses its claims within seconds. Each chat is a lane (``Lanes``): its
rows go out one after the other, oldest first, paced by ``SendLimits``; a lane
waiting on its chat's limit (a group's 20 per minute, a 429) never holds up
another chat, because claiming goes on beside the lanes: after every commit
(``wake``) and on every tick of the scheduler.

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
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from conversations.core.batches import until_done
from conversations.core.domain import OutboxItem
from conversations.core.lanes import Lanes
from conversations.core.observe import NoObserver, Observer
from conversations.core.ports import (
    Clock,
    FileStore,
    MessageSender,
    OutboxQueue,
    SendOutcome,
    SendResult,
)
from conversations.core.ratelimit import Limiter, SendLimits

log = logging.getLogger(__name__)

Notice = Callable[[OutboxItem, str], Awaitable[None]]
# Rows of one chat held at once: a slow group cannot take every slot.
PER_CHAT = 10


async def _nothing(item: OutboxItem, detail: str) -> None:
    return None


def lane_of(item: OutboxItem) -> str:
    return f"{item.channel}:{item.chat_id}"


class Deliverer:
    def __init__(
        self,
        queue: OutboxQueue,
        senders: dict[str, MessageSender],
        files: FileStore,
        clock: Clock,
        limits: Limiter | Mapping[str, Limiter] | None = None,
        max_attempts: int = 8,
        batch: int = 100,
        lease_seconds: float = 120.0,
        backoff_base: float = 2.0,
        backoff_max: float = 300.0,
        on_failed: Notice | None = None,
        on_unreachable: Notice | None = None,
        observer: Observer | None = None,
        on_sent: Callable[[OutboxItem], None] | None = None,
    ):
        self.queue = queue
        self.senders = senders
        self.files = files
        self.clock = clock
        # Each platform has its own limits (Telegram's 30/s, WhatsApp's 80/s...).
        self.limits: Mapping[str, Limiter] | Limiter = limits or SendLimits()
        self.max_attempts = max_attempts
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.on_failed: Notice = on_failed or _nothing
        self.on_unreachable: Notice = on_unreachable or _nothing
        self.observer: Observer = observer or NoObserver()
        # Told once a row is recorded as sent (the web chat pushes it to open pages).
        self.on_sent = on_sent
        self.lanes: Lanes[OutboxItem] = Lanes(self._send_next, self._hand_back)
        self._round_lock = asyncio.Lock()
        self._again = False
        self._rounds_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._settled = 0
        self._releasing: set[asyncio.Task[None]] = set()
        self._refill: set[str] = set()

    # triggering ------------------------------------------------------------

    def wake(self) -> None:
        """Claim soon (after a commit queued rows); cheap to call often."""
        if self._stopping:
            return
        self._again = True
        if self._rounds_task is not None and not self._rounds_task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._rounds_task = loop.create_task(self._rounds())

    async def _rounds(self) -> None:
        while self._again and not self._stopping:
            self._again = False
            try:
                await self.claim_round()
            except Exception:
                log.exception("outbox claim failed")
                return

    async def claim_round(self) -> int:
        """Claim due rows of chats this process is not already busy with; start their
        lanes and return at once. Returns how many rows were claimed."""
        if self._stopping:
            return 0
        async with self._round_lock:
            held = self.lanes.count()
            room = min(self.batch, self.batch * 5 - held)
            if room <= 0:
                return 0
            busy = [tuple(key.split(":", 1)) for key in self.lanes.busy(PER_CHAT)]
            items = await self.queue.claim(
                self.clock.now(),
                room,
                self.lease_seconds,
                per_chat=PER_CHAT,
                skip=[(channel, chat) for channel, chat in busy],
            )
            refused = self._into_lanes(items, refill=True)
            if refused:
                await self.queue.release(refused)
            return len(items)

    def adopt(self, items: list[OutboxItem]) -> None:
        """Send rows this process claimed as they were written, as if a claim round
        had picked them; rows a lane cannot take now are handed back."""
        refused = self._into_lanes(items, refill=False)
        if refused:
            self.hand_back(refused)

    def _into_lanes(self, items: list[OutboxItem], refill: bool) -> list[OutboxItem]:
        """Start claimed rows in their chats' lanes; returns the rows a lane refused."""
        by_lane: dict[str, list[OutboxItem]] = defaultdict(list)
        for item in items:
            by_lane[lane_of(item)].append(item)
        refused: list[OutboxItem] = []
        for key, rows in by_lane.items():
            if refill and len(rows) >= PER_CHAT:
                # More may wait behind these: claim again once the lane runs dry,
                # rather than on the scheduler's next tick.
                self._refill.add(key)
            refused += self.lanes.add(key, rows)
        return refused

    def hand_back(self, items: list[OutboxItem]) -> None:
        """Put claimed rows back in line (retried until the database takes it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the rows' lease runs out, and a claim round takes them
        task = loop.create_task(self._release(items))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release(self, items: list[OutboxItem]) -> None:
        await until_done(
            lambda: self.queue.release(items), "outbox", f"hand back {len(items)} rows", log
        )
        self.wake()

    async def run_once(self) -> int:
        """Deliver until nothing is due; returns how many rows were settled.

        For tests, benchmarks and shutdown; the running bot claims on ``wake`` and
        on the scheduler's tick instead.
        """
        before = self._settled
        while not self._stopping:
            claimed = await self.claim_round()
            if not claimed:
                if not self.lanes.count():
                    break
                # Lanes finishing free room for more rows: claim again soon.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.lanes.wait_idle(), timeout=0.2)
        return self._settled - before

    async def close(self, grace: float = 5.0) -> None:
        """Stop: sends already on the wire finish and are recorded, nothing new starts;
        rows claimed but not sent are handed back for a restart or another process."""
        self._stopping = True
        if self._rounds_task is not None:
            self._rounds_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._rounds_task
        await self.lanes.close(grace)

    # one lane ---------------------------------------------------------------

    async def _send_next(self, lane: str, item: OutboxItem) -> bool:
        result = await self._deliver(item)
        self.observer.message_settled(item.channel, result.outcome.value)
        pause = 0.5
        while True:
            try:
                carry_on = await self._settle(item, result)
                break
            except Exception as error:
                # The send happened; sending again would duplicate it. Keep trying
                # to record it (the database may be back in a moment).
                if self._stopping:
                    raise
                log.warning(
                    "outbox item %s: cannot record the outcome (%s); retrying in %.0f s",
                    item.id,
                    type(error).__name__,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
        self._settled += 1
        if lane in self._refill and self.lanes.held().get(lane, 0) <= 1:
            self._refill.discard(lane)
            self.wake()
        # A row that must wait keeps the chat's later rows waiting behind it, in order.
        return carry_on

    async def _deliver(self, item: OutboxItem) -> SendResult:
        sender = self.senders.get(item.channel)
        if sender is None:
            return SendResult(SendOutcome.REJECTED, detail=f"no sender for {item.channel}")
        try:
            count = sender.message_count(item)
        except Exception:  # a broken payload fails in deliver(), where it is reported
            count = 1
        if count > 0:  # a row that sends nothing itself (a report request) costs no slot
            await self._limits(item.channel).acquire(item.chat_id, count)
        try:
            return await sender.deliver(item, self.files)
        except Exception as error:  # a bug in rendering must not stop the queue
            log.exception("outbox item %s could not be sent", item.id)
            return SendResult(SendOutcome.TRANSIENT, detail=type(error).__name__)

    async def _hand_back(self, lane: str, items: list[OutboxItem]) -> None:
        await self.queue.release(items)

    def _limits(self, channel: str) -> Limiter:
        if not isinstance(self.limits, Mapping):
            return self.limits
        found = self.limits.get(channel)
        if found is None:
            found = SendLimits()
            self.limits = {**self.limits, channel: found}
        return found

    def backoff(self, attempts: int) -> float:
        """Seconds before retry number ``attempts + 1``: exponential, with jitter."""
        return min(self.backoff_max, self.backoff_base * 2.0**attempts) * (0.5 + random.random())

    async def _settle(self, item: OutboxItem, result: SendResult) -> bool:
        """Record the outcome; True when the chat's next row may go now."""
        now = self.clock.now()
        detail = result.detail or result.outcome.value
        if result.outcome is SendOutcome.SENT:
            await self.queue.mark_sent(item, result.message_id, now, result.ref)
            if self.on_sent is not None:
                try:
                    self.on_sent(item)
                except Exception:
                    log.exception("outbox item %s: the sent notice failed", item.id)
            return True
        if result.outcome is SendOutcome.FORBIDDEN and not item.private:
            # A group that removed the bot (or took its rights) is no citizen: this
            # row fails, the group's other rows and every citizen stay as they are.
            log.error("group %s refuses the bot: %s", item.chat_id, detail)
            await self.queue.mark_failed(item, detail, now)
            await self._notify(self.on_unreachable, item, detail)
            return True
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
            return True
        delay = self.backoff(item.attempts)
        await self.queue.reschedule(item, now + timedelta(seconds=delay), detail)
        return False

    async def _notify(self, notice: Notice, item: OutboxItem, detail: str) -> None:
        try:
            await notice(item, detail)
        except Exception:
            log.exception("could not report outbox item %s", item.id)
