"""``/id``: how a city finds its groups' ids while setting the bot up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.support.desk import City, build_city

NEW_GROUP = -1007000000002


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def city(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> City:
    return build_city(fake, sqlite_url, tmp_path)


async def test_an_admin_learns_the_id_of_a_group_not_configured_yet(city: City) -> None:
    dinas = city.fake.group(NEW_GROUP, "Dinas Perpustakaan", admins=[city.stranger.id])
    async with city.bot():
        command = city.stranger.send_command_in(dinas, "/id@kanal_aduan_bot")
        answer = await city.group_hears(dinas, "🆔")
    assert answer.text == (
        f"🆔 ID grup ini: {NEW_GROUP}\n"
        "Isikan sebagai ADMIN_CHAT_ID di .env (grup meja aduan) atau sebagai chat_id "
        "perangkat daerah di berkas kota (YAML)."
    )
    assert answer.reply_to_message_id == command["message"]["message_id"]


async def test_in_a_topic_the_topic_id_is_told_too(city: City) -> None:
    thread = city.fake.add_topic(city.admin, "Dinas Lingkungan Hidup")
    async with city.bot():
        city.chief.send_command_in(city.admin, "/id", thread_id=thread)
        answer = await city.group_hears(city.admin, "🆔")
    assert answer.thread_id == thread
    assert answer.text == (
        f"🆔 ID grup ini: {city.admin.id}\nID topik ini: {thread}\n"
        f"Untuk perangkat daerah yang bekerja di topik ini: chat_id {city.admin.id} dan "
        f"thread_id {thread} di berkas kota (YAML)."
    )


async def test_members_who_are_not_admins_get_no_answer(city: City) -> None:
    dinas = city.fake.group(NEW_GROUP, "Dinas Perpustakaan", admins=[city.chief.id])
    async with city.bot():
        city.stranger.send_command_in(dinas, "/id")
        city.chief.send_command_in(dinas, "/id")
        await city.group_hears(dinas, "🆔")
        await city.fake.wait_idle(quiet=0.2)
    [answer] = city.fake.messages_to(dinas)
    assert answer.reply_to_message_id is not None
    replied = dinas.messages[answer.reply_to_message_id]
    assert replied["from"]["id"] == city.chief.id
