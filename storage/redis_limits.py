"""Send limits shared by every bot process, kept in Redis.

Telegram's limits are per bot, not per process: with several processes each
counting alone, together they would send N times too much. Here every limit is
a sliding-window log in Redis (a sorted set of send times), checked and booked
by one Lua script, atomically, with Redis's own clock: a process either books
all the slots it needs (the chat's and the bot's) or learns how long to wait.
Same windows as ``conversations.core.ratelimit.SendLimits``, same margin.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from conversations.core.ratelimit import MARGIN, SendLimits

log = logging.getLogger(__name__)

# KEYS: the windows; ARGV: count, then limit and period (ms) per key, then a unique tag.
_BOOK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local count = tonumber(ARGV[1])
local tag = ARGV[#ARGV]
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local period = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  local used = redis.call('ZCARD', key)
  local need = math.min(count, limit)
  if used + need > limit then
    local oldest = redis.call('ZRANGE', key, used + need - limit - 1, used + need - limit - 1,
                              'WITHSCORES')
    local free_at = tonumber(oldest[2]) + period
    if free_at - now > wait then wait = free_at - now end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local period = tonumber(ARGV[2 * i + 1])
  for n = 1, count do
    redis.call('ZADD', key, now, tag .. ':' .. n)
  end
  redis.call('PEXPIRE', key, math.ceil(period) + 1000)
end
return 0
"""


@dataclass
class RedisSendLimits:
    """``SendLimits`` for many processes: the same ``acquire(chat, count)``, booked in Redis."""

    redis: Redis
    prefix: str
    global_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20
    group_period: float = 60.0

    def __post_init__(self) -> None:
        self._script: Any = self.redis.register_script(_BOOK)
        self._tags = itertools.count()
        self._process = f"{os.getpid()}-{id(self):x}"
        # While Redis is out of reach, this process counts alone (as without Redis)
        # rather than stop sending: a warning says so once per outage.
        self._alone = SendLimits(
            global_per_second=self.global_per_second,
            private_per_second=self.private_per_second,
            private_burst=self.private_burst,
            group_per_minute=self.group_per_minute,
            group_period=self.group_period,
        )
        self._unreachable = False

    def _windows(self, chat_id: str) -> list[tuple[str, int, float]]:
        # The bot's pace: at most global_per_second in any second (a whole second's
        # window, as Telegram counts; the in-process limiter spaces them out).
        windows = [(f"{self.prefix}:all", max(1, int(self.global_per_second)), 1.0)]
        if chat_id.startswith("-"):
            windows.append(
                (f"{self.prefix}:chat:{chat_id}", self.group_per_minute, self.group_period)
            )
        else:
            burst = self.private_burst
            windows.append(
                (f"{self.prefix}:chat:{chat_id}", burst, burst / self.private_per_second)
            )
        return windows

    async def acquire(self, chat_id: str, count: int = 1) -> None:
        """Wait until ``count`` messages to ``chat_id`` may go out; book them."""
        count = max(1, count)
        windows = self._windows(chat_id)
        keys = [key for key, _, _ in windows]
        args: list[Any] = [count]
        for _, limit, period in windows:
            args += [limit, int(period * (1.0 + MARGIN) * 1000)]
        while True:
            args_now = [*args, f"{self._process}-{next(self._tags)}"]
            try:
                wait_ms = int(await self._script(keys=keys, args=args_now))
            except (RedisError, OSError) as error:
                if not self._unreachable:
                    log.warning(
                        "Redis out of reach (%s): send limits are counted in this process "
                        "until it is back",
                        type(error).__name__,
                    )
                    self._unreachable = True
                await self._alone.acquire(chat_id, count)
                return
            if self._unreachable:
                log.warning("Redis is back: send limits are shared again")
                self._unreachable = False
            if wait_ms <= 0:
                return
            await asyncio.sleep(wait_ms / 1000)
