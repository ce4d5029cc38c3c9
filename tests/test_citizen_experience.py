"""What citizens read and what the dialogue forgives (issue 9), as chats on the neutral
engine: every class is one point of the issue."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from conversations.core import survey
from conversations.core.desk import Officer, OfficerActions
from conversations.core.domain import Attachment, CardLink, OutboxItem
from conversations.core.handling import Actor
from conversations.core.lifecycle import Action, Role, Status
from conversations.core.messages import Reply
from conversations.engine import CitizenChat
from conversations.officer_desk import citizen_follow_up, follow_up_reply
from storage.database import session_factory
from storage.mapping import to_record
from storage.schedule_queries import SqlScheduleQueries
from storage.tables import OutboxRow
from tests.support.chat import Citizen
from tests.support.core import ADMIN_CHAT, Core, build_core
from tests.test_handling import move

DESK = Actor(Role.DESK, "501", "Budi")
FIXED_OR_NOT = ["✅ Ya, sudah beres", "❌ Belum beres"]
DESK_OFFICER = Officer("501", "Budi", desk=True, agencies=frozenset())
AGENCY_OFFICER = Officer("601", "Wati", desk=False, agencies=frozenset({"pupr"}))
AGENCY = Actor(Role.AGENCY, "601", "Wati")
DESCRIPTION = "Jalan di depan SDN 2 berlubang besar sejak seminggu, motor sering jatuh."


@pytest.fixture
def core(engine: AsyncEngine, tmp_path: Path) -> Core:
    return build_core(engine, tmp_path / "media")


@pytest.fixture
def chat(core: Core) -> CitizenChat:
    """Wired as ``bot.runtime`` wires it."""
    chat = CitizenChat(core.ctx)
    chat.idle_handlers.append(citizen_follow_up)
    chat.choice_handlers[survey.PREFIX] = survey.handle_choice
    chat.idle_handlers.append(survey.handle_comment)
    chat.reply_handlers.append(follow_up_reply)
    chat.reply_handlers.append(survey.comment_reply)
    return chat


@pytest.fixture
def siti(core: Core, chat: CitizenChat) -> Citizen:
    return Citizen(core, chat)


async def rows(core: Core, chat_id: str | None = None, kind: str | None = None) -> list[OutboxItem]:
    """What the bot queued, in order."""
    async with core.ctx.uow() as uow:
        session = uow.session  # type: ignore[attr-defined]
        query = select(OutboxRow).order_by(col(OutboxRow.id))
        found = [to_record(r, OutboxItem) for r in (await session.execute(query)).scalars()]
    return [
        r
        for r in found
        if (chat_id is None or r.chat_id == chat_id) and (kind is None or r.kind == kind)
    ]


def text(item: OutboxItem) -> str:
    return str(item.payload["reply"]["text"])


def buttons(item: OutboxItem) -> list[str]:
    return [c["label"] for row in item.payload["reply"]["choices"] for c in row]


async def to_photos_step(siti: Citizen) -> None:
    await siti.says("/lapor")
    await siti.presses("Jalan dan jembatan")
    await siti.says(DESCRIPTION)
    await siti.says("Jl. Merdeka no. 5, depan SDN 2")
    assert siti.last_text.startswith("Langkah 4/5")


async def file(siti: Citizen, privacy: str = "Biasa") -> int:
    await to_photos_step(siti)
    await siti.presses("Lewati ➡️")
    await siti.presses(privacy)
    await siti.presses("📨 Kirim")
    async with siti.core.ctx.uow() as uow:
        citizen = await uow.citizens.find("telegram", siti.person.user_id)
        assert citizen is not None and citizen.id is not None
        complaint = (await uow.complaints.for_citizen(citizen.id))[0]
    assert complaint.id is not None
    return complaint.id


async def status_of(core: Core, complaint_id: int) -> Status:
    async with core.ctx.uow() as uow:
        found = await uow.complaints.get(complaint_id)
    assert found is not None
    return found.status


async def pushed(core: Core) -> list[str]:
    return [text(r) for r in await rows(core, "1001", "push")]


async def resolved(core: Core, complaint_id: int, what: str = "Lubang sudah ditambal.") -> None:
    await move(core, complaint_id, Action.DISPATCH, DESK)
    await move(core, complaint_id, Action.START, AGENCY)
    await move(core, complaint_id, Action.RESOLVE, AGENCY, message=what)


async def officer_answers(core: Core, complaint_id: int, officer: Officer, text: str) -> None:
    async with core.ctx.uow() as uow:
        complaint = await uow.complaints.get(complaint_id)
        assert complaint is not None
        await OfficerActions(core.ctx).answer(uow, officer, complaint, text)
        await uow.commit()


# 1 ---------------------------------------------------------------------------------------


class TestPinThenPhoto:
    async def test_a_photo_after_the_pin_skips_the_address_and_is_the_first_photo(
        self, siti: Citizen
    ) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says(DESCRIPTION)
        await siti.shares_location(-8.0983, 112.1681)
        assert "boleh langsung mengirim foto" in siti.last_text
        await siti.sends_photo()
        assert siti.last_text.startswith("Foto 1/5 diterima")
        await siti.sends_photo()
        assert siti.last_text.startswith("Foto 2/5 diterima")
        await siti.presses("✅ Selesai")
        assert siti.last_text.startswith("Langkah 5/5")
        await siti.presses("Biasa")
        assert "Foto: 2 foto" in siti.last_text
        assert "titik -8.09830, 112.16810" in siti.last_text

    async def test_a_short_address_is_explained_without_saying_only_buttons_work(
        self, siti: Citizen
    ) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says(DESCRIPTION)
        await siti.shares_location(-8.0983, 112.1681)
        await siti.says("ok")
        assert "tombol" not in siti.last_text
        assert "Ketik alamat" in siti.last_text and "kirim foto" in siti.last_text
        await siti.says("depan SDN 2")
        assert siti.last_text.startswith("Langkah 4/5")


# 2 ---------------------------------------------------------------------------------------


class TestTypingInsteadOfPressing:
    async def test_labels_count_in_any_case_and_without_their_emoji(self, siti: Citizen) -> None:
        await to_photos_step(siti)
        await siti.says("lewati")
        assert siti.last_text.startswith("Langkah 5/5")
        await siti.says("ANONIM")
        assert "Kerahasiaan: anonim" in siti.last_text
        await siti.says("kirim")
        assert "nomor tiket ADU-2611-0001" in siti.last_text

    async def test_done_and_normal_typed(self, siti: Citizen) -> None:
        await to_photos_step(siti)
        await siti.sends_photo()
        await siti.says("Selesai")
        await siti.says("biasa")
        assert "Kerahasiaan: biasa" in siti.last_text

    async def test_a_number_picks_from_the_list_row_by_row(self, siti: Citizen) -> None:
        await siti.says("/start")
        await siti.says("1")  # 📝 Aduan baru
        assert siti.last_text.startswith("Langkah 1/5")
        await siti.says("3")  # the third category
        assert siti.last_text.startswith("Langkah 2/5")
        await siti.says(DESCRIPTION)
        await siti.says("Pasar Legi, Jl. Kenanga")
        await siti.says("1")  # Lewati
        await siti.says("2")  # Biasa, 🕶️ Anonim / 🔒 Rahasia, 🕶️🔒 both
        assert "Kategori: Sampah dan kebersihan" in siti.last_text
        assert "Kerahasiaan: anonim" in siti.last_text
        await siti.says("9")  # no such choice: a re-prompt, nothing lost
        assert "Mohon pilih salah satu tombol" in siti.last_text
        await siti.says("1")  # 📨 Kirim
        assert "nomor tiket" in siti.last_text

    async def test_yes_and_no_at_a_yes_no_question(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says("/batal")
        await siti.says("tidak")
        assert siti.last_text.startswith("Langkah 2/5")
        await siti.says("/batal")
        await siti.says("Ya")
        assert "dibatalkan" in siti.last_text

    async def test_the_survey_is_answered_by_typing(self, core: Core, siti: Citizen) -> None:
        cid = await file(siti)
        await resolved(core, cid)
        await siti.says("4")
        assert "penilaian 4/5" in siti.last_text
        await siti.says("ya")
        assert "kami tutup" in siti.last_text
        assert await status_of(core, cid) is Status.DITUTUP

    async def test_a_description_is_never_taken_for_a_button(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says("Lampu jalan di gang kami mati dan warga takut lewat malam hari.")
        assert siti.last_text.startswith("Langkah 3/5")


# 3 ---------------------------------------------------------------------------------------


class TestTicketNumbers:
    @pytest.mark.parametrize(
        "typed",
        [
            "ADU-2611-0001",
            "adu 2611 0001",
            "ADU26110001",
            "#ADU-2611-0001",
            "tiket ADU-2611-0001",
            "/status ADU 2611 0001",
            "/status adu26110001",
        ],
    )
    async def test_a_ticket_is_found_however_it_is_typed(self, siti: Citizen, typed: str) -> None:
        await file(siti)
        await siti.says(typed)
        assert siti.last_text.startswith("📄 Aduan ADU-2611-0001")

    async def test_a_description_that_mentions_a_ticket_stays_a_description(
        self, siti: Citizen
    ) -> None:
        await file(siti)
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says("Lanjutan aduan ADU-2611-0001: lubangnya makin lebar dan dalam.")
        assert siti.last_text.startswith("Langkah 3/5")

    async def test_status_without_a_number_lists_open_complaints_as_buttons(
        self, core: Core, siti: Citizen
    ) -> None:
        first = await file(siti)
        await file(siti)
        await resolved(core, first)
        await siti.says("/status")
        assert siti.buttons() == ["🔎 ADU-2611-0002 – Jalan dan jembatan"]
        await siti.presses("🔎 ADU-2611-0002 – Jalan dan jembatan")
        assert siti.last_text.startswith("📄 Aduan ADU-2611-0002")


# 4 ---------------------------------------------------------------------------------------


class TestAlbums:
    async def test_an_album_is_acknowledged_with_one_message(
        self, core: Core, siti: Citizen
    ) -> None:
        await to_photos_step(siti)
        await siti.sends_album(3)
        albums = [r for r in await rows(core, "1001") if r.dedupe_key.startswith("album:")]
        assert [text(r) for r in albums] == [
            '3 foto diterima (3/5). Kirim foto lain atau tekan "Selesai".'
        ]
        assert albums[0].next_attempt_at is not None  # waits for the rest of the album
        await siti.presses("✅ Selesai")
        await siti.presses("Biasa")
        assert "Foto: 3 foto" in siti.last_text

    async def test_an_album_past_the_limit_says_the_limit_is_reached(
        self, core: Core, siti: Citizen
    ) -> None:
        await to_photos_step(siti)
        await siti.sends_album(7)
        albums = [r for r in await rows(core, "1001") if r.dedupe_key.startswith("album:")]
        assert len(albums) == 1
        assert text(albums[0]).startswith("5 foto diterima (5/5). Batas 5 foto sudah tercapai")
        assert "2 foto lainnya tidak disimpan" in text(albums[0])
        assert "Kirim foto lain" not in text(albums[0])

    async def test_the_fifth_photo_says_the_limit_is_reached(self, siti: Citizen) -> None:
        await to_photos_step(siti)
        for n in range(4):
            await siti.sends_photo(bytes([n]) * 8)
            assert "Kirim foto lain" in siti.last_text
        await siti.sends_photo(b"fifth")
        assert siti.last_text.startswith("Foto 5/5 diterima. Batas 5 foto sudah tercapai")
        assert "Kirim foto lain" not in siti.last_text

    async def test_an_album_with_a_caption_at_the_description_step(
        self, core: Core, siti: Citizen
    ) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.sends_album(3, caption=DESCRIPTION)
        albums = [r for r in await rows(core, "1001") if r.dedupe_key.startswith("album:")]
        assert len(albums) == 1
        assert "3 foto diterima (3/5)" in text(albums[0])
        assert "Langkah 3/5" in text(albums[0])
        await siti.says("Jl. Merdeka no. 5")
        assert "Sudah ada 3 foto" in siti.last_text
        await siti.presses("✅ Selesai")
        await siti.presses("Biasa")
        assert "Foto: 3 foto" in siti.last_text and DESCRIPTION in siti.last_text


# 5 ---------------------------------------------------------------------------------------


class TestWhatCannotBeRead:
    async def test_a_voice_note_gets_a_kind_answer_and_the_question_again(
        self, siti: Citizen
    ) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.sends("voice")
        assert siti.last_text.startswith("🎤 Maaf, pesan suara belum bisa kami terima")
        assert "Langkah 2/5" in siti.last_text
        assert siti.buttons() == ["⬅️ Kembali", "✖️ Batal"]

    async def test_a_video_at_the_photo_step_asks_for_a_photo(self, siti: Citizen) -> None:
        await to_photos_step(siti)
        await siti.sends("video")
        assert "video belum bisa kami terima" in siti.last_text
        assert "Langkah 4/5" in siti.last_text

    async def test_a_sticker_outside_a_complaint(self, siti: Citizen) -> None:
        await siti.sends("sticker")
        assert "Stiker tidak bisa kami proses" in siti.last_text and "/lapor" in siti.last_text

    async def test_a_photo_with_a_caption_is_description_and_first_photo(
        self, siti: Citizen
    ) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.sends_photo(caption=DESCRIPTION)
        assert siti.heard[-2].text == "✅ Uraian dan foto diterima (1/5 foto)."
        assert siti.last_text.startswith("Langkah 3/5")
        await siti.says("Jl. Merdeka no. 5")
        assert "Sudah ada 1 foto" in siti.last_text
        await siti.presses("✅ Selesai")
        await siti.presses("Biasa")
        assert "Foto: 1 foto" in siti.last_text and DESCRIPTION in siti.last_text

    async def test_a_photo_without_a_caption_is_kept_and_the_text_asked_for(
        self, siti: Citizen
    ) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.sends_photo()
        assert siti.last_text.startswith("Foto Anda kami simpan (1/5)")
        await siti.says(DESCRIPTION)
        assert siti.last_text.startswith("Langkah 3/5")


# 6 ---------------------------------------------------------------------------------------


class TestPushesSayWhatHappensNext:
    async def test_dispatch_names_the_agency_and_the_date(self, core: Core, siti: Citizen) -> None:
        cid = await file(siti)
        await move(core, cid, Action.VERIFY, DESK)
        await move(core, cid, Action.DISPATCH, DESK)
        verified, dispatched = await pushed(core)
        assert verified == (
            "🔔 Aduan ADU-2611-0001 (Jalan dan jembatan)\n"
            "✅ Aduan Anda sudah diverifikasi petugas.\n\n"
            "👉 Berikutnya: petugas meneruskan aduan Anda ke perangkat daerah yang berwenang"
            " paling lambat Rabu, 2 Desember 2026."
        )
        assert dispatched == (
            "🔔 Aduan ADU-2611-0001 (Jalan dan jembatan)\n"
            "📤 Aduan Anda sudah diteruskan ke Dinas PUPR.\n\n"
            "👉 Berikutnya: Dinas PUPR menindaklanjuti aduan Anda paling lambat"
            " Jumat, 4 Desember 2026."
        )

    async def test_dates_in_english(self, core: Core, siti: Citizen) -> None:
        await siti.says("/bahasa")
        await siti.presses("🇬🇧 English")
        await siti.says("/lapor")
        await siti.presses("Roads and bridges")
        await siti.says(DESCRIPTION)
        await siti.says("Jl. Merdeka no. 5, depan SDN 2")
        await siti.says("skip")
        await siti.says("normal")
        await siti.says("send")
        assert "by Wednesday, 2 December 2026 (3 working days)" in siti.last_text
        await move(core, 1, Action.DISPATCH, DESK)
        assert (await pushed(core))[-1].endswith(
            "👉 Next: Dinas PUPR acts on your complaint by Friday, 4 December 2026."
        )

    async def test_the_deadline_comes_from_the_category(self, core: Core, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("KTP, KK dan akta")  # follow-up within 3 working days
        await siti.says("Pengurusan KTP elektronik saya sudah dua bulan belum selesai juga.")
        await siti.says("Kantor Dispendukcapil")
        await siti.presses("Lewati ➡️")
        await siti.presses("Biasa")
        await siti.presses("📨 Kirim")
        await move(core, 1, Action.DISPATCH, DESK)
        assert (await pushed(core))[-1].endswith("paling lambat Rabu, 2 Desember 2026.")

    async def test_a_passed_deadline_is_not_promised_again(self, core: Core, siti: Citizen) -> None:
        cid = await file(siti)
        core.clock.advance(days=10)
        await move(core, cid, Action.VERIFY, DESK)
        assert (
            "(batas waktunya, Rabu, 2 Desember 2026, sudah terlewati)" in (await pushed(core))[-1]
        )

    async def test_an_answer_names_who_really_answered(self, core: Core, siti: Citizen) -> None:
        cid = await file(siti)
        await move(core, cid, Action.DISPATCH, DESK)
        await officer_answers(core, cid, DESK_OFFICER, "Sudah kami teruskan, mohon ditunggu.")
        await officer_answers(core, cid, AGENCY_OFFICER, "Tim kami meninjau besok pagi.")
        desk_answer, agency_answer = (await pushed(core))[-2:]
        assert desk_answer.startswith("💬 Jawaban petugas (Meja Aduan Kota Blitar) untuk aduan")
        assert agency_answer.startswith("💬 Jawaban petugas (Dinas PUPR) untuk aduan")


# 7 ---------------------------------------------------------------------------------------


class TestResolutionCarriesTheAnswer:
    async def test_what_was_done_and_the_after_photo_then_the_survey(
        self, core: Core, siti: Citizen, engine: AsyncEngine
    ) -> None:
        cid = await file(siti)
        await move(core, cid, Action.DISPATCH, DESK)
        async with core.ctx.uow() as uow:
            after = await uow.attachments.add(
                Attachment("photo", "ab/after.jpg", 10, "ab", "telegram", "file-after")
            )
            complaint = await uow.complaints.get(cid)
            assert complaint is not None
            from conversations.core.handling import transition

            await transition(
                core.ctx,
                uow,
                complaint,
                Action.RESOLVE,
                AGENCY,
                message="Lubang ditambal aspal panas pada Senin pagi.",
                attachments=[after],
            )
            await uow.commit()
        last_three = (await rows(core, "1001"))[-3:]
        assert [r.kind for r in last_three] == ["push", "push", "survey"]
        assert "Dinas PUPR menyatakan aduan Anda selesai." in text(last_three[0])
        assert "Yang sudah dilakukan:\nLubang ditambal aspal panas pada Senin pagi." in text(
            last_three[0]
        )
        assert last_three[1].payload["photos"][0]["file_id"] == "file-after"
        assert "telah dinyatakan selesai" not in text(last_three[2])
        assert buttons(last_three[2])[:5] == ["1⭐", "2⭐", "3⭐", "4⭐", "5⭐"]
        await survey.scan_surveys(
            core.ctx, SqlScheduleQueries(session_factory(engine)), core.clock.now()
        )
        assert len(await rows(core, "1001", "survey")) == 1  # the scan adds no second one

    async def test_resolving_without_saying_what_was_done_is_refused(
        self, core: Core, siti: Citizen
    ) -> None:
        from conversations.core.handling import MessageRequired

        cid = await file(siti)
        await move(core, cid, Action.DISPATCH, DESK)
        with pytest.raises(MessageRequired):
            await move(core, cid, Action.RESOLVE, AGENCY)
        assert await status_of(core, cid) is Status.DIDISPOSISIKAN


# 8 ---------------------------------------------------------------------------------------


class TestRejections:
    async def test_a_rejection_gives_the_reason_and_what_to_do(
        self, core: Core, siti: Citizen
    ) -> None:
        cid = await file(siti)
        await move(core, cid, Action.REJECT, DESK, message="Foto dan lokasi tidak jelas.")
        (push,) = await rows(core, "1001", "push")
        assert "Alasan: Foto dan lokasi tidak jelas." in text(push)
        assert "aduan baru yang lebih lengkap lewat /lapor" in text(push)
        assert "Dinas PUPR" not in text(push)  # no agency ever had it
        assert buttons(push) == ["🔁 Minta tinjau ulang"]

    async def test_not_our_authority_says_where_to_go(self, core: Core, siti: Citizen) -> None:
        cid = await file(siti)
        await move(core, cid, Action.NOT_AUTHORITY, DESK, message="Jalan nasional, wewenang BBPJN.")
        (push,) = await rows(core, "1001", "push")
        assert "di luar kewenangan Pemerintah Kota Blitar" in text(push)
        assert "Alasan: Jalan nasional, wewenang BBPJN." in text(push)
        assert "lapor.go.id" in text(push)
        assert "Dinas PUPR" not in text(push)


# 9 ---------------------------------------------------------------------------------------


class TestStatus:
    async def test_status_shows_the_history_with_dates(self, core: Core, siti: Citizen) -> None:
        cid = await file(siti)
        core.clock.advance(days=3)
        await move(core, cid, Action.VERIFY, DESK)
        await move(core, cid, Action.DISPATCH, DESK)
        await siti.says("/status ADU-2611-0001")
        assert "Status: Diteruskan ke perangkat daerah" in siti.last_text
        assert "Perangkat daerah: Dinas Pekerjaan Umum dan Penataan Ruang (PUPR)" in siti.last_text
        assert (
            "Riwayat:\n• Jumat, 27 November 2026 – aduan diterima\n"
            "• Senin, 30 November 2026 – diverifikasi petugas\n"
            "• Senin, 30 November 2026 – diteruskan ke perangkat daerah"
        ) in siti.last_text
        assert "👉 Berikutnya: Dinas PUPR menindaklanjuti" in siti.last_text

    async def test_a_number_typed_as_the_answer_to_a_question_stays_an_answer(
        self, core: Core, siti: Citizen
    ) -> None:
        cid = await file(siti)
        await move(core, cid, Action.REQUEST_INFO, DESK, message="Berapa lubang yang ada?")
        await siti.says("1")
        async with core.ctx.uow() as uow:
            history = await uow.events.for_complaint(cid)
        assert [(e.action, e.public_message) for e in history][-2] == ("followup", "1")
        assert await status_of(core, cid) is Status.BARU

    async def test_the_officers_question_shows_only_while_it_waits(
        self, core: Core, siti: Citizen
    ) -> None:
        cid = await file(siti)
        await move(core, cid, Action.REQUEST_INFO, DESK, message="Nomor rumah terdekat?")
        await siti.says("ADU-2611-0001")
        assert "Pesan petugas" in siti.last_text and "Nomor rumah terdekat?" in siti.last_text
        await siti.says("Depan rumah nomor 12")
        await siti.says("ADU-2611-0001")
        assert "Nomor rumah terdekat?" not in siti.last_text
        await resolved(core, cid, what="Sudah ditambal.")
        await siti.says("ADU-2611-0001")
        assert "Nomor rumah terdekat?" not in siti.last_text
        assert "Sudah ditambal." in siti.last_text

    async def test_status_of_a_resolved_complaint_keeps_what_was_done_and_offers_the_survey(
        self, core: Core, siti: Citizen
    ) -> None:
        cid = await file(siti)
        await resolved(core, cid, what="Lubang sudah ditambal aspal panas.")
        core.clock.advance(hours=2)
        await officer_answers(core, cid, DESK_OFFICER, "Mohon kabari bila masih berlubang.")
        await siti.says("/status ADU-2611-0001")
        assert "✅ Yang sudah dilakukan" in siti.last_text
        assert "Lubang sudah ditambal aspal panas." in siti.last_text
        assert "💬 Pesan petugas" in siti.last_text
        assert "Mohon kabari bila masih berlubang." in siti.last_text
        assert "👉 Berikutnya: mohon jawab survei di bawah" in siti.last_text
        assert siti.buttons() == ["1⭐", "2⭐", "3⭐", "4⭐", "5⭐", *FIXED_OR_NOT]
        await siti.presses("4⭐")
        await siti.says("/status ADU-2611-0001")
        assert siti.buttons() == FIXED_OR_NOT
        await siti.presses("❌ Belum beres")
        await siti.says("/status ADU-2611-0001")
        assert "survei di bawah" not in siti.last_text
        assert "👉 Berikutnya: tuliskan singkat apa yang masih menjadi masalah" in siti.last_text
        await siti.says("Tambalannya sudah retak lagi.")
        assert await status_of(core, cid) is Status.DITINDAKLANJUTI

    async def test_a_message_is_never_attached_to_a_resolved_complaint(
        self, core: Core, siti: Citizen
    ) -> None:
        cid = await file(siti)
        await move(core, cid, Action.DISPATCH, DESK)
        await move(core, cid, Action.REQUEST_INFO, AGENCY, message="Foto dari dekat?")
        await siti.says("Lubangnya sekitar satu meter")  # the answer: resumes it
        await move(core, cid, Action.RESOLVE, AGENCY, message="Sudah ditambal.")
        async with core.ctx.uow() as uow:
            before = len(await uow.events.for_complaint(cid))
        core.clock.advance(minutes=2)  # still within the minutes after the answer
        await siti.says("Terima kasih pak, cepat sekali")
        async with core.ctx.uow() as uow:
            after = await uow.events.for_complaint(cid)
        assert len(after) == before
        assert "belum mengerti" in siti.last_text


# 10 --------------------------------------------------------------------------------------


class TestPrivacyInPlainWords:
    async def test_the_privacy_question_says_who_sees_what(self, siti: Citizen) -> None:
        await to_photos_step(siti)
        await siti.presses("Lewati ➡️")
        asked = siti.last_text
        assert "Biasa: petugas melihat nama Anda." in asked
        assert "petugas tidak melihat siapa Anda; kabar aduan tetap Anda terima di sini" in asked
        assert "Jangan tulis nama atau NIK" in asked
        assert "hanya petugas yang menanganinya yang membaca" in asked
        assert "daftar publik" not in asked


# 11 --------------------------------------------------------------------------------------


class TestCards:
    async def test_the_card_drops_the_new_mark_once_someone_acted(
        self, core: Core, siti: Citizen
    ) -> None:
        cid = await file(siti)
        (card,) = await rows(core, ADMIN_CHAT, "card")
        assert text(card).startswith("🆕 Aduan ADU-2611-0001")
        assert "Perangkat daerah: Dinas PUPR" in text(card)
        async with core.ctx.uow() as uow:
            await uow.cards.add(CardLink(ADMIN_CHAT, 77, cid, "desk"))
            await uow.commit()
        await move(core, cid, Action.VERIFY, DESK)
        (edit,) = await rows(core, ADMIN_CHAT, "edit")
        assert text(edit).startswith("📋 Aduan ADU-2611-0001")


# 12 --------------------------------------------------------------------------------------


async def with_card(core: Core, complaint_id: int) -> None:
    async with core.ctx.uow() as uow:
        await uow.cards.add(CardLink(ADMIN_CHAT, 77, complaint_id, "desk"))
        await uow.commit()


class TestAddInformation:
    async def test_from_my_complaints_and_officers_see_it_on_the_card(
        self, core: Core, siti: Citizen
    ) -> None:
        cid = await file(siti)
        await with_card(core, cid)
        await siti.says("/aduansaya")
        assert siti.buttons() == ["🔎 ADU-2611-0001", "➕ Tambah keterangan"]
        await siti.presses("➕ Tambah keterangan")
        assert "kirim keterangan atau foto tambahan untuk aduan ADU-2611-0001" in siti.last_text
        await siti.says("Lubangnya sekarang sudah dua, satu lagi di depan warung.")
        assert "sudah ditambahkan ke aduan ADU-2611-0001" in siti.last_text
        await siti.sends_photo()
        relayed = [text(r) for r in await rows(core, ADMIN_CHAT, "reply")]
        assert any("satu lagi di depan warung" in t for t in relayed)
        edits = await rows(core, ADMIN_CHAT, "edit")
        assert "➕ Tambahan dari pelapor: 2×" in text(edits[-1])
        await siti.says("selesai")
        assert siti.last_text == "Terima kasih. Petugas sudah menerima keterangan Anda."
        await siti.says("Halo")
        assert "belum mengerti" in siti.last_text  # no longer attached
        assert await status_of(core, cid) is Status.BARU

    async def test_from_a_status_push(self, core: Core, siti: Citizen) -> None:
        cid = await file(siti)
        await move(core, cid, Action.VERIFY, DESK)
        (push,) = await rows(core, "1001", "push")
        assert buttons(push) == ["➕ Tambah keterangan"]
        await siti.presses_on(Reply.from_dict(push.payload["reply"]), "➕ Tambah keterangan")
        assert "ADU-2611-0001" in siti.last_text

    async def test_not_to_a_closed_complaint(self, core: Core, siti: Citizen) -> None:
        cid = await file(siti)
        await move(core, cid, Action.VERIFY, DESK)
        (push,) = await rows(core, "1001", "push")
        await move(core, cid, Action.REJECT, DESK, message="Di luar wilayah kota.")
        await siti.presses_on(Reply.from_dict(push.payload["reply"]), "➕ Tambah keterangan")
        assert "tidak bisa ditambahkan lagi" in siti.last_text

    async def test_not_while_writing_a_new_complaint(self, core: Core, siti: Citizen) -> None:
        await file(siti)
        await siti.says("/aduansaya")
        mine = siti.last
        await siti.says("/lapor")
        await siti.presses_on(mine, "➕ Tambah keterangan")
        assert "Anda sedang mengisi aduan baru" in siti.last_text


# 13 --------------------------------------------------------------------------------------


class TestWithdrawAndReview:
    async def test_withdraw_with_a_reason_after_confirming(self, core: Core, siti: Citizen) -> None:
        cid = await file(siti)
        await siti.says("/status ADU-2611-0001")
        await siti.presses("🗑️ Cabut aduan")
        assert "Cabut aduan ADU-2611-0001?" in siti.last_text
        await siti.says("Sudah diperbaiki warga sendiri secara gotong royong.")
        assert "sudah dicabut" in siti.last_text
        assert await status_of(core, cid) is Status.DICABUT
        told = [text(r) for r in await rows(core, ADMIN_CHAT, "reply")]
        assert any(
            "Pelapor mencabut aduan ADU-2611-0001" in t and "gotong royong" in t for t in told
        )

    async def test_withdraw_is_confirmed_by_typing_yes_and_no_keeps_it(
        self, core: Core, siti: Citizen
    ) -> None:
        cid = await file(siti)
        await siti.says("/status ADU-2611-0001")
        await siti.presses("🗑️ Cabut aduan")
        await siti.says("tidak")
        assert "tetap kami proses" in siti.last_text
        assert await status_of(core, cid) is Status.BARU
        await siti.says("/status ADU-2611-0001")
        await siti.presses("🗑️ Cabut aduan")
        await siti.says("ya")
        assert await status_of(core, cid) is Status.DICABUT

    async def test_a_rejection_may_be_reviewed_once(self, core: Core, siti: Citizen) -> None:
        cid = await file(siti)
        await move(core, cid, Action.REJECT, DESK, message="Lokasi tidak jelas.")
        (push,) = await rows(core, "1001", "push")
        review = Reply.from_dict(push.payload["reply"])
        await siti.presses_on(review, "🔁 Minta tinjau ulang")
        assert "hanya bisa diminta satu kali" in siti.last_text
        await siti.says("Lokasinya di depan SDN 2 Sananwetan, sudah saya kirim titiknya.")
        assert "Permintaan tinjau ulang aduan ADU-2611-0001 sudah kami teruskan" in siti.last_text
        assert "paling lambat" in siti.last_text
        assert await status_of(core, cid) is Status.BARU
        told = [text(r) for r in await rows(core, ADMIN_CHAT, "reply")]
        assert any("meminta tinjau ulang aduan ADU-2611-0001" in t for t in told)
        await move(core, cid, Action.REJECT, DESK, message="Tetap tidak jelas.")
        assert buttons((await rows(core, "1001", "push"))[-1]) == []
        await siti.presses_on(review, "🔁 Minta tinjau ulang")
        assert "tidak bisa diminta" in siti.last_text
        assert await status_of(core, cid) is Status.DITOLAK


# 14 --------------------------------------------------------------------------------------


class TestPrivacyAndHelp:
    async def test_privasi_says_what_is_kept_and_for_how_long(
        self, core: Core, siti: Citizen
    ) -> None:
        core.ctx.config.retention_months = 36
        await siti.says("/privasi")
        said = siti.last_text
        assert "UU No. 27 Tahun 2022" in said
        assert "36 bulan" in said
        assert "nomor telepon" in said and "foto" in said and "lokasi" in said
        assert "penghapusan data" in said

    async def test_bantuan_has_the_faq_of_the_city(self, siti: Citizen) -> None:
        await siti.says("/bantuan")
        said = siti.last_text
        assert "/lapor" in said and "/privasi" in said
        assert "hubungi 112" in said
        assert "Senin–Jumat pukul 08.00–16.00 WIB" in said  # the city's own words
        assert "dalam 3 hari kerja" in said and "dalam 5 hari kerja" in said
        assert "lapor.go.id" in said

    async def test_without_city_texts_the_built_in_ones_are_used(
        self, core: Core, siti: Citizen
    ) -> None:
        core.ctx.config.help_text = {}
        core.ctx.config.privacy_text = {}
        await siti.says("/bantuan")
        assert "hubungi 112" in siti.last_text and "Kota Blitar" in siti.last_text
        await siti.says("/privasi")
        assert "24 bulan" in siti.last_text
