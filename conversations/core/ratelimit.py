"""Telegram's send limits: global, per private chat, per group.

Each limit is a sliding window ("at most ``n`` sends in any ``period``
seconds"), checked against the real send times, with a small safety margin so
that clock jitter never lets a window hold one send too many. The global limit
is a window of one send per ``1/rate`` seconds: sends are spread evenly, so any
one-second span holds at most ``rate`` of them. Callers ``await acquire(chat, n)``
for the ``n`` messages one request sends (an album is one message per photo);
waiters for the global slot queue in arrival order (no thundering herd).
See https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

MARGIN = 0.03  # 3 % slack on every window (network jitter between us and the API)


class Limiter(Protocol):
    """Waits until ``count`` messages to ``chat_id`` may go out, and counts them."""

    async def acquire(self, chat_id: str, count: int = 1) -> None: ...


class Window:
    """At most ``limit`` events in any ``period`` seconds."""

    def __init__(self, limit: int, period: float, margin: float = MARGIN):
        if limit < 1 or period <= 0:
            raise ValueError("limit >= 1 and period > 0 required")
        self.limit = limit
        self.period = period * (1.0 + margin)
        self.times: deque[float] = deque(maxlen=limit)

    def delay(self, now: float, count: int = 1) -> float:
        """Seconds until ``count`` events may happen at once (more than ``limit``: when idle)."""
        room = self.limit - min(max(count, 1), self.limit)  # earlier events that may remain
        if len(self.times) <= room:
            return 0.0
        return max(0.0, self.times[-room - 1] + self.period - now)

    def record(self, now: float, credit: float = 0.0) -> None:
        """Count an event; ``credit`` seconds of sleep overshoot may be booked earlier.

        Sleeping always overshoots a little; booking the event at its ideal slot
        (at most ``credit`` before ``now``) keeps an evenly paced stream at its rate.
        """
        if credit and len(self.times) == self.limit:
            ideal = self.times[0] + self.period
            now = max(ideal, now - credit) if ideal < now else now
        self.times.append(now)


@dataclass
class SendLimits:
    """Limits from https://core.telegram.org/bots/faq#broadcasting-to-users.

    Private chats: ``private_burst`` messages in any ``private_burst /
    private_per_second`` seconds (1/s sustained, short bursts allowed). Groups
    (chat ids starting with ``-``): ``group_per_minute`` in any 60 s.
    """

    global_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20
    # The group window; only tests shorten it (Telegram's is a minute).
    group_period: float = 60.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], object] = asyncio.sleep
    _global: Window = field(init=False)
    _global_lock: asyncio.Lock = field(init=False)
    _chats: dict[str, Window] = field(default_factory=dict, init=False)
    _chat_locks: dict[str, asyncio.Lock] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._global = Window(1, 1.0 / self.global_per_second)
        self._global_lock = asyncio.Lock()

    def _chat(self, chat_id: str) -> Window:
        window = self._chats.get(chat_id)
        if window is None:
            if chat_id.startswith("-"):
                window = Window(self.group_per_minute, self.group_period)
            else:
                burst = self.private_burst
                window = Window(burst, burst / self.private_per_second)
            self._chats[chat_id] = window
        return window

    def wait_time(self, chat_id: str) -> float:
        """Seconds until a send to ``chat_id`` would be allowed (no reservation)."""
        now = self.clock()
        return max(self._global.delay(now), self._chat(chat_id).delay(now))

    async def acquire(self, chat_id: str, count: int = 1) -> None:
        """Wait until ``count`` messages to ``chat_id`` may go out at once; count them sent.

        An album of N photos or a text split in N parts is N messages for Telegram.
        """
        count = max(1, count)
        chat = self._chat(chat_id)
        lock = self._chat_locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            while (wait := chat.delay(self.clock(), count)) > 0:
                await self._sleep(wait)
            async with self._global_lock:
                for _ in range(count):  # the global pace: one slot per message
                    while (wait := self._global.delay(self.clock())) > 0:
                        await self._sleep(wait)
                    now = self.clock()
                    # Up to two thirds of the margin may make up for sleep overshoot.
                    self._global.record(now, credit=self._global.period * MARGIN * 2 / 3)
            for _ in range(count):
                chat.record(now)
        if len(self._chats) > 50_000:  # forget idle chats now and then
            self._forget_idle(now)

    async def _sleep(self, seconds: float) -> None:
        result = self.sleep(seconds)
        if asyncio.iscoroutine(result):
            await result

    def _forget_idle(self, now: float) -> None:
        for key, window in list(self._chats.items()):
            if window.delay(now) == 0 and (not window.times or now - window.times[-1] > 120):
                lock = self._chat_locks.get(key)
                if lock is None or not lock.locked():
                    self._chats.pop(key, None)
                    self._chat_locks.pop(key, None)

    def take(self, chat_id: str) -> None:
        """Count a send without waiting (for callers that waited themselves)."""
        now = self.clock()
        self._global.record(now)
        self._chat(chat_id).record(now)
