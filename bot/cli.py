"""Command line: ``aduan run`` (or ``python -m bot run``), ``aduan migrate``, ``aduan check``."""

from __future__ import annotations

import argparse
import asyncio
import signal

from pydantic import ValidationError

from bot.logging_setup import setup_logging
from bot.runtime import KanalAduan
from bot.settings import Settings
from storage import migrate
from storage.database import create_engine


async def _run(settings: Settings) -> None:
    app = KanalAduan(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    assert app.fatal is not None
    stopped: asyncio.Future[object] = asyncio.ensure_future(stop.wait())
    fatal: asyncio.Future[object] = app.fatal  # type: ignore[assignment]
    try:
        await asyncio.wait([stopped, fatal], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        await app.stop()
    if app.fatal.done():
        raise SystemExit(f"stopped: {app.fatal.result()}")


async def _inbox(settings: Settings, retry: str | None, retry_all: bool) -> None:
    """Show parked updates, or put them back in line for a running bot."""
    from storage.database import session_factory
    from storage.inbox_store import SqlInboxStore

    engine = create_engine(settings.database_url)
    try:
        store = SqlInboxStore(session_factory(engine), owner="cli")
        if retry or retry_all:
            count = await store.requeue(None if retry_all else retry)
            print(f"{count} update(s) put back in line; a running bot applies them within seconds")
            return
        rows = await store.parked()
        if not rows:
            print("no parked updates")
        for row in rows:
            print(f"{row.key}\t{row.channel}\t{row.received_at:%Y-%m-%d %H:%M}\t{row.error}")
    finally:
        await engine.dispose()


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="aduan", description="Kanal Aduan complaint bot")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot (polling); migrates the database first")
    commands.add_parser("migrate", help="create or upgrade the database schema")
    commands.add_parser("check", help="validate the settings and the city configuration")
    inbox = commands.add_parser("inbox", help="list updates that failed every attempt")
    inbox.add_argument("--retry", metavar="KEY", help="put one parked update back in line")
    inbox.add_argument("--retry-all", action="store_true", help="put every parked update back")
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()
        )
        raise SystemExit(f"invalid settings (see .env.example): {problems}") from None
    setup_logging(settings.log_level, [settings.telegram_bot_token.get_secret_value()])
    if args.command == "run":
        asyncio.run(_run(settings))
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
    elif args.command == "inbox":
        asyncio.run(_inbox(settings, args.retry, args.retry_all))
    else:
        config = settings.city()
        print(
            f"ok: {config.city_name}, {len(config.categories)} categories, "
            f"{len(config.agencies)} agencies"
        )
