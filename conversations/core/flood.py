"""Flood guard: a chat sending far faster than a person types is slowed down.

Kept in process memory on purpose: it protects this process, and losing it on a
restart costs nothing. An album of ten photos must still pass.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum


class Verdict(Enum):
    PASS = "pass"
    WARN = "warn"
    DROP = "drop"


class FloodGuard:
    def __init__(
        self,
        max_messages: int = 20,
        window_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_messages = max_messages
        self.window = window_seconds
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}

    def check(self, chat_key: str) -> Verdict:
        now = self.clock()
        if len(self._seen) > 10_000:
            self._forget_quiet_chats(now)
        seen = self._seen.setdefault(chat_key, deque())
        while seen and now - seen[0] > self.window:
            seen.popleft()
        seen.append(now)
        if len(seen) <= self.max_messages:
            return Verdict.PASS
        if now - self._warned.get(chat_key, float("-inf")) > self.window:
            self._warned[chat_key] = now
            return Verdict.WARN
        return Verdict.DROP

    def _forget_quiet_chats(self, now: float) -> None:
        quiet = [
            key for key, seen in self._seen.items() if not seen or now - seen[-1] > self.window
        ]
        for key in quiet:
            del self._seen[key]
            self._warned.pop(key, None)
