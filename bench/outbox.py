"""Outbox delivery against the fake Bot API: 1,500 pushes to 500 chats at Telegram's limits.

    python -m bench.outbox

Prints the achieved rate as a fraction of the 30 msg/s cap, limit violations and losses.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
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
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:BENCH-TOKEN-abcdefghijklmnopqrstuvwxyz"
CHATS = 500
PUSHES = 1500
CAP = 30.0


async def run(database_url: str | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        engine = create_engine(url)
        await migrate.upgrade(engine)
        sessions = session_factory(engine)
        async with FakeTelegram(token=TOKEN) as fake:
            users = [fake.private_user(50_000 + i) for i in range(CHATS)]
            async with SqlUnitOfWork(sessions) as uow:
                for n in range(PUSHES):
                    user = users[n % CHATS]
                    address = ChatAddress(Channel.TELEGRAM, str(user.id))
                    await queue(uow, address, Reply(f"push {n}"), "push", f"bench:{n}")
                await uow.commit()
            bot = Bot(TOKEN, base_url=f"{fake.base_url}/bot")
            async with bot:
                deliverer = Deliverer(
                    SqlOutboxQueue(sessions),
                    {Channel.TELEGRAM.value: TelegramSender(bot)},
                    LocalFileStore(Path(tmp)),
                    SystemClock(),
                    SendLimits(),
                )
                started = time.monotonic()
                while len(fake.sent) < PUSHES and time.monotonic() - started < 300:
                    await deliverer.run_once()
                wall = time.monotonic() - started
            times = sorted(s.time for s in fake.sent)
            counts = Counter(s.text for s in fake.sent)
            violations = fake.limit_violations()
            span = times[-1] - times[0] if len(times) > 1 else 1.0
            rate = (len(times) - 1) / span
            result = {
                "pushes": float(PUSHES),
                "delivered": float(len(counts)),
                "duplicates": float(sum(c - 1 for c in counts.values())),
                "lost": float(PUSHES - len(counts)),
                "seconds": wall,
                "rate": rate,
                "fraction_of_cap": rate / CAP,
                "wall_fraction_of_cap": PUSHES / wall / CAP,
                "violations": float(len(violations)),
                "max_in_1s": float(fake.max_rate(1.0)),
            }
            for problem in violations[:5]:
                print("violation:", problem)
        await engine.dispose()
    return result


def main() -> None:
    result = asyncio.run(run())
    print(
        f"outbox: {int(result['delivered'])}/{int(result['pushes'])} pushes to {CHATS} chats "
        f"in {result['seconds']:.1f}s; {result['rate']:.2f} msg/s = "
        f"{result['fraction_of_cap']:.3f} of the {CAP:.0f} msg/s cap "
        f"(wall clock incl. start-up {result['wall_fraction_of_cap']:.3f}); "
        f"max {int(result['max_in_1s'])} in any 1s; violations {int(result['violations'])}; "
        f"lost {int(result['lost'])}; duplicates {int(result['duplicates'])}"
    )


if __name__ == "__main__":
    main()
