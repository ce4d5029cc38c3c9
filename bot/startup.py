"""Start-up checks that read like a person wrote them.

Each problem ends the start with one line that says what is wrong and what to do,
never with a traceback and never with a secret. A Bot API that cannot be reached
is waited for, with one warning per back-off step: after a power cut the network
often comes back later than the server.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
import warnings
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot, User
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.logging_setup import guard_secrets
from bot.settings import DEFAULT_DATABASE_URL, DEFAULT_MEDIA_DIR, Settings
from storage import migrate
from storage.database import create_engine, display_url, is_sqlite, sqlite_folder_problem

log = logging.getLogger(__name__)

DEFAULT_API = "https://api.telegram.org"
# Seconds between attempts to reach the Bot API at start; the last one repeats.
BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)

Sleep = Callable[[float], Awaitable[None]]


async def prepare(settings: Settings) -> AsyncEngine:
    """Everything ``aduan run`` needs before it may start: the settings, the city's
    file, MEDIA_DIR and the database (migrated). The Bot API is reached later
    (``reach_bot_api``), once the web part is up: the web chat, the web desk and
    ``/healthz`` do not wait for Telegram."""
    settings.require_telegram()
    guard_secrets(settings.secrets())
    settings.city()
    check_writable(settings.media_dir, create_parents=settings.media_dir == DEFAULT_MEDIA_DIR)
    return await open_database(settings.database_url)


def check_writable(folder: Path, create_parents: bool = True) -> None:
    """Fail at start, with the reason, rather than at a citizen's first photo.

    The folder itself is created; missing parents only for the default ``data/media``,
    so a mistyped MEDIA_DIR does not quietly become a new tree of folders.
    """
    try:
        folder.mkdir(parents=create_parents, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except FileNotFoundError:
        raise SystemExit(
            f"MEDIA_DIR {folder}: the folder {folder.parent} does not exist; "
            "create it or correct the path"
        ) from None
    except OSError as error:
        raise SystemExit(f"MEDIA_DIR {folder}: cannot write there ({error.strerror})") from None


async def open_database(url: str) -> AsyncEngine:
    """An engine on a reachable, migrated database, or one line saying why not."""
    problem = sqlite_folder_problem(url, create=url == DEFAULT_DATABASE_URL)
    if problem:
        raise SystemExit(problem)
    engine = create_engine(url)
    try:
        async with engine.connect():
            pass
    except Exception as error:
        await engine.dispose()
        raise SystemExit(database_problem(url, error)) from None
    try:
        await migrate.upgrade(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


def database_problem(url: str, error: BaseException) -> str:
    reason = _network_reason(error) or _innermost(error)
    hint = "check DATABASE_URL"
    if not is_sqlite(url) and _network_reason(error):
        hint += " and that PostgreSQL is running and accepts connections"
    return f"cannot open the database {display_url(url)}: {reason}; {hint}"


async def reach_bot_api(
    token: str,
    base_url: str,
    *,
    sleep: Sleep = asyncio.sleep,
    delays: tuple[float, ...] = BACKOFF,
) -> User:
    """getMe until it answers. A refused token stops at once; a network problem is
    retried with back-off and one warning per step."""
    bot = Bot(token, base_url=f"{base_url}/bot", base_file_url=f"{base_url}/file/bot")
    steps = _delays(delays)
    try:
        while True:
            try:
                return await bot.get_me()
            except InvalidToken:
                raise SystemExit(token_refused(base_url)) from None
            except RetryAfter as error:
                delay = _retry_after(error)
                log.warning(
                    "the Telegram Bot API at %s asks to wait; retrying in %s s",
                    base_url,
                    _seconds(delay),
                )
            except NetworkError as error:
                delay = next(steps)
                log.warning(
                    "cannot reach the Telegram Bot API at %s: %s; "
                    "check the network or TELEGRAM_API_BASE_URL; retrying in %s s",
                    base_url,
                    network_problem(error),
                    _seconds(delay),
                )
            except TelegramError as error:
                raise SystemExit(
                    f"the Telegram Bot API at {base_url} answered getMe with: {error.message}"
                ) from None
            await sleep(delay)
    finally:
        await bot.shutdown()


def token_refused(base_url: str) -> str:
    message = (
        f"the Telegram Bot API at {base_url} refused TELEGRAM_BOT_TOKEN: the token is wrong "
        "or was revoked; copy it again from @BotFather (/mybots, API Token)"
    )
    if base_url != DEFAULT_API:
        message += ", and check that TELEGRAM_API_BASE_URL is a Bot API server"
    return message


def network_problem(error: BaseException) -> str:
    """Why a request did not get through, in a few words: for start-up and outage lines."""
    return _network_reason(error) or _innermost(error)


def _network_reason(error: BaseException) -> str | None:
    for cause in _chain(error):
        if isinstance(cause, socket.gaierror):
            return "name not resolved"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate not accepted ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(cause, TimeoutError) or type(cause).__name__ in (
            "TimedOut",
            "ConnectTimeout",
            "ReadTimeout",
            "WriteTimeout",
        ):
            return "timed out"
        if isinstance(cause, OSError) and cause.errno == errno.ENETUNREACH:
            return "network unreachable"
        if isinstance(cause, OSError) and cause.errno == errno.EHOSTUNREACH:
            return "host unreachable"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _innermost(error: BaseException) -> str:
    last = error
    for cause in _chain(error):
        last = cause
    text = str(last).strip().splitlines()
    return text[0] if text else type(last).__name__


def _retry_after(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that retry_after becomes a timedelta; both are handled.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _delays(delays: tuple[float, ...]) -> Iterator[float]:
    yield from delays
    while True:
        yield delays[-1]


def _seconds(delay: float) -> str:
    return f"{delay:g}"
