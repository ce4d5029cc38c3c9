"""The complaint dialogue, specified as chats on the neutral engine (no platform)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from conversations.core.domain import CardLink, OutboxItem
from conversations.engine import CitizenChat
from storage.mapping import to_record
from storage.tables import OutboxRow
from tests.support.chat import Citizen
from tests.support.core import ADMIN_CHAT, Core, build_core

DESCRIPTION = "Jalan di depan SDN 2 berlubang besar sejak seminggu, motor sering jatuh."


@pytest.fixture
def core(engine: AsyncEngine, tmp_path: Path) -> Core:
    return build_core(engine, tmp_path / "media")


@pytest.fixture
def siti(core: Core) -> Citizen:
    return Citizen(core, CitizenChat(core.ctx))


async def outbox_rows(core: Core, kind: str) -> list[OutboxItem]:
    async with core.ctx.uow() as uow:
        session = uow.session  # type: ignore[attr-defined]
        rows = (
            await session.execute(select(OutboxRow).where(col(OutboxRow.kind) == kind))
        ).scalars()
        return [to_record(row, OutboxItem) for row in rows]


async def fill_until_summary(siti: Citizen) -> None:
    await siti.says("/lapor")
    await siti.presses("Jalan dan jembatan")
    await siti.says(DESCRIPTION)
    await siti.shares_location(-8.0983, 112.1681)
    await siti.presses("Lewati ➡️")
    await siti.presses("Lewati ➡️")
    await siti.presses("Biasa")


class TestStart:
    async def test_start_greets_in_indonesian_with_the_menu(self, siti: Citizen) -> None:
        await siti.says("/start")
        assert "Selamat datang" in siti.last_text
        assert siti.buttons() == [
            "📝 Aduan baru",
            "📋 Aduan saya",
            "🔎 Cek status",
            "❓ Bantuan",
            "🔐 Data pribadi",
            "🌐 Bahasa / Language",
        ]

    async def test_language_switch_to_english_persists(self, siti: Citizen) -> None:
        await siti.says("/bahasa")
        await siti.presses("🇬🇧 English")
        assert siti.heard[-2].text == "Language changed to English."
        await siti.says("/lapor")
        assert siti.last_text.startswith("Step 1/5")


class TestHappyPath:
    async def test_whole_complaint_gets_a_ticket(self, siti: Citizen, core: Core) -> None:
        await siti.says("/lapor")
        assert siti.last_text.startswith("Langkah 1/5")
        assert "Sampah dan kebersihan" in siti.buttons()
        await siti.presses("Jalan dan jembatan")
        assert siti.last_text.startswith("Langkah 2/5")
        await siti.says(DESCRIPTION)
        assert siti.last_text.startswith("Langkah 3/5")
        assert siti.last.ask_location
        await siti.shares_location(-8.0983, 112.1681)
        assert "Titik lokasi diterima" in siti.last_text
        await siti.says("Jl. Merdeka no. 5, depan SDN 2")
        assert siti.last_text.startswith("Langkah 4/5")
        await siti.sends_photo(b"\xff\xd8\xff one")
        assert siti.last_text.startswith("Foto 1/5 diterima")
        await siti.sends_photo(b"\xff\xd8\xff two")
        assert siti.last_text.startswith("Foto 2/5 diterima")
        await siti.presses("✅ Selesai")
        assert siti.last_text.startswith("Langkah 5/5")
        await siti.presses("🔒 Rahasia")
        summary = siti.last_text
        assert "Kategori: Jalan dan jembatan" in summary
        assert DESCRIPTION in summary
        assert "Jl. Merdeka no. 5" in summary
        assert "2 foto" in summary
        assert "Kerahasiaan: rahasia" in summary
        await siti.presses("📨 Kirim")
        assert "ADU-2611-0001" in siti.last_text
        assert "(3 hari kerja)" in siti.last_text  # the category's deadline, not a fixed text
        assert "Rabu, 2 Desember 2026" in siti.last_text  # Friday 27 Nov + 3 working days

    async def test_the_ticket_lists_under_my_complaints_and_status(self, siti: Citizen) -> None:
        await fill_until_summary(siti)
        await siti.presses("📨 Kirim")
        await siti.says("/aduansaya")
        assert "ADU-2611-0001 – Diterima, menunggu verifikasi" in siti.last_text
        await siti.says("/status adu-2611-0001")
        assert "Status: Diterima, menunggu verifikasi" in siti.last_text
        assert "Jumat, 27 November 2026 – aduan diterima" in siti.last_text

    async def test_tickets_count_up(self, siti: Citizen) -> None:
        await fill_until_summary(siti)
        await siti.presses("📨 Kirim")
        await fill_until_summary(siti)
        await siti.presses("📨 Kirim")
        assert "ADU-2611-0002" in siti.last_text


class TestWrongInputIsReprompted:
    async def test_sticker_at_the_description_step(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.sends_sticker()
        assert "Stiker tidak bisa kami proses" in siti.last_text
        assert "Tuliskan uraian" in siti.last_text
        await siti.says(DESCRIPTION)
        assert siti.last_text.startswith("Langkah 3/5")

    async def test_too_short_description(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says("jalan rusak")
        assert "terlalu pendek (11 karakter)" in siti.last_text

    async def test_5000_character_description_keeps_the_category(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("Sampah dan kebersihan")
        await siti.says("x" * 5000)
        assert "terlalu panjang (5000 karakter). Maksimal 4000" in siti.last_text
        await siti.says(DESCRIPTION)
        await siti.says("Pasar Legi, Jl. Kenanga")
        await siti.presses("Lewati ➡️")
        await siti.presses("Biasa")
        assert "Kategori: Sampah dan kebersihan" in siti.last_text

    async def test_text_at_the_photo_step(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says(DESCRIPTION)
        await siti.says("Jl. Merdeka no. 5")
        await siti.sends_photo()
        await siti.says("ini fotonya")
        assert "mohon kirim foto" in siti.last_text
        assert "✅ Selesai" in siti.buttons()

    async def test_a_sixth_photo_is_refused_and_five_are_kept(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says(DESCRIPTION)
        await siti.says("Jl. Merdeka no. 5")
        for n in range(5):
            await siti.sends_photo(bytes([n]) * 10)
        assert siti.last_text.startswith("Foto 5/5 diterima")
        await siti.sends_photo(b"sixth")
        assert "Batas 5 foto sudah tercapai, jadi foto ini tidak disimpan" in siti.last_text
        await siti.presses("✅ Selesai")
        await siti.presses("Biasa")
        assert "Foto: 5 foto" in siti.last_text

    async def test_location_needs_a_pin_or_an_address(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says(DESCRIPTION)
        await siti.sends_photo()
        assert "bagikan titik lokasi" in siti.last_text
        await siti.says("abc")
        assert "minimal 5 karakter" in siti.last_text

    async def test_typed_category_name_counts_as_the_button(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.says("jalan dan jembatan")
        assert siti.last_text.startswith("Langkah 2/5")

    async def test_free_text_at_the_category_step(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.says("jalan rusak pak")
        assert "pilih kategori dengan menekan" in siti.last_text
        assert "Jalan dan jembatan" in siti.buttons()


class TestBackCancelEdit:
    async def test_back_returns_to_the_previous_step_with_answers_kept(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says(DESCRIPTION)
        await siti.presses("⬅️ Kembali")
        assert siti.last_text.startswith("Langkah 2/5")
        await siti.presses("⬅️ Kembali")
        assert siti.last_text.startswith("Langkah 1/5")
        await siti.presses("Drainase dan banjir")
        await siti.says(DESCRIPTION)
        await siti.says("Jl. Kenari 7")
        await siti.presses("Lewati ➡️")
        await siti.presses("Biasa")
        assert "Kategori: Drainase dan banjir" in siti.last_text

    async def test_cancel_asks_first_and_no_keeps_everything(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says(DESCRIPTION)
        await siti.says("/batal")
        assert "Batalkan pengisian aduan ini?" in siti.last_text
        await siti.presses("Tidak, lanjutkan")
        assert siti.last_text.startswith("Langkah 3/5")
        await siti.says("Jl. Kenari 7")
        await siti.presses("Lewati ➡️")
        await siti.presses("Biasa")
        assert DESCRIPTION in siti.last_text

    async def test_cancel_yes_forgets_the_draft(self, siti: Citizen) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.presses("✖️ Batal")
        await siti.presses("Ya, batalkan")
        assert "dibatalkan" in siti.last_text
        await siti.says("/batal")
        assert siti.last_text == "Tidak ada aduan yang sedang diisi."
        await siti.says("/lapor")
        assert siti.last_text.startswith("Langkah 1/5")

    async def test_edit_one_field_from_the_summary(self, siti: Citizen) -> None:
        await fill_until_summary(siti)
        await siti.presses("✏️ Ubah")
        await siti.presses("Uraian")
        assert siti.last_text.startswith("Langkah 2/5")
        await siti.says("Lampu jalan mati total di seluruh gang sejak tiga hari lalu.")
        assert siti.last_text.startswith("Ringkasan aduan Anda")
        assert "Lampu jalan mati total" in siti.last_text
        assert "Kategori: Jalan dan jembatan" in siti.last_text

    async def test_edit_privacy_then_send(self, siti: Citizen) -> None:
        await fill_until_summary(siti)
        await siti.presses("✏️ Ubah")
        await siti.presses("Kerahasiaan")
        await siti.presses("🕶️🔒 Anonim + rahasia")
        assert "Kerahasiaan: anonim + rahasia" in siti.last_text
        await siti.presses("📨 Kirim")
        assert "ADU-2611-0001" in siti.last_text


class TestPrivacyOfStatus:
    async def test_someone_elses_ticket_is_not_found(self, siti: Citizen, core: Core) -> None:
        await fill_until_summary(siti)
        await siti.presses("📨 Kirim")
        budi = Citizen(core, siti.chat, user_id=1002, name="Budi")
        await budi.says("/status ADU-2611-0001")
        assert "tidak ditemukan" in budi.last_text
        assert DESCRIPTION not in budi.last_text


class TestFlood:
    async def test_a_flood_is_slowed_down_and_the_draft_survives(
        self, siti: Citizen, core: Core
    ) -> None:
        siti.chat.flood.clock = lambda: 0.0  # everything arrives at the same moment
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says(DESCRIPTION)
        for _ in range(25):
            await siti.says("?")
        texts = [reply.text for reply in siti.heard]
        assert texts.count(core.ctx.t("id", "common.flood")) == 1
        siti.chat.flood.clock = lambda: 60.0  # a minute later
        await siti.says("Jl. Merdeka no. 5")
        assert siti.last_text.startswith("Langkah 4/5")
        await siti.presses("Lewati ➡️")
        await siti.presses("Biasa")
        assert DESCRIPTION in siti.last_text


class TestEditingPhotos:
    async def test_changing_photos_then_going_back_keeps_the_old_photos(
        self, siti: Citizen
    ) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says(DESCRIPTION)
        await siti.says("Jl. Merdeka no. 5")
        await siti.sends_photo(b"one")
        await siti.sends_photo(b"two")
        await siti.presses("✅ Selesai")
        await siti.presses("Biasa")
        assert "Foto: 2 foto" in siti.last_text
        await siti.presses("✏️ Ubah")
        await siti.presses("Foto")
        await siti.presses("⬅️ Kembali")
        assert siti.last_text == "Bagian mana yang ingin diubah?"
        await siti.presses("⬅️ Kembali ke ringkasan")
        assert "Foto: 2 foto" in siti.last_text

    async def test_changing_photos_replaces_them(self, siti: Citizen) -> None:
        await fill_until_summary(siti)
        await siti.presses("✏️ Ubah")
        await siti.presses("Foto")
        await siti.sends_photo(b"new")
        await siti.presses("✅ Selesai")
        assert siti.last_text.startswith("Ringkasan aduan Anda")
        assert "Foto: 1 foto" in siti.last_text

    async def test_back_to_summary_shows_the_summary(self, siti: Citizen) -> None:
        await fill_until_summary(siti)
        await siti.presses("✏️ Ubah")
        await siti.presses("⬅️ Kembali ke ringkasan")
        assert siti.last_text.startswith("Ringkasan aduan Anda")
        assert "📨 Kirim" in siti.buttons()


class TestUnreachableReporter:
    async def test_writing_again_clears_the_blocked_mark_on_the_cards(
        self, siti: Citizen, core: Core
    ) -> None:
        await fill_until_summary(siti)
        await siti.presses("📨 Kirim")
        async with core.ctx.uow() as uow:
            citizen = await uow.citizens.find("telegram", "1001")
            complaint = await uow.complaints.by_ticket("ADU-2611-0001")
            assert citizen is not None and complaint is not None and complaint.id is not None
            citizen.unreachable = True
            await uow.citizens.update(citizen)
            await uow.cards.add(CardLink(ADMIN_CHAT, 77, complaint.id, "desk"))
            await uow.commit()
        await siti.says("/start")
        edits = await outbox_rows(core, kind="edit")
        assert len(edits) == 1
        assert edits[0].payload["message_id"] == 77
        assert "📵" not in edits[0].payload["reply"]["text"]
        assert "Siti" in edits[0].payload["reply"]["text"]


# the citizen's side after filing: tertunda, survey, status ------------------------


@pytest.fixture
def wired(core: Core) -> CitizenChat:
    from conversations.core import survey
    from conversations.officer_desk import citizen_follow_up, follow_up_reply

    chat = CitizenChat(core.ctx)
    chat.idle_handlers.append(citizen_follow_up)
    chat.choice_handlers[survey.PREFIX] = survey.handle_choice
    chat.idle_handlers.append(survey.handle_comment)
    chat.reply_handlers.append(follow_up_reply)
    chat.reply_handlers.append(survey.comment_reply)
    return chat


async def _status_of(core: Core, complaint_id: int | None) -> str:
    async with core.ctx.uow() as uow:
        found = await uow.complaints.get(complaint_id or 0)
        assert found is not None
        return found.status.value


async def _on_hold(core: Core, chat: CitizenChat, question: str = "Nomor rumah?") -> int:
    from conversations.core.lifecycle import Action
    from tests.test_handling import DESK, filed, move

    complaint = await filed(core, chat)
    assert complaint.id is not None
    await move(core, complaint.id, Action.REQUEST_INFO, DESK, message=question)
    return complaint.id


async def _resolved(core: Core, chat: CitizenChat) -> int:
    from conversations.core.lifecycle import Action
    from tests.test_handling import AGENCY, DESK, filed, move

    complaint = await filed(core, chat)
    assert complaint.id is not None
    await move(core, complaint.id, Action.DISPATCH, DESK)
    await move(core, complaint.id, Action.START, AGENCY)
    await move(core, complaint.id, Action.RESOLVE, AGENCY, message="Lubang sudah ditambal.")
    return complaint.id


async def _ticket(core: Core, complaint_id: int) -> str:
    async with core.ctx.uow() as uow:
        found = await uow.complaints.get(complaint_id)
        assert found is not None
        return found.ticket


async def _mark_sent(core: Core, complaint_id: int, kind: str, message_id: int) -> None:
    """Pretend the outbox delivered the latest ``kind`` row about the complaint."""
    async with core.ctx.uow() as uow:
        session = uow.session  # type: ignore[attr-defined]
        rows = (
            await session.execute(
                select(OutboxRow)
                .where(col(OutboxRow.kind) == kind, col(OutboxRow.complaint_id) == complaint_id)
                .order_by(col(OutboxRow.id).desc())
            )
        ).scalars()
        row = next(iter(rows))
        row.sent_message_id = message_id
        await uow.commit()


class TestAfterFiling:
    async def test_a_typed_ticket_is_a_status_lookup_while_on_hold(
        self, core: Core, wired: CitizenChat
    ) -> None:
        cid = await _on_hold(core, wired)
        siti = Citizen(core, wired)
        await siti.says(await _ticket(core, cid))
        assert "Status:" in siti.last_text
        assert "Nomor rumah?" in siti.last_text  # the officer's question is shown
        assert await _status_of(core, cid) == "tertunda"

    async def test_a_typed_ticket_is_a_status_lookup_during_a_dialogue(
        self, core: Core, wired: CitizenChat
    ) -> None:
        cid = await _resolved(core, wired)
        siti = Citizen(core, wired)
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says("Lampu jalan mati total sejak tiga hari di gang kami.")
        await siti.says(await _ticket(core, cid))
        assert "Status:" in siti.last_text
        async with core.ctx.uow() as uow:
            dialogue = await uow.dialogues.get(1)
        assert dialogue is not None and dialogue.draft.address is None

    async def test_not_fixed_then_rating_still_waits_for_the_comment(
        self, core: Core, wired: CitizenChat
    ) -> None:
        cid = await _resolved(core, wired)
        siti = Citizen(core, wired)
        from conversations.core.messages import InboundKind

        await siti._send(InboundKind.CHOICE, choice=f"survey:notfixed:{cid}")
        await siti._send(InboundKind.CHOICE, choice=f"survey:rate:{cid}:2")
        await siti.says("Lubangnya masih ada, cuma ditutup pasir")
        assert "dibuka kembali" in siti.last_text
        assert await _status_of(core, cid) == "ditindaklanjuti"

    async def test_a_photo_is_a_not_fixed_comment(self, core: Core, wired: CitizenChat) -> None:
        from conversations.core.messages import InboundKind

        cid = await _resolved(core, wired)
        siti = Citizen(core, wired)
        await siti._send(InboundKind.CHOICE, choice=f"survey:notfixed:{cid}")
        await siti.sends_photo()
        assert "dibuka kembali" in siti.last_text
        async with core.ctx.uow() as uow:
            kept = await uow.attachments.for_complaint(cid)
        assert any(a.source == "citizen" for a in kept)

    async def test_only_one_rating_per_resolution_reaches_the_officers(
        self, core: Core, wired: CitizenChat
    ) -> None:
        from conversations.core.messages import InboundKind

        cid = await _resolved(core, wired)
        siti = Citizen(core, wired)
        counts = []
        for stars in (5, 2):
            await siti._send(InboundKind.CHOICE, choice=f"survey:rate:{cid}:{stars}")
            notices = [r for r in await outbox_rows(core, "notice") if "⭐" in str(r.payload)]
            counts.append(len(notices))
        assert counts[0] >= 1 and counts[1] == counts[0]
        async with core.ctx.uow() as uow:
            found = await uow.complaints.get(cid)
        assert found is not None and found.rating == 2

    async def test_two_on_hold_asks_which_unless_it_is_a_reply(
        self, core: Core, wired: CitizenChat
    ) -> None:
        first = await _on_hold(core, wired, "Foto?")
        second = await _on_hold(core, wired, "Alamat?")
        siti = Citizen(core, wired)
        await siti.says("Jl. Mawar 3, untuk aduan kedua")
        assert await _ticket(core, first) in siti.last_text
        assert await _ticket(core, second) in siti.last_text
        assert await _status_of(core, first) == "tertunda"
        await _mark_sent(core, second, "push", 777)
        from conversations.core.messages import InboundKind

        await siti._send(
            InboundKind.TEXT,
            text="Jl. Mawar 3, untuk aduan kedua",
            reply_to_message_id=777,
        )
        assert await _status_of(core, second) != "tertunda"
        assert await _status_of(core, first) == "tertunda"

    async def test_an_album_after_the_answer_is_kept_with_it(
        self, core: Core, wired: CitizenChat
    ) -> None:
        cid = await _on_hold(core, wired)
        siti = Citizen(core, wired)
        for index in range(3):
            await siti.sends_photo(b"\xff\xd8\xff photo%d" % index)
        await siti.says("dan ini keterangan tambahan")
        assert "belum mengerti" not in " ".join(r.text for r in siti.heard[-4:])
        async with core.ctx.uow() as uow:
            history = await uow.events.for_complaint(cid)
            kept = await uow.attachments.for_complaint(cid)
        assert [e.action for e in history].count("resume") == 1
        assert [e.action for e in history].count("followup") == 4
        assert len([a for a in kept if a.source == "citizen"]) == 3

    async def test_a_reply_to_the_question_beats_an_open_dialogue(
        self, core: Core, wired: CitizenChat
    ) -> None:
        from conversations.core.messages import InboundKind

        cid = await _on_hold(core, wired)
        await _mark_sent(core, cid, "push", 555)
        siti = Citizen(core, wired)
        await siti.says("/lapor")
        await siti._send(InboundKind.TEXT, text="Nomor 12", reply_to_message_id=555)
        assert await _ticket(core, cid) in siti.last_text
        assert await _status_of(core, cid) != "tertunda"

    async def test_a_reply_to_the_survey_beats_an_open_dialogue(
        self, core: Core, wired: CitizenChat
    ) -> None:
        from conversations.core.messages import InboundKind

        cid = await _resolved(core, wired)
        await _mark_sent(core, cid, "push", 556)
        siti = Citizen(core, wired)
        await siti.says("/lapor")
        await siti._send(InboundKind.CHOICE, choice=f"survey:notfixed:{cid}")
        await siti._send(InboundKind.TEXT, text="Masih berlubang", reply_to_message_id=556)
        assert "dibuka kembali" in siti.last_text

    async def test_new_citizens_get_the_default_language(self, core: Core, siti: Citizen) -> None:
        siti.person = type(siti.person)("2002", "Ann", language_code="en")
        await siti.says("/start")
        assert "Selamat datang" in siti.last_text

    async def test_my_complaints_says_how_many_more(self, core: Core, wired: CitizenChat) -> None:
        from tests.test_handling import filed

        for _ in range(11):
            await filed(core, wired)
        siti = Citizen(core, wired)
        await siti.says("/aduansaya")
        assert "1 aduan lainnya" in siti.last_text


class TestOldButtons:
    async def test_skip_under_the_address_question_does_not_end_the_photo_step(
        self, siti: Citizen
    ) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        await siti.says(DESCRIPTION)
        await siti.shares_location(-8.0983, 112.1681)
        address_prompt = siti.last
        await siti.presses("Lewati ➡️")
        assert siti.last_text.startswith("Langkah 4/5")
        await siti.sends_photo()
        await siti.presses_on(address_prompt, "Lewati ➡️")
        assert siti.heard[-2].text.startswith("Tombol itu sudah tidak berlaku.")
        assert siti.last_text.startswith("Langkah 4/5")  # still the photo step
        await siti.sends_photo()
        assert siti.last_text.startswith("Foto 2/5 diterima")

    async def test_back_on_an_older_prompt_after_cancelling_does_not_fail(
        self, siti: Citizen
    ) -> None:
        await siti.says("/lapor")
        await siti.presses("Jalan dan jembatan")
        description_prompt = siti.last
        await siti.presses("✖️ Batal")
        await siti.presses("Ya, batalkan")
        await siti.says("/lapor")
        await siti.presses("✖️ Batal")
        await siti.presses_on(description_prompt, "⬅️ Kembali")
        assert all("gangguan" not in reply.text for reply in siti.heard)
        assert "Batalkan pengisian aduan ini?" in siti.last_text
        await siti.presses("Tidak, lanjutkan")
        assert siti.last_text.startswith("Langkah 1/5")
