"""The bot as an operating-system process, started as a user starts it (``python -m bot
run``), so a test can kill it with SIGKILL and start it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.bot import ADMIN_CHAT_ID, TOKEN


class BotProcess:
    def __init__(self, workdir: Path, base_url: str, database_url: str, **settings: object):
        self.workdir = workdir
        self.log = workdir / "bot.log"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(workdir),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": base_url,
            "ADMIN_CHAT_ID": str(ADMIN_CHAT_ID),
            "DATABASE_URL": database_url,
            "MEDIA_DIR": str(workdir / "media"),
            "WEB_PORT": "0",
            "TELEGRAM_POLL_TIMEOUT": "1",
            "OUTBOX_INTERVAL_SECONDS": "0.2",
            "TELEGRAM_PRIVATE_RATE": "100",
            "TELEGRAM_PRIVATE_BURST": "100",
            "TELEGRAM_GROUP_PER_MINUTE": "6000",
            "LOG_LEVEL": "INFO",
        }
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
