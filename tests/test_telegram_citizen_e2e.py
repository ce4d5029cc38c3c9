"""A citizen files a complaint on Telegram: the real bot over real HTTP, against the fake API,
on python-telegram-bot and on aiogram (every test runs on both: the Telegram contract)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.support.bot import ADMIN_CHAT_ID, FRAMEWORKS, TOKEN, running_bot

DESCRIPTION = "Lampu jalan di Jl. Merdeka mati semua sejak Senin, gelap dan rawan begal."
PHOTO_1 = b"\xff\xd8\xff\xe0" + b"first photo" * 20
PHOTO_2 = b"\xff\xd8\xff\xe0" + b"second photo" * 20


def text(message: SentMessage) -> str:
    return message.text or ""


async def with_buttons(fake: FakeTelegram, chat_id: int) -> SentMessage:
    """The latest message once its buttons are on it (leaving the location step, the
    bot removes the location keyboard first and then adds the buttons)."""
    latest: SentMessage = await fake.wait_for(
        lambda: fake.messages_to(chat_id)[-1] if fake.messages_to(chat_id)[-1].buttons else None
    )
    return latest


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        server.group(chat_id=ADMIN_CHAT_ID, title="Meja Aduan Kota")
        yield server


async def test_full_complaint_with_location_and_two_photos(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, framework: str
) -> None:
    siti = fake.private_user(user_id=1001, first_name="Siti", username="siti_blitar")
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        siti.send_command("/start")
        menu = await fake.next_message_to(siti.id)
        assert "Selamat datang" in text(menu)
        siti.press_button(menu, "📝 Aduan baru")
        ask_category = await fake.next_message_to(siti.id)
        assert text(ask_category).startswith("Langkah 1/5")
        siti.press_button(ask_category, "Lampu penerangan jalan")
        assert text(await fake.next_message_to(siti.id)).startswith("Langkah 2/5")
        siti.send_text(DESCRIPTION)
        ask_location = await fake.next_message_to(siti.id)
        assert text(ask_location).startswith("Langkah 3/5")
        siti.send_location(-8.0954, 112.1609)
        await fake.next_message_to(siti.id)
        siti.send_text("Jl. Merdeka depan Alun-alun")
        assert text(await fake.next_message_to(siti.id)).startswith("Langkah 4/5")
        siti.send_photo(PHOTO_1)
        assert text(await fake.next_message_to(siti.id)).startswith("Foto 1/5")
        siti.send_photo(PHOTO_2)
        photo_two = await fake.next_message_to(siti.id)
        siti.press_button(photo_two, "✅ Selesai")
        ask_privacy = await fake.next_message_to(siti.id)
        siti.press_button(ask_privacy, "Biasa")
        summary = await fake.next_message_to(siti.id)
        assert "Foto: 2 foto" in text(summary)
        siti.press_button(summary, "📨 Kirim")
        done = await fake.next_message_to(siti.id)
        assert "ADU-" in text(done) and "nomor tiket" in text(done)
        ticket = text(done).split("nomor tiket ")[1].split(".")[0]

        def complaint_posts() -> list[SentMessage]:
            posts = fake.messages_to(ADMIN_CHAT_ID)
            first = next((i for i, m in enumerate(posts) if ticket in (m.text or "")), None)
            return [] if first is None else posts[first : first + 4]

        await fake.wait_for(lambda: len(complaint_posts()) == 4)
        card, photo_1, photo_2, pin = complaint_posts()
        assert ticket in text(card)
        assert "Lampu penerangan jalan" in text(card)
        assert "Perangkat daerah: Dishub" in text(card)
        assert DESCRIPTION in text(card)
        assert "Siti (@siti_blitar)" in text(card)
        assert "Jl. Merdeka depan Alun-alun" in text(card)
        assert "✅ Verifikasi" in card.buttons
        assert photo_1.method == photo_2.method == "sendMediaGroup"
        assert photo_1.media_group_id == photo_2.media_group_id
        assert pin.location is not None

    stored = sorted(p.read_bytes() for p in (tmp_path / "media").rglob("*.jpg"))
    assert stored == sorted([PHOTO_1, PHOTO_2])
    names = {p.stem for p in (tmp_path / "media").rglob("*.jpg")}
    assert names == {hashlib.sha256(PHOTO_1).hexdigest(), hashlib.sha256(PHOTO_2).hexdigest()}


async def test_anonymous_reporter_never_reaches_the_officers(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, framework: str
) -> None:
    rina = fake.private_user(
        user_id=7771, first_name="Rina", last_name="Wulandari", username="rinawu"
    )
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        rina.send_command("/lapor")
        rina.press_button(await fake.next_message_to(rina.id), "Bantuan sosial")
        await fake.next_message_to(rina.id)
        rina.send_text("Bansos beras tidak pernah sampai ke RT 03 RW 02 sejak tiga bulan.")
        await fake.next_message_to(rina.id)
        rina.send_text("RT 03 RW 02 Kelurahan Sananwetan")
        await fake.next_message_to(rina.id)
        rina.press_button(await with_buttons(fake, rina.id), "Lewati ➡️")
        rina.press_button(await fake.next_message_to(rina.id), "🕶️ Anonim")
        rina.press_button(await fake.next_message_to(rina.id), "📨 Kirim")
        await fake.next_message_to(rina.id)
        await fake.wait_for(lambda: any("Anonim" in t for t in fake.texts_to(ADMIN_CHAT_ID)))
        await fake.wait_idle()

    officer_texts = fake.all_texts_except([rina.id])
    assert any("Bansos beras" in text for text in officer_texts)
    for text in officer_texts:
        for secret in ("Rina", "Wulandari", "rinawu", "7771"):
            assert secret not in text


async def test_the_dialogue_resumes_after_a_restart(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, framework: str
) -> None:
    budi = fake.private_user(user_id=1002, first_name="Budi")
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        budi.send_command("/lapor")
        budi.press_button(await fake.next_message_to(budi.id), "Sampah dan kebersihan")
        await fake.next_message_to(budi.id)
        budi.send_text("Sampah menumpuk di TPS Pasar Legi, tidak diangkut lima hari.")
        assert text(await fake.next_message_to(budi.id)).startswith("Langkah 3/5")

    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        budi.send_text("TPS Pasar Legi, Jl. Kenanga")
        assert text(await fake.next_message_to(budi.id)).startswith("Langkah 4/5")
        budi.press_button(await with_buttons(fake, budi.id), "Lewati ➡️")
        budi.press_button(await fake.next_message_to(budi.id), "Biasa")
        summary = await fake.next_message_to(budi.id)
        assert "Kategori: Sampah dan kebersihan" in text(summary)
        assert "tidak diangkut lima hari" in text(summary)


async def test_a_redelivered_update_changes_nothing(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, framework: str
) -> None:
    ani = fake.private_user(user_id=1003, first_name="Ani")
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        ani.send_command("/lapor")
        ani.press_button(await fake.next_message_to(ani.id), "Kesehatan")
        await fake.next_message_to(ani.id)
        update = ani.send_text("Antrean Puskesmas Sukorejo sangat panjang, pelayanan lambat.")
        await fake.next_message_to(ani.id)
        fake.redeliver(update)
        await fake.wait_idle()
        assert len(fake.messages_to(ani.id)) == 3
        ani.send_text("Puskesmas Sukorejo")
        assert text(await fake.next_message_to(ani.id)).startswith("Langkah 4/5")


async def test_the_token_never_appears_in_logs(
    fake: FakeTelegram,
    sqlite_url: str,
    tmp_path: Path,
    framework: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    eko = fake.private_user(user_id=1004, first_name="Eko")
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        eko.send_command("/start")
        await fake.next_message_to(eko.id)
    assert caplog.records
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text


async def test_an_image_sent_as_a_file_reaches_the_desk_as_a_photo(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, framework: str
) -> None:
    budi = fake.private_user(user_id=1003, first_name="Budi")
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        budi.send_command("/lapor")
        budi.press_button(await fake.next_message_to(budi.id), "Sampah dan kebersihan")
        await fake.next_message_to(budi.id)
        budi.send_text("Sampah menumpuk di TPS Pasar Legi, tidak diangkut lima hari.")
        await fake.next_message_to(budi.id)
        budi.send_text("TPS Pasar Legi, Jl. Kenanga")
        assert text(await fake.next_message_to(budi.id)).startswith("Langkah 4/5")
        budi.send_document(PHOTO_1, "IMG_2041.jpg", "image/jpeg")  # "send as file"
        photo = await fake.next_message_to(budi.id)
        assert text(photo).startswith("Foto 1/5")
        budi.press_button(photo, "✅ Selesai")
        budi.press_button(await fake.next_message_to(budi.id), "Biasa")
        budi.press_button(await fake.next_message_to(budi.id), "📨 Kirim")
        await fake.next_message_to(budi.id)
        await fake.wait_for(lambda: any(m.photo for m in fake.messages_to(ADMIN_CHAT_ID)), 3)
    [shown] = [m for m in fake.messages_to(ADMIN_CHAT_ID) if m.photo]
    assert fake.file_bytes(shown.photo[-1]["file_id"]) == PHOTO_1
    assert [c for c in fake.calls if c.status == 400] == []  # uploaded at the first try


async def test_a_photo_right_after_the_pin_is_the_first_photo(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, framework: str
) -> None:
    dewi = fake.private_user(user_id=1005, first_name="Dewi")
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        dewi.send_command("/lapor")
        dewi.press_button(await fake.next_message_to(dewi.id), "Jalan dan jembatan")
        await fake.next_message_to(dewi.id)
        dewi.send_text("Jalan di depan SDN 2 berlubang besar sejak seminggu, motor sering jatuh.")
        assert text(await fake.next_message_to(dewi.id)).startswith("Langkah 3/5")
        dewi.send_location(-8.0954, 112.1609)
        address = await fake.next_message_to(dewi.id)
        assert "boleh langsung mengirim foto" in text(address)
        address = await with_buttons(fake, dewi.id)
        dewi.send_photo(PHOTO_1)
        first = await fake.next_message_to(dewi.id)
        assert text(first).startswith("Foto 1/5 diterima")
        dewi.press_button(address, "Lewati ➡️")  # the older prompt's button
        stale = await fake.next_message_to(dewi.id)
        assert text(stale).startswith("Tombol itu sudah tidak berlaku")
        assert text(await fake.next_message_to(dewi.id)).startswith("Langkah 4/5")
        dewi.press_button(first, "✅ Selesai")
        dewi.press_button(await fake.next_message_to(dewi.id), "Biasa")
        summary = await fake.next_message_to(dewi.id)
        assert "Foto: 1 foto" in text(summary)
        assert "titik -8.09540, 112.16090" in text(summary)
        dewi.press_button(summary, "📨 Kirim")
        assert "nomor tiket" in text(await fake.next_message_to(dewi.id))
        await fake.wait_for(lambda: any(m.photo for m in fake.messages_to(ADMIN_CHAT_ID)))
        await fake.wait_for(lambda: any(m.location for m in fake.messages_to(ADMIN_CHAT_ID)))
    [shown] = [m for m in fake.messages_to(ADMIN_CHAT_ID) if m.photo]
    assert fake.file_bytes(shown.photo[-1]["file_id"]) == PHOTO_1


async def test_an_album_is_answered_with_one_message(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, framework: str
) -> None:
    eka = fake.private_user(user_id=1006, first_name="Eka")
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        eka.send_command("/lapor")
        eka.press_button(await fake.next_message_to(eka.id), "Sampah dan kebersihan")
        await fake.next_message_to(eka.id)
        eka.send_text("Sampah menumpuk di TPS Pasar Legi, tidak diangkut lima hari.")
        await fake.next_message_to(eka.id)
        eka.send_text("TPS Pasar Legi, Jl. Kenanga")
        assert text(await fake.next_message_to(eka.id)).startswith("Langkah 4/5")
        for index in range(3):
            photo = fake.register_photo(PHOTO_1 + bytes([index]))
            eka.send_message({"photo": photo, "media_group_id": "13000000000000777"})
        said = await fake.next_message_to(eka.id)
        assert text(said) == '3 foto diterima (3/5). Kirim foto lain atau tekan "Selesai".'
        await fake.wait_idle(quiet=0.5)
        assert len(fake.messages_to(eka.id)) == 5  # four questions, one answer to the album
        assert said.buttons == ["✅ Selesai", "⬅️ Kembali", "✖️ Batal"]


async def test_the_bot_introduces_itself_in_both_languages(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, framework: str
) -> None:
    async with running_bot(fake, sqlite_url, tmp_path, telegram_framework=framework):
        pass
    default = '[{"type": "default"}, ""]'
    english = '[{"type": "default"}, "en"]'
    menu = [c["command"] for c in fake.commands[default]]
    assert menu == [
        "start",
        "lapor",
        "aduansaya",
        "status",
        "batal",
        "bantuan",
        "privasi",
        "bahasa",
    ]
    assert fake.commands[default][1]["description"] == "Sampaikan aduan baru"
    assert fake.commands[english][1]["description"] == "File a new complaint"
    assert "Layanan pengaduan warga Kota Blitar" in fake.descriptions[""]
    assert "complaint service of Kota Blitar" in fake.descriptions["en"]
    assert fake.short_descriptions["id"] == fake.short_descriptions[""]
    assert len(fake.short_descriptions["en"]) <= 120
