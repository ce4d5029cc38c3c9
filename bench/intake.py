"""Intake cost: citizens filing complaints at once, against the fake Bot API, compared with
a bare python-telegram-bot echo bot given the same number and mix of updates.

    python -m bench.intake [--citizens 200] [--rate 50] [--database URL]

Each bot runs as its own process (``aduan run``, ``python -m bench.echo_bot``), so its
CPU time (user + system, from /proc) and peak memory are its own. Three runs:

1. closed loop: every citizen files one complaint (9 updates: /lapor, category,
   description, pin, skip the address, photo, done, privacy, send), each step sent
   when the answer to the previous one arrived; then the echo bot gets the same mix;
2. open loop: citizens start on a schedule that offers ``--rate`` updates per second;
3. 10,000 dialogues already open in the database while run 1's load is repeated,
   for the peak memory.

Printed: CPU per update and its ratio to the echo bot, Bot API calls per update,
p50/p95/p99 step latency, peak RSS, and complaints lost (a citizen pressed send and
got no ticket).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.fakes.telegram_api import TINY_JPEG, FakeTelegram, FakeUser, SentMessage

TOKEN = "123456:BENCH-TOKEN-abcdefghijklmnopqrstuvwxyz"
ADMIN = -1001234567890
DESCRIPTION = "Jalan di depan pasar berlubang besar sejak seminggu, motor sering jatuh."
STEPS = 9
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Process:
    """A bot process and what it cost."""

    command: list[str]
    env: dict[str, str]
    cwd: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.cwd / "bot.log").open("ab")
        self.popen = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def cpu(self) -> float:
        assert self.popen is not None
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def peak_rss_mb(self) -> float:
        assert self.popen is not None
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()


@dataclass
class Result:
    updates: int = 0
    cpu: float = 0.0
    calls: int = 0
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    rss_mb: float = 0.0
    seconds: float = 0.0

    @property
    def cpu_ms_per_update(self) -> float:
        return 1000 * self.cpu / max(1, self.updates)

    @property
    def calls_per_update(self) -> float:
        return self.calls / max(1, self.updates)

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def environment(fake: FakeTelegram, workdir: Path, database: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "ADMIN_CHAT_ID": str(ADMIN),
        "DATABASE_URL": database,
        "MEDIA_DIR": str(workdir / "media"),
        "WEB_PORT": "0",
        "TELEGRAM_POLL_TIMEOUT": "1",
        "LOG_LEVEL": "WARNING",
        # Processing is measured, not Telegram's limits (the issue allows raising them).
        "TELEGRAM_GLOBAL_RATE": "10000",
        "TELEGRAM_PRIVATE_RATE": "1000",
        "TELEGRAM_PRIVATE_BURST": "1000",
        "TELEGRAM_GROUP_PER_MINUTE": "100000",
    }


async def replied(fake: FakeTelegram, user: FakeUser, before: int, buttons: bool) -> None:
    """Until the answer arrived, with its buttons when the citizen must press one next."""

    def usable() -> bool:
        new = fake.messages_to(user)[before:]
        return bool(new) and (not buttons or any(m.buttons for m in new))

    await fake.wait_for(usable, timeout=60)


def button(fake: FakeTelegram, user: FakeUser, *words: str) -> tuple[SentMessage, str]:
    for message in reversed(fake.messages_to(user)):
        for label in message.buttons:
            if any(word.lower() in label.lower() for word in words):
                return message, label
    raise AssertionError(f"no button {words} for {user}")


async def file_complaint(fake: FakeTelegram, user: FakeUser, result: Result) -> None:
    """The nine steps of a citizen filing a complaint, each after the previous answer."""

    async def step(act: Callable[[], object], buttons: bool = True) -> None:
        before = len(fake.messages_to(user))
        started = time.monotonic()
        act()
        result.updates += 1
        await replied(fake, user, before, buttons)
        result.latencies.append(time.monotonic() - started)

    def press(*words: str) -> Callable[[], object]:
        def act() -> object:
            message, label = button(fake, user, *words)
            return user.press_button(message, label)

        return act

    await step(lambda: user.send_command("/lapor"))
    await step(press("Jalan"), buttons=False)
    await step(lambda: user.send_text(DESCRIPTION), buttons=False)
    await step(lambda: user.send_location(-8.0954, 112.1609))
    await step(press("Lewati", "Skip"))
    await step(lambda: user.send_photo(TINY_JPEG))
    await step(press("Selesai", "Done"))
    await step(press("Biasa", "Normal"))
    before = len(fake.messages_to(user))
    await step(press("Kirim", "Send"), buttons=False)
    await asyncio.sleep(0)
    if not any("ADU-" in (m.text or "") for m in fake.messages_to(user)[before:]):
        result.lost += 1


async def echo_steps(fake: FakeTelegram, user: FakeUser, result: Result) -> None:
    """The same number and mix of updates for the echo bot."""

    async def step(act: Callable[[], object]) -> None:
        before = len(fake.messages_to(user))
        started = time.monotonic()
        act()
        result.updates += 1
        await replied(fake, user, before, buttons=False)
        result.latencies.append(time.monotonic() - started)

    def press() -> object:
        last = fake.messages_to(user)[-1]
        return user.press(last, "x")

    await step(lambda: user.send_command("/lapor"))
    await step(press)
    await step(lambda: user.send_text(DESCRIPTION))
    await step(lambda: user.send_location(-8.0954, 112.1609))
    await step(press)
    await step(lambda: user.send_photo(TINY_JPEG))
    await step(press)
    await step(press)
    await step(press)


Scenario = Callable[[FakeTelegram, FakeUser, Result], Awaitable[None]]


async def drive(
    command: list[str],
    scenario: Scenario,
    citizens: int,
    database: str | None,
    start_every: float = 0.0,
    prepare: Callable[[str], Awaitable[None]] | None = None,
) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = database or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        async with FakeTelegram(token=TOKEN) as fake:
            fake.group(ADMIN, "Meja Aduan")
            if prepare is not None:
                await prepare(url)
            process = Process(command, environment(fake, workdir, url), workdir)
            process.start()
            try:
                await fake.wait_for(lambda: fake.get_updates_calls > 0, timeout=60)
                await asyncio.sleep(1.0)  # start-up work (the first scans) settles
                users = [fake.private_user(100_000 + i, f"Warga{i}") for i in range(citizens)]
                result = Result()
                calls_before = len([c for c in fake.calls if c.method != "getUpdates"])
                cpu_before = process.cpu()
                started = time.monotonic()

                async def citizen(index: int, user: FakeUser) -> None:
                    await asyncio.sleep(index * start_every)
                    await scenario(fake, user, result)

                await asyncio.gather(*(citizen(i, u) for i, u in enumerate(users)))
                await fake.wait_idle(quiet=0.5, timeout=60)
                result.seconds = time.monotonic() - started
                result.cpu = process.cpu() - cpu_before
                result.calls = (
                    len([c for c in fake.calls if c.method != "getUpdates"]) - calls_before
                )
                result.rss_mb = process.peak_rss_mb()
            finally:
                process.stop()
        return result


async def open_dialogues(url: str, count: int = 10_000) -> None:
    """``count`` citizens in the middle of a complaint, straight into the database."""
    from sqlalchemy import insert

    from storage import migrate
    from storage.database import create_engine
    from storage.tables import CitizenRow, DialogueRow

    engine = create_engine(url)
    await migrate.upgrade(engine)
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.execute(
            insert(CitizenRow),
            [
                {
                    "channel": "telegram",
                    "external_id": str(500_000 + i),
                    "chat_id": str(500_000 + i),
                    "display_name": f"Warga {i}",
                    "language": "id",
                    "unreachable": False,
                    "offered": [],
                }
                for i in range(count)
            ],
        )
        await connection.execute(
            insert(DialogueRow),
            [
                {
                    "citizen_id": i + 1,
                    "step": "description",
                    "draft": {"category": "jalan"},
                    "back": ["category"],
                    "editing": False,
                    "context": {},
                    "updated_at": now,
                }
                for i in range(count)
            ],
        )
    await engine.dispose()


KANAL = [sys.executable, "-m", "bot", "run"]
ECHO = [sys.executable, "-m", "bench.echo_bot"]


def report(name: str, result: Result, baseline: Result | None = None) -> str:
    ratio = (
        f" = {result.cpu_ms_per_update / baseline.cpu_ms_per_update:.2f}x the echo bot"
        if (baseline and baseline.cpu_ms_per_update)
        else ""
    )
    return (
        f"{name}: {result.updates} updates in {result.seconds:.1f}s; CPU "
        f"{result.cpu_ms_per_update:.1f} ms/update{ratio}; Bot API calls "
        f"{result.calls_per_update:.2f}/update; step latency p50 "
        f"{1000 * result.percentile(50):.0f} ms, p95 {1000 * result.percentile(95):.0f} ms, "
        f"p99 {1000 * result.percentile(99):.0f} ms; peak RSS {result.rss_mb:.0f} MB"
        + (f"; complaints lost {result.lost}" if name.startswith("kanal") else "")
    )


async def run(citizens: int, rate: float, database: str | None) -> None:
    kanal = await drive(KANAL, file_complaint, citizens, database)
    echo = await drive(ECHO, echo_steps, citizens, None)
    print(report("echo bot (baseline)", echo))
    print(report(f"kanal closed loop, {citizens} citizens", kanal, echo))
    every = STEPS / rate
    offered = await drive(KANAL, file_complaint, citizens, database, start_every=every)
    print(report(f"kanal open loop, {rate:g} updates/s offered", offered, echo))
    crowded = await drive(KANAL, file_complaint, citizens, database, prepare=open_dialogues)
    print(report("kanal with 10,000 dialogues open", crowded, echo))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.intake")
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--database", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args(argv)
    asyncio.run(run(args.citizens, args.rate, args.database))


if __name__ == "__main__":
    main()
