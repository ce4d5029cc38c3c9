"""Run ``aduan`` as a real process, as an operator would, with only the settings given."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]


def clean_env(home: Path, **settings: str) -> dict[str, str]:
    """No setting from the developer's shell; PATH to find pg_dump, PYTHONPATH to find us."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        **settings,
    }


async def start(cwd: Path, *args: str, **settings: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=clean_env(cwd, **settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, timeout: float = 60.0) -> Finished:  # noqa: ASYNC109
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


async def aduan(cwd: Path, *args: str, **settings: str) -> Finished:
    return await finish(await start(cwd, *args, **settings))


async def read_until(
    process: asyncio.subprocess.Process,
    wanted: str,
    count: int = 1,
    timeout: float = 60.0,  # noqa: ASYNC109
) -> list[str]:
    """Standard error's lines up to the ``count``-th one containing ``wanted``."""
    assert process.stderr is not None
    lines: list[str] = []
    seen = 0

    async def read() -> None:
        nonlocal seen
        assert process.stderr is not None
        while seen < count:
            raw = await process.stderr.readline()
            if not raw:
                raise AssertionError(f"the process ended before {wanted!r}:\n" + "".join(lines))
            line = raw.decode()
            lines.append(line)
            seen += wanted in line

    await asyncio.wait_for(read(), timeout)
    return lines


async def stop(process: asyncio.subprocess.Process) -> Finished:
    process.send_signal(signal.SIGTERM)
    return await finish(process)


class BotProcess:
    """``aduan run`` in the background, to be killed with SIGKILL and started again."""

    def __init__(self, workdir: Path, base_url: str, database_url: str, **settings: object):
        from tests.support.bot import ADMIN_CHAT_ID, TOKEN

        self.workdir = workdir
        self.log = workdir / "bot.log"
        self.env = clean_env(
            workdir,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=base_url,
            ADMIN_CHAT_ID=str(ADMIN_CHAT_ID),
            DATABASE_URL=database_url,
            MEDIA_DIR=str(workdir / "media"),
            WEB_PORT="0",
            TELEGRAM_POLL_TIMEOUT="1",
            OUTBOX_INTERVAL_SECONDS="0.2",
            TELEGRAM_PRIVATE_RATE="100",
            TELEGRAM_PRIVATE_BURST="100",
            TELEGRAM_GROUP_PER_MINUTE="6000",
            LOG_LEVEL="INFO",
        )
        self.env.update({key.upper(): str(value) for key, value in settings.items()})
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                cwd=self.workdir,  # no developer's .env is read
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a power cut or the OOM killer does."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")
