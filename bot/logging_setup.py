"""Logging without secrets: tokens and passwords are redacted wherever they would appear.

Two guards, because libraries log in ways we do not control: every record is cleaned
as it is created (message and arguments), and our formatters clean the finished
text again, including tracebacks, whose frames and exception messages may carry a
token (python-telegram-bot puts it into ``InvalidToken``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

# A Bot API URL carries the token after /bot, and a bare token looks like
# 123456789:AA...(35 characters); a URL's password sits between : and @.
_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]+|(?<![A-Za-z0-9])\d{3,}:[A-Za-z0-9_-]{30,}")
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(?=@)", re.I)
# Replacing a secret this short everywhere would garble every log line; URL
# passwords are still caught by their position.
MIN_SECRET_LENGTH = 4
REDACTED = "<redacted>"

_guarded: set[str] = set()
_ordered: list[str] = []


def redact(text: str) -> str:
    cleaned = _TOKEN.sub(lambda m: "bot" + REDACTED if m[0][:3] == "bot" else REDACTED, text)
    cleaned = _URL_PASSWORD.sub(lambda m: m.group("head") + "***", cleaned)
    for secret in _ordered:
        cleaned = cleaned.replace(secret, REDACTED)
    return cleaned


def guard_secrets(secrets: list[str]) -> None:
    """Redact these values in every log record from now on, whatever handlers exist."""
    _install_record_factory()
    new = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH} - _guarded
    if not new:
        return
    _guarded.update(new)
    # Longest first, so a secret containing another is replaced whole.
    _ordered[:] = sorted(_guarded, key=len, reverse=True)
    # httpx logs every request URL at INFO; nothing in it is worth the noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _clean_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it for logging to report
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None


_installed: list[bool] = []


def _install_record_factory() -> None:
    if _installed:
        return
    _installed.append(True)
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _clean_record(record)
        return record

    logging.setLogRecordFactory(factory)


class RedactingFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        cleaned = {k: redact(v) if isinstance(v, str) else v for k, v in entry.items()}
        return json.dumps(cleaned, ensure_ascii=False)


def setup_logging(level: str, secrets: list[str], log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else RedactingFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    guard_secrets(secrets)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Alembic says which dialect it uses on every start; only upgrades are news.
    logging.getLogger("alembic.runtime.migration").addFilter(_alembic_news)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


log = logging.getLogger("aduan")


def _alembic_news(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(("Context impl", "Will assume"))


def _log_uncaught(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        return
    log.critical("unexpected error, the bot stops", exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or isinstance(args.exc_value, SystemExit):
        return
    log.critical(
        "unexpected error in thread %s",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
