"""Telegram's send limits as token buckets: global, per private chat, per group."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Bucket:
    rate: float
    capacity: float
    tokens: float = -1.0
    stamp: float = 0.0

    def wait_time(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0

    def _refill(self, now: float) -> None:
        if self.tokens < 0 and self.stamp == 0.0:
            self.tokens, self.stamp = self.capacity, now
            return
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


@dataclass
class SendLimits:
    """Limits from https://core.telegram.org/bots/faq#broadcasting-to-users."""

    global_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20
    clock: Callable[[], float] = time.monotonic
    _global: Bucket = field(init=False)
    _chats: dict[str, Bucket] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._global = Bucket(self.global_per_second, max(1.0, self.global_per_second))

    def _chat(self, chat_id: str) -> Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if chat_id.startswith("-"):
                bucket = Bucket(self.group_per_minute / 60.0, float(self.group_per_minute))
            else:
                bucket = Bucket(self.private_per_second, float(self.private_burst))
            self._chats[chat_id] = bucket
        return bucket

    def wait_time(self, chat_id: str) -> float:
        now = self.clock()
        return max(self._global.wait_time(now), self._chat(chat_id).wait_time(now))

    def take(self, chat_id: str) -> None:
        now = self.clock()
        self._global.take(now)
        self._chat(chat_id).take(now)
