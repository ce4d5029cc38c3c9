"""The outbox through the fake Bot API: 429, 5xx, 403, crashes, two processes, rate limits."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from conversations.core.context import SystemClock
from conversations.core.delivery import Deliverer
from conversations.core.domain import Citizen, Complaint, OutboxItem
from conversations.core.duties import Duties
from conversations.core.messages import Channel, ChatAddress, Reply
from conversations.core.outbox import queue
from conversations.core.ratelimit import SendLimits
from handlers.telegram.common import BotApiSender
from handlers.telegram.sender import TelegramSender
from storage import migrate
from storage.database import create_engine, is_sqlite, session_factory
from storage.files import LocalFileStore
from storage.outbox_queue import SqlOutboxQueue
from storage.repositories import OutboxClaim
from storage.schedule_queries import SqlScheduleQueries
from storage.tables import CitizenRow, OutboxRow
from storage.unit_of_work import SqlUnitOfWork
from storage.workers import SqlWorkers, new_worker_id
from tests.conftest import NEEDS_POSTGRES
from tests.fakes.telegram_api import TINY_JPEG, FakeTelegram
from tests.support.bot import ADMIN_CHAT_ID, FRAMEWORKS, TOKEN, framework_sender, running_bot
from tests.support.core import Core, build_core

FAST = {"global_per_second": 5000.0, "private_per_second": 5000.0, "private_burst": 100}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        server.group(ADMIN_CHAT_ID)
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, base_url=f"{fake.base_url}/bot", base_file_url=f"{fake.base_url}/file/bot")
    async with bot:
        yield bot


@pytest.fixture(params=FRAMEWORKS)
async def sender(fake: FakeTelegram, request: pytest.FixtureRequest) -> AsyncIterator[BotApiSender]:
    """The sending port on each Telegram framework: the same outcomes from the same errors."""
    async with framework_sender(fake, request.param) as port:
        yield port


@pytest.fixture
def core(engine: AsyncEngine, tmp_path: Path) -> Core:
    core = build_core(engine, tmp_path / "media")
    core.ctx.desk_chat = ChatAddress(Channel.TELEGRAM, str(ADMIN_CHAT_ID))
    return core


def deliverer(
    engine: AsyncEngine, bot: Bot | BotApiSender, core: Core | None = None, **kw: object
) -> Deliverer:
    limits = kw.pop("limits", None) or SendLimits(**FAST)  # type: ignore[arg-type]
    owner = kw.pop("owner", None)
    d = Deliverer(
        SqlOutboxQueue(session_factory(engine), owner=owner),  # type: ignore[arg-type]
        {Channel.TELEGRAM.value: TelegramSender(bot) if isinstance(bot, Bot) else bot},
        LocalFileStore(Path("/nonexistent")),
        SystemClock(),
        limits,  # type: ignore[arg-type]
        backoff_base=0.05,
        backoff_max=0.2,
        **kw,  # type: ignore[arg-type]
    )
    if core is not None:
        duties = Duties(core.ctx, SqlScheduleQueries(session_factory(engine)))
        d.on_failed = duties.delivery_failed
        d.on_unreachable = duties.delivery_unreachable
    return d


async def push(core: Core, chat_id: int, texts: list[str], complaint_id: int | None = None) -> None:
    async with core.ctx.uow() as uow:
        for text in texts:
            await queue(
                uow,
                ChatAddress(Channel.TELEGRAM, str(chat_id)),
                Reply(text),
                "push",
                f"push:{chat_id}:{text}",
                complaint_id,
            )
        await uow.commit()


async def statuses(engine: AsyncEngine) -> Counter[str]:
    async with session_factory(engine)() as session:
        status: Any = OutboxRow.status
        rows = (await session.execute(select(status))).scalars()
        return Counter(rows)


async def until_settled(d: Deliverer, engine: AsyncEngine, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while True:
        await d.run_once()
        counts = await statuses(engine)
        if counts["pending"] + counts["sending"] == 0:
            return
        assert time.monotonic() < deadline, counts
        await asyncio.sleep(0.05)


def texts_to(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [s.text or "" for s in fake.sent if s.chat_id == chat_id]


async def add_complaint(core: Core, user: int) -> Complaint:
    from conversations.core.complaints import submit
    from conversations.core.domain import Draft

    async with core.ctx.uow() as uow:
        citizen = await uow.citizens.add(Citizen("telegram", str(user), str(user), "Siti"))
        draft = Draft(category="jalan", description="Lampu jalan mati sejak seminggu")
        complaint = await submit(core.ctx, uow, citizen, draft)
        await uow.commit()
    return complaint


async def test_same_event_is_queued_once(core: Core, engine: AsyncEngine) -> None:
    await push(core, 1001, ["satu"])
    await push(core, 1001, ["satu"])
    assert (await statuses(engine))["pending"] == 1


async def test_429_waits_retry_after_and_keeps_order(
    fake: FakeTelegram, sender: BotApiSender, core: Core, engine: AsyncEngine
) -> None:
    user = fake.private_user(1001)
    await push(core, user.id, ["satu", "dua", "tiga"])
    fake.fail_next("sendMessage", status=429, retry_after=1, chat_id=user.id)
    d = deliverer(engine, sender)
    await until_settled(d, engine)
    assert texts_to(fake, user.id) == ["satu", "dua", "tiga"]
    refused = [c for c in fake.calls if c.status == 429]
    first_ok = min(s.time for s in fake.sent if s.chat_id == user.id)
    assert len(refused) == 1 and first_ok - refused[0].time >= 1.0


async def test_5xx_backs_off_then_delivers(
    fake: FakeTelegram, bot: Bot, core: Core, engine: AsyncEngine
) -> None:
    user = fake.private_user(1001)
    await push(core, user.id, ["kabar"])
    fake.fail_next("sendMessage", status=502, chat_id=user.id, times=3)
    d = deliverer(engine, bot, core)
    # Jitter ranges that cannot overlap: 0.1-0.3 s after the first failure, 0.4-1.2 s
    # after the third.
    d.backoff_base, d.backoff_max = 0.2, 1.0
    delays: list[float] = []
    reschedule = d.queue.reschedule

    async def recorded(
        item: OutboxItem, at: datetime, error: str, count_attempt: bool = True
    ) -> None:
        delays.append((at - datetime.now(UTC)).total_seconds())
        await reschedule(item, at, error, count_attempt)

    d.queue.reschedule = recorded  # type: ignore[method-assign]
    await until_settled(d, engine)
    assert texts_to(fake, user.id) == ["kabar"]
    assert len([c for c in fake.calls if c.method == "sendMessage"]) == 4
    assert len(delays) == 3 and delays[2] > delays[0]  # exponential, with jitter
    assert texts_to(fake, ADMIN_CHAT_ID) == []


async def test_gives_up_after_max_attempts_and_tells_the_desk_once(
    fake: FakeTelegram, bot: Bot, core: Core, engine: AsyncEngine
) -> None:
    user = fake.private_user(1001)
    complaint = await add_complaint(core, user.id)
    await push(core, user.id, ["kabar"], complaint.id)
    fake.fail_next("sendMessage", status=500, chat_id=user.id, times=10)
    d = deliverer(engine, bot, core, max_attempts=3)
    await until_settled(d, engine)
    assert texts_to(fake, user.id) == []
    assert (await statuses(engine))["failed"] == 1
    alerts = [t for t in texts_to(fake, ADMIN_CHAT_ID) if "gagal terkirim" in t]
    assert len(alerts) == 1 and complaint.ticket in alerts[0]


async def test_403_marks_the_citizen_unreachable_and_tells_the_desk(
    fake: FakeTelegram, sender: BotApiSender, core: Core, engine: AsyncEngine
) -> None:
    user = fake.private_user(1001)
    complaint = await add_complaint(core, user.id)
    await push(core, user.id, ["satu", "dua"], complaint.id)
    fake.block(user)
    d = deliverer(engine, sender, core)
    await until_settled(d, engine)
    assert texts_to(fake, user.id) == []
    assert len([c for c in fake.calls if c.status == 403]) == 1  # no retries
    counts = await statuses(engine)
    assert counts["unreachable"] == 2
    async with session_factory(engine)() as session:
        citizen = (await session.execute(select(CitizenRow))).scalar_one()
    assert citizen.unreachable
    alerts = [t for t in texts_to(fake, ADMIN_CHAT_ID) if "memblokir" in t]
    assert len(alerts) == 1 and complaint.ticket in alerts[0]


async def test_crash_between_commit_and_send_then_restart(
    fake: FakeTelegram, bot: Bot, core: Core, database_url: str, engine: AsyncEngine
) -> None:
    users = [fake.private_user(2000 + i) for i in range(5)]
    for user in users:
        await push(core, user.id, [f"kabar {i}" for i in range(3)])
    # The first process claimed some rows and died before sending them.
    dead_queue = SqlOutboxQueue(session_factory(engine))
    claimed = await dead_queue.claim(datetime.now(UTC), 4, lease_seconds=0.5)
    assert claimed
    await asyncio.sleep(0.6)  # its lease runs out
    restarted = create_engine(database_url)
    try:
        d = deliverer(restarted, bot)
        await until_settled(d, restarted)
    finally:
        await restarted.dispose()
    for user in users:
        assert texts_to(fake, user.id) == ["kabar 0", "kabar 1", "kabar 2"]


async def test_restart_of_the_whole_bot_delivers_what_was_committed(
    fake: FakeTelegram, core: Core, database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    users = [fake.private_user(3000 + i) for i in range(4)]
    for user in users:
        await push(core, user.id, ["sebelum crash 1", "sebelum crash 2"])
    async with running_bot(
        fake,
        database_url,
        tmp_path,
        telegram_global_rate=1000.0,
        telegram_private_rate=1000.0,
        telegram_private_burst=50,
    ):
        for user in users:
            assert (await fake.next_message_to(user)).text == "sebelum crash 1"
            assert (await fake.next_message_to(user)).text == "sebelum crash 2"
        await fake.wait_idle(quiet=0.3)
    for user in users:
        assert len(texts_to(fake, user.id)) == 2


@pytest.mark.parametrize("processes", [2])
async def test_two_processes_deliver_each_row_once(
    fake: FakeTelegram, bot: Bot, core: Core, database_url: str, processes: int
) -> None:
    # SQLite is one process only (no SKIP LOCKED); PostgreSQL runs two deliverers.
    count = 1 if is_sqlite(database_url) else processes
    users = [fake.private_user(10_000 + i) for i in range(100)]
    async with core.ctx.uow() as uow:
        for n in range(1000):
            user = users[n % len(users)]
            await queue(
                uow,
                ChatAddress(Channel.TELEGRAM, str(user.id)),
                Reply(f"m{n}"),
                "push",
                f"bulk:{n}",
            )
        await uow.commit()
    engines = [create_engine(database_url) for _ in range(count)]
    beats: list[asyncio.Task[None]] = []

    async def heartbeat(process: SqlWorkers) -> None:
        while True:
            await asyncio.sleep(1)
            await process.heartbeat(datetime.now(UTC), lease_seconds=120)

    try:
        owners = []
        for number, extra in enumerate(engines):
            await migrate.upgrade(extra)
            # Two live processes: each registered, with a heartbeat, as if on its own host.
            process = SqlWorkers(session_factory(extra), new_worker_id(), host=f"host-{number}")
            await process.register(datetime.now(UTC))
            owners.append(process.id)
            beats.append(asyncio.create_task(heartbeat(process)))
        workers = [
            deliverer(e, bot, batch=50, owner=owner)
            for e, owner in zip(engines, owners, strict=True)
        ]

        async def work(d: Deliverer, engine: AsyncEngine) -> int:
            # Like the scheduled job of a process: run rounds until nothing is left.
            done = 0
            while True:
                done += await d.run_once()
                counts = await statuses(engine)
                if counts["pending"] + counts["sending"] == 0:
                    return done
                await asyncio.sleep(0.01)

        results = await asyncio.gather(*(work(w, e) for w, e in zip(workers, engines, strict=True)))
    finally:
        for beat in beats:
            beat.cancel()
        for extra in engines:
            await extra.dispose()
    sent = Counter(s.text for s in fake.sent)
    assert len(sent) == 1000 and set(sent.values()) == {1}
    if count == 2:
        assert all(r > 0 for r in results), results  # both really took part
    for user in users:  # per-chat order held across processes
        numbers = [int(t[1:]) for t in texts_to(fake, user.id)]
        assert numbers == sorted(numbers)


async def test_rate_limits_are_never_exceeded(
    fake: FakeTelegram, bot: Bot, core: Core, engine: AsyncEngine
) -> None:
    users = [fake.private_user(4000 + i) for i in range(12)]
    group = fake.group(-100999, "Dinas PUPR")
    for user in users:
        await push(core, user.id, [f"p{i}" for i in range(5)])
    await push(core, group.id, [f"g{i}" for i in range(6)])
    limits = SendLimits()  # Telegram's real limits
    d = deliverer(engine, bot, limits=limits)
    started = time.monotonic()
    await until_settled(d, engine, within=30)
    assert len(fake.sent) == 12 * 5 + 6
    assert fake.limit_violations() == []
    assert fake.max_rate(1.0) <= 30
    assert time.monotonic() - started < 10


async def test_the_wake_up_after_a_commit_delivers_at_once(
    fake: FakeTelegram, bot: Bot, core: Core, engine: AsyncEngine
) -> None:
    user = fake.private_user(1001)
    d = deliverer(engine, bot)
    await push(core, user.id, ["segera"])
    d.wake()
    message = await fake.next_message_to(user, timeout=3)
    assert message.text == "segera"
    await d.close()


async def test_403_from_a_group_fails_that_row_only_and_tells_the_desk(
    fake: FakeTelegram, bot: Bot, core: Core, engine: AsyncEngine
) -> None:
    group = fake.group(-100777, "Dinas PUPR")
    await push(core, group.id, ["kartu 1", "kartu 2"])
    removed = "Forbidden: bot is not a member of the supergroup chat"
    fake.fail_next("sendMessage", status=403, chat_id=group.id, description=removed)
    d = deliverer(engine, bot, core)
    await until_settled(d, engine)
    assert texts_to(fake, group.id) == ["kartu 2"]  # the group was not written off
    counts = await statuses(engine)
    assert counts["unreachable"] == 0 and counts["failed"] == 1
    assert len([t for t in texts_to(fake, ADMIN_CHAT_ID) if str(group.id) in t]) == 1
    # The admin group itself refusing: that row fails, the next goes out, no alert loop.
    await push(core, ADMIN_CHAT_ID, ["rekap 1", "rekap 2"])
    fake.fail_next("sendMessage", status=403, chat_id=ADMIN_CHAT_ID, description=removed)
    await until_settled(d, engine)
    assert texts_to(fake, ADMIN_CHAT_ID)[-1] == "rekap 2"
    counts = await statuses(engine)
    assert counts["unreachable"] == 0 and counts["failed"] == 2 and counts["sent"] == 3


class VirtualTime:
    """A monotonic clock that sleeping moves forward at once (limiter and fake share it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_albums_and_split_texts_count_every_message_against_the_group_limit(
    fake: FakeTelegram, bot: Bot, core: Core, engine: AsyncEngine
) -> None:
    group = fake.group(-100888, "Dinas PUPR")
    photos = [
        {"channel": "telegram", "file_id": fake.register_photo(TINY_JPEG)[-1]["file_id"]}
        for _ in range(5)
    ]
    address = ChatAddress(Channel.TELEGRAM, str(group.id))
    async with core.ctx.uow() as uow:
        for n in range(4):  # 4 albums of 5 photos: 20 messages
            reply = Reply(f"foto {n}", photos=tuple(range(5)))
            await queue(uow, address, reply, "media", f"album:{n}", extra={"photos": photos})
        long_text = "\n".join(f"baris {i} " + "x" * 90 for i in range(60))  # 2 messages
        await queue(uow, address, Reply(long_text), "push", "long")
        await uow.commit()
    clock = VirtualTime()
    fake.send_clock = clock
    d = deliverer(engine, bot, limits=SendLimits(clock=clock, sleep=clock.sleep))
    await until_settled(d, engine)
    assert len(fake.messages_to(group.id)) == 22
    assert fake.limit_violations() == []


async def test_photos_with_a_document_file_id_are_uploaded_from_the_stored_file(
    fake: FakeTelegram, bot: Bot, core: Core, engine: AsyncEngine
) -> None:
    # Rows queued before image files were told apart carry the document's file id.
    user = fake.private_user(1001)
    photos = []
    for data in (TINY_JPEG, TINY_JPEG + b"2"):
        update = user.send_document(data, "foto.jpg", "image/jpeg")
        stored = await core.ctx.files.save(data, "photo", "image/jpeg")
        file_id = update["message"]["document"]["file_id"]
        photos.append({"channel": "telegram", "file_id": file_id, "path": stored.path})
    address = ChatAddress(Channel.TELEGRAM, str(ADMIN_CHAT_ID))
    async with core.ctx.uow() as uow:
        await queue(
            uow, address, Reply("satu", photos=(1,)), "media", "one", extra={"photos": photos[:1]}
        )
        await queue(
            uow, address, Reply("dua", photos=(1, 2)), "media", "two", extra={"photos": photos}
        )
        await uow.commit()
    d = deliverer(engine, bot)
    d.files = core.ctx.files
    await until_settled(d, engine)
    assert (await statuses(engine))["sent"] == 2
    shown = [m for m in fake.messages_to(ADMIN_CHAT_ID) if m.photo]
    assert [m.method for m in shown] == ["sendPhoto", "sendMediaGroup", "sendMediaGroup"]
    assert [m.text for m in shown] == ["satu", "dua", None]


async def test_two_scans_queueing_the_same_message_at_once_both_commit(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)

    def item() -> OutboxItem:
        payload = {"reply": Reply("⏰ Pengingat").to_dict()}
        return OutboxItem("telegram", "-1001", "notice", payload, "remind:7:verify:2026-12-30")

    async with SqlUnitOfWork(sessions) as first, SqlUnitOfWork(sessions) as second:
        assert await first.outbox.add(item())
        # The second scan inserts while the first has not committed yet (PostgreSQL
        # waits on the unique index; SQLite on the write lock).
        late = asyncio.create_task(second.outbox.add(item()))
        await asyncio.sleep(0.3)
        await first.commit()
        assert await late is False
        await second.commit()
    assert (await statuses(engine))["pending"] == 1


__all__ = ["timedelta"]


class LimitsThatFailOnce:
    """A limiter whose store is out of reach for the first send."""

    def __init__(self) -> None:
        self.failed = False
        self.inner = SendLimits(**FAST)  # type: ignore[arg-type]

    async def acquire(self, chat_id: str, count: int = 1) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("limits out of reach")
        await self.inner.acquire(chat_id, count)


async def test_a_send_that_fails_unexpectedly_is_retried_in_order_not_left_claimed(
    fake: FakeTelegram, bot: Bot, core: Core, engine: AsyncEngine
) -> None:
    user = fake.private_user(1001)
    await push(core, user.id, ["satu", "dua", "tiga"])
    d = deliverer(engine, bot, limits=LimitsThatFailOnce())
    await until_settled(d, engine)
    assert texts_to(fake, user.id) == ["satu", "dua", "tiga"]


async def test_with_redis_out_of_reach_each_process_keeps_the_limits_alone(
    fake: FakeTelegram, bot: Bot, core: Core, engine: AsyncEngine
) -> None:
    from redis.asyncio import Redis

    from storage.redis_limits import RedisSendLimits

    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    users = [fake.private_user(4100 + i) for i in range(3)]
    for user in users:
        await push(core, user.id, [f"p{i}" for i in range(4)])
    d = deliverer(engine, bot, limits=RedisSendLimits(unreachable, "test:away"))
    await until_settled(d, engine, within=30)
    for user in users:
        assert texts_to(fake, user.id) == [f"p{i}" for i in range(4)]
    assert fake.limit_violations() == []
    await unreachable.aclose()


def claiming_uow(engine: AsyncEngine, d: Deliverer) -> Any:
    """Units of work of a running bot: rows for a chat with nothing waiting are claimed
    by this process as they are written and handed to its delivery at commit."""
    assert isinstance(d.queue, SqlOutboxQueue)
    claim = OutboxClaim(d.queue.owner, 60.0, d.adopt, d.hand_back)
    return lambda: SqlUnitOfWork(session_factory(engine), claim)


async def queue_texts(uow_factory: Any, chat_id: int, texts: list[str]) -> bool:
    """Queue texts in one transaction; whether a claim round must pick any of them up."""
    async with uow_factory() as uow:
        for text in texts:
            await queue(
                uow, ChatAddress(Channel.TELEGRAM, str(chat_id)), Reply(text), "push", f"t:{text}"
            )
        await uow.commit()
        return bool(uow.outbox.left_waiting)


async def test_replies_to_a_chat_with_nothing_waiting_go_out_at_commit_in_order(
    fake: FakeTelegram, bot: Bot, engine: AsyncEngine
) -> None:
    user = fake.private_user(1001)
    d = deliverer(engine, bot)
    assert not await queue_texts(claiming_uow(engine, d), user.id, ["satu", "dua"])
    # No wake-up, no claim round: the commit handed both rows to delivery.
    await fake.wait_for(lambda: len(texts_to(fake, user.id)) == 2, timeout=5)
    assert texts_to(fake, user.id) == ["satu", "dua"]
    await d.lanes.wait_idle()
    assert (await statuses(engine)) == Counter({"sent": 2})
    await d.close()


async def test_a_reply_never_overtakes_a_message_still_waiting_for_its_chat(
    fake: FakeTelegram, bot: Bot, core: Core, engine: AsyncEngine
) -> None:
    user = fake.private_user(1001)
    await push(core, user.id, ["satu"])
    fake.fail_next("sendMessage", status=429, retry_after=1, chat_id=user.id)
    d = deliverer(engine, bot)
    await d.run_once()  # "satu" met the 429: it waits a second, queued
    assert (await statuses(engine))["pending"] == 1
    assert await queue_texts(claiming_uow(engine, d), user.id, ["dua"])
    await until_settled(d, engine)
    assert texts_to(fake, user.id) == ["satu", "dua"]
    await d.close()


async def test_rows_claimed_by_a_commit_that_reported_failure_are_put_back_in_line(
    fake: FakeTelegram, bot: Bot, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = fake.private_user(1001)
    d = deliverer(engine, bot)
    make = claiming_uow(engine, d)
    uow = make()
    async with uow:
        await queue(uow, ChatAddress(Channel.TELEGRAM, str(user.id)), Reply("satu"), "push", "k1")
        real_commit = uow.session.commit

        async def committed_then_lost() -> None:
            await real_commit()
            raise ConnectionError("connection lost after COMMIT")

        monkeypatch.setattr(uow.session, "commit", committed_then_lost)
        with pytest.raises(ConnectionError):
            await uow.commit()
    # The row did commit; it must not stay claimed by this (live) process unsent.
    await until_settled(d, engine)
    assert texts_to(fake, user.id) == ["satu"]
    await d.close()


async def test_rows_of_a_rolled_back_transaction_are_never_sent(
    fake: FakeTelegram, bot: Bot, engine: AsyncEngine
) -> None:
    user = fake.private_user(1001)
    d = deliverer(engine, bot)
    async with claiming_uow(engine, d)() as uow:
        await queue(uow, ChatAddress(Channel.TELEGRAM, str(user.id)), Reply("batal"), "push", "b")
        await uow.rollback()
        await queue(uow, ChatAddress(Channel.TELEGRAM, str(user.id)), Reply("jadi"), "push", "j")
        await uow.commit()
    await until_settled(d, engine)
    assert texts_to(fake, user.id) == ["jadi"]
    await d.close()


async def test_a_chat_with_more_queued_than_one_claim_takes_drains_without_waiting_for_a_tick(
    fake: FakeTelegram, bot: Bot, core: Core, engine: AsyncEngine
) -> None:
    # Two dozen cards for the desk at once (a flood of complaints): one claim takes ten
    # rows of a chat; the rest must follow as soon as those are out.
    texts = [f"kartu {n:02d}" for n in range(25)]
    await push(core, ADMIN_CHAT_ID, texts)
    d = deliverer(engine, bot, limits=SendLimits(**FAST, group_per_minute=1000))  # type: ignore[arg-type]
    d.wake()  # the one wake-up after the commit; no scheduler ticks in this test
    await fake.wait_for(lambda: len(texts_to(fake, ADMIN_CHAT_ID)) == 25, timeout=5)
    assert texts_to(fake, ADMIN_CHAT_ID) == texts
    await d.close()


@NEEDS_POSTGRES
async def test_two_processes_writing_to_one_chat_at_once_never_both_send_to_it(
    postgres_engine: AsyncEngine,
) -> None:
    """An officer's push (one process) and a citizen's reply (another) for the same chat,
    in transactions open at the same time: only one process may hold the chat's rows,
    or the chat gets the two processes' messages interleaved (a later commit's
    message overtaking an earlier one's) and twice its rate."""
    # SQLite has one writer: two transactions are never open at once there.
    engine = postgres_engine
    adopted: dict[str, list[OutboxItem]] = {"p1": [], "p2": []}

    def claiming(owner: str) -> Any:
        claim = OutboxClaim(owner, 60.0, adopted[owner].extend, lambda items: None)
        return SqlUnitOfWork(session_factory(engine), claim)

    chat = ChatAddress(Channel.TELEGRAM, "1001")
    async with claiming("p1") as officer, claiming("p2") as citizen:
        await queue(officer, chat, Reply("ditutup"), "push", "a1")
        await queue(officer, chat, Reply("nilai kami"), "push", "a2")
        await queue(citizen, chat, Reply("menu"), "reply", "b1")
        await officer.commit()
        await citizen.commit()
    async with session_factory(engine)() as session:
        o: Any = OutboxRow
        holders = set(
            (await session.execute(select(o.owner).where(o.status == "sending"))).scalars()
        )
        waiting = (await session.execute(select(o.dedupe_key).where(o.status == "pending"))).all()
    assert len(holders) == 1, f"the chat's rows are held by {holders}"
    assert len(adopted["p1"]) + len(adopted["p2"]) + len(waiting) == 3


async def test_a_unit_of_work_committed_once_looks_at_its_chat_again_before_claiming(
    engine: AsyncEngine,
) -> None:
    """What a transaction found of a chat ends with it: after its commit, a photo album
    queued to wait for its other photos holds the chat's later rows behind it."""
    adopted: list[OutboxItem] = []
    claim = OutboxClaim("p1", 60.0, adopted.extend, lambda items: None)
    chat = ChatAddress(Channel.TELEGRAM, "1001")
    async with SqlUnitOfWork(session_factory(engine), claim) as first:
        await queue(first, chat, Reply("satu"), "push", "k1")
        await first.commit()
        async with SqlUnitOfWork(session_factory(engine), claim) as other:
            album = OutboxItem(
                "telegram",
                "1001",
                "album",
                {"text": "foto"},
                "album",
                next_attempt_at=datetime.now(UTC) + timedelta(seconds=30),
            )
            assert await other.outbox.add(album)
            await other.commit()
        await queue(first, chat, Reply("dua"), "push", "k2")
        await first.commit()
    assert [item.dedupe_key for item in adopted] == ["k1"]
