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
    try:
        await stop.wait()
    finally:
        await app.stop()


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
    else:
        config = settings.city()
        print(
            f"ok: {config.city_name}, {len(config.categories)} categories, "
            f"{len(config.agencies)} agencies"
        )
