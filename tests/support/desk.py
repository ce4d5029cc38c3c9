"""A city with a complaint desk, agencies and officers, run end to end on the fake Bot API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.runtime import KanalAduan
from bot.settings import PACKAGE_DIR
from tests.fakes.telegram_api import FakeChat, FakeTelegram, FakeUser, SentMessage
from tests.support.bot import ADMIN_CHAT_ID, running_bot

PUPR_CHAT_ID = -1009000000001
DESCRIPTION = "Jalan di depan SDN 2 berlubang besar sejak seminggu, motor sering jatuh."
# A new complaint's card is marked 🆕; once someone acted on it, 📋.
CARD_PREFIXES = ("🆕 Aduan ", "📋 Aduan ")
# Officers' group messages are many in a short test; the real limits are tested elsewhere.
FAST_LIMITS: dict[str, object] = {
    "telegram_group_per_minute": 6000,
    "telegram_private_rate": 100.0,
    "telegram_private_burst": 100,
}


def city_yaml(tmp_path: Path, desk: list[int], pupr: list[int], dlh: list[int]) -> Path:
    """The sample city with officers: PUPR works in its own group, DLH in a forum topic."""
    data: dict[str, Any] = yaml.safe_load((PACKAGE_DIR / "city.yaml").read_text("utf-8"))
    data["desk_officers"] = desk
    for agency in data["agencies"]:
        if agency["code"] == "pupr":
            agency.update(chat_id=PUPR_CHAT_ID, use_topic=False, officers=pupr)
        if agency["code"] == "dlh":
            agency.update(use_topic=True, officers=dlh)
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class ShiftedClock:
    """The real time, moved forward by hand: the bot keeps running while a day passes."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class City:
    fake: FakeTelegram
    admin: FakeChat
    pupr: FakeChat
    citizen: FakeUser
    desk: FakeUser  # listed in desk_officers
    chief: FakeUser  # an administrator of the admin group, not listed anywhere
    pupr_officer: FakeUser
    dlh_officer: FakeUser
    stranger: FakeUser  # a member of the group, not an officer
    database_url: str
    tmp_path: Path
    city_path: Path
    framework: str = "ptb"  # TELEGRAM_FRAMEWORK

    @asynccontextmanager
    async def bot(
        self, clock: ShiftedClock | None = None, **overrides: object
    ) -> AsyncIterator[KanalAduan]:
        async with running_bot(
            self.fake,
            self.database_url,
            self.tmp_path,
            clock,
            city_config_path=self.city_path,
            telegram_framework=self.framework,
            **{**FAST_LIMITS, **overrides},
        ) as app:
            yield app

    # observing ---------------------------------------------------------------------------

    def cards(self, chat: FakeChat, thread_id: int | None = None) -> list[SentMessage]:
        return [
            m
            for m in self.fake.messages_to(chat, thread_id)
            if m.text is not None and m.text.startswith(CARD_PREFIXES)
        ]

    def card(self, chat: FakeChat, ticket: str) -> SentMessage:
        found = [m for m in self.cards(chat) if ticket in (m.text or "")]
        assert found, f"no card of {ticket} in {chat}:\n  {self.fake.describe_sent(chat.id)}"
        return found[-1]

    async def wait_card(self, chat: FakeChat, ticket: str, thread_id: int | None = None) -> None:
        await self.fake.wait_for(
            lambda: any(ticket in (m.text or "") for m in self.cards(chat, thread_id))
        )

    async def card_shows(self, chat: FakeChat, ticket: str, *texts: str) -> SentMessage:
        def shown() -> SentMessage | None:
            card = self.card(chat, ticket)
            return card if all(t in (card.text or "") for t in texts) else None

        result: SentMessage = await self.fake.wait_for(shown)
        return result

    def citizen_texts(self) -> list[str]:
        return self.fake.texts_to(self.citizen)

    async def citizen_hears(self, *texts: str) -> str:
        def heard() -> str | None:
            return next(
                (t for t in reversed(self.citizen_texts()) if all(x in t for x in texts)), None
            )

        result: str = await self.fake.wait_for(heard)
        return result

    async def group_hears(self, chat: FakeChat, *texts: str) -> SentMessage:
        def heard() -> SentMessage | None:
            return next(
                (
                    m
                    for m in reversed(self.fake.messages_to(chat))
                    if all(x in (m.text or "") for x in texts)
                ),
                None,
            )

        result: SentMessage = await self.fake.wait_for(heard)
        return result

    # acting ----------------------------------------------------------------------------------

    async def press(self, officer: FakeUser, message: SentMessage, label: str) -> str:
        """An officer presses a button; returns the bot's answer to the press."""
        before = len(self.fake.callback_answers)
        officer.press_button(message, label)
        answers = await self.fake.wait_for(lambda: self.fake.callback_answers[before:])
        return str(answers[0]["text"] or "")

    async def resolve(
        self, officer: FakeUser, card: SentMessage, what_was_done: str, photo: bool = False
    ) -> None:
        """An officer presses 🏁 Selesai and answers the bot's question with what was done
        (as an "after" photo's caption when ``photo``)."""
        chat = self.fake.chat(card.chat_id)
        await self.press(officer, card, "🏁 Selesai")
        prompt = await self.group_hears(chat, "apa yang sudah dilakukan")
        if photo:
            officer.send_photo_in(chat, caption=what_was_done, reply_to=prompt)
        else:
            officer.send_text_in(chat, what_was_done, prompt)

    async def citizen_does(self, label_or_text: str) -> None:
        """Press the newest inline button with this label, or type it (reply keyboards)."""
        fake, user = self.fake, self.citizen
        before = len(fake.messages_to(user))
        for message in reversed(fake.messages_to(user)):
            if label_or_text in message.buttons:
                user.press_button(message, label_or_text)
                break
        else:
            user.send_text(label_or_text)
        await fake.wait_for(lambda: len(fake.messages_to(user)) > before)
        await fake.wait_idle(quiet=0.15)

    async def file_complaint(
        self,
        category: str = "Jalan dan jembatan",
        privacy: str = "Biasa",
        description: str = DESCRIPTION,
        address: str = "Jl. Merdeka no. 5, depan SDN 2",
    ) -> str:
        """The citizen files a complaint; returns its ticket once the card is in the group."""
        for step in ("/lapor", category, description, address):
            await self.citizen_does(step)
        await self.citizen_does("Lewati ➡️")
        await self.citizen_does(privacy)
        await self.citizen_does("📨 Kirim")
        text = await self.citizen_hears("nomor tiket")
        found = re.search(r"ADU-\d{4}-\d{4,}", text)
        assert found, text
        ticket = found.group(0)
        await self.wait_card(self.admin, ticket)
        return ticket


def build_city(
    fake: FakeTelegram, database_url: str, tmp_path: Path, framework: str = "ptb"
) -> City:
    citizen = fake.private_user(7770123, "Siti", username="siti_rahayu", last_name="Rahayu")
    desk = fake.private_user(501, "Budi", username="budi_meja")
    chief = fake.private_user(502, "Ani", username="ani_kabag")
    pupr_officer = fake.private_user(601, "Wati", username="wati_pupr")
    dlh_officer = fake.private_user(701, "Dodi", username="dodi_dlh")
    stranger = fake.private_user(901, "Joko", username="joko")
    admin = fake.group(ADMIN_CHAT_ID, "Meja Aduan Kota", is_forum=True, admins=[chief.id])
    pupr = fake.group(PUPR_CHAT_ID, "PUPR – aduan warga")
    city_path = city_yaml(tmp_path, desk=[desk.id], pupr=[pupr_officer.id], dlh=[dlh_officer.id])
    return City(
        fake, admin, pupr, citizen, desk, chief, pupr_officer, dlh_officer, stranger,
        database_url, tmp_path, city_path, framework,
    )  # fmt: skip
