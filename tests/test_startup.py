"""Starting the bot: each failure is one line an operator understands, and no secret.

These run ``python -m bot`` as a real process, so everything it prints is searched:
log lines, tracebacks, Python's own last words.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram.error import NetworkError

from bot import startup
from tests.fakes.telegram_api import JSON, ApiError, FakeTelegram, UploadedFile
from tests.support.bot import ADMIN_CHAT_ID, TOKEN
from tests.support.process import Finished, aduan, read_until, start, stop

WRONG_TOKEN = "987654321:AAHwrongTOKENwrongTOKENwrongTOKEN12"
DB_PASSWORD = "Sup3r-Secret-Pa55"
SECRETS = (TOKEN, TOKEN.split(":")[1], WRONG_TOKEN, WRONG_TOKEN.split(":")[1], DB_PASSWORD)


def assert_no_secret(result: Finished) -> None:
    leaked = [secret for secret in SECRETS if secret in result.output]
    assert leaked == [], result.output
    assert "Traceback" not in result.output, result.output


def errors(result: Finished) -> list[str]:
    return [line for line in result.lines() if " ERROR " in line or " CRITICAL " in line]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        server.group(chat_id=ADMIN_CHAT_ID, title="Meja Aduan")
        yield server


def settings(fake: FakeTelegram, tmp_path: Path, **overrides: str) -> dict[str, str]:
    values = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "ADMIN_CHAT_ID": str(ADMIN_CHAT_ID),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'aduan.db'}",
        "MEDIA_DIR": str(tmp_path / "media"),
        "TELEGRAM_POLL_TIMEOUT": "1",
        "WEB_PORT": "0",
    }
    values.update(overrides)
    return values


async def test_a_wrong_token_stops_at_once_with_one_line(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    result = await aduan(
        tmp_path, "run", **settings(fake, tmp_path, TELEGRAM_BOT_TOKEN=WRONG_TOKEN)
    )
    assert result.returncode == 1
    assert_no_secret(result)
    [line] = errors(result)
    assert f"the Telegram Bot API at {fake.base_url} refused TELEGRAM_BOT_TOKEN" in line
    assert "@BotFather" in line
    assert result.lines()[-1] == line


async def test_a_wrong_token_in_the_env_file_is_told_the_same_way(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    values = settings(fake, tmp_path, TELEGRAM_BOT_TOKEN=WRONG_TOKEN)
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    result = await aduan(tmp_path, "run")
    assert result.returncode == 1
    assert_no_secret(result)
    assert "refused TELEGRAM_BOT_TOKEN" in errors(result)[0]


async def test_an_unreachable_bot_api_is_retried_with_back_off_until_stopped(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    process = await start(tmp_path, "run", **settings(fake, tmp_path, TELEGRAM_API_BASE_URL=closed))
    lines = await read_until(process, "retrying in", count=2)
    # Meanwhile the web chat, the web desk and the health check answer.
    [address] = re.findall(r"Kanal Aduan: open (http://\S+)", "".join(lines))
    async with httpx.AsyncClient(base_url=address) as web:
        assert (await web.get("/")).status_code == 200
        assert (await web.get("/petugas", follow_redirects=True)).status_code == 200
        assert (await web.get("/healthz")).status_code == 200
    result = await stop(process)
    warnings = [line for line in lines if "retrying in" in line]
    assert (
        warnings[0]
        .rstrip()
        .endswith(
            f"cannot reach the Telegram Bot API at {closed}: connection refused; "
            "check the network or TELEGRAM_API_BASE_URL; retrying in 1 s"
        )
    )
    assert warnings[1].rstrip().endswith("retrying in 2 s")
    assert result.returncode == 0
    full = Finished(result.returncode, result.stdout, "".join(lines) + result.stderr)
    assert_no_secret(full)


async def test_an_unreachable_database_is_one_line_without_its_password(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://aduan:{DB_PASSWORD}@127.0.0.1:{port}/aduan"
    result = await aduan(tmp_path, "run", **settings(fake, tmp_path, DATABASE_URL=url))
    assert result.returncode == 1
    assert_no_secret(result)
    [line] = errors(result)
    assert line.endswith(
        f"cannot open the database postgresql://aduan:***@127.0.0.1:{port}/aduan: "
        "connection refused; check DATABASE_URL and that PostgreSQL is running and "
        "accepts connections"
    )


async def test_a_malformed_database_url_is_named_without_its_password(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    url = f"postgres//aduan:{DB_PASSWORD}@db/aduan"
    result = await aduan(tmp_path, "run", **settings(fake, tmp_path, DATABASE_URL=url))
    assert result.returncode == 1
    assert_no_secret(result)
    assert result.lines() == [
        "invalid settings (see .env.example): DATABASE_URL is not a database URL "
        "(sqlite+aiosqlite:///path/file.db or postgresql://...)"
    ]


async def test_a_mistyped_sqlite_folder_is_refused_and_nothing_is_created(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dtaa' / 'kanal_aduan.db'}"
    result = await aduan(tmp_path, "run", **settings(fake, tmp_path, DATABASE_URL=url))
    assert result.returncode == 1
    [line] = errors(result)
    assert f"the folder {tmp_path / 'dtaa'} of the SQLite file does not exist" in line
    assert not (tmp_path / "dtaa").exists()


async def test_the_default_database_is_created_on_first_start(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    values = settings(fake, tmp_path)
    del values["DATABASE_URL"], values["MEDIA_DIR"]
    process = await start(tmp_path, "run", **values)
    await read_until(process, "Kanal Aduan: open")
    result = await stop(process)
    assert result.returncode == 0, result.output
    assert (tmp_path / "data" / "kanal_aduan.db").is_file()
    assert (tmp_path / "data" / "media").is_dir()


async def test_a_wrong_log_level_is_explained(fake: FakeTelegram, tmp_path: Path) -> None:
    result = await aduan(tmp_path, "run", **settings(fake, tmp_path, LOG_LEVEL="verbose"))
    assert result.returncode == 1
    assert result.lines() == [
        "invalid settings (see .env.example): "
        "LOG_LEVEL must be one of: DEBUG, INFO, WARNING, ERROR, CRITICAL"
    ]


async def test_with_no_configuration_at_all_the_bot_runs_in_the_browser(tmp_path: Path) -> None:
    """A fresh clone, no .env: the sample city, SQLite under data/, the web chat and desk."""
    process = await start(tmp_path, "run", WEB_PORT="0")
    [line] = [
        line for line in await read_until(process, "Kanal Aduan: open") if "Kanal Aduan" in line
    ]
    found = re.search(r"Kanal Aduan: open (http://127\.0\.0\.1:\d+) \((.*)\)", line)
    assert found, line
    assert found.group(2) == "Telegram off: no TELEGRAM_BOT_TOKEN"
    async with httpx.AsyncClient(base_url=found.group(1)) as browser:
        page = await browser.get("/")
        desk = await browser.get("/petugas/masuk")
    result = await stop(process)
    assert result.returncode == 0, result.output
    assert page.status_code == 200 and "<title>Lapor Kota Blitar</title>" in page.text
    assert desk.status_code == 200 and "Meja aduan – Kota Blitar" in desk.text
    assert (tmp_path / "data" / "kanal_aduan.db").is_file()


async def test_json_logs_are_one_redacted_object_per_line(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    values = settings(fake, tmp_path, TELEGRAM_BOT_TOKEN=WRONG_TOKEN, LOG_FORMAT="json")
    result = await aduan(tmp_path, "run", **values)
    assert result.returncode == 1
    assert_no_secret(result)
    entries = [json.loads(line) for line in result.lines()]
    assert entries[-1]["level"] == "ERROR"
    assert "refused TELEGRAM_BOT_TOKEN" in entries[-1]["message"]
    assert {"time", "level", "logger", "message"} <= set(entries[-1])


# -- the Bot API probe, in process -------------------------------------------------------


async def test_a_failing_bot_api_is_waited_for_with_growing_delays(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("getMe", status=502, times=3, description="Bad Gateway")
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    me = await startup.reach_bot_api(TOKEN, fake.base_url, sleep=sleep, delays=(1, 2, 4, 8))
    assert me.username == "kanal_aduan_bot"
    assert waited == [1, 2, 4]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 3
    assert warnings[0] == (
        f"cannot reach the Telegram Bot API at {fake.base_url}: Bad Gateway; "
        "check the network or TELEGRAM_API_BASE_URL; retrying in 1 s"
    )


def test_network_problems_are_named_in_a_few_words() -> None:
    def wrapped(cause: BaseException) -> NetworkError:
        try:
            try:
                raise cause
            except BaseException as error:
                raise httpx.ConnectError(str(error)) from error
        except httpx.ConnectError as error:
            try:
                raise NetworkError(f"httpx.ConnectError: {error}") from error
            except NetworkError as outer:
                return outer

    not_resolved = socket.gaierror(-2, "Name or service not known")
    assert startup.network_problem(wrapped(not_resolved)) == "name not resolved"
    assert startup.network_problem(wrapped(ConnectionRefusedError(111, "x"))) == (
        "connection refused"
    )
    assert startup.network_problem(wrapped(TimeoutError())) == "timed out"
    assert startup.network_problem(wrapped(ValueError("something odd"))) == "something odd"


async def test_a_stop_while_waiting_for_the_network_ends_the_wait() -> None:
    waiting = asyncio.Event()

    async def never(seconds: float) -> None:
        waiting.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(
        startup.reach_bot_api(TOKEN, "http://127.0.0.1:9", sleep=never, delays=(1,))
    )
    await asyncio.wait_for(waiting.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_without_admin_chat_id_the_bot_only_answers_id_to_find_it(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """The README's set-up: the token in .env, the bot in the group, /id tells the id."""
    ani = fake.private_user(502, "Ani")
    joko = fake.private_user(901, "Joko")
    group = fake.group(-1005555555555, "Meja Aduan Kota Blitar", admins=[ani.id])
    values = settings(fake, tmp_path)
    del values["ADMIN_CHAT_ID"]
    process = await start(tmp_path, "run", **values)
    [announced] = [
        line for line in await read_until(process, "set-up mode") if "set-up mode" in line
    ]
    assert "send /id@kanal_aduan_bot there, put the id in .env as ADMIN_CHAT_ID" in announced
    joko.send_text("/lapor")
    joko.send_command_in(group, "/id")
    command = ani.send_command_in(group, "/id@kanal_aduan_bot")
    answer = await fake.next_message_to(group.id)
    lines = await read_until(process, "/id in")
    result = await stop(process)
    assert result.returncode == 0
    assert answer.text is not None and answer.text.startswith("🆔 ID grup ini: -1005555555555\n")
    assert answer.reply_to_message_id == command["message"]["message_id"]
    assert lines[-1].rstrip().endswith("/id in 'Meja Aduan Kota Blitar': chat id -1005555555555")
    assert fake.messages_to(joko.id) == []
    assert [m.chat_id for m in fake.sent] == [group.id]


async def test_an_unexpected_error_is_logged_with_its_traceback_redacted(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """The token is revoked between the start-up probe and python-telegram-bot's own
    getMe, whose InvalidToken repeats the token: nothing may print it raw."""
    answered = fake._methods["getme"]
    calls = 0

    async def revoked_after_the_probe(params: JSON, files: dict[str, UploadedFile]) -> Any:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ApiError(401, "Unauthorized")
        return await answered(params, files)

    fake._methods["getme"] = revoked_after_the_probe
    result = await aduan(tmp_path, "run", **settings(fake, tmp_path))
    assert result.returncode == 1
    assert [s for s in SECRETS if s in result.output] == []
    assert " CRITICAL aduan: unexpected error, the bot stops" in result.output
    assert "telegram.error.InvalidToken: The token `<redacted>` was rejected" in result.output
