"""The durable inbox on real storage: stored before acknowledged, in order per chat,
exactly once, retried and parked, taken over from a process that died."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.core.context import SystemClock
from conversations.core.inbox import Inbox, InboxEntry, InboxItem
from conversations.core.messages import Channel, ChatAddress, Inbound, InboundKind, Person
from storage.database import session_factory
from storage.inbox_store import SqlInboxStore
from storage.tables import InboxRow
from storage.unit_of_work import SqlUnitOfWork
from storage.workers import SqlWorkers, new_worker_id
from tests.conftest import NEEDS_POSTGRES


class TextIntake:
    """A channel whose raw updates are ``{"chat": ..., "text": ...}``."""

    def __init__(self) -> None:
        self.answered: list[tuple[str, str | None]] = []

    def decode(self, payload: dict[str, Any]) -> Inbound | None:
        if "chat" not in payload:
            return None
        chat = str(payload["chat"])
        return Inbound(
            chat=ChatAddress(Channel.TELEGRAM, chat),
            sender=Person(chat, f"Warga {chat}"),
            kind=InboundKind.TEXT,
            update_key=str(payload["key"]),
            text=str(payload.get("text", "")),
        )

    async def finish(self, payload: dict[str, Any], inbound: Inbound, notice: str | None) -> None:
        self.answered.append((inbound.update_key, notice))


class Recorder:
    """The core's side: applies an event by recording it in the same transaction as its
    dedupe, like the dialogue does; can be told to fail."""

    def __init__(self, engine: AsyncEngine):
        self.sessions = session_factory(engine)
        self.applied: dict[str, list[str]] = defaultdict(list)
        self.failures: dict[str, int] = {}

    async def __call__(self, inbound: Inbound) -> str | None:
        left = self.failures.get(inbound.text or "", 0)
        if left:
            self.failures[inbound.text or ""] = left - 1
            raise RuntimeError("the dialogue broke")
        async with SqlUnitOfWork(self.sessions) as uow:
            if not await uow.updates.claim(inbound.update_key):
                return None
            await asyncio.sleep(random.random() / 200)  # other chats interleave
            self.applied[inbound.chat.chat_id].append(inbound.text or "")
            await uow.commit()
        return "ok"


def entry(chat: int, n: int, text: str | None = None) -> InboxEntry:
    key = f"t:{chat}:{n}"
    return InboxEntry(
        key, "telegram", f"telegram:{chat}", {"key": key, "chat": chat, "text": text or f"m{n}"}
    )


async def worker(engine: AsyncEngine, host: str = "here") -> SqlWorkers:
    process = SqlWorkers(session_factory(engine), new_worker_id(), host=host)
    await process.register(datetime.now(UTC))
    return process


def inbox(
    engine: AsyncEngine, owner: str, dispatch: Recorder, **kw: Any
) -> tuple[Inbox, TextIntake]:
    intake = TextIntake()
    parked: list[InboxItem] = kw.pop("parked", [])

    async def on_parked(item: InboxItem, inbound: Inbound | None, error: str) -> None:
        parked.append(item)

    box = Inbox(
        SqlInboxStore(session_factory(engine), owner),
        {"telegram": intake},
        dispatch,
        SystemClock(),
        on_parked=on_parked,
        failure_notice=lambda inbound: "gangguan",
        backoff_base=0.05,
        **kw,
    )
    return box, intake


async def statuses(engine: AsyncEngine) -> dict[str, str]:
    async with session_factory(engine)() as session:
        rows = (await session.execute(select(InboxRow))).scalars()
        return {row.key: row.status for row in rows}


class TestStoredThenApplied:
    async def test_an_update_is_stored_when_ingest_returns_and_applied_once(
        self, engine: AsyncEngine
    ) -> None:
        process = await worker(engine)
        recorder = Recorder(engine)
        box, intake = inbox(engine, process.id, recorder)
        await box.ingest([entry(1, 1)])
        assert (await statuses(engine))["t:1:1"] in ("processing", "done")
        await box.drain()
        # Telegram (or Meta) sends it again: nothing new happens.
        await box.ingest([entry(1, 1)])
        await box.drain()
        assert recorder.applied["1"] == ["m1"]
        assert await statuses(engine) == {"t:1:1": "done"}
        assert intake.answered == [("t:1:1", "ok")]
        await box.close()

    async def test_each_chat_keeps_its_order_while_chats_run_side_by_side(
        self, engine: AsyncEngine
    ) -> None:
        process = await worker(engine)
        recorder = Recorder(engine)
        box, _ = inbox(engine, process.id, recorder)
        batch = [entry(chat, n) for n in range(15) for chat in range(6)]
        for start in range(0, len(batch), 7):  # polling hands them in a few at a time
            await box.ingest(batch[start : start + 7])
        await box.drain()
        for chat in range(6):
            assert recorder.applied[str(chat)] == [f"m{n}" for n in range(15)]
        await box.close()

    async def test_an_update_that_fails_is_retried_and_the_chat_waits_for_it(
        self, engine: AsyncEngine
    ) -> None:
        process = await worker(engine)
        recorder = Recorder(engine)
        recorder.failures["m1"] = 2
        box, intake = inbox(engine, process.id, recorder)
        await box.ingest([entry(5, 1), entry(5, 2)])
        for _ in range(100):
            await box.drain()
            if recorder.applied["5"] == ["m1", "m2"]:
                break
            await asyncio.sleep(0.05)
        assert recorder.applied["5"] == ["m1", "m2"]
        # The press was answered at the first failure, then again once applied.
        assert intake.answered[0] == ("t:5:1", "gangguan")
        await box.close()

    async def test_an_update_that_always_fails_is_parked_and_the_chat_goes_on(
        self, engine: AsyncEngine
    ) -> None:
        process = await worker(engine)
        recorder = Recorder(engine)
        recorder.failures["racun"] = 99
        parked: list[InboxItem] = []
        box, _ = inbox(engine, process.id, recorder, max_attempts=3, parked=parked)
        await box.ingest([entry(7, 1, "racun"), entry(7, 2, "sesudahnya")])
        for _ in range(100):
            await box.drain()
            if recorder.applied["7"]:
                break
            await asyncio.sleep(0.05)
        assert recorder.applied["7"] == ["sesudahnya"]
        assert [item.key for item in parked] == ["t:7:1"]
        stored = await statuses(engine)
        assert stored == {"t:7:1": "parked", "t:7:2": "done"}
        await box.close()

    async def test_an_unreadable_update_is_marked_handled(self, engine: AsyncEngine) -> None:
        process = await worker(engine)
        box, _ = inbox(engine, process.id, Recorder(engine))
        await box.ingest([InboxEntry("t:x", "telegram", "telegram:?", {"garbage": True})])
        await box.drain()
        assert await statuses(engine) == {"t:x": "done"}
        await box.close()


class TestProcessesThatDie:
    async def test_a_dead_processs_updates_are_taken_over_at_once(
        self, engine: AsyncEngine
    ) -> None:
        dead = SqlWorkers(session_factory(engine), new_worker_id(), host="gone-host")
        await dead.register(datetime.now(UTC))
        # It stored and claimed two updates, then died without a heartbeat since.
        store = SqlInboxStore(session_factory(engine), dead.id, owner_timeout=0.2)
        claimed = await store.ingest([entry(9, 1), entry(9, 2)], datetime.now(UTC), 120)
        assert [c.key for c in claimed] == ["t:9:1", "t:9:2"]
        await asyncio.sleep(0.3)
        process = await worker(engine)
        recorder = Recorder(engine)
        box = Inbox(
            SqlInboxStore(session_factory(engine), process.id, owner_timeout=0.2),
            {"telegram": TextIntake()},
            recorder,
            SystemClock(),
        )
        await box.drain()
        assert recorder.applied["9"] == ["m1", "m2"]
        await box.close()

    async def test_a_live_processs_updates_are_left_to_it(self, engine: AsyncEngine) -> None:
        alive = await worker(engine, host="other-host")
        store = SqlInboxStore(session_factory(engine), alive.id)
        await store.ingest([entry(3, 1)], datetime.now(UTC), 120)
        process = await worker(engine)
        recorder = Recorder(engine)
        box, _ = inbox(engine, process.id, recorder)
        await box.ingest([entry(3, 2)])  # same chat: must wait behind the live claim
        await box.drain()
        assert recorder.applied["3"] == []
        assert (await statuses(engine))["t:3:2"] == "pending"
        await box.close()

    async def test_a_restart_on_the_same_host_takes_back_its_claims_at_once(
        self, engine: AsyncEngine
    ) -> None:
        # The killed process: same host, a pid that no longer runs.
        killed = SqlWorkers(session_factory(engine), new_worker_id(), pid=2**22 + 12345)
        await killed.register(datetime.now(UTC))
        store = SqlInboxStore(session_factory(engine), killed.id)
        await store.ingest([entry(4, 1)], datetime.now(UTC), 120)
        restarted = SqlWorkers(session_factory(engine), new_worker_id())
        await restarted.register(datetime.now(UTC))
        assert await restarted.release_orphans(datetime.now(UTC)) == 1
        assert (await statuses(engine))["t:4:1"] == "pending"


# Seconds: long enough that a busy machine's late wake-ups stay inside the margins.
LEASE = 3.0


class TestHeartbeat:
    async def test_a_slow_chats_update_stays_with_its_live_process_past_its_first_lease(
        self, engine: AsyncEngine
    ) -> None:
        holder = await worker(engine, host="one")
        store = SqlInboxStore(session_factory(engine), holder.id)
        await store.ingest([entry(6, 1)], datetime.now(UTC), LEASE)
        await asyncio.sleep(0.6 * LEASE)
        await holder.heartbeat(datetime.now(UTC), LEASE)
        await asyncio.sleep(0.6 * LEASE)  # the lease it was claimed with has run out
        other = await worker(engine, host="two")
        taken = await SqlInboxStore(session_factory(engine), other.id).claim(
            datetime.now(UTC), 10, LEASE
        )
        assert taken == []
        assert (await statuses(engine))["t:6:1"] == "processing"

    @NEEDS_POSTGRES  # one process on SQLite: writers take turns anyway
    async def test_a_heartbeat_does_not_wait_for_an_update_being_applied(
        self, postgres_engine: AsyncEngine
    ) -> None:
        engine = postgres_engine
        holder = await worker(engine)
        store = SqlInboxStore(session_factory(engine), holder.id)
        await store.ingest([entry(8, 1)], datetime.now(UTC), 1.0)
        applying = session_factory(engine)()
        async with applying.begin():
            # Applying the update: its row is marked done in a transaction still open.
            row: Any = InboxRow
            await applying.execute(update(InboxRow).where(row.key == "t:8:1").values(status="done"))
            await asyncio.sleep(0.6)  # its lease is due for extending
            await asyncio.wait_for(holder.heartbeat(datetime.now(UTC), 1.0), timeout=3)
            others = await (await worker(engine, host="two")).others_alive(datetime.now(UTC))
            assert holder.id in [w.id for w in others]
        await applying.close()
