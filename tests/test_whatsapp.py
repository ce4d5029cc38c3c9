"""Citizens on WhatsApp: the real bot and its web server, the fake Graph API for WhatsApp
and the fake Bot API for the officers, who stay on Telegram."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.runtime import KanalAduan
from storage.database import create_engine, session_factory
from storage.tables import InboxRow, OutboxRow
from tests.conftest import NEEDS_POSTGRES, fresh_database_url
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.whatsapp_api import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    FakeCitizen,
    FakeWhatsApp,
    Sent,
    sign,
)
from tests.support.desk import DESCRIPTION, City, ShiftedClock, build_city
from tests.support.proxy import CuttableProxy

SITI = "6281234567890"
PHOTO = b"\xff\xd8\xff\xe0" + b"lubang jalan" * 40
PUPR = "Dinas PUPR"


def whatsapp_settings(graph: FakeWhatsApp) -> dict[str, object]:
    return {
        "whatsapp_phone_number_id": PHONE_NUMBER_ID,
        "whatsapp_access_token": TOKEN,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "whatsapp_api_base_url": graph.base_url,
        # A conversation in a test runs faster than Meta's pair rate allows.
        "whatsapp_pair_seconds": 0.01,
        "whatsapp_pair_burst": 100,
    }


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def graph() -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp() as fake:
        yield fake


@pytest.fixture
def city(telegram: FakeTelegram, database_url: str, tmp_path: Path) -> City:
    """The sample city with its officers on Telegram, on SQLite and on PostgreSQL."""
    return build_city(telegram, database_url, tmp_path)


def listen(graph: FakeWhatsApp, app: KanalAduan) -> None:
    assert app.web is not None
    graph.webhook_url = f"{app.web.url}/webhooks/whatsapp"


async def stored_updates(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(InboxRow)) or 0)
    finally:
        await engine.dispose()


async def graph_statuses(database_url: str, wamid: str) -> dict[str, str] | None:
    """The delivery statuses recorded on the outbox row of the message ``wamid``."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(OutboxRow))).scalars()
            found = next((r for r in rows if r.payload.get("sent_ref") == wamid), None)
            return None if found is None else dict(found.payload.get("delivery") or {})
    finally:
        await engine.dispose()


async def file_complaint(siti: FakeCitizen) -> str:
    """The whole dialogue on WhatsApp; returns the ticket."""
    await siti.says("lapor")
    categories = await siti.hears("Langkah 1/5")
    # Ten categories are a list message; "cancel" comes as a button beneath it.
    assert categories.interactive_type == "list"
    assert ("d:category:jalan", "Jalan dan jembatan") in categories.choices
    assert (await siti.hears("Atau pilih")).choices == [("d:category:cancel", "✖️ Batal")]
    await siti.taps("Jalan dan jembatan")
    await siti.hears("Langkah 2/5")
    await siti.says(DESCRIPTION)
    ask_location = await siti.hears("Langkah 3/5")
    assert ask_location.interactive_type == "location_request_message"
    await siti.sends_voice_note()
    await siti.hears("pesan suara belum bisa kami terima", "Langkah 3/5")
    await siti.shares_location(-8.0954, 112.1609)
    await siti.hears("Titik lokasi diterima")
    await siti.says("Jl. Merdeka no. 5, depan SDN 2")
    await siti.hears("Langkah 4/5")
    await siti.sends_photo(PHOTO)
    await siti.hears("Foto 1/5")
    await siti.taps("✅ Selesai")
    privacy = await siti.hears("Langkah 5/5")
    assert privacy.interactive_type == "list"
    await siti.says("1")  # typing the number of a choice picks it: "Biasa"
    summary = await siti.hears("Ringkasan aduan Anda", "Kerahasiaan: biasa")
    assert "Foto: 1 foto" in summary.text
    await siti.taps("📨 Kirim")
    done = await siti.hears("nomor tiket")
    found = re.search(r"ADU-\d{4}-\d{4,}", done.text)
    assert found, done.text
    return found.group(0)


class TestAComplaintFromWhatsApp:
    async def test_filed_on_whatsapp_handled_on_telegram_and_every_move_pushed_back(
        self, city: City, graph: FakeWhatsApp, tmp_path: Path
    ) -> None:
        clock = ShiftedClock()
        async with city.bot(clock, **whatsapp_settings(graph)) as app:
            listen(graph, app)
            siti = graph.citizen(SITI, "Siti Rahayu")
            ticket = await file_complaint(siti)

            await city.wait_card(city.admin, ticket)
            card = city.card(city.admin, ticket)
            assert "Pelapor: Siti Rahayu +6281234567890 · lewat WhatsApp" in (card.text or "")
            assert DESCRIPTION in (card.text or "")
            await city.press(city.desk, card, "✅ Verifikasi")
            await siti.hears(ticket, "Aduan Anda sudah diverifikasi petugas.")

            card = await city.card_shows(city.admin, ticket, "Status: Terverifikasi")
            await city.press(city.desk, card, "📤 Disposisi")
            card = await city.card_shows(city.admin, ticket, "Pilih perangkat daerah")
            await city.press(city.desk, card, f"⭐ {PUPR}")
            await siti.hears(ticket, f"Aduan Anda sudah diteruskan ke {PUPR}.")
            await city.wait_card(city.pupr, ticket)
            agency_card = await city.card_shows(city.pupr, ticket, "Status: Didisposisikan")
            await city.press(city.pupr_officer, agency_card, "🛠️ Tindak lanjuti")
            await siti.hears(ticket, f"{PUPR} mulai menindaklanjuti aduan Anda.")

            # The officer answers on Telegram with a photo; Siti gets both on WhatsApp.
            city.pupr_officer.send_photo_in(
                city.pupr,
                caption="Tim meninjau lokasi, penambalan besok pagi.",
                reply_to=agency_card,
            )
            await siti.hears(f"Jawaban petugas ({PUPR}) untuk aduan {ticket}", "besok pagi")
            photo = await siti.hears(ticket)
            assert photo.type == "image" and len(graph.uploads) == 1

            # A day later Siti has not written: WhatsApp allows only a template.
            clock.advance(hours=25)
            agency_card = await city.card_shows(city.pupr, ticket, "Sedang ditindaklanjuti")
            await city.resolve(city.pupr_officer, agency_card, "Lubang sudah ditambal aspal.")
            template = await graph.wait_for(
                lambda: next((m for m in graph.sent_to(SITI) if m.type == "template"), None)
            )
            assert template.body["template"]["name"] == "status_aduan"
            assert template.body["template"]["language"] == {"code": "id"}
            ticket_value, status, next_step = template.text.split(" | ")
            assert (ticket_value, status) == (ticket, "Selesai")
            assert next_step.startswith("mohon jawab survei")
            # The survey is no status push: it is held back and the desk is told.
            await city.group_hears(city.admin, "gagal terkirim", ticket, "jendela 24 jam")
            # Nor is an officer's answer: its words fit no template, so it is not sent
            # (never as a repeat of the status template) and the desk is told.
            templates = [m for m in graph.sent_to(SITI) if m.type == "template"]

            def failures() -> int:
                texts = (m.text or "" for m in city.fake.messages_to(city.admin))
                return sum("gagal terkirim" in t and ticket in t for t in texts)

            before = failures()
            answer = "Mohon kirim foto lokasi ya."
            city.desk.send_text_in(city.admin, answer, city.card(city.admin, ticket))
            await city.fake.wait_for(lambda: failures() > before)
            await city.fake.wait_idle(quiet=0.3)
            assert [m for m in graph.sent_to(SITI) if m.type == "template"] == templates
            assert not any("foto lokasi" in (m.text or "") for m in graph.sent_to(SITI))

        assert graph.refused == []
        assert all(m.to == SITI for m in graph.sent)
        # Commands read as the words a WhatsApp citizen types ("status ADU-…").
        texts = " ".join(m.text or "" for m in graph.sent)
        assert f"status {ticket}" in texts
        assert not any(f"/{word}" in texts for word in ("status", "lapor", "batal", "start"))
        # Siti's photo is kept by the bot (under its SHA-256), beside the officer's.
        stored = {p.stem: p.read_bytes() for p in (tmp_path / "media").rglob("*.jpg")}
        assert stored[hashlib.sha256(PHOTO).hexdigest()] == PHOTO
        assert graph.uploads[0] in stored.values() and graph.uploads[0] != PHOTO

    async def test_an_anonymous_whatsapp_reporter_shows_no_name_number_or_id(
        self, city: City, graph: FakeWhatsApp, telegram: FakeTelegram
    ) -> None:
        async with city.bot(None, **whatsapp_settings(graph)) as app:
            listen(graph, app)
            rina = graph.citizen("6289876543210", "Rina Wulandari")
            await rina.says("lapor")
            await rina.hears("Langkah 1/5")
            await rina.taps("Bantuan sosial")
            await rina.hears("Langkah 2/5")
            await rina.says("Bansos beras tidak pernah sampai ke RT 03 RW 02 sejak tiga bulan.")
            await rina.hears("Langkah 3/5")
            await rina.says("RT 03 RW 02 Kelurahan Sananwetan")
            await rina.hears("Langkah 4/5")
            await rina.taps("Lewati ➡️")
            await rina.hears("Langkah 5/5")
            await rina.taps("🕶️ Anonim")
            await rina.hears("Ringkasan")
            await rina.says("kirim")  # typing a label picks it
            await rina.hears("nomor tiket")
            await telegram.wait_for(
                lambda: any("Bansos beras" in t for t in telegram.texts_to(city.admin))
            )
            await telegram.wait_idle(quiet=0.2)
        officer_texts = telegram.all_texts_except([])
        assert any("Anonim (identitas disembunyikan) · lewat WhatsApp" in t for t in officer_texts)
        for text in officer_texts:
            for secret in ("Rina", "Wulandari", "6289876543210", "89876543210"):
                assert secret not in text


class TestTheWebhook:
    async def test_only_meta_gets_in_and_each_message_is_applied_once(
        self, city: City, graph: FakeWhatsApp, telegram: FakeTelegram, database_url: str
    ) -> None:
        async with city.bot(None, **whatsapp_settings(graph)) as app:
            listen(graph, app)
            # Meta's handshake when the webhook is set up in the app dashboard.
            assert await graph.verify("subscribe", VERIFY_TOKEN, "1158201444") == (
                200,
                "1158201444",
            )
            assert (await graph.verify("subscribe", "guess", "1158201444"))[0] == 403

            siti = graph.citizen(SITI, "Siti")
            update = siti.update(siti._message("text", {"text": {"body": "menu"}}, "wamid.M1"))
            assert await graph.post(update, signature=None) == 401
            assert await graph.post(update, signature="sha256=" + "0" * 64) == 401
            signed_elsewhere = sign(json.dumps(update).encode(), "another-app-secret")
            assert await graph.post(update, signature=signed_elsewhere) == 401
            assert await graph.post(b"{not json") == 400
            assert await graph.post(b"{" + b" " * (1024 * 1024 + 10) + b"}") == 413
            assert await graph.post({"object": "page", "entry": []}) == 400
            assert await graph.post({"object": "whatsapp_business_account", "entry": {}}) == 400
            assert await stored_updates(database_url) == 0

            # Another number of the same Meta app is not ours to answer.
            other = json.loads(json.dumps(update).replace(PHONE_NUMBER_ID, "999999"))
            assert await graph.post(other) == 200
            assert await stored_updates(database_url) == 0

            # Meta redelivers: the same message id, in other bytes, is handled once.
            assert await graph.post(update) == 200
            again = siti.update({**update["entry"][0]["changes"][0]["value"]["messages"][0]})
            again["entry"][0]["id"] = "another-entry-id"
            assert await graph.post(again) == 200
            await siti.hears("Selamat datang")
            await graph.wait_for(lambda: app.inbox.handled >= 1)
            await siti.says("bantuan")
            await siti.hears("Cara menyampaikan aduan")
            menus = [m for m in graph.sent_to(SITI) if "Selamat datang" in m.text]
            assert len(menus) == 1

            # Throughput (130429) and pair rate (131056): waited out, then delivered.
            assert app.whatsapp is not None
            app.whatsapp.sender.throughput_wait = app.whatsapp.sender.pair_wait = 0.1
            graph.failures += [
                (400, 130429, "Rate limit hit"),
                (400, 131056, "(Business Account, Consumer Account) pair rate limit hit"),
            ]
            await siti.says("status")
            answer: Sent = await siti.hears("")
            assert len(graph.refused) == 2 and answer.to == SITI

            # Delivery statuses are recorded on the outbox row of the message.
            menu = menus[0]
            assert await graph.status(menu.wamid, SITI, "delivered") == 200
            assert await graph.status(menu.wamid, SITI, "read") == 200
            await graph.wait_for(lambda: app.inbox.handled >= 5)
            delivery = await graph_statuses(database_url, menu.wamid)
            assert delivery is not None and set(delivery) == {"delivered", "read"}

            # A failed one (Meta sends no contacts with it) is told to the desk; an
            # undeliverable number makes the citizen unreachable, as a Telegram block.
            assert await graph.status(answer.wamid, SITI, "failed", {
                "code": 131026, "title": "Message undeliverable",
            }) == 200  # fmt: skip
            alert = await city.group_hears(city.admin, "Sebuah obrolan warga memblokir bot")
            # One the outbox no longer knows: Meta's reason, never who it was for.
            assert await graph.status("wamid.UNKNOWN", SITI, "failed", {
                "code": 131000, "title": "Something went wrong",
            }) == 200  # fmt: skip
            other = await city.group_hears(city.admin, "Pesan WhatsApp ke warga", "131000")
            for text in (alert.text or "", other.text or ""):
                assert SITI not in text and "Siti" not in text


@NEEDS_POSTGRES
async def test_a_webhook_while_the_database_is_away_is_refused_so_meta_sends_it_again(
    telegram: FakeTelegram, graph: FakeWhatsApp, tmp_path: Path
) -> None:
    database_url = await fresh_database_url("postgresql", tmp_path)
    target = make_url(database_url)
    proxy = await CuttableProxy(target.host or "127.0.0.1", target.port or 5432).start()
    through = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    city = build_city(telegram, through, tmp_path)
    try:
        async with city.bot(None, **whatsapp_settings(graph)) as app:
            listen(graph, app)
            siti = graph.citizen(SITI, "Siti")
            update: dict[str, Any] = siti.update(
                siti._message("text", {"text": {"body": "menu"}}, "wamid.DOWN1")
            )
            proxy.sever()
            assert await graph.post(update) == 503
            proxy.restore()
            assert await graph.post(update) == 200
            await siti.hears("Selamat datang")
    finally:
        await proxy.stop()


def test_whatsapp_without_its_app_secret_refuses_to_start(tmp_path: Path) -> None:
    from bot.settings import Settings

    settings = Settings.model_validate(
        {
            "whatsapp_phone_number_id": PHONE_NUMBER_ID,
            "whatsapp_access_token": TOKEN,
            "whatsapp_verify_token": VERIFY_TOKEN,
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
        }
    )
    assert settings.missing_keys() == ["WHATSAPP_APP_SECRET"]
    with pytest.raises(SystemExit, match="WHATSAPP_APP_SECRET"):
        settings.require_telegram()
