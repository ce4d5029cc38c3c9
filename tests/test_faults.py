"""The bot process killed with SIGKILL at bad moments, then started again, on SQLite and
PostgreSQL: every update that reached it is applied exactly once, nothing is lost, and
no chat waits behind a dead process's claims."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeTelegram, FakeUser
from tests.support.bot import ADMIN_CHAT_ID, TOKEN
from tests.support.process import BotProcess

GREETING = "Selamat datang"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        server.group(chat_id=ADMIN_CHAT_ID, title="Meja Aduan")
        yield server


def greetings(fake: FakeTelegram, user: FakeUser) -> int:
    return sum(GREETING in t for t in fake.texts_to(user))


async def started(fake: FakeTelegram, bot: BotProcess) -> None:
    polls = fake.get_updates_calls
    bot.start()
    await fake.wait_for(lambda: fake.get_updates_calls > polls or not bot.alive, timeout=30)
    assert bot.alive, bot.output()[-3000:]


async def test_kills_while_a_burst_is_being_taken_in_lose_and_repeat_nothing(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    citizens = [fake.private_user(6000 + i, f"Warga{i}") for i in range(30)]
    bot = BotProcess(tmp_path, fake.base_url, database_url)
    rng = random.Random(42)
    # Replies cannot go out yet, so none is on the wire at a kill: what is tested
    # here is taking updates in (stored before confirmed) and applying them once.
    fake.fail_next("sendMessage", status=502, times=10_000)
    try:
        for burst in range(3):
            await started(fake, bot)
            fetched = len(fake.delivered_updates)
            for citizen in citizens[burst * 10 : (burst + 1) * 10]:
                citizen.send_command("/start")
            await fake.wait_for(lambda fetched=fetched: len(fake.delivered_updates) > fetched)
            await asyncio.sleep(rng.random() * 0.08)  # before, while or after storing them
            bot.kill()
        fake.heal()
        await started(fake, bot)
        await fake.wait_for(lambda: all(greetings(fake, c) for c in citizens), timeout=30)
        await fake.wait_idle(quiet=1.0, timeout=30)
    finally:
        bot.stop()
    assert [greetings(fake, c) for c in citizens] == [1] * len(citizens), bot.output()[-3000:]


async def test_a_kill_while_sending_freezes_no_chat_and_repeats_only_what_was_in_flight(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    citizens = [fake.private_user(7000 + i, f"Warga{i}") for i in range(10)]
    bot = BotProcess(
        tmp_path,
        fake.base_url,
        database_url,
    )
    try:
        await started(fake, bot)
        fake.respond_slowly("sendMessage", 3.0)
        for citizen in citizens:
            citizen.send_command("/start")
        await fake.wait_for(lambda: fake.calls_in_flight >= 3, timeout=15)
        in_flight = fake.calls_in_flight
        bot.kill()
        fake.heal()
        for citizen in citizens:  # every chat speaks again right after the restart
            citizen.send_command("/bantuan")
        await started(fake, bot)
        restarted = time.monotonic()
        await fake.wait_for(
            lambda: all(greetings(fake, c) and len(fake.texts_to(c)) >= 2 for c in citizens),
            timeout=45,
        )
        waited = time.monotonic() - restarted
        await fake.wait_idle(quiet=1.0, timeout=30)
    finally:
        bot.stop()
    # Before claims had owners, a chat stayed frozen for the whole lease.
    assert waited < 45, f"chats waited {waited:.1f}s after the restart"
    counts = [greetings(fake, c) for c in citizens]
    assert all(n >= 1 for n in counts)
    # At-least-once for a message on the wire at the kill: Telegram has no idempotency key.
    assert sum(n - 1 for n in counts) <= in_flight
