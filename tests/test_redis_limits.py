"""Send limits shared by several bot processes through Redis: together they never send
more than one bot may."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from storage.redis_limits import RedisSendLimits

REDIS_URL = os.environ.get("TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="TEST_REDIS_URL is not set (.ci/run sets it; Redis on 127.0.0.1)"
)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    assert REDIS_URL
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def most_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_two_processes_together_keep_a_groups_limit(redis: Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    processes = [
        RedisSendLimits(redis, prefix, group_per_minute=5, group_period=1.0) for _ in range(2)
    ]
    sent: list[float] = []

    async def sender(limits: RedisSendLimits) -> None:
        for _ in range(8):
            await limits.acquire("-100777")
            sent.append(time.monotonic())

    await asyncio.gather(*(sender(p) for p in processes))
    assert len(sent) == 16
    assert most_in_window(sent, 1.0) <= 5


async def test_two_processes_together_keep_the_bots_pace(redis: Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    processes = [
        RedisSendLimits(redis, prefix, global_per_second=20, private_burst=100) for _ in range(2)
    ]
    sent: list[float] = []

    async def sender(limits: RedisSendLimits, first: int) -> None:
        for n in range(25):
            await limits.acquire(str(first + n))  # every message to another citizen
            sent.append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(sender(processes[0], 1000), sender(processes[1], 2000))
    assert most_in_window(sent, 1.0) <= 20
    assert time.monotonic() - started >= 1.0  # 50 messages at 20/s need two windows
