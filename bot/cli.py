"""Command line: ``aduan run`` (or ``python -m bot run``), ``migrate``, ``check``,
``officer``, ``inbox``, ``backup`` and ``restore``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from bot import check, export, startup
from bot.logging_setup import redact, setup_logging
from bot.runtime import KanalAduan
from bot.settings import DEFAULT_DATABASE_URL, Settings, settings_problems
from storage import backup as backups
from storage.database import create_engine, sqlite_folder_problem

log = logging.getLogger("aduan")


async def _start(app: KanalAduan) -> SystemExit | None:
    # Returned, not raised: a SystemExit escaping a task would tear the loop down.
    try:
        await app.start()
    except SystemExit as stop:
        return stop
    return None


async def _run(settings: Settings) -> None:
    # Without a token, the web part alone; without ADMIN_CHAT_ID, Telegram answers /id.
    app = KanalAduan(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # A stop request while the start still waits (for the network, say) ends it at once.
    starting = asyncio.create_task(_start(app))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await app.stop()
        log.info("stopped before the start was complete")
        return
    stopping.cancel()
    failed = starting.result()
    if failed is not None:
        await app.stop()
        raise failed
    assert app.fatal is not None
    fatal: asyncio.Future[object] = app.fatal  # type: ignore[assignment]
    stopped: asyncio.Future[object] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([stopped, fatal], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        await app.stop()
    if fatal.done():
        raise SystemExit(f"stopped: {fatal.result()}")


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


def _read_password() -> str:
    """From the terminal (asked twice), or the first line of standard input (scripts)."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise SystemExit("the two passwords differ; nothing was changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _officer(settings: Settings, args: argparse.Namespace) -> None:
    """Web desk accounts: add one, list them, set a new password, or disable one."""
    from conversations.core.domain import OfficerAccount
    from handlers.web.security import hash_password
    from storage.database import session_factory
    from storage.web_store import SqlWebStore

    engine = await startup.open_database(settings.database_url)
    try:
        store = SqlWebStore(session_factory(engine))
        if args.action == "list":
            for account in await store.accounts():
                where = "desk" if account.desk else f"agency {account.agency}"
                state = "" if account.active else " (disabled)"
                print(f"{account.username}\t{account.display_name}\t{where}{state}")
            return
        username = args.name.strip().lower()
        if not username or len(username) > 64 or any(c.isspace() for c in username):
            raise SystemExit("NAME: one word, at most 64 characters, e.g. budi")
        found = await store.account(username)
        if args.action == "add":
            if found is not None:
                raise SystemExit(f"officer {username} exists; use aduan officer password")
            if bool(args.agency) == bool(args.desk):
                raise SystemExit("give either --agency CODE or --desk")
            if args.agency and settings.city().agency(args.agency) is None:
                codes = ", ".join(a.code for a in settings.city().agencies)
                raise SystemExit(f"unknown agency {args.agency}; the city file has: {codes}")
            password = _read_password()
            if len(password) < 10:
                raise SystemExit("the password must have at least 10 characters")
            await store.add_account(
                OfficerAccount(
                    username=username,
                    display_name=args.display_name or args.name,
                    password_hash=hash_password(password),
                    created_at=datetime.now(UTC),
                    agency=args.agency or None,
                    desk=bool(args.desk),
                )
            )
            log.info("officer %s added; they sign in at /petugas", username)
            return
        if found is None:
            raise SystemExit(f"no officer {username}")
        if args.action == "password":
            password = _read_password()
            if len(password) < 10:
                raise SystemExit("the password must have at least 10 characters")
            found.password_hash = hash_password(password)
            found.active = True
        else:
            found.active = False
        await store.update_account(found)
        assert found.id is not None
        await store.end_sessions(found.id)
        log.info("officer %s %s", username, "disabled" if args.action == "remove" else "updated")
    finally:
        await engine.dispose()


async def _migrate(settings: Settings) -> None:
    engine = await startup.open_database(settings.database_url)
    await engine.dispose()
    log.info("the database is up to date")


async def _backup(settings: Settings, target: Path) -> None:
    summary = await backups.backup(settings.database_url, settings.media_dir, target)
    log.info(
        "backup written to %s: %s database (schema %s), %d photos, %d bytes",
        target,
        summary.backend,
        summary.revision,
        summary.media_files,
        summary.size,
    )


async def _restore(settings: Settings, source: Path, replace: bool) -> None:
    url = settings.database_url
    problem = sqlite_folder_problem(url, create=url == DEFAULT_DATABASE_URL)
    if problem:
        raise SystemExit(problem)
    summary = await backups.restore(source, url, settings.media_dir, replace=replace)
    log.info(
        "restored %s: %s database (schema %s), %d photos; "
        "`aduan run` brings the schema up to date if this version is newer",
        source,
        summary.backend,
        summary.revision,
        summary.media_files,
    )


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aduan", description="Kanal Aduan complaint bot")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run", help="run the bot (web chat and desk; Telegram if set); migrates the database first"
    )
    commands.add_parser("migrate", help="create or upgrade the database schema")
    checking = commands.add_parser(
        "check", help="validate the settings and the city file, listing every problem"
    )
    checking.add_argument(
        "--online",
        action="store_true",
        help="also check the token, the bot's rights in the groups, and the database",
    )
    officer = commands.add_parser("officer", help="web desk accounts of officers")
    officer_actions = officer.add_subparsers(dest="action", required=True)
    adding = officer_actions.add_parser(
        "add", help="add an officer (the password is asked, or read from standard input)"
    )
    adding.add_argument("name", help="user name to sign in with, e.g. budi")
    adding.add_argument("--agency", help="the agency's code in the city file, e.g. pupr")
    adding.add_argument("--desk", action="store_true", help="a complaint desk officer")
    adding.add_argument("--display-name", help="the name officers and the history show")
    officer_actions.add_parser("list", help="list the accounts")
    setting = officer_actions.add_parser("password", help="set a new password")
    setting.add_argument("name")
    removing = officer_actions.add_parser("remove", help="disable an account and sign it out")
    removing.add_argument("name")
    inbox = commands.add_parser("inbox", help="list updates that failed every attempt")
    inbox.add_argument("--retry", metavar="KEY", help="put one parked update back in line")
    inbox.add_argument("--retry-all", action="store_true", help="put every parked update back")
    saving = commands.add_parser(
        "backup", help="write the database and the photos to one file (while the bot runs)"
    )
    saving.add_argument("file", type=Path, help="the backup to write, e.g. aduan-2026-11-30.tgz")
    restoring = commands.add_parser(
        "restore", help="restore a backup into DATABASE_URL and MEDIA_DIR (stop the bot first)"
    )
    restoring.add_argument("file", type=Path, help="a file written by aduan backup")
    restoring.add_argument(
        "--replace",
        action="store_true",
        help="overwrite a database that is not empty (its data is lost)",
    )
    export.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "check":
        raise SystemExit(asyncio.run(check.run(args.online)))
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(settings_problems(error))
        raise SystemExit(redact(f"invalid settings (see .env.example): {problems}")) from None
    setup_logging(settings.log_level, settings.secrets(), settings.log_format)
    try:
        if args.command == "run":
            asyncio.run(_run(settings))
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
        elif args.command == "officer":
            asyncio.run(_officer(settings, args))
        elif args.command == "inbox":
            asyncio.run(_inbox(settings, args.retry, args.retry_all))
        elif args.command == "backup":
            asyncio.run(_backup(settings, args.file))
        elif args.command == "restore":
            asyncio.run(_restore(settings, args.file, args.replace))
        elif args.command == "export":
            export.run(settings, args)
    except SystemExit as stop:
        # The start-up's own messages: one line, through the (redacting) log.
        if isinstance(stop.code, str):
            log.error(stop.code)
            raise SystemExit(1) from None
        raise
    except backups.BackupError as error:
        log.error("%s", error)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception:
        log.critical("unexpected error, the bot stops", exc_info=True)
        raise SystemExit(1) from None
    finally:
        sys.stderr.flush()
