"""Where the officers' desk stops, end to end over the fake Bot API.

A reason for a rejection comes only from a reply to the prompt that asked for it,
and that request can be cancelled and runs out. Only replies to cards reach the
citizen. Only the admin group and the agencies' groups are officers' chats. A
reporter who blocked the bot is shown on the card, and the longest complaint still
has a card of one message with its buttons.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.core.cards import text_units
from conversations.core.context import CoreContext
from conversations.core.handling import done_label
from tests.fakes.telegram_api import TEXT_LIMIT, FakeTelegram
from tests.support.bot import FRAMEWORKS
from tests.support.core import build_core
from tests.support.desk import City, ShiftedClock, build_city
from tests.test_officers import complaint_row, dispatch_to_pupr

BUTTONS_OF_A_NEW_CARD = [
    "✅ Verifikasi", "📤 Disposisi", "❔ Minta info", "⛔ Tolak", "🚫 Bukan wewenang",
]  # fmt: skip


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def core_ctx(engine: AsyncEngine, tmp_path: Path) -> CoreContext:
    return build_core(engine, tmp_path / "media").ctx


@pytest.fixture
def city(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> City:
    return build_city(fake, sqlite_url, tmp_path, getattr(request, "param", "ptb"))


# Every scenario runs on python-telegram-bot and on aiogram.
on_both_frameworks = pytest.mark.parametrize("city", FRAMEWORKS, indirect=True)


@on_both_frameworks
class TestReasonRequests:
    async def test_after_a_stray_tolak_press_a_reply_to_the_card_is_an_answer_not_a_reason(
        self, city: City
    ) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            card = city.card(city.admin, ticket)
            await city.press(city.desk, card, "⛔ Tolak")
            await city.group_hears(city.admin, "alasan menolak", ticket)
            city.desk.send_text_in(city.admin, "Tim kami meninjau lokasi besok pagi.", card)
            await city.citizen_hears(ticket, "Tim kami meninjau lokasi besok pagi.")
            await city.group_hears(city.admin, "diteruskan ke pelapor")
            assert not any("Ditolak" in t for t in city.citizen_texts())
        row, events = await complaint_row(city, ticket)
        assert row.status == "baru"
        assert [e.action for e in events] == ["submit", "answer"]

    async def test_batal_on_the_prompt_cancels_the_request_and_changes_nothing(
        self, city: City
    ) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            await city.press(city.desk, city.card(city.admin, ticket), "⛔ Tolak")
            prompt = await city.group_hears(city.admin, "alasan menolak", ticket)
            assert prompt.buttons == ["✖️ Batal"]
            assert len(prompt.button_data("✖️ Batal").encode()) <= 64
            assert await city.press(city.desk, prompt, "✖️ Batal") == (
                "Dibatalkan. Tidak ada yang diubah."
            )
            prompt = await city.group_hears(city.admin, "Budi membatalkan permintaan", ticket)
            assert prompt.buttons == []
            city.desk.send_text_in(city.admin, "Lokasi berada di jalan nasional.", prompt)
            await city.group_hears(city.admin, "Permintaan ini sudah tidak berlaku")
            await city.fake.wait_idle(quiet=0.3)
            assert not any("jalan nasional" in t for t in city.citizen_texts())
        row, events = await complaint_row(city, ticket)
        assert row.status == "baru" and [e.action for e in events] == ["submit"]

    async def test_a_request_runs_out_after_a_day(self, city: City) -> None:
        clock = ShiftedClock()
        async with city.bot(clock):
            ticket = await city.file_complaint()
            await city.press(city.desk, city.card(city.admin, ticket), "⛔ Tolak")
            prompt = await city.group_hears(city.admin, "alasan menolak", ticket)
            clock.advance(hours=25)
            city.desk.send_text_in(city.admin, "Lokasi berada di jalan nasional.", prompt)
            await city.group_hears(city.admin, "Permintaan ini sudah tidak berlaku")
        row, _ = await complaint_row(city, ticket)
        assert row.status == "baru"


@on_both_frameworks
class TestOnlyCardsReachTheCitizen:
    async def test_replies_to_confirmations_queues_and_reminders_reach_nobody(
        self, city: City
    ) -> None:
        async with city.bot() as app:
            ticket = await city.file_complaint()
            city.desk.send_text_in(city.admin, "Jawaban pertama.", city.card(city.admin, ticket))
            confirmation = await city.group_hears(city.admin, "✉️ Jawaban untuk aduan", ticket)
            city.desk.send_command_in(city.admin, "/antrian")
            queue = await city.group_hears(city.admin, "Antrian meja aduan", ticket)
            # A month later, in office hours of a working day (officers hear nothing at night).
            day = app.ctx.calendar.next_working_day_start(datetime.now(UTC) + timedelta(days=30))
            await app.duties.scan(day + timedelta(hours=10))
            reminder = await city.group_hears(city.admin, "🚨 Lewat batas", ticket)

            city.desk.send_text_in(city.admin, "Balasan ke konfirmasi.", confirmation)
            city.desk.send_text_in(city.admin, "Balasan ke antrian.", queue)
            city.desk.send_text_in(city.admin, "Balasan ke pengingat.", reminder)
            await city.fake.wait_idle(quiet=0.3)
            city.desk.send_text_in(city.admin, "Jawaban terakhir.", city.card(city.admin, ticket))
            await city.citizen_hears(ticket, "Jawaban terakhir.")
            assert not any("Balasan ke" in t for t in city.citizen_texts())
        _, events = await complaint_row(city, ticket)
        answers = [e.public_message for e in events if e.action == "answer"]
        assert answers == ["Jawaban pertama.", "Jawaban terakhir."]


@on_both_frameworks
class TestOfficersChats:
    async def test_desk_commands_in_any_other_group_are_ignored(self, city: City) -> None:
        elsewhere = city.fake.group(-1007000000001, "Warga Kelurahan Sukamaju")
        async with city.bot():
            ticket = await city.file_complaint()
            city.desk.send_command_in(elsewhere, f"/aduan {ticket}")
            city.desk.send_command_in(elsewhere, "/antrian")
            city.desk.send_command_in(city.admin, f"/aduan {ticket}")
            await city.group_hears(city.admin, "Riwayat:", ticket)
            await city.fake.wait_idle(quiet=0.3)
            assert city.fake.messages_to(elsewhere) == []


@on_both_frameworks
class TestUnreachableReporter:
    async def test_the_card_shows_a_reporter_who_blocked_the_bot_and_still_hides_who(
        self, city: City
    ) -> None:
        async with city.bot():
            ticket = await city.file_complaint(privacy="🕶️ Anonim")
            city.fake.block(city.citizen)
            await city.press(city.desk, city.card(city.admin, ticket), "✅ Verifikasi")
            card = await city.card_shows(
                city.admin, ticket, "📵 Pelapor tidak dapat dihubungi", "oleh Budi"
            )
            assert "Pelapor: Anonim (identitas disembunyikan)\n📵" in (card.text or "")
            assert "📤 Disposisi" in card.buttons
            await dispatch_to_pupr(city, ticket)
            agency_card = city.card(city.pupr, ticket)
            assert "📵 Pelapor tidak dapat dihubungi" in (agency_card.text or "")
        secrets = ["Siti", "Rahayu", "siti_rahayu", str(city.citizen.id)]
        cards = city.cards(city.admin) + city.cards(city.pupr)
        assert [s for c in cards for s in secrets if s in (c.text or "")] == []


@on_both_frameworks
class TestLongComplaints:
    async def test_the_longest_complaint_has_a_card_of_one_message_with_its_buttons(
        self, city: City
    ) -> None:
        sentence = "Jalan berlubang besar di depan sekolah dan pasar, motor sering jatuh 🛵. "
        description = (sentence * 60)[:3990] + " AKHIRNYA"
        address = ("Jl. Merdeka no. 5, RT 01/RW 02, depan SDN 2, " * 12)[:500]
        async with city.bot():
            ticket = await city.file_complaint(description=description, address=address)
            await city.fake.wait_idle(quiet=0.3)
            (card,) = [m for m in city.fake.messages_to(city.admin) if ticket in (m.text or "")]
            assert text_units(card.text or "") <= TEXT_LIMIT
            assert card.buttons == BUTTONS_OF_A_NEW_CARD
            assert f"/aduan {ticket}" in (card.text or "")

            await city.press(city.desk, card, "✅ Verifikasi")
            card = await city.card_shows(city.admin, ticket, "Status: Terverifikasi", "oleh Budi")
            assert text_units(card.text or "") <= TEXT_LIMIT
            assert "📤 Disposisi" in card.buttons

            city.desk.send_command_in(city.admin, f"/aduan {ticket}")
            await city.group_hears(city.admin, "AKHIRNYA")


@on_both_frameworks
class TestHistory:
    async def test_aduan_shows_the_citizens_rating(self, city: City) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            await dispatch_to_pupr(city, ticket)
            await city.resolve(city.pupr_officer, city.card(city.pupr, ticket), "Sudah ditambal.")
            await city.card_shows(city.pupr, ticket, "Status: Selesai")
            await city.citizen_hears(ticket, "Beri nilai 1–5")
            await city.citizen_does("4⭐")
            city.desk.send_command_in(city.admin, f"/aduan {ticket}")
            shown = await city.group_hears(city.admin, "Riwayat:", ticket)
            assert "– diberi penilaian oleh pelapor\n   ⭐ 4/5" in (shown.text or "")


def test_every_recorded_event_has_a_label_in_the_history(core_ctx: CoreContext) -> None:
    assert done_label(core_ctx, "rated", "id") == "diberi penilaian"
    assert done_label(core_ctx, "survey_notfixed", "en") == "reported as not fixed"
    assert done_label(core_ctx, "something_new", "id") == "peristiwa lain (something_new)"
