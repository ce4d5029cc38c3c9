"""A busy group beside citizens: 26 new-complaint cards queued for the admin group (20 per
minute allowed) while 20 citizens get a status push each, one every 0.5 s.

    python -m bench.outbox_mixed

Prints the worst delay of a citizen's push, and the same figure measured in the same run
without the group backlog (the baseline), and their ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from telegram import Bot

from conversations.core.context import SystemClock
from conversations.core.delivery import Deliverer
from conversations.core.messages import Channel, ChatAddress, Reply
from conversations.core.outbox import queue
from conversations.core.ratelimit import SendLimits
from handlers.telegram.sender import TelegramSender
from storage import migrate
from storage.database import create_engine, session_factory
from storage.files import LocalFileStore
from storage.outbox_queue import SqlOutboxQueue
from storage.unit_of_work import SqlUnitOfWork
from storage.workers import SqlWorkers, new_worker_id
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:BENCH-TOKEN-abcdefghijklmnopqrstuvwxyz"
CARDS = 26
CITIZENS = 20
GROUP = -1001234567890


async def worst_delay(with_group: bool) -> tuple[float, int]:
    """Worst seconds from queueing a citizen's push to its arrival; cards sent."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await migrate.upgrade(engine)
        sessions = session_factory(engine)
        worker = SqlWorkers(sessions, new_worker_id())
        await worker.register(datetime.now(UTC))
        async with (
            FakeTelegram(token=TOKEN) as fake,
            Bot(TOKEN, base_url=f"{fake.base_url}/bot") as bot,
        ):
            fake.enforce_limits = True
            fake.group(GROUP, "Meja Aduan")
            users = [fake.private_user(60_000 + i) for i in range(CITIZENS)]
            deliverer = Deliverer(
                SqlOutboxQueue(sessions, owner=worker.id),
                {Channel.TELEGRAM.value: TelegramSender(bot)},
                LocalFileStore(Path(tmp)),
                SystemClock(),
                SendLimits(),
            )

            async def push(chat_id: int, text: str) -> float:
                async with SqlUnitOfWork(sessions) as uow:
                    address = ChatAddress(Channel.TELEGRAM, str(chat_id))
                    await queue(uow, address, Reply(text), "push", f"{chat_id}:{text}")
                    await uow.commit()
                deliverer.wake()
                return time.monotonic()

            async def tick() -> None:  # the scheduler's outbox job
                while True:
                    await deliverer.claim_round()
                    await asyncio.sleep(1.0)

            ticker = asyncio.create_task(tick())
            if with_group:
                for n in range(CARDS):
                    await push(GROUP, f"kartu {n}")
            queued = {}
            for user in users:
                queued[user.id] = await push(user.id, "kabar")
                await asyncio.sleep(0.5)
            await fake.wait_for(
                lambda: all(any(s.chat_id == u.id for s in fake.sent) for u in users),
                timeout=120,
            )
            worst = max(
                next(s.time for s in fake.sent if s.chat_id == u.id) - queued[u.id] for u in users
            )
            cards = len([s for s in fake.sent if s.chat_id == GROUP])
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await deliverer.close(grace=0.5)
        await engine.dispose()
    return worst, cards


def main() -> None:
    baseline, _ = asyncio.run(worst_delay(with_group=False))
    mixed, cards = asyncio.run(worst_delay(with_group=True))
    print(
        f"outbox mixed: {CARDS} cards to one group (20/min) + {CITIZENS} citizen pushes: "
        f"worst citizen delay {mixed:.2f}s (baseline without the group {baseline:.2f}s, "
        f"ratio {mixed / max(baseline, 0.001):.2f}); {cards} cards sent in the first "
        f"{CITIZENS * 0.5:.0f}s (goal: worst delay < 2 s)"
    )


if __name__ == "__main__":
    main()
