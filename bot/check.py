"""``aduan check``: every problem that can be found before the bot starts, all at once.

Offline it checks the settings, the city's YAML, DATABASE_URL and MEDIA_DIR;
``--online`` also asks Telegram (the token, the bot's place in the officers'
groups), the Graph API (the WhatsApp token and number), the database
(reachable, migrated) and Redis when REDIS_URL is set (a PING). It creates nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import Bot, ChatMemberAdministrator, ChatMemberOwner, User
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError

from bot.city_file import CityFileError, load_city
from bot.logging_setup import guard_secrets, redact
from bot.settings import DEFAULT_DATABASE_URL, DEFAULT_MEDIA_DIR, Settings, settings_problems
from bot.startup import database_problem, network_problem, token_refused
from conversations.core.config import CityConfig
from handlers.whatsapp.client import http_client
from storage.database import (
    create_engine,
    display_url,
    sqlite_folder_problem,
    sqlite_path,
)
from storage.migrate import revisions


async def run(online: bool) -> int:
    """Print what passed and every problem; the exit status: 1 if anything is wrong."""
    report = Report()
    settings = load_settings(report)
    guard_secrets(settings.secrets())
    config = check_offline(settings, report)
    if online:
        await check_online(settings, config, report)
    for line in report.passed:
        print(redact(f"ok: {line}"))
    for line in report.problems:
        print(redact(f"problem: {line}"))
    if report.problems:
        count = len(report.problems)
        print(f"{count} problem{'s' if count > 1 else ''} found")
        return 1
    if not online:
        print("no problems found (`aduan check --online` also asks Telegram and the database)")
    return 0


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)


def load_settings(report: Report) -> Settings:
    """The settings; each wrong value is reported and replaced by its default, so the
    rest can still be checked."""
    try:
        return Settings()
    except ValidationError as error:
        report.problems.extend(settings_problems(error))
        wrong = {str(item["loc"][0]) for item in error.errors() if item["loc"]}
        defaults = {
            name: Settings.model_fields[name].get_default(call_default_factory=True)
            for name in wrong
            if name in Settings.model_fields
        }
        return Settings(**defaults)


def check_offline(settings: Settings, report: Report) -> CityConfig | None:
    # A key whose value was wrong (and replaced by its default) is not "not set" too.
    reported = {problem.split(" ")[0].rstrip(":") for problem in report.problems}
    report.problems.extend(
        f"{key} is not set (see .env.example)"
        for key in settings.missing_keys()
        if key.split(" ")[0] not in reported
    )
    config: CityConfig | None = None
    path = settings.city_path()
    try:
        config = load_city(path)
    except CityFileError as error:
        report.problems.extend(error.problems)
    else:
        report.passed.append(
            f"{path}: {config.city_name}, {len(config.categories)} categories, "
            f"{len(config.agencies)} agencies"
        )
    if settings.database_url != DEFAULT_DATABASE_URL:
        problem = sqlite_folder_problem(settings.database_url, create=False)
        if problem:
            report.problems.append(problem)
    report.problems.extend(_media_problems(settings.media_dir))
    return config


def _media_problems(folder: Path) -> list[str]:
    if folder.is_dir():
        if not os.access(folder, os.W_OK | os.X_OK):
            return [f"MEDIA_DIR {folder}: the bot cannot write there"]
        return []
    if folder.exists():
        return [f"MEDIA_DIR {folder}: not a folder"]
    if folder != DEFAULT_MEDIA_DIR and not folder.parent.is_dir():
        return [
            f"MEDIA_DIR {folder}: the folder {folder.parent} does not exist; "
            "create it or correct the path"
        ]
    return []


async def check_online(settings: Settings, config: CityConfig | None, report: Report) -> None:
    # A service whose settings were reported wrong is not asked: their defaults stand in
    # for them, and asking (say) the real Graph API instead would only mislead.
    def wrong(prefix: str) -> bool:
        return any(problem.startswith(prefix) for problem in report.problems)

    if not wrong("DATABASE_URL"):
        await _check_database(settings.database_url, report)
    if settings.redis_url and not wrong("REDIS_URL"):
        await _check_redis(settings.redis_url, report)
    if (
        settings.whatsapp_on
        and settings.whatsapp_access_token.get_secret_value()
        and not wrong("WHATSAPP_")
    ):
        await _check_whatsapp(settings, report)
    token = settings.telegram_bot_token.get_secret_value()
    if not token or wrong("TELEGRAM_"):
        return
    base_url = settings.telegram_api_base_url
    bot = Bot(token, base_url=f"{base_url}/bot", base_file_url=f"{base_url}/file/bot")
    try:
        try:
            me = await bot.get_me()
        except InvalidToken:
            report.problems.append(token_refused(base_url))
            return
        except NetworkError as error:
            report.problems.append(
                f"cannot reach the Telegram Bot API at {base_url}: {network_problem(error)}; "
                "check the network or TELEGRAM_API_BASE_URL"
            )
            return
        report.passed.append(f"TELEGRAM_BOT_TOKEN: the bot is @{me.username}")
        topics = [a.code for a in config.agencies if a.use_topic] if config else []
        if settings.admin_chat_id:
            await _check_group(bot, me, settings.admin_chat_id, "ADMIN_CHAT_ID", topics, report)
        for agency in config.agencies if config else []:
            if agency.chat_id is not None:
                label = f"agency {agency.code} chat_id"
                await _check_group(bot, me, agency.chat_id, label, [], report)
    finally:
        await bot.shutdown()


async def _check_whatsapp(settings: Settings, report: Report) -> None:
    """The token and the phone number id, asked of the Graph API."""
    base = settings.whatsapp_api_base_url
    phone = settings.whatsapp_phone_number_id
    token = settings.whatsapp_access_token.get_secret_value()
    async with http_client(base, timeout=15.0) as client:
        try:
            response = await client.get(
                f"{base}/v{settings.whatsapp_api_version}/{phone}",
                params={"fields": "display_phone_number,verified_name"},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as error:
            report.problems.append(
                f"cannot reach the Graph API at {base}: {type(error).__name__}; "
                "check the network or WHATSAPP_API_BASE_URL"
            )
            return
    if response.status_code == 200:
        number = response.json()
        report.passed.append(
            f"WHATSAPP_PHONE_NUMBER_ID: {number.get('display_phone_number')} "
            f"({number.get('verified_name')})"
        )
    elif response.status_code == 401:
        report.problems.append(
            "WHATSAPP_ACCESS_TOKEN: the Graph API refuses it (expired or revoked); "
            "make a permanent system-user token"
        )
    else:
        report.problems.append(
            f"WHATSAPP_PHONE_NUMBER_ID {phone}: the Graph API answers {response.status_code}; "
            "copy the Phone number ID from WhatsApp Manager (API Setup)"
        )


async def _check_redis(url: str, report: Report) -> None:
    """A PING: the limits and locks shared by several processes live there."""
    shown = _redis_place(url)
    client = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        await client.ping()
    except (RedisError, OSError, ValueError) as error:
        report.problems.append(
            f"REDIS_URL: Redis at {shown} does not answer ({type(error).__name__}: {error}); "
            "start Redis there, correct REDIS_URL, or leave it empty to run without Redis"
        )
    else:
        report.passed.append(f"REDIS_URL: Redis at {shown} answers")
    finally:
        await client.aclose()


def _redis_place(url: str) -> str:
    """Where Redis is, without a password."""
    try:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            return f"unix://{parts.path}"
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    except ValueError:
        return "REDIS_URL"


async def _check_database(url: str, report: Report) -> None:
    shown = display_url(url)
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        # Opening it would create an empty file; that is `aduan migrate`'s job.
        report.problems.append(
            f"DATABASE_URL: there is no database at {path} yet; "
            "`aduan migrate` creates it (`aduan run` does too)"
        )
        return
    engine = create_engine(url)
    try:
        current, head = await revisions(engine)
    except Exception as error:
        report.problems.append(database_problem(url, error))
        return
    finally:
        await engine.dispose()
    if current != head:
        report.problems.append(
            f"DATABASE_URL: the database {shown} is at schema {current or '(empty)'}, this "
            f"version needs {head}: run `aduan migrate` (`aduan run` does it too)"
        )
    else:
        report.passed.append(f"DATABASE_URL: {shown} is reachable and up to date")


async def _check_group(
    bot: Bot, me: User, chat_id: int, label: str, topics: list[str], report: Report
) -> None:
    mention = f"/id@{me.username}"
    try:
        chat = await bot.get_chat(chat_id)
        member = await bot.get_chat_member(chat_id, me.id)
    except (BadRequest, Forbidden) as error:
        if "not found" in error.message.lower():
            report.problems.append(
                f"{label} {chat_id}: chat not found: the id is wrong or the bot is not in "
                f"that group; add the bot to the group and send {mention} there"
            )
        else:
            report.problems.append(f"{label} {chat_id}: {error.message}")
        return
    except TelegramError as error:
        report.problems.append(f"{label} {chat_id}: Telegram answered: {error.message}")
        return
    name = f"{chat.title or chat_id} ({chat_id})"
    if chat.type not in (chat.GROUP, chat.SUPERGROUP):
        report.problems.append(f"{label} {chat_id}: is a {chat.type} chat, not a group")
        return
    if not isinstance(member, ChatMemberAdministrator | ChatMemberOwner):
        report.problems.append(
            f"{label}: the bot is not an admin of {name}: make it an administrator "
            "(group info, Administrators, Add Admin) so it reads the officers' replies"
        )
        return
    if topics:
        users = ", ".join(topics)
        if not chat.is_forum:
            report.problems.append(
                f"{label}: agencies {users} use topics, but {name} has no topics: "
                "turn on Topics in the group's settings"
            )
        elif isinstance(member, ChatMemberAdministrator) and not member.can_manage_topics:
            report.problems.append(
                f"{label}: not enough rights to create topics in {name} (agencies {users}): "
                "give the bot the Manage topics right"
            )
    report.passed.append(f"{label}: the bot is an administrator of {name}")
