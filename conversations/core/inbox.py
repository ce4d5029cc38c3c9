"""The durable inbox: every inbound update is stored before it is acknowledged,
then applied from there, in order per chat, exactly once.

An adapter hands updates to ``Inbox.ingest`` (Telegram polling before the next
``getUpdates`` confirms them, a webhook before it answers 200); ``ingest``
returns once they are committed. The same transaction claims those whose chat
is free for this process, and lanes apply them at once. Everything else (rows
of a chat another process is busy with, rows after a restart, retries that
fell due) is claimed by ``sweep``, which the scheduler runs every second.

Applying an update marks its row done in the same transaction as the change it
causes (``uow.updates.claim``), so a crash never applies it twice. When applying
fails while the database is reachable, the update is retried with back-off and,
after ``max_attempts``, parked: kept for officers to see (``aduan inbox``), the
citizen told once. When the database is out of reach, nothing is counted: the
lane waits for it and goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from conversations.core.batches import Batches, until_done
from conversations.core.lanes import Lanes
from conversations.core.messages import Inbound
from conversations.core.observe import NoObserver, Observer
from conversations.core.ports import Clock
from conversations.core.sanitize import clean_inbound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboxEntry:
    """An update as an adapter hands it in: its dedupe key, its chat, the raw payload."""

    key: str
    channel: str
    chat_key: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class InboxItem:
    """A stored update this process has claimed."""

    id: int
    key: str
    channel: str
    chat_key: str
    payload: dict[str, Any]
    attempts: int = 0


@dataclass(frozen=True)
class InboxCounts:
    pending: int
    processing: int
    parked: int
    last_received: datetime | None


class InboxStore(Protocol):
    async def ingest(
        self, entries: Sequence[InboxEntry], now: datetime, lease_seconds: float
    ) -> list[InboxItem]:
        """Store new entries (known keys are skipped) and, in the same transaction,
        claim those of their chats that are free for this process."""

    async def claim(
        self, now: datetime, limit: int, lease_seconds: float, skip: Sequence[str] = ()
    ) -> list[InboxItem]: ...
    async def finish(self, item: InboxItem, now: datetime) -> None:
        """Mark an update handled that changed nothing (ignored, unreadable)."""

    async def retry(self, item: InboxItem, at: datetime, error: str) -> None: ...
    async def park(self, item: InboxItem, error: str, now: datetime) -> None: ...
    async def release(self, items: Sequence[InboxItem]) -> None: ...
    async def ping(self) -> None:
        """Raise when the database cannot be reached."""

    async def counts(self) -> InboxCounts: ...


class ChannelIntake(Protocol):
    """What the inbox needs from a channel adapter."""

    def decode(self, payload: dict[str, Any]) -> Inbound | None:
        """The neutral event of a raw update, or None for one that needs no handling."""

    async def finish(self, payload: dict[str, Any], inbound: Inbound, notice: str | None) -> None:
        """After handling: e.g. answer a pressed button with ``notice``.

        An intake with a ``ready`` attribute that is False is still starting: its
        updates are stored and wait until it is True."""


@runtime_checkable
class OtherUpdates(Protocol):
    """A channel whose updates are not all chat messages (WhatsApp's delivery statuses)."""

    async def apply_other(self, payload: dict[str, Any]) -> bool:
        """Apply an update that is no chat message; False when ``payload`` is a message."""


Dispatch = Callable[[Inbound], Awaitable[str | None]]
OnParked = Callable[[InboxItem, Inbound | None, str], Awaitable[None]]
OnFailure = Callable[[Inbound], str]


async def _nothing(item: InboxItem, inbound: Inbound | None, error: str) -> None:
    return None


class Inbox:
    def __init__(
        self,
        store: InboxStore,
        intakes: dict[str, ChannelIntake],
        dispatch: Dispatch,
        clock: Clock,
        *,
        on_parked: OnParked | None = None,
        failure_notice: OnFailure | None = None,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        lease_seconds: float = 120.0,
        batch: int = 200,
        per_chat: int = 20,
        concurrency: int = 8,
        observer: Observer | None = None,
    ):
        self.store = store
        self.intakes = intakes
        self.dispatch = dispatch
        self.clock = clock
        self.on_parked: OnParked = on_parked or _nothing
        self.failure_notice = failure_notice
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.per_chat = per_chat
        self.observer: Observer = observer or NoObserver()
        self.lanes: Lanes[InboxItem] = Lanes(self._apply, self._hand_back, concurrency)
        self._sweep_lock = asyncio.Lock()
        self._storing: Batches[InboxEntry, list[InboxItem]] = Batches(
            self._store, self._start_applying
        )
        self._background: set[asyncio.Task[int]] = set()
        self.handled = 0
        self.failed = 0

    # intake ------------------------------------------------------------------

    async def ingest(self, entries: Sequence[InboxEntry]) -> None:
        """Store updates durably, then start applying those this process may take.

        Raises when they could not be stored: the adapter must not acknowledge them.
        Calls that arrive while a store is under way (webhook requests, one update
        each) are stored together in the next transaction: one commit for many.
        """
        if entries:
            await self._storing.add(entries)

    async def _store(self, entries: list[InboxEntry]) -> list[InboxItem]:
        return await self.store.ingest(entries, self.clock.now(), self.lease_seconds)

    async def _start_applying(self, items: list[InboxItem]) -> None:
        try:
            await self._take(items)
        except Exception:
            # Stored and claimed: a sweep takes them once their lease ends.
            log.exception("inbox: could not start applying %d stored updates", len(items))

    async def sweep(self) -> int:
        """Claim what waits: other chats' turns, retries now due, a dead process's rows."""
        if self._sweep_lock.locked():
            return 0
        async with self._sweep_lock:
            items = await self.store.claim(
                self.clock.now(),
                self.batch,
                self.lease_seconds,
                skip=self.lanes.busy(self.per_chat),
            )
            await self._take(items)
            return len(items)

    def sweep_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self.sweep())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Apply everything claimable now and wait for it (tests, shutdown)."""
        while await self.sweep() or self.lanes.count():
            await self.lanes.wait_idle()

    async def close(self, grace: float = 5.0) -> None:
        # What was handed in is stored (or refused) before lanes close.
        await self._storing.finish()
        for task in list(self._background):
            task.cancel()
        await self.lanes.close(grace)

    async def _take(self, items: list[InboxItem]) -> None:
        by_chat: dict[str, list[InboxItem]] = defaultdict(list)
        for item in items:
            by_chat[item.chat_key].append(item)
        for chat, held in by_chat.items():
            refused = self.lanes.add(chat, held)
            if refused:
                await self.store.release(refused)

    async def _hand_back(self, chat: str, items: list[InboxItem]) -> None:
        await self._until_stored(lambda: self.store.release(items), "hand back updates")

    # applying ------------------------------------------------------------------

    async def _apply(self, chat: str, item: InboxItem) -> bool:
        started = time.monotonic()
        carry_on, outcome = await self._handle(item)
        self.observer.update_handled(item.channel, outcome, time.monotonic() - started)
        return carry_on

    async def _handle(self, item: InboxItem) -> tuple[bool, str]:
        """Apply one update; (may the chat's next one go on, what happened)."""
        intake = self.intakes.get(item.channel)
        inbound: Inbound | None = None
        if intake is not None and not getattr(intake, "ready", True):
            # The channel is still starting (its API out of reach): the update waits,
            # stored, and is claimed again by a later sweep; no attempt is counted.
            await self._until_stored(lambda: self.store.release([item]), "hand back an update")
            return False, "waiting"
        try:
            if isinstance(intake, OtherUpdates) and await intake.apply_other(item.payload):
                await self.store.finish(item, self.clock.now())
                self.handled += 1
                return True, "handled"
            if intake is not None:
                decoded = intake.decode(item.payload)
                inbound = clean_inbound(decoded) if decoded is not None else None
            if inbound is None:
                if intake is None:
                    log.warning("inbox %s: no adapter for channel %s", item.key, item.channel)
                await self.store.finish(item, self.clock.now())
                self.handled += 1
                return True, "ignored"
            notice = await self.dispatch(inbound)
        except Exception as error:
            return await self._failed(item, inbound, error)
        self.handled += 1
        if intake is not None:
            try:
                await intake.finish(item.payload, inbound, notice)
            except Exception:
                log.warning("inbox %s: could not finish on %s", item.key, item.channel)
        return True, "handled"

    async def _failed(
        self, item: InboxItem, inbound: Inbound | None, error: Exception
    ) -> tuple[bool, str]:
        if not await self._reachable():
            # The database is away: that is nobody's fault, and nothing is counted.
            await self._until_stored(self.store.ping, "reach the database")
            return await self._handle(item)
        self.failed += 1
        detail = f"{type(error).__name__}: {error}"[:500]
        log.exception("inbox %s failed (attempt %d)", item.key, item.attempts + 1)
        if inbound is not None and item.attempts == 0 and self.failure_notice is not None:
            # A pressed button must not spin while we retry.
            intake = self.intakes.get(item.channel)
            if intake is not None:
                try:
                    await intake.finish(item.payload, inbound, self.failure_notice(inbound))
                except Exception:
                    log.warning("inbox %s: could not answer after a failure", item.key)
        if item.attempts + 1 >= self.max_attempts:
            await self._until_stored(
                lambda: self.store.park(item, detail, self.clock.now()), "park an update"
            )
            try:
                await self.on_parked(item, inbound, detail)
            except Exception:
                log.exception("inbox %s: could not report the parked update", item.key)
            return True, "parked"
        delay = self.backoff_base * 2.0**item.attempts
        at = self.clock.now() + timedelta(seconds=delay)
        await self._until_stored(lambda: self.store.retry(item, at, detail), "reschedule")
        return False, "failed"

    async def _reachable(self) -> bool:
        try:
            await self.store.ping()
        except Exception:
            return False
        return True

    async def _until_stored(self, step: Callable[[], Awaitable[None]], what: str) -> None:
        await until_done(step, "inbox", what, log)
