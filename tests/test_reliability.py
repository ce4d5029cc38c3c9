"""Nothing a citizen sent is lost: the running bot against the fake Bot API, with a
webhook, a database that goes away, and malformed updates; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlmodel import col

from storage.database import create_engine, is_sqlite, session_factory
from storage.tables import CitizenRow, ComplaintRow, InboxRow
from tests.fakes.telegram_api import TINY_JPEG, FakeTelegram, FakeUser
from tests.support.bot import ADMIN_CHAT_ID, FRAMEWORKS, TOKEN, running_bot
from tests.support.proxy import CuttableProxy

GREETING = "Selamat datang"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        server.group(chat_id=ADMIN_CHAT_ID, title="Meja Aduan")
        yield server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def greetings(fake: FakeTelegram, user: FakeUser) -> int:
    return sum(GREETING in t for t in fake.texts_to(user))


async def inbox_statuses(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            status: Any = InboxRow.status
            rows = await session.execute(select(status, func.count()).group_by(status))
            return {str(s): int(n) for s, n in rows.all()}
    finally:
        await engine.dispose()


async def settled(database_url: str, within: float = 60.0) -> None:
    """Wait until the inbox has nothing left to apply."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        statuses = await inbox_statuses(database_url)
        if not statuses.get("pending") and not statuses.get("processing"):
            return
        assert asyncio.get_running_loop().time() < deadline, statuses
        await asyncio.sleep(0.2)


class TestWebhookMode:
    @pytest.mark.parametrize("framework", FRAMEWORKS)
    async def test_updates_come_by_webhook_checked_by_secret_and_applied_once(
        self, fake: FakeTelegram, database_url: str, tmp_path: Path, framework: str
    ) -> None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        siti = fake.private_user(1001, "Siti")
        async with running_bot(
            fake,
            database_url,
            tmp_path,
            telegram_mode="webhook",
            web_port=port,
            public_url=url,
            telegram_webhook_secret="rahasia-kota_42",
            telegram_framework=framework,
        ):
            assert fake.webhook_url == f"{url}/webhooks/telegram"
            update = siti.send_command("/start")
            await fake.wait_for(lambda: greetings(fake, siti) == 1)
            async with aiohttp.ClientSession() as http:
                hook = f"{url}/webhooks/telegram"
                body = json.dumps({"update_id": 5, "message": {"text": "/start"}})
                for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "salah"}):
                    async with http.post(hook, data=body, headers=headers) as response:
                        assert response.status == 401
                good = {"X-Telegram-Bot-Api-Secret-Token": "rahasia-kota_42"}
                async with http.post(hook, data="{not json", headers=good) as response:
                    assert response.status == 400
                async with http.post(hook, data="[1, 2]", headers=good) as response:
                    assert response.status == 400
                async with http.post(hook, data=b"x" * (2 * 1024 * 1024), headers=good) as r:
                    assert r.status == 413
            fake.redeliver(update)
            await fake.wait_for(lambda: len(fake.delivered_updates) == 2)
            await fake.wait_idle(quiet=0.3)
        assert greetings(fake, siti) == 1
        statuses = await inbox_statuses(database_url)
        assert statuses == {"done": 1}  # the refused calls stored nothing

    @pytest.mark.parametrize("framework", FRAMEWORKS)
    async def test_a_citizens_press_is_answered_in_the_webhook_response(
        self, fake: FakeTelegram, database_url: str, tmp_path: Path, framework: str
    ) -> None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        siti = fake.private_user(1001, "Siti")
        async with running_bot(
            fake,
            database_url,
            tmp_path,
            telegram_mode="webhook",
            web_port=port,
            public_url=url,
            telegram_framework=framework,
        ):
            siti.send_command("/lapor")
            await fake.wait_for(lambda: any(m.buttons for m in fake.messages_to(siti)))
            categories = fake.messages_to(siti)[-1]
            label = next(label for label in categories.buttons if "Jalan" in label)
            siti.press_button(categories, label)
            await fake.wait_for(lambda: "Langkah 2/5" in (fake.texts_to(siti) or [""])[-1])
            await fake.wait_idle(quiet=0.3)
        answers = [call for call in fake.calls if call.method == "answerCallbackQuery"]
        assert len(answers) == 1 and answers[0].in_webhook_reply and answers[0].ok
        assert fake.callback_answers  # the spinner stopped


class TestDatabaseOutage:
    async def test_messages_sent_while_the_database_is_away_are_answered_afterwards(
        self, fake: FakeTelegram, database_url: str, tmp_path: Path
    ) -> None:
        citizens = [fake.private_user(2000 + i, f"Warga{i}") for i in range(4)]
        if is_sqlite(database_url):
            await self._with_sqlite_locked(fake, database_url, tmp_path, citizens)
        else:
            await self._with_postgres_cut(fake, database_url, tmp_path, citizens)
        for citizen in citizens:
            assert greetings(fake, citizen) == 1
        assert "lapor" in " ".join(fake.texts_to(citizens[0])).lower() or any(
            t.startswith("Langkah 1/") for t in fake.texts_to(citizens[0])
        )

    async def _with_postgres_cut(
        self, fake: FakeTelegram, database_url: str, tmp_path: Path, citizens: list[FakeUser]
    ) -> None:
        target = make_url(database_url)
        proxy = await CuttableProxy(target.host or "127.0.0.1", target.port or 5432).start()
        through = target.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
        try:
            async with running_bot(fake, through, tmp_path):
                first = citizens[0]
                first.send_command("/start")
                await fake.wait_for(lambda: greetings(fake, first) == 1)
                proxy.sever()
                for citizen in citizens[1:]:
                    citizen.send_command("/start")
                first.send_command("/lapor")
                await asyncio.sleep(4)  # several seconds without a database
                assert all(greetings(fake, c) == 0 for c in citizens[1:])
                proxy.restore()
                await fake.wait_for(
                    lambda: all(greetings(fake, c) == 1 for c in citizens), timeout=30
                )
                await fake.wait_for(
                    lambda: any("Langkah 1/" in t for t in fake.texts_to(first)), timeout=30
                )
                await fake.wait_idle(quiet=0.5)
        finally:
            await proxy.stop()

    async def _with_sqlite_locked(
        self, fake: FakeTelegram, database_url: str, tmp_path: Path, citizens: list[FakeUser]
    ) -> None:
        async with running_bot(fake, database_url, tmp_path):
            first = citizens[0]
            first.send_command("/start")
            await fake.wait_for(lambda: greetings(fake, first) == 1)
            blocker = create_engine(database_url)
            try:
                async with blocker.connect() as connection:
                    # Another program holds the file (a backup, a stalled disk).
                    await connection.exec_driver_sql("COMMIT")
                    await connection.exec_driver_sql("BEGIN EXCLUSIVE")
                    for citizen in citizens[1:]:
                        citizen.send_command("/start")
                    first.send_command("/lapor")
                    await asyncio.sleep(3)
                    await connection.exec_driver_sql("COMMIT")
            finally:
                await blocker.dispose()
            await fake.wait_for(lambda: all(greetings(fake, c) == 1 for c in citizens), 30)
            await fake.wait_for(lambda: any("Langkah 1/" in t for t in fake.texts_to(first)))
            await fake.wait_idle(quiet=0.5)


class TestWhatCitizensSendIsKeptAsItShouldBe:
    async def test_someone_elses_contact_card_is_not_the_reporters_phone(
        self, fake: FakeTelegram, database_url: str, tmp_path: Path
    ) -> None:
        siti = fake.private_user(3001, "Siti")
        async with running_bot(fake, database_url, tmp_path):
            siti.send_command("/start")
            await fake.wait_for(lambda: greetings(fake, siti) == 1)
            siti.send_message(
                {"contact": {"phone_number": "+62 811 0000 999", "first_name": "Tetangga",
                             "user_id": 3999}}
            )  # fmt: skip
            siti.send_contact("+62 812-3456-7890 (rumah) / +62 813 0000 1111 (kantor)")
            await fake.wait_idle(quiet=0.5)
        phones = await self._phones(database_url)
        assert phones == [None]

    async def test_a_long_phone_number_and_a_nul_in_the_description_are_no_failure(
        self, fake: FakeTelegram, database_url: str, tmp_path: Path
    ) -> None:
        siti = fake.private_user(3002, "Siti")
        async with running_bot(fake, database_url, tmp_path):
            siti.send_contact("+" + "6" * 40)
            siti.send_command("/lapor")
            ask = await fake.wait_for(
                lambda: next(
                    (m for m in fake.messages_to(siti) if "Langkah 1/" in (m.text or "")), None
                )
            )
            siti.press_button(ask, "Jalan dan jembatan")
            await fake.wait_for(lambda: any("Langkah 2/" in t for t in fake.texts_to(siti)))
            siti.send_text("Jalan berlubang\x00 di depan pasar\x1b sejak minggu lalu, bahaya.")
            await fake.wait_for(lambda: any("Langkah 3/" in t for t in fake.texts_to(siti)))
            siti.send_text("Jl. Merdeka 5")
            await fake.wait_for(lambda: any("Langkah 4/" in t for t in fake.texts_to(siti)))
            # An image "as a file" with a MIME type longer than any column.
            siti.send_document(TINY_JPEG, "foto.jpg", "image/" + "x" * 150)
            await fake.wait_for(lambda: any("Foto 1/" in t for t in fake.texts_to(siti)))
            await self._finish(fake, siti)
        assert not [t for t in fake.texts_to(siti) if "gangguan" in t]
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                stored = (await session.execute(select(ComplaintRow))).scalar_one()
        finally:
            await engine.dispose()
        assert stored.description == "Jalan berlubang di depan pasar sejak minggu lalu, bahaya."

    async def _finish(self, fake: FakeTelegram, siti: FakeUser) -> None:
        for label in ("✅ Selesai", "Biasa", "📨 Kirim"):
            message = await fake.wait_for(
                lambda label=label: next(
                    (m for m in reversed(fake.messages_to(siti)) if label in m.buttons), None
                )
            )
            siti.press_button(message, label)
            await fake.wait_idle(quiet=0.2)
        await fake.wait_for(lambda: any("nomor tiket" in t for t in fake.texts_to(siti)))

    async def _phones(self, database_url: str) -> list[str | None]:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                return list((await session.execute(select(col(CitizenRow.phone)))).scalars())
        finally:
            await engine.dispose()


def malformed_updates(
    fake: FakeTelegram, users: list[FakeUser], count: int
) -> list[dict[str, Any]]:
    """Updates a broken client, a Bot API version drift or an attacker could produce."""
    rng = random.Random(20261130)
    admin = fake.chat(ADMIN_CHAT_ID).api()

    def private(user: FakeUser) -> dict[str, Any]:
        return {"id": user.id, "type": "private", "first_name": user.first_name}

    def message(user: FakeUser, **content: Any) -> dict[str, Any]:
        return {
            "message": {
                "message_id": rng.randint(1, 10**6),
                "date": 1795829335,
                "chat": private(user),
                "from": user.api(),
                **content,
            }
        }

    def shapes(user: FakeUser) -> list[dict[str, Any]]:
        huge = "ā" * 9000
        return [
            {"message": {"message_id": 1}},  # no chat, no sender
            {"message": {"chat": private(user), "text": "tanpa pengirim"}},
            {"callback_query": {"id": "1", "from": user.api()}},  # no data, no message
            {"callback_query": {"id": "2", "from": user.api(), "data": "op:verify:1:1",
                                "chat_instance": "1",
                                "message": {"message_id": 5, "date": 1, "chat": private(user)}}},
            {"callback_query": {"id": "3", "from": user.api(), "data": "x" * 300,
                                "chat_instance": "1",
                                "message": {"message_id": 6, "date": 1, "chat": admin}}},
            message(user, text=huge),
            message(user, text="Jalan\x00rusak\x07\x1b[31m merah\x9b"),
            message(user, text=12345),
            message(user, text="/lapor", entities=[{"type": "bot_command", "offset": 40,
                                                     "length": 99}]),
            message(user, contact={"phone_number": "x" * 300, "first_name": "A",
                                   "user_id": user.id}),
            message(user, contact={"phone_number": "+628123", "first_name": "B", "user_id": 1}),
            message(user, location={"latitude": 999.0, "longitude": -500.0}),
            message(user, location={"latitude": "utara", "longitude": None}),
            message(user, document={"file_id": "f" * 500, "file_unique_id": "u",
                                    "mime_type": "image/" + "y" * 300, "file_size": -5}),
            message(user, document={"file_id": "d", "file_unique_id": "u",
                                    "mime_type": "text/html"}),
            message(user, photo={"file_id": "not-a-list"}),
            message(user, photo=[{"file_id": "p", "file_unique_id": "q", "width": "w",
                                  "height": 1}]),
            message(user, sticker={"file_id": "s"}),
            {"message": {"message_id": 9, "date": 1, "chat": {"id": "abc", "type": "private"},
                         "from": {"id": "abc", "is_bot": False, "first_name": "?"},
                         "text": "halo"}},
            {"edited_message": {"message_id": 3, "date": 1, "chat": private(user),
                                "from": user.api(), "text": "diedit"}},
            {"my_chat_member": {"chat": admin}},
            {"poll": {"id": "1"}},
            {"unknown_future_update": {"anything": [1, 2, 3]}},
            message(user, text="/start@" + "b" * 200),
        ]  # fmt: skip

    updates: list[dict[str, Any]] = []
    while len(updates) < count:
        user = rng.choice(users)
        updates.extend(shapes(user))
    return updates[:count]


class TestMalformedUpdates:
    async def test_a_flood_of_malformed_updates_fails_none_and_the_bot_still_answers(
        self, fake: FakeTelegram, database_url: str, tmp_path: Path
    ) -> None:
        await self.flood(fake, database_url, tmp_path, "ptb")

    async def test_aiogram_reads_the_same_flood_without_a_failure(
        self, fake: FakeTelegram, sqlite_url: str, tmp_path: Path
    ) -> None:
        """Parsing is what differs between the frameworks; storage is the same, so
        SQLite suffices here."""
        await self.flood(fake, sqlite_url, tmp_path, "aiogram")

    async def flood(
        self, fake: FakeTelegram, database_url: str, tmp_path: Path, framework: str
    ) -> None:
        users = [fake.private_user(4000 + i, f"Warga{i}") for i in range(8)]
        async with running_bot(fake, database_url, tmp_path, telegram_framework=framework):
            for update in malformed_updates(fake, users, 300):
                fake.push_update(update)
            await fake.wait_for(lambda: not fake.pending_updates, timeout=30)
            await fake.wait_idle(quiet=1.0, timeout=60)
            rina = fake.private_user(4999, "Rina")
            rina.send_command("/start")
            await fake.wait_for(lambda: greetings(fake, rina) == 1, timeout=15)
            await settled(database_url)
        statuses = await inbox_statuses(database_url)
        assert set(statuses) == {"done"}, statuses
        assert not [t for t in fake.all_texts_except([]) if "gangguan" in t]
