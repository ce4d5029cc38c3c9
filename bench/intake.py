"""Intake cost: citizens filing complaints at once, against the fake Bot API, compared with
a bare python-telegram-bot echo bot given the same number and mix of updates.

    python -m bench.intake [--citizens 200] [--rate 50] [--database URL] [--balancer]

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

4. webhook mode (``TELEGRAM_MODE=webhook``): run 1's load again, Telegram POSTing
   each update to the bot;
5. scale-out, on PostgreSQL (``BENCH_DATABASE_URL`` or ``TEST_DATABASE_URL``; its
   ``public`` schema is dropped and rebuilt): 1, then 2 webhook processes sharing one
   database (and Redis when ``BENCH_REDIS_URL`` is set), the fake Bot API POSTing
   each update to the next process in turn (``--balancer``: through a round-robin
   balancer kept here, one HTTP hop more, on this process's CPU). Printed: updates
   per second, the ratio of two processes to one, limit violations recorded by the
   fake, updates lost or applied twice; where the CPU went (bot processes,
   PostgreSQL's backends of the database, this process, and other work on the
   machine), what PostgreSQL's busy backends waited on, and the step latency of
   updates taken by another process than the chat's previous one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from storage.database import normalise_url
from tests.fakes.telegram_api import TINY_JPEG, FakeTelegram, FakeUser, SentMessage

TOKEN = "123456:BENCH-TOKEN-abcdefghijklmnopqrstuvwxyz"
ADMIN = -1001234567890
DESCRIPTION = "Jalan di depan pasar berlubang besar sejak seminggu, motor sering jatuh."
STEPS = 9
TICKS = os.sysconf("SC_CLK_TCK")
# Processing is measured, not Telegram's limits (raised, as the issue allows); the
# fake still checks that all processes together keep to these.
LIMITS = {
    "TELEGRAM_GLOBAL_RATE": 300,
    "TELEGRAM_PRIVATE_RATE": 1000,
    "TELEGRAM_PRIVATE_BURST": 1000,
    "TELEGRAM_GROUP_PER_MINUTE": 100_000,
}


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
        cpu = _cpu_of(self.popen.pid)
        assert cpu is not None, "the bot process is gone"
        return cpu

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
    seconds: float = 0.0  # until the last citizen was answered
    window: float = 0.0  # and until every process was quiet: what CPU is counted over
    violations: int = 0
    twice: int = 0
    driver_cpu: float = 0.0  # this process: load generator, fake Bot API, balancer
    postgres_cpu: float = 0.0  # the PostgreSQL backends serving the benchmark's database
    machine_cpu: float = 0.0  # every process on the machine (the rest: other work)
    # Per citizen, each step's latency in order (hand-overs between processes).
    steps: dict[int, list[float]] = field(default_factory=dict)
    # Per chat, which process took each update (scale-out).
    routes: dict[object, list[int]] = field(default_factory=dict)
    # PostgreSQL backends of the run seen busy, by what they waited on ("CPU": nothing).
    waits: dict[str, int] = field(default_factory=dict)
    wait_samples: int = 0
    balanced: bool = False  # webhooks went through the Balancer

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_update(self) -> float:
        return 1000 * self.cpu / max(1, self.updates)

    @property
    def calls_per_update(self) -> float:
        return self.calls / max(1, self.updates)

    def percentile(self, p: float) -> float:
        return _percentile(self.latencies, p)

    def hand_overs(self) -> tuple[list[float], list[float]]:
        """Latencies of steps taken by another process than the chat's previous step,
        and of those taken by the same one (the first step of a chat is in neither)."""
        moved: list[float] = []
        stayed: list[float] = []
        for chat, latencies in self.steps.items():
            route = self.routes.get(chat, [])
            for index in range(1, min(len(route), len(latencies))):
                (moved if route[index] != route[index - 1] else stayed).append(latencies[index])
        return moved, stayed


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def environment(fake: FakeTelegram, workdir: Path, database: str) -> dict[str, str]:
    env = {
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
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        **{name: str(value) for name, value in LIMITS.items()},
    }
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Balancer:
    """Round-robin HTTP forwarding to the bot processes, as a load balancer would."""

    def __init__(self, backends: list[str]):
        self.backends = backends
        self.turn = 0
        self.port = free_port()
        self.runner: web.AppRunner | None = None
        self.session: aiohttp.ClientSession | None = None

    async def forward(self, request: web.Request) -> web.Response:
        assert self.session is not None
        backend = self.backends[self.turn % len(self.backends)]
        self.turn += 1
        try:
            async with self.session.post(
                backend + request.path_qs, data=await request.read(), headers=request.headers
            ) as response:
                return web.Response(
                    status=response.status,
                    body=await response.read(),
                    content_type=response.content_type,
                )
        except aiohttp.ClientError:
            return web.Response(status=502)  # not listening yet: Telegram retries

    async def __aenter__(self) -> Balancer:
        app = web.Application()
        app.router.add_route("POST", "/{path:.*}", self.forward)
        self.session = aiohttp.ClientSession()
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None and self.session is not None
        await self.runner.cleanup()
        await self.session.close()


async def replied(fake: FakeTelegram, user: FakeUser, before: int, buttons: bool) -> None:
    """Until the answer arrived, with its buttons when the citizen must press one next."""

    def usable() -> bool:
        new = fake.messages_to(user)[before:]
        return bool(new) and (not buttons or any(m.buttons for m in new))

    await fake.wait_for_chat(user, usable, timeout=60)


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
        result.steps.setdefault(user.chat_id, []).append(result.latencies[-1])

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


def requests(fake: FakeTelegram) -> int:
    """Bot API requests the bot made: not polls, not calls made in a webhook answer."""
    return sum(1 for c in fake.calls if c.method != "getUpdates" and not c.in_webhook_reply)


Scenario = Callable[[FakeTelegram, FakeUser, Result], Awaitable[None]]


def _cpu_of(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def _machine_cpu() -> float:
    """CPU seconds every core of the machine spent busy since boot."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / TICKS


class CpuMeter:
    """CPU seconds, during a run, of the PostgreSQL backends serving ``database`` (a
    backend that ends between two samples loses at most a sample's worth) and of the
    whole machine. Other sessions on the machine show as the rest."""

    def __init__(self, database: str, exclude: set[int]):
        self.needle = f" {database} ".encode()
        self.exclude = exclude
        self.known: dict[int, bool] = {}  # pid -> serves the database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.machine_start = _machine_cpu()

    def sample(self, starting: bool = False) -> None:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            if pid not in self.known:
                try:
                    command = Path(entry.path, "cmdline").read_bytes()
                except OSError:
                    continue
                self.known[pid] = command.startswith(b"postgres: ") and self.needle in command
            if not self.known[pid] or pid in self.exclude:
                continue
            used = _cpu_of(pid)
            if used is None:
                continue
            # A backend born during the run spent all its CPU in the run.
            self.first.setdefault(pid, used if starting else 0.0)
            self.last[pid] = used

    def postgres(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)

    def machine(self) -> float:
        return _machine_cpu() - self.machine_start


class Probe:
    """Samples, while the load runs, the CPU of PostgreSQL's backends and what the
    busy ones wait on (``pg_stat_activity``: a lock, the WAL flush, or nothing)."""

    def __init__(self, url: str | None):
        self.url = url
        self.meter: CpuMeter | None = None
        self.waits: dict[str, int] = {}
        self.samples = 0
        self.cost = 0.0  # this process's CPU spent reading /proc: not the load's
        self._task: asyncio.Task[None] | None = None
        self._connection: Any = None

    async def start(self) -> None:
        if self.url is None or not self.url.startswith("postgresql"):
            return
        import asyncpg  # type: ignore[import-untyped]

        plain = self.url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._connection = await asyncpg.connect(plain)
        own = int(await self._connection.fetchval("SELECT pg_backend_pid()"))
        database = str(await self._connection.fetchval("SELECT current_database()"))
        self.meter = CpuMeter(database, {own})
        self.meter.sample(starting=True)
        self._task = asyncio.get_running_loop().create_task(self._run(database))

    async def _run(self, database: str) -> None:
        assert self.meter is not None
        tick = 0
        while True:
            await asyncio.sleep(0.1)
            tick += 1
            if tick % 3 == 0:
                began = time.process_time()
                self.meter.sample()
                self.cost += time.process_time() - began
            rows = await self._connection.fetch(
                "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS what, count(*)"
                " FROM pg_stat_activity WHERE datname = $1 AND state = 'active'"
                " AND pid <> pg_backend_pid() GROUP BY 1",
                database,
            )
            self.samples += 1
            for what, count in rows:
                self.waits[what] = self.waits.get(what, 0) + int(count)

    async def stop(self, result: Result) -> None:
        if self._task is None or self.meter is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self.meter.sample()
        await self._connection.close()
        result.postgres_cpu = self.meter.postgres()
        result.driver_cpu -= self.cost
        result.waits = dict(self.waits)
        result.wait_samples = self.samples


async def drive(
    command: list[str],
    scenario: Scenario,
    citizens: int,
    database: str | None,
    start_every: float = 0.0,
    prepare: Callable[[str], Awaitable[None]] | None = None,
    webhook_processes: int = 0,
    balancer: bool = False,
) -> Result:
    """Run ``scenario`` for each citizen against one polling process, or against
    ``webhook_processes`` webhook processes: the fake Bot API POSTs each update to
    the next process in turn, or (``balancer``) to a round-robin balancer in this
    process that forwards it, one HTTP hop more."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = database or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        async with FakeTelegram(token=TOKEN) as fake:
            fake.group(ADMIN, "Meja Aduan")
            if prepare is not None:
                await prepare(url)
            ports = [free_port() for _ in range(webhook_processes)]
            async with contextlib.AsyncExitStack() as stack:
                processes = []
                backends = [f"http://127.0.0.1:{port}" for port in ports]
                public = backends[0] if backends else ""
                if webhook_processes and balancer:
                    forwarding = await stack.enter_async_context(Balancer(backends))
                    public = f"http://127.0.0.1:{forwarding.port}"
                elif webhook_processes:
                    fake.webhook_backends = backends
                for index in range(max(1, webhook_processes)):
                    env = environment(fake, workdir, url)
                    if webhook_processes:
                        env |= {
                            "TELEGRAM_MODE": "webhook",
                            "PUBLIC_URL": public,
                            "WEB_PORT": str(ports[index]),
                            "TELEGRAM_WEBHOOK_SECRET": "bench-secret",
                        }
                    home = workdir / f"p{index}"
                    home.mkdir()
                    processes.append(Process(command, env, home))
                try:
                    for process in processes:
                        process.start()
                    result = await _measure(
                        fake, processes, scenario, citizens, start_every, webhook_processes, url
                    )
                    result.balanced = bool(webhook_processes and balancer)
                    return result
                finally:
                    for process in processes:
                        process.stop()
    raise AssertionError("unreachable")


async def _measure(
    fake: FakeTelegram,
    processes: list[Process],
    scenario: Scenario,
    citizens: int,
    start_every: float,
    webhook: int,
    url: str,
) -> Result:
    if webhook:
        await fake.wait_for(lambda: fake.webhook_url is not None, timeout=60)
        await asyncio.sleep(3.0)  # every process is up and listening
    else:
        await fake.wait_for(lambda: fake.get_updates_calls > 0, timeout=60)
        await asyncio.sleep(1.0)  # start-up work (the first scans) settles
    users = [fake.private_user(100_000 + i, f"Warga{i}") for i in range(citizens)]
    result = Result()
    probe = Probe(url)
    await probe.start()
    calls_before = requests(fake)
    cpu_before = sum(process.cpu() for process in processes)
    driver_before = _own_cpu()
    machine_before = _machine_cpu()
    started = time.monotonic()

    async def citizen(index: int, user: FakeUser) -> None:
        await asyncio.sleep(index * start_every)
        await scenario(fake, user, result)

    await asyncio.gather(*(citizen(i, u) for i, u in enumerate(users)))
    result.seconds = time.monotonic() - started
    await fake.wait_idle(quiet=1.5, timeout=60)
    result.window = time.monotonic() - started
    result.cpu = sum(process.cpu() for process in processes) - cpu_before
    result.driver_cpu = _own_cpu() - driver_before
    result.machine_cpu = _machine_cpu() - machine_before
    await probe.stop(result)
    result.routes = dict(fake.webhook_routes)
    result.calls = requests(fake) - calls_before
    result.rss_mb = max(process.peak_rss_mb() for process in processes)
    result.violations = len(
        fake.limit_violations(
            global_per_sec=LIMITS["TELEGRAM_GLOBAL_RATE"],
            private_per_sec=LIMITS["TELEGRAM_PRIVATE_RATE"],
            private_burst=LIMITS["TELEGRAM_PRIVATE_BURST"],
            group_per_min=LIMITS["TELEGRAM_GROUP_PER_MINUTE"],
        )
    )
    # A complaint filed twice would get two tickets.
    result.twice = sum(
        max(0, sum("ADU-" in (m.text or "") for m in fake.messages_to(user)) - 1) for user in users
    )
    return result


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
        + f" (load generator and fake: {1000 * result.driver_cpu / max(1, result.updates):.1f}"
        " ms CPU/update)"
    )


def breakdown(r: Result) -> str:
    """Where the CPU went, per update and in cores, and what PostgreSQL waited on."""

    def ms(cpu: float) -> str:
        return f"{1000 * cpu / max(1, r.updates):.1f}"

    window = max(r.window, 1e-9)
    rest = r.machine_cpu - r.cpu - r.postgres_cpu - r.driver_cpu
    samples = max(1, r.wait_samples)
    busy = sorted(r.waits.items(), key=lambda kv: -kv[1])[:4]
    waits = ", ".join(f"{what} {count / samples:.2f}" for what, count in busy) or "none seen"
    moved, stayed = r.hand_overs()
    lines = [
        f"  CPU ms/update: bot processes {ms(r.cpu)}, PostgreSQL {ms(r.postgres_cpu)}, "
        f"load generator + fake{' + balancer' if r.balanced else ''} {ms(r.driver_cpu)}; "
        f"cores busy: these {(r.cpu + r.postgres_cpu + r.driver_cpu) / window:.2f}, "
        f"other work on the machine {max(0.0, rest) / window:.2f} (of {os.cpu_count()})",
        f"  step latency p50 {1000 * r.percentile(50):.0f} ms, p99 {1000 * r.percentile(99):.0f}"
        f" ms; PostgreSQL backends busy on average, by wait: {waits}",
    ]
    if moved:
        lines.append(
            f"  steps taken by another process than the chat's previous one: {len(moved)}, "
            f"p50 {1000 * _percentile(moved, 50):.0f} ms, p99 {1000 * _percentile(moved, 99):.0f}"
            f" ms; by the same: {len(stayed)}, p50 {1000 * _percentile(stayed, 50):.0f} ms, "
            f"p99 {1000 * _percentile(stayed, 99):.0f} ms"
        )
    return "\n".join(lines)


async def scale_out(citizens: int, url: str, balancer: bool = False) -> list[str]:
    from bench.reports import reset_postgres

    results = []
    for processes in (1, 2):
        await reset_postgres(url)
        results.append(
            await drive(
                KANAL,
                file_complaint,
                citizens,
                url,
                webhook_processes=processes,
                balancer=balancer,
            )
        )
    one, two = results
    lines = []
    for n, r in ((1, one), (2, two)):
        lines.append(
            f"scale-out, {n} webhook process{'es' if n > 1 else ''} on PostgreSQL: "
            f"{r.per_second:.1f} updates/s; limit violations {r.violations}; "
            f"complaints lost {r.lost}; filed twice {r.twice}"
        )
        lines.append(breakdown(r))
    ratio = two.per_second / one.per_second if one.per_second else float("nan")
    lines.append(f"scale-out: 2 processes = {ratio:.2f}x one")
    lines.append(ceiling(one, two))
    return lines


def ceiling(one: Result, two: Result) -> str:
    """What the CPU per update allows on this machine's cores with nothing else
    running: one process is held to one core, everything shares all of them."""
    cores = os.cpu_count() or 1

    def per_update(r: Result) -> tuple[float, float]:
        n = max(1, r.updates)
        return r.cpu / n, (r.cpu + r.postgres_cpu + r.driver_cpu) / n

    bot1, all1 = per_update(one)
    _, all2 = per_update(two)
    if not (bot1 and all1 and all2):
        return "scale-out ceiling: not measured"
    first = min(1 / bot1, cores / all1)
    second = min(2 / per_update(two)[0], cores / all2)
    return (
        f"scale-out ceiling from CPU per update on {cores} idle cores: 1 process "
        f"{first:.0f} updates/s, 2 processes {second:.0f} updates/s = {second / first:.2f}x"
    )


async def run(citizens: int, rate: float, database: str | None, balancer: bool = False) -> None:
    kanal = await drive(KANAL, file_complaint, citizens, database)
    echo = await drive(ECHO, echo_steps, citizens, None)
    print(report("echo bot (baseline)", echo))
    print(report(f"kanal closed loop, {citizens} citizens", kanal, echo))
    every = STEPS / rate
    offered = await drive(KANAL, file_complaint, citizens, database, start_every=every)
    print(report(f"kanal open loop, {rate:g} updates/s offered", offered, echo))
    crowded = await drive(KANAL, file_complaint, citizens, database, prepare=open_dialogues)
    print(report("kanal with 10,000 dialogues open", crowded, echo))
    hooked = await drive(KANAL, file_complaint, citizens, database, webhook_processes=1)
    print(report("kanal closed loop, webhook mode", hooked, echo))
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not url:
        print("scale-out: skipped (set BENCH_DATABASE_URL to a PostgreSQL database)")
        return
    for line in await scale_out(citizens, normalise_url(url), balancer):
        print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.intake")
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--database", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--balancer",
        action="store_true",
        help="scale-out through a round-robin balancer process hop instead of the fake's own",
    )
    args = parser.parse_args(argv)
    asyncio.run(run(args.citizens, args.rate, args.database, args.balancer))


if __name__ == "__main__":
    main()
