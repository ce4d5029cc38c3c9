"""Logging without secrets: the bot token is redacted wherever it would appear."""

from __future__ import annotations

import logging
import re
from typing import Any

_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]+")


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _TOKEN.sub("bot<redacted>", message)
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, "<redacted>")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(level: str, secrets: list[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    guard_secrets(secrets)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


_guarded: set[str] = set()


def guard_secrets(secrets: list[str]) -> None:
    """Redact secrets in every log record as it is created, whatever handlers exist.

    Libraries log URLs that carry the token (httpx at INFO, python-telegram-bot's
    "Set Bot API URL" at DEBUG), so filtering one handler is not enough.
    """
    new = [s for s in secrets if s and s not in _guarded]
    if not new:
        return
    _guarded.update(new)
    redact = RedactSecrets(sorted(_guarded))
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    # httpx logs every request URL at INFO; nothing in it is worth the noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
