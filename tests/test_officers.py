"""Officers handle complaints from the admin group, end to end over the fake Bot API.

A citizen (Siti), a desk officer listed in the city YAML (Budi), an administrator
of the admin group (Ani), a PUPR officer who works in PUPR's own group (Wati), a
DLH officer whose agency works in a forum topic (Dodi) and a group member who is
no officer (Joko).

Every test runs on python-telegram-bot and on aiogram (the Telegram contract);
``tests/test_telegram_frameworks.py`` checks that both make the same calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from conversations.core.lifecycle import Status
from storage.database import create_engine, session_factory
from storage.tables import ComplaintRow, EventRow
from tests.fakes.telegram_api import FakeTelegram
from tests.support.bot import FRAMEWORKS
from tests.support.desk import DESCRIPTION, City, build_city

PUPR = "Dinas PUPR"  # the agency's short name


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def city(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> City:
    return build_city(fake, sqlite_url, tmp_path, getattr(request, "param", "ptb"))


# Every scenario runs on python-telegram-bot and on aiogram.
pytestmark = pytest.mark.parametrize("city", FRAMEWORKS, indirect=True)


async def complaint_row(city: City, ticket: str) -> tuple[ComplaintRow, list[EventRow]]:
    engine = create_engine(city.database_url)
    try:
        async with session_factory(engine)() as session:
            row = (
                await session.execute(
                    select(ComplaintRow).where(col(ComplaintRow.ticket) == ticket)
                )
            ).scalar_one()
            events = (
                await session.execute(
                    select(EventRow)
                    .where(col(EventRow.complaint_id) == row.id)
                    .order_by(col(EventRow.id))
                )
            ).scalars()
            return row, list(events)
    finally:
        await engine.dispose()


async def dispatch_to_pupr(city: City, ticket: str) -> None:
    card = city.card(city.admin, ticket)
    await city.press(city.desk, card, "📤 Disposisi")
    card = await city.card_shows(city.admin, ticket, "Pilih perangkat daerah")
    assert card.buttons[0] == f"⭐ {PUPR}"
    assert await city.press(city.desk, card, f"⭐ {PUPR}") == f"Didisposisikan ke {PUPR}."
    await city.wait_card(city.pupr, ticket)


class TestTheWholePath:
    async def test_from_baru_to_selesai_with_a_citizen_a_desk_officer_and_an_agency_officer(
        self, city: City
    ) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            card = city.card(city.admin, ticket)
            assert "Status: Baru" in (card.text or "")
            assert card.buttons == [
                "✅ Verifikasi", "📤 Disposisi", "❔ Minta info", "⛔ Tolak", "🚫 Bukan wewenang",
            ]  # fmt: skip

            notice = await city.press(city.desk, card, "✅ Verifikasi")
            assert notice == "Berhasil. Status: Terverifikasi"
            card = await city.card_shows(city.admin, ticket, "Status: Terverifikasi", "oleh Budi")
            assert "✅ Verifikasi" not in card.buttons
            await city.citizen_hears(ticket, "Aduan Anda sudah diverifikasi petugas.")

            await dispatch_to_pupr(city, ticket)
            await city.card_shows(city.admin, ticket, "Status: Didisposisikan")
            agency_card = city.card(city.pupr, ticket)
            assert DESCRIPTION in (agency_card.text or "")
            assert agency_card.buttons == [
                "🛠️ Tindak lanjuti", "🏁 Selesai", "❔ Minta info", "↩️ Kembalikan",
            ]  # fmt: skip
            await city.citizen_hears(ticket, "Aduan Anda sudah diteruskan ke Dinas PUPR.")

            await city.press(city.pupr_officer, agency_card, "🛠️ Tindak lanjuti")
            agency_card = await city.card_shows(city.pupr, ticket, "Sedang ditindaklanjuti")
            await city.card_shows(city.admin, ticket, "Sedang ditindaklanjuti", "oleh Wati")
            await city.citizen_hears(ticket, "Dinas PUPR mulai menindaklanjuti aduan Anda.")

            await city.resolve(city.pupr_officer, agency_card, "Lubang sudah ditambal aspal.")
            agency_card = await city.card_shows(city.pupr, ticket, "Status: Selesai")
            assert agency_card.buttons == []
            await city.citizen_hears(ticket, "Dinas PUPR menyatakan aduan Anda selesai.")

        row, events = await complaint_row(city, ticket)
        assert row.status == Status.SELESAI.value
        assert [(e.action, e.from_status, e.to_status, e.actor_name) for e in events] == [
            ("submit", None, "baru", None),
            ("verify", "baru", "terverifikasi", "Budi"),
            ("dispatch", "terverifikasi", "didisposisikan", "Budi"),
            ("start", "didisposisikan", "ditindaklanjuti", "Wati"),
            ("resolve", "ditindaklanjuti", "selesai", "Wati"),
        ]
        assert events[-1].public_message == "Lubang sudah ditambal aspal."

    async def test_resolving_tells_the_citizen_what_was_done_with_the_after_photo_then_asks(
        self, city: City
    ) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            await dispatch_to_pupr(city, ticket)
            agency_card = city.card(city.pupr, ticket)
            await city.resolve(
                city.pupr_officer, agency_card, "Lubang ditambal aspal panas.", photo=True
            )
            await city.card_shows(city.pupr, ticket, "Status: Selesai")
            await city.citizen_hears("Beri nilai 1–5", ticket)
            told = city.fake.messages_to(city.citizen)[-3:]
            assert "Dinas PUPR menyatakan aduan Anda selesai." in (told[0].text or "")
            assert "Yang sudah dilakukan:\nLubang ditambal aspal panas." in (told[0].text or "")
            assert told[1].photo and ticket in (told[1].text or "")
            assert "Beri nilai 1–5" in (told[2].text or "")
            assert told[2].buttons[:5] == ["1⭐", "2⭐", "3⭐", "4⭐", "5⭐"]
        _, events = await complaint_row(city, ticket)
        assert events[-1].action == "resolve" and len(events[-1].attachment_ids) == 1


class TestWhoMayAct:
    async def test_a_non_officer_pressing_a_button_is_refused_and_nothing_changes(
        self, city: City
    ) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            card = city.card(city.admin, ticket)
            heard_before = len(city.citizen_texts())
            notice = await city.press(city.stranger, card, "✅ Verifikasi")
            assert notice == "⛔ Hanya petugas yang dapat menangani aduan."
            await city.fake.wait_idle(quiet=0.3)
            assert "Status: Baru" in (city.card(city.admin, ticket).text or "")
            assert len(city.citizen_texts()) == heard_before
        row, events = await complaint_row(city, ticket)
        assert row.status == "baru" and row.version == 1 and len(events) == 1

    async def test_an_administrator_of_the_admin_group_is_a_desk_officer(self, city: City) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            card = city.card(city.admin, ticket)
            assert await city.press(city.chief, card, "✅ Verifikasi") == (
                "Berhasil. Status: Terverifikasi"
            )
            await city.card_shows(city.admin, ticket, "oleh Ani")

    async def test_agency_officer_cannot_act_on_another_agencys_complaint(self, city: City) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            await dispatch_to_pupr(city, ticket)
            agency_card = city.card(city.pupr, ticket)
            notice = await city.press(city.dlh_officer, agency_card, "🏁 Selesai")
            assert notice == "⛔ Aduan ini bukan untuk perangkat daerah Anda."
            desk_card = city.card(city.admin, ticket)
            notice = await city.press(city.dlh_officer, desk_card, "🛠️ Tindak lanjuti")
            assert notice == "⛔ Aduan ini bukan untuk perangkat daerah Anda."
        row, _ = await complaint_row(city, ticket)
        assert row.status == "didisposisikan"

    async def test_an_agency_officer_may_not_verify_and_is_told_why(self, city: City) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            card = city.card(city.admin, ticket)
            notice = await city.press(city.pupr_officer, card, "✅ Verifikasi")
            assert notice.startswith("Peran Anda tidak boleh memverifikasi aduan")
            assert "Tidak ada yang diubah" in notice
        row, _ = await complaint_row(city, ticket)
        assert row.status == "baru"

    async def test_two_officers_pressing_at_once_exactly_one_wins(self, city: City) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            card = city.card(city.admin, ticket)
            before = len(city.fake.callback_answers)
            city.desk.press_button(card, "✅ Verifikasi")
            city.chief.press_button(card, "⛔ Tolak")
            answers = await city.fake.wait_for(
                lambda: (
                    len(city.fake.callback_answers) >= before + 2
                    and city.fake.callback_answers[before:]
                )
            )
            texts = sorted(str(a["text"]) for a in answers)
            assert texts == [
                "Aduan ini sudah ditangani oleh Budi; status sekarang: Terverifikasi.",
                "Berhasil. Status: Terverifikasi",
            ]
        row, events = await complaint_row(city, ticket)
        assert row.status == "terverifikasi" and row.version == 2
        assert [e.action for e in events] == ["submit", "verify"]


class TestAnswersAndNotes:
    async def test_an_officers_reply_to_the_card_reaches_the_citizen_with_its_photo(
        self, city: City
    ) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            card = city.card(city.admin, ticket)
            city.desk.send_photo_in(
                city.admin, caption="Tim sudah meninjau lokasi, perbaikan minggu depan.",
                reply_to=card,
            )  # fmt: skip
            await city.citizen_hears(ticket, "Tim sudah meninjau lokasi, perbaikan minggu depan.")
            photos = await city.fake.wait_for(
                lambda: [m for m in city.fake.messages_to(city.citizen) if m.photo]
            )
            assert ticket in (photos[-1].text or "")
            await city.group_hears(city.admin, "diteruskan ke pelapor")
            assert city.fake.calls_to("forwardMessage") == []
        _, events = await complaint_row(city, ticket)
        answer = events[-1]
        assert answer.action == "answer" and answer.actor_name == "Budi"
        assert answer.public_message == "Tim sudah meninjau lokasi, perbaikan minggu depan."
        assert len(answer.attachment_ids) == 1

    async def test_an_internal_note_does_not_reach_the_citizen(self, city: City) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            card = city.card(city.admin, ticket)
            heard_before = len(city.citizen_texts())
            city.desk.send_command_in(
                city.admin, "/catatan Pelapor yang sama pernah melapor bulan lalu", reply_to=card
            )
            await city.group_hears(city.admin, "Catatan internal", ticket, "disimpan")
            city.desk.send_command_in(city.admin, f"/aduan {ticket}")
            shown = await city.group_hears(city.admin, "Riwayat:", "📝 Pelapor yang sama")
            assert "diberi catatan internal oleh Budi" in (shown.text or "")
            await city.fake.wait_idle(quiet=0.3)
            assert len(city.citizen_texts()) == heard_before
            assert not any("bulan lalu" in t for t in city.citizen_texts())

    async def test_aduan_shows_the_history_and_antrian_lists_the_oldest_first(
        self, city: City
    ) -> None:
        async with city.bot():
            first = await city.file_complaint()
            second = await city.file_complaint(category="Lampu penerangan jalan")
            city.desk.send_command_in(city.admin, "/antrian")
            queue = await city.group_hears(city.admin, "Antrian meja aduan")
            text = queue.text or ""
            assert text.index(first) < text.index(second)
            await dispatch_to_pupr(city, first)
            city.pupr_officer.send_command_in(city.pupr, "/antrian")
            agency_queue = await city.group_hears(city.pupr, "Antrian Dinas Pekerjaan Umum")
            assert first in (agency_queue.text or "") and second not in (agency_queue.text or "")
            city.desk.send_command_in(city.admin, f"/aduan {first}")
            shown = await city.group_hears(city.admin, "Riwayat:", first)
            moved = "(Baru (menunggu verifikasi) → Didisposisikan ke perangkat daerah)"
            assert f"– didisposisikan {moved} oleh Budi" in (shown.text or "")
            city.stranger.send_command_in(city.admin, f"/aduan {first}")
            await city.fake.wait_idle(quiet=0.3)
            assert not any(
                "Riwayat" in (m.text or "") and m.reply_to_message_id is not None
                and city.admin.messages[m.reply_to_message_id]["from"]["id"] == city.stranger.id
                for m in city.fake.messages_to(city.admin)
            )  # fmt: skip


class TestMoreInformation:
    async def test_tertunda_the_citizens_follow_up_is_relayed_and_the_complaint_resumes(
        self, city: City
    ) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            card = city.card(city.admin, ticket)
            await city.press(city.desk, card, "✅ Verifikasi")
            card = await city.card_shows(city.admin, ticket, "Status: Terverifikasi")
            notice = await city.press(city.desk, card, "❔ Minta info")
            assert notice.startswith("Balas pesan permintaan")
            prompt = await city.group_hears(city.admin, "Balas pesan ini", ticket)
            assert prompt.reply_to_message_id == card.message_id
            assert prompt.buttons == ["✖️ Batal"]
            city.desk.send_text_in(city.admin, "Mohon kirim foto lubang dari dekat.", prompt)
            await city.card_shows(city.admin, ticket, "Status: Tertunda")
            await city.citizen_hears(
                ticket,
                "Petugas membutuhkan informasi tambahan",
                "Mohon kirim foto lubang dari dekat.",
            )

            city.citizen.send_photo(caption="Ini fotonya, lubangnya sedalam 20 cm.")
            await city.citizen_hears("informasi Anda sudah ditambahkan", ticket)
            relayed = await city.group_hears(
                city.admin, "Informasi tambahan dari pelapor", "sedalam 20 cm"
            )
            assert relayed.reply_to_message_id == card.message_id
            await city.fake.wait_for(
                lambda: [m for m in city.fake.messages_to(city.admin) if m.photo]
            )
            await city.card_shows(city.admin, ticket, "Status: Terverifikasi", "dilanjutkan")
            said = await city.citizen_hears(ticket, "informasi Anda sudah ditambahkan")
            assert "Aduan Anda dilanjutkan.\nStatus: Sudah diverifikasi" in said
            pushes = [t for t in city.citizen_texts() if t.startswith("🔔")]
            assert not any("▶️ Aduan Anda dilanjutkan" in t for t in pushes)  # told in the answer
            assert city.fake.calls_to("forwardMessage") == []
        row, events = await complaint_row(city, ticket)
        assert row.status == "terverifikasi" and row.resume_status is None
        assert [e.action for e in events][-3:] == ["info", "followup", "resume"]
        assert events[-3].public_message == "Mohon kirim foto lubang dari dekat."
        assert len(events[-2].attachment_ids) == 1

    async def test_an_officer_resumes_a_tertunda_complaint_from_its_card(self, city: City) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            await dispatch_to_pupr(city, ticket)
            agency_card = city.card(city.pupr, ticket)
            await city.press(city.pupr_officer, agency_card, "❔ Minta info")
            prompt = await city.group_hears(city.pupr, "Balas pesan ini", ticket)
            city.pupr_officer.send_text_in(city.pupr, "Di sisi mana jalannya?", prompt)
            agency_card = await city.card_shows(city.pupr, ticket, "Status: Tertunda")
            assert agency_card.buttons == ["▶️ Lanjutkan"]
            desk_card = await city.card_shows(city.admin, ticket, "Status: Tertunda")
            assert desk_card.buttons == ["▶️ Lanjutkan", "⛔ Tolak"]
            notice = await city.press(city.pupr_officer, agency_card, "▶️ Lanjutkan")
            assert notice.startswith("Berhasil. Status: Didisposisikan")
            await city.card_shows(city.pupr, ticket, "Status: Didisposisikan", "dilanjutkan")
            await city.citizen_hears(ticket, "Aduan Anda dilanjutkan. Status: Diteruskan")
        row, events = await complaint_row(city, ticket)
        assert row.status == "didisposisikan" and events[-1].action == "resume"

    async def test_reject_asks_for_a_reason_and_the_citizen_reads_it(self, city: City) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            card = city.card(city.admin, ticket)
            await city.press(city.desk, card, "⛔ Tolak")
            prompt = await city.group_hears(city.admin, "alasan menolak", ticket)
            city.desk.send_text_in(city.admin, "Lokasi berada di jalan nasional.", prompt)
            await city.card_shows(city.admin, ticket, "Status: Ditolak")
            said = await city.citizen_hears(ticket, "Alasan: Lokasi berada di jalan nasional.")
            assert "tidak dapat ditindaklanjuti" in said and "/lapor" in said
            assert "Dinas PUPR" not in said  # no agency ever had it
            assert city.card(city.admin, ticket).buttons == []


class TestRestart:
    async def test_replies_buttons_and_pending_requests_work_after_a_restart(
        self, city: City
    ) -> None:
        async with city.bot():
            ticket = await city.file_complaint()
            await city.press(city.desk, city.card(city.admin, ticket), "✅ Verifikasi")
            await city.card_shows(city.admin, ticket, "Status: Terverifikasi")
            await dispatch_to_pupr(city, ticket)
            agency_card = city.card(city.pupr, ticket)
            await city.press(city.pupr_officer, agency_card, "❔ Minta info")
            prompt = await city.group_hears(city.pupr, "Balas pesan ini", ticket)
            await city.fake.wait_idle(quiet=0.3)

        async with city.bot():
            city.pupr_officer.send_text_in(
                city.pupr, "Di sisi mana jalannya, utara atau selatan?", prompt
            )
            await city.citizen_hears(ticket, "informasi tambahan", "utara atau selatan")
            await city.citizen_does("Sisi utara, dekat gerbang sekolah.")
            await city.group_hears(city.pupr, "Informasi tambahan", "Sisi utara")
            agency_card = await city.card_shows(city.pupr, ticket, "Didisposisikan")
            city.pupr_officer.send_text_in(city.pupr, "Sudah ditambal hari ini.", agency_card)
            await city.citizen_hears(ticket, "Sudah ditambal hari ini.")
            await city.resolve(city.pupr_officer, agency_card, "Sudah ditambal hari ini.")
            await city.card_shows(city.pupr, ticket, "Status: Selesai")
            await city.card_shows(city.admin, ticket, "Status: Selesai", "oleh Wati")
            await city.citizen_hears(ticket, "menyatakan aduan Anda selesai")
        row, _ = await complaint_row(city, ticket)
        assert row.status == "selesai"


class TestAgencyTopics:
    async def test_the_agency_topic_is_created_on_first_use_and_again_when_deleted(
        self, city: City
    ) -> None:
        async with city.bot():
            first = await city.file_complaint(category="Sampah dan kebersihan")
            card = city.card(city.admin, first)
            await city.press(city.desk, card, "📤 Disposisi")
            card = await city.card_shows(city.admin, first, "Pilih perangkat daerah")
            await city.press(city.desk, card, "⭐ DLH")
            (topic_id,) = await city.fake.wait_for(lambda: list(city.admin.topics))
            await city.wait_card(city.admin, first, thread_id=topic_id)
            topic_card = city.cards(city.admin, topic_id)[-1]
            await city.press(city.dlh_officer, topic_card, "🛠️ Tindak lanjuti")
            await city.card_shows(city.admin, first, "Sedang ditindaklanjuti")
            city.dlh_officer.send_text_in(city.admin, "Truk sampah dijadwalkan besok.", topic_card)
            await city.citizen_hears(first, "Truk sampah dijadwalkan besok.")

            city.fake.delete_topic(city.admin, topic_id)
            second = await city.file_complaint(category="Sampah dan kebersihan")
            card = city.card(city.admin, second)
            await city.press(city.desk, card, "📤 Disposisi")
            card = await city.card_shows(city.admin, second, "Pilih perangkat daerah")
            await city.press(city.desk, card, "⭐ DLH")
            new_topic = await city.fake.wait_for(
                lambda: [t for t in city.admin.topics if t != topic_id]
            )
            await city.wait_card(city.admin, second, thread_id=new_topic[0])
            assert len(city.fake.calls_to("createForumTopic")) == 2


class TestAnonymity:
    async def test_an_anonymous_reporter_never_reaches_any_officer(self, city: City) -> None:
        async with city.bot():
            ticket = await city.file_complaint(privacy="🕶️ Anonim")
            card = city.card(city.admin, ticket)
            assert "Anonim (identitas disembunyikan)" in (card.text or "")
            await city.press(city.desk, card, "✅ Verifikasi")
            card = await city.card_shows(city.admin, ticket, "Status: Terverifikasi")
            await city.press(city.desk, card, "❔ Minta info")
            prompt = await city.group_hears(city.admin, "Balas pesan ini", ticket)
            city.desk.send_text_in(city.admin, "Kirim foto lokasi, ya.", prompt)
            await city.citizen_hears("Kirim foto lokasi, ya.")
            city.citizen.send_photo(caption="Ini fotonya.")
            await city.card_shows(city.admin, ticket, "dilanjutkan oleh pelapor")
            await dispatch_to_pupr(city, ticket)
            agency_card = city.card(city.pupr, ticket)
            city.pupr_officer.send_text_in(city.pupr, "Akan kami tinjau.", agency_card)
            await city.citizen_hears("Akan kami tinjau.")
            city.desk.send_command_in(city.admin, f"/aduan {ticket}")
            await city.group_hears(city.admin, "Riwayat:")
            city.pupr_officer.send_command_in(city.pupr, "/antrian")
            await city.group_hears(city.pupr, "Antrian")
            await city.fake.wait_idle(quiet=0.3)

        citizen = city.citizen
        secrets = ["Siti", "Rahayu", "siti_rahayu", str(citizen.id)]
        officer_texts = city.fake.all_texts_except([citizen])
        officer_texts += [e.text or "" for e in city.fake.edits if e.chat_id != citizen.id]
        assert len(officer_texts) > 10
        leaks = [(s, t) for t in officer_texts for s in secrets if s in t]
        assert leaks == []
        assert city.fake.calls_to("forwardMessage") == []
        _, events = await complaint_row(city, ticket)
        assert all(e.actor_id is None for e in events if e.actor_role == "citizen")
