"""python-telegram-bot and aiogram are interchangeable (``TELEGRAM_FRAMEWORK``): the same
conversation makes the same Bot API calls, with the same texts and buttons, on both.

The other scenarios of the Telegram contract run on both frameworks in their own files
(``tests/test_telegram_citizen_e2e.py``, ``tests/test_officers.py``,
``tests/test_officer_boundaries.py``, the 429 and 403 tests of
``tests/test_outbox_delivery.py``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from conversations.core.inbox import InboxEntry
from handlers.telegram.common import TelegramPoller
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.support.bot import FRAMEWORKS, TOKEN, framework_parts
from tests.support.desk import City, build_city

# Calls a framework makes for itself (start-up, polling), not for a citizen or officer.
HOUSEKEEPING = {
    "getMe",
    "getUpdates",
    "deleteWebhook",
    "setWebhook",
    "setMyCommands",
    "setMyDescription",
    "setMyShortDescription",
    "getChatAdministrators",
}
CLOCK = re.compile(r"\b\d{1,2}[:.]\d{2}\b")


def _number(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _keyboard(markup: Any) -> Any:
    """The keyboard as sent, without the fields left empty (one framework sends
    ``null``, the other leaves them out)."""
    if isinstance(markup, dict):
        return {k: _keyboard(v) for k, v in markup.items() if v is not None}
    if isinstance(markup, list):
        return [_keyboard(v) for v in markup]
    return markup


def what_the_user_sees(call: Call) -> tuple[Any, ...]:
    """A call as the people in the chat see it: method, chat, topic, reply, text, buttons
    (clock times blanked: the two runs do not start in the same minute)."""
    params = call.params
    replied = params.get("reply_parameters")
    reply_to = replied.get("message_id") if isinstance(replied, dict) else None
    text = params.get("text") or params.get("caption")
    if call.method == "sendMediaGroup":
        text = [item.get("caption") for item in params.get("media", [])]
    if isinstance(text, str):
        text = CLOCK.sub("hh:mm", text)
    return (
        call.method,
        _number(params.get("chat_id")),
        _number(params.get("message_thread_id")),
        _number(params.get("message_id")),
        _number(reply_to if reply_to is not None else params.get("reply_to_message_id")),
        text,
        _keyboard(params.get("reply_markup")),
        (params.get("latitude"), params.get("longitude")),
    )


def per_chat(fake: FakeTelegram) -> dict[int | None, list[tuple[Any, ...]]]:
    """The calls to each chat in order (chats are served concurrently, each in order)."""
    chats: dict[int | None, list[tuple[Any, ...]]] = {}
    for call in fake.calls:
        if call.method in HOUSEKEEPING or call.method == "answerCallbackQuery":
            continue
        seen = what_the_user_sees(call)
        chats.setdefault(seen[1], []).append(seen)
    return chats


async def complaint_filed_verified_dispatched_answered_resolved(city: City) -> None:
    async with city.bot():
        ticket = await city.file_complaint()
        await city.press(city.desk, city.card(city.admin, ticket), "✅ Verifikasi")
        card = await city.card_shows(city.admin, ticket, "Status: Terverifikasi")
        await city.press(city.desk, card, "📤 Disposisi")
        card = await city.card_shows(city.admin, ticket, "Pilih perangkat daerah")
        await city.press(city.desk, card, "⭐ Dinas PUPR")
        await city.wait_card(city.pupr, ticket)
        agency_card = city.card(city.pupr, ticket)
        city.pupr_officer.send_text_in(city.pupr, "Besok pagi tim kami ke lokasi.", agency_card)
        await city.citizen_hears("Besok pagi tim kami ke lokasi.")
        await city.press(city.pupr_officer, city.card(city.pupr, ticket), "🛠️ Tindak lanjuti")
        agency_card = await city.card_shows(city.pupr, ticket, "Sedang ditindaklanjuti")
        await city.resolve(city.pupr_officer, agency_card, "Lubang sudah ditambal aspal.")
        await city.card_shows(city.pupr, ticket, "Status: Selesai")
        await city.citizen_hears("Beri nilai 1–5")
        await city.fake.wait_idle(quiet=0.3)


async def test_both_frameworks_make_the_same_calls_for_the_same_conversation(
    tmp_path: Path,
) -> None:
    seen: dict[str, FakeTelegram] = {}
    for framework in ("ptb", "aiogram"):
        async with FakeTelegram() as fake:
            home = tmp_path / framework
            home.mkdir()
            city = build_city(fake, f"sqlite+aiosqlite:///{home / 'aduan.db'}", home, framework)
            await complaint_filed_verified_dispatched_answered_resolved(city)
            seen[framework] = fake
    ptb, aiogram = per_chat(seen["ptb"]), per_chat(seen["aiogram"])
    assert sorted(ptb, key=str) == sorted(aiogram, key=str)
    for chat, calls in ptb.items():
        assert calls == aiogram[chat], f"chat {chat}"
    answers = {name: [a["text"] for a in fake.callback_answers] for name, fake in seen.items()}
    assert answers["ptb"] == answers["aiogram"]
    assert len(answers["ptb"]) >= 4
    assert all(call.ok for fake in seen.values() for call in fake.calls)


class StoredKeys:
    """An inbox that only remembers what it was given."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def ingest(self, entries: Sequence[InboxEntry]) -> None:
        self.keys += [entry.key for entry in entries]


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_polling_reads_telegrams_refusals_the_same_way_on_both(
    framework: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        siti = fake.private_user(1001, "Siti")
        fake.fail_next("getUpdates", status=429, retry_after=3)
        fake.fail_next("getUpdates", status=409, description="Conflict: terminated by other")
        fake.fail_next("getUpdates", status=502, description="Bad Gateway")
        update = siti.send_command("/start")
        waited: list[float] = []

        async def sleep(seconds: float) -> None:
            waited.append(seconds)

        inbox = StoredKeys()
        async with framework_parts(fake, framework, TOKEN) as parts:
            poller = TelegramPoller(parts.fetch, inbox, fake.base_url, timeout=1, sleep=sleep)  # type: ignore[arg-type]
            polling = asyncio.create_task(poller.run())
            await fake.wait_for(lambda: inbox.keys)
            polling.cancel()
        assert inbox.keys == [f"tg:{update['update_id']}"]
        assert waited == [3, 1, 2]
        said = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
        assert said[0] == "Telegram asks to slow down polling; retrying in 3 s"
        assert said[1].startswith("another bot instance (or a webhook) takes this bot's updates")
        assert said[2] == (
            f"cannot reach the Telegram Bot API at {fake.base_url}: Bad Gateway; check the "
            "network or TELEGRAM_API_BASE_URL; retrying in 2 s"
        )

        async with framework_parts(fake, framework, "999:REVOKED") as parts:
            poller = TelegramPoller(parts.fetch, inbox, fake.base_url, timeout=1, sleep=sleep)  # type: ignore[arg-type]
            await asyncio.wait_for(poller.run(), 10)
        assert poller.fatal is not None and "refuses TELEGRAM_BOT_TOKEN" in poller.fatal
