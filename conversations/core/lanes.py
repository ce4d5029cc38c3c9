"""Per-chat lanes in memory: each chat's items are worked on in order, one at a
time, while many chats progress side by side.

Used by the inbox (updates of one chat are applied in order) and by the outbox
delivery (messages to one chat go out in order, each chat at its own pace). A
lane that stops early (an item must wait, or the process stops) hands its
remaining items back through ``abandon``; until that is done the lane takes no
new items (``add`` returns them), so nothing newer overtakes what is handed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

Work = Callable[[str, T], Awaitable[bool]]
Abandon = Callable[[str, list[T]], Awaitable[None]]


@dataclass
class _Lane(Generic[T]):
    items: deque[T] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class Lanes(Generic[T]):
    """``work(lane, item)`` returns False to stop the lane (later items are abandoned)."""

    def __init__(self, work: Work[T], abandon: Abandon[T], concurrency: int | None = None):
        self._work = work
        self._abandon = abandon
        self._slots = asyncio.Semaphore(concurrency) if concurrency else None
        self._lanes: dict[str, _Lane[T]] = {}
        self._blocked: set[str] = set()
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, lane: str, items: list[T]) -> list[T]:
        """Queue items at the tail of their lane, starting it if needed.

        Returns the items it refused (stopping, or the lane is handing items back):
        the caller hands those back too.
        """
        if not items:
            return []
        if self._stopping or lane in self._blocked:
            return list(items)
        current = self._lanes.get(lane)
        if current is not None:
            current.items.extend(items)
            return []
        fresh: _Lane[T] = _Lane(deque(items))
        self._lanes[lane] = fresh
        self._idle.clear()
        fresh.task = asyncio.get_running_loop().create_task(self._run(lane, fresh))
        return []

    def held(self) -> dict[str, int]:
        return {key: len(lane.items) for key, lane in self._lanes.items()}

    def count(self) -> int:
        return sum(len(lane.items) for lane in self._lanes.values())

    def busy(self, limit: int) -> list[str]:
        """Lanes not to claim for now: those holding ``limit`` items, or handing back."""
        return [key for key, lane in self._lanes.items() if len(lane.items) >= limit] + list(
            self._blocked
        )

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def _run(self, key: str, lane: _Lane[T]) -> None:
        try:
            while lane.items and not self._stopping:
                item = lane.items[0]
                try:
                    if self._slots is not None:
                        async with self._slots:
                            carry_on = await self._work(key, item)
                    else:
                        carry_on = await self._work(key, item)
                except Exception:
                    # Handed back with the rest: claimed again later, in order, never
                    # left claimed by a process that has given up on it.
                    log.exception("lane %s: work failed", key)
                    break
                lane.items.popleft()
                if not carry_on:
                    break
        finally:
            # No await before the lane is gone or blocked: ``add`` must never put
            # new items behind ones that are being handed back.
            rest = list(lane.items)
            lane.items.clear()
            del self._lanes[key]
            if rest:
                self._blocked.add(key)
                try:
                    await self._abandon(key, rest)
                except Exception:
                    log.exception("lane %s: could not hand back %d items", key, len(rest))
                finally:
                    self._blocked.discard(key)
            if not self._lanes:
                self._idle.set()

    async def close(self, grace: float) -> None:
        """Stop taking items; let running work finish for ``grace`` seconds; hand back the rest."""
        self._stopping = True
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*tasks, return_exceptions=True), timeout=grace
                )
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
