"""Telegram edge cases, through the real bot against the fake Bot API, on both frameworks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conversations.core.messages import Inbound
from tests.fakes.telegram_api import FakeTelegram
from tests.support.bot import ADMIN_CHAT_ID, FRAMEWORKS, TOKEN, running_bot

DESK_OFFICER = 501


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        server.group(chat_id=ADMIN_CHAT_ID, title="Meja Aduan", admins=[DESK_OFFICER])
        yield server


async def test_a_command_for_another_bot_is_left_alone(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, framework: str
) -> None:
    budi = fake.private_user(user_id=DESK_OFFICER, first_name="Budi")
    admin = fake.group(chat_id=ADMIN_CHAT_ID, title="Meja Aduan", admins=[DESK_OFFICER])
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        budi.send_command_in(admin, "/antrian@some_other_bot")
        await fake.wait_idle()
        assert not [t for t in fake.texts_to(ADMIN_CHAT_ID) if "Ringkasan harian" not in t]
        budi.send_command_in(admin, "/antrian@kanal_aduan_bot")
        await fake.wait_for(
            lambda: [t for t in fake.texts_to(ADMIN_CHAT_ID) if "Ringkasan harian" not in t]
        )


async def test_a_failure_in_the_officers_group_is_said_there_without_details(
    fake: FakeTelegram,
    sqlite_url: str,
    tmp_path: Path,
    framework: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    budi = fake.private_user(user_id=DESK_OFFICER, first_name="Budi")
    admin = fake.group(chat_id=ADMIN_CHAT_ID, title="Meja Aduan", admins=[DESK_OFFICER])
    async with running_bot(
        fake, sqlite_url, tmp_path, inbox_max_attempts=2, telegram_framework=framework
    ) as app:

        async def broken(inbound: Inbound) -> str | None:
            raise RuntimeError("database exploded at line 42")

        monkeypatch.setattr(app.officers, "handle", broken)
        update = budi.send_command_in(admin, "/antrian")
        said = await fake.wait_for(
            lambda: [t for t in fake.texts_to(ADMIN_CHAT_ID) if "gagal diproses" in t]
        )
    assert f"tg:{update['update_id']}" in said[0]
    assert "exploded" not in said[0] and "Traceback" not in said[0]


async def test_a_failed_button_press_is_still_answered(
    fake: FakeTelegram,
    sqlite_url: str,
    tmp_path: Path,
    framework: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    siti = fake.private_user(user_id=1001, first_name="Siti")
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework) as app:
        siti.send_command("/start")
        menu = await fake.next_message_to(siti.id)

        async def broken(inbound: Inbound) -> object:
            raise RuntimeError("boom")

        monkeypatch.setattr(app.citizens, "handle", broken)
        siti.press_button(menu, "📝 Aduan baru")
        await fake.wait_for(lambda: fake.callback_answers)
    assert "gangguan" in str(fake.callback_answers[-1].get("text"))


async def test_an_anonymous_admin_is_asked_to_act_under_their_own_name(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, framework: str
) -> None:
    admin = fake.group(chat_id=ADMIN_CHAT_ID, title="Meja Aduan", admins=[DESK_OFFICER])
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        fake.push_update(
            {
                "message": {
                    "message_id": 9001,
                    "date": 1795829335,
                    "chat": admin.api(),
                    "sender_chat": admin.api(),
                    "from": {
                        "id": 1087968824,
                        "is_bot": True,
                        "first_name": "Group",
                        "username": "GroupAnonymousBot",
                    },
                    "text": "/antrian",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 8}],
                }
            }
        )
        said = await fake.wait_for(
            lambda: [t for t in fake.texts_to(ADMIN_CHAT_ID) if "anonim" in t]
        )
    assert "Tetap anonim" in said[0]


async def test_a_command_with_control_characters_in_it_is_still_the_command(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    siti = fake.private_user(user_id=1001, first_name="Siti")
    async with running_bot(fake, sqlite_url, tmp_path):
        siti.send_command("/start\x00")
        await fake.wait_for(lambda: any("Selamat datang" in t for t in fake.texts_to(siti)))
        # Without Telegram's command mark: a NUL before it hid it from Telegram.
        fake.inbound_message(siti.chat, siti, {"text": "\x00/lapor\x07"})
        await fake.wait_for(lambda: any("Langkah 1/" in t for t in fake.texts_to(siti)))
    assert not [t for t in fake.texts_to(siti) if "belum mengerti" in t]
