"""Writes that many callers make at once, done together, and bookkeeping retried
until the database takes it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batches(Generic[T, R]):
    """``await batches.add(items)`` returns once ``write`` has taken them. Items added
    while a write is under way go together into the next one: one transaction (one
    commit) for many callers. ``then`` gets each write's result after its callers
    were released; a failed write fails every caller of its batch."""

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[R]],
        then: Callable[[R], Awaitable[None]] | None = None,
    ):
        self._write = write
        self._then = then
        self._waiting: list[tuple[Sequence[T], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def add(self, items: Sequence[T]) -> None:
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        self._waiting.append((items, written))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        await written

    async def finish(self) -> None:
        """Wait until what was added is written (or refused)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                result = await self._write([item for group, _ in batch for item in group])
            except Exception as error:
                for _, written in batch:
                    if not written.done():
                        written.set_exception(error)
                continue
            for _, written in batch:
                if not written.done():
                    written.set_result(None)
            if self._then is not None:
                await self._then(result)


async def until_done(
    step: Callable[[], Awaitable[None]], who: str, what: str, log: logging.Logger
) -> None:
    """Run a bookkeeping step, waiting for the database as long as it takes."""
    pause = 0.5
    while True:
        try:
            await step()
            return
        except Exception as error:
            log.warning(
                "%s: cannot %s (%s); retrying in %.0f s", who, what, type(error).__name__, pause
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 15.0)
