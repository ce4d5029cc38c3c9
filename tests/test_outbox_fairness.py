"""One busy chat never holds up another, and no message waiting on a limit is sent twice:
the outbox against the fake Bot API with Telegram's limits enforced (429 beyond them)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from conversations.core.context import SystemClock
from conversations.core.delivery import Deliverer
from conversations.core.messages import Channel, ChatAddress, Reply
from conversations.core.outbox import queue
from conversations.core.ratelimit import SendLimits
from handlers.telegram.sender import TelegramSender
from storage.database import session_factory
from storage.files import LocalFileStore
from storage.outbox_queue import SqlOutboxQueue
from storage.unit_of_work import SqlUnitOfWork
from storage.workers import SqlWorkers, new_worker_id
from tests.fakes.telegram_api import FakeTelegram
from tests.support.bot import TOKEN


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        server.enforce_limits = True
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=f"{fake.base_url}/bot") as client:
        yield client


class Process:
    """A bot process's delivery: a registered worker with a heartbeat, a deliverer woken
    after commits and ticked by the scheduler, as in the running bot."""

    def __init__(self, engine: AsyncEngine, bot: Bot, limits: SendLimits, lease: float, host: str):
        self.sessions = session_factory(engine)
        self.worker = SqlWorkers(self.sessions, new_worker_id(), host=host)
        self.lease = lease
        self.deliverer = Deliverer(
            SqlOutboxQueue(self.sessions, owner=self.worker.id),
            {Channel.TELEGRAM.value: TelegramSender(bot)},
            LocalFileStore(Path("/nonexistent")),
            SystemClock(),
            limits,
            lease_seconds=lease,
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Process:
        await self.worker.register(datetime.now(UTC))
        self._tasks = [
            asyncio.create_task(self._every(0.2, self.deliverer.claim_round)),
            asyncio.create_task(
                self._every(
                    self.lease / 3, lambda: self.worker.heartbeat(datetime.now(UTC), self.lease)
                )
            ),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await self.deliverer.close(grace=0.5)
        with contextlib.suppress(Exception):
            await self.worker.deregister()

    @staticmethod
    async def _every(seconds: float, job: object) -> None:
        while True:
            await job()  # type: ignore[operator]
            await asyncio.sleep(seconds)

    async def push(self, chat_id: int, text: str) -> float:
        async with SqlUnitOfWork(self.sessions) as uow:
            address = ChatAddress(Channel.TELEGRAM, str(chat_id))
            await queue(uow, address, Reply(text), "push", f"push:{chat_id}:{text}")
            await uow.commit()
        self.deliverer.wake()
        return time.monotonic()


def arrival(fake: FakeTelegram, chat_id: int, text: str) -> float | None:
    return next((s.time for s in fake.sent if s.chat_id == chat_id and s.text == text), None)


async def test_citizens_hear_within_two_seconds_while_a_group_drains_at_20_a_minute(
    fake: FakeTelegram, bot: Bot, engine: AsyncEngine
) -> None:
    group = fake.group(-100555, "Meja Aduan")
    citizens = [fake.private_user(8000 + i) for i in range(20)]
    async with Process(engine, bot, SendLimits(), lease=120, host="one") as process:
        for n in range(30):
            await process.push(group.id, f"kartu {n}")
        queued: dict[int, float] = {}
        for citizen in citizens:
            queued[citizen.id] = await process.push(citizen.id, "kabar")
            await asyncio.sleep(0.2)
        await fake.wait_for(lambda: all(arrival(fake, c.id, "kabar") for c in citizens), timeout=15)
        delays = {c.id: (arrival(fake, c.id, "kabar") or 0) - queued[c.id] for c in citizens}
    assert max(delays.values()) < 2.0, delays
    cards = [s.text for s in fake.sent if s.chat_id == group.id]
    assert cards == [f"kartu {n}" for n in range(20)]  # the rest waits for its minute
    assert fake.limit_violations() == []
    assert not [c for c in fake.calls if c.status == 429]


async def test_a_429_for_one_citizen_does_not_delay_another(
    fake: FakeTelegram, bot: Bot, engine: AsyncEngine
) -> None:
    slow, other = fake.private_user(8101), fake.private_user(8102)
    fake.fail_next("sendMessage", status=429, retry_after=3, chat_id=slow.id)
    async with Process(engine, bot, SendLimits(), lease=120, host="one") as process:
        asked = await process.push(slow.id, "satu")
        await fake.wait_for(lambda: any(c.status == 429 for c in fake.calls))
        queued = await process.push(other.id, "dua")
        await fake.wait_for(lambda: arrival(fake, other.id, "dua"), timeout=5)
        await fake.wait_for(lambda: arrival(fake, slow.id, "satu"), timeout=10)
    assert (arrival(fake, other.id, "dua") or 0) - queued < 1.0
    assert (arrival(fake, slow.id, "satu") or 0) - asked >= 3.0


async def test_a_group_backlog_longer_than_the_lease_sends_each_card_once(
    fake: FakeTelegram, bot: Bot, engine: AsyncEngine
) -> None:
    fake.enforce_limits = False  # the group window here is shortened to 2 s
    group = fake.group(-100666, "PUPR")
    # One card a second for eight seconds; leases of three; two processes claiming.
    limits = [SendLimits(group_per_minute=2, group_period=2.0) for _ in range(2)]
    async with (
        Process(engine, bot, limits[0], lease=3.0, host="one") as first,
        Process(engine, bot, limits[1], lease=3.0, host="two"),
    ):
        for n in range(8):
            await first.push(group.id, f"kartu {n}")
        await fake.wait_for(
            lambda: len([s for s in fake.sent if s.chat_id == group.id]) >= 8, timeout=20
        )
        await asyncio.sleep(1.5)  # any second send would show up by now
    sent = Counter(s.text for s in fake.sent if s.chat_id == group.id)
    assert sent == Counter({f"kartu {n}": 1 for n in range(8)})
    order = [s.text for s in fake.sent if s.chat_id == group.id]
    assert order == [f"kartu {n}" for n in range(8)]
