"""The web chat and the web desk over real HTTP: what a citizen and an officer can do in a
browser, and what nobody else can."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import httpx
import pytest

from handlers.web.security import LoginThrottle, Signer
from tests.fakes.telegram_api import FakeTelegram
from tests.support.desk import build_city
from tests.support.process import clean_env
from tests.support.web import (
    PASSWORD,
    WebCitizen,
    WebOfficer,
    add_officer,
    eventually,
    jpeg,
    web_bot,
)

XSS = 'Jalan rusak <script>alert("x")</script> dan <img src=x onerror=alert(1)> di pasar.'


class TestTheWebChat:
    async def test_a_citizen_files_a_complaint_with_a_photo_and_the_desk_sees_it(
        self, database_url: str, tmp_path: Path
    ) -> None:
        await add_officer(database_url, "meja", "Rina", desk=True)
        async with web_bot(database_url, tmp_path) as url, WebCitizen(url) as siti:
            await siti.open()
            await siti.says("/start")
            assert "Silakan pilih" in (await siti.bot_texts())[-1]
            ticket = await siti.file_complaint(photo=jpeg())
            shown = await siti.messages()
            assert shown[0]["own"] and shown[0]["text"] == "/start"
            assert any(m["own"] and m["photos"] for m in shown)
            async with WebOfficer(url) as rina:
                await rina.sign_in("meja")
                listing = (await rina.http.get("/petugas")).text
                assert ticket in listing
                page = await rina.page(ticket)
                assert "Lampu jalan di depan pasar mati" in page
                photo = re.search(r'src="(/petugas/foto/\d+)"', page)
                assert photo is not None
                image = await rina.http.get(photo.group(1))
                assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
                assert "Warga (web " in page  # a visitor, never the browser's id

    async def test_a_double_submit_is_applied_once(self, sqlite_url: str, tmp_path: Path) -> None:
        async with web_bot(sqlite_url, tmp_path) as url, WebCitizen(url) as siti:
            await siti.open()
            first = await siti.post({"id": "same-id", "kind": "text", "text": "/start"})
            again = await siti.post({"id": "same-id", "kind": "text", "text": "/start"})
            assert first.status_code == again.status_code == 202
            await siti.hears("Silakan pilih")
            await siti.says("/bantuan")
            texts = [m["text"] for m in await siti.messages()]
            assert texts.count("/start") == 1
            assert sum("Silakan pilih" in t for t in texts) == 1

    async def test_uploads_must_be_images_within_the_size_limit(
        self, sqlite_url: str, tmp_path: Path
    ) -> None:
        async with web_bot(sqlite_url, tmp_path) as url, WebCitizen(url) as siti:
            await siti.open()
            not_a_photo = await siti.upload(b"%PDF-1.4 not a picture at all", "surat.jpg")
            assert not_a_photo.status_code == 415
            assert not_a_photo.json()["error"].startswith("Berkas ini bukan foto")
            huge = await siti.upload(b"\xff\xd8" + b"0" * (11 * 2**20))
            assert huge.status_code == 413
            assert "paling besar 10 MB" in huge.json()["error"]
            assert await siti.messages() == []

    async def test_bad_input_gets_a_clear_answer_and_a_long_text_its_real_length(
        self, sqlite_url: str, tmp_path: Path
    ) -> None:
        async with web_bot(sqlite_url, tmp_path) as url, WebCitizen(url) as siti:
            await siti.open()
            await siti.says("/lapor")
            await siti.presses("Jalan dan jembatan")
            before = await siti.messages()
            # Too big to send at all: said in the citizen's language, nothing kept.
            huge = await siti.post({"kind": "text", "text": "Jalan rusak parah. " * 2000})
            assert huge.status_code == 413
            assert huge.json()["error"].startswith("Pesan terlalu panjang untuk dikirim")
            # A point off the Earth is refused, never echoed.
            for n, (lat, lon) in enumerate((("999", "112.16"), ("-8.09", "181"), ("NaN", "1"))):
                point = await siti.http.post(
                    "/chat/api/send",
                    content=f'{{"id": "p{n}", "kind": "location", "lat": {lat}, "lon": {lon}}}',
                    headers={"X-Aduan-Token": siti.token, "Content-Type": "application/json"},
                )
                assert point.status_code == 422
                assert point.json()["error"].startswith("Lokasi tidak dapat dibaca")
            assert await siti.messages() == before
            # Long, yet within what can be sent: the dialogue counts every character.
            long = ("Jalan berlubang di depan pasar. " * 200).strip()
            await siti.says(long)
            answer = (await siti.bot_texts())[-1]
            assert f"Uraian terlalu panjang ({len(long)} karakter)" in answer

    async def test_a_flood_of_messages_is_refused_with_a_clear_answer(
        self, sqlite_url: str, tmp_path: Path
    ) -> None:
        async with (
            web_bot(sqlite_url, tmp_path, web_session_per_minute=4) as url,
            WebCitizen(url) as siti,
        ):
            await siti.open()
            answers = [await siti.post({"kind": "text", "text": f"halo {n}"}) for n in range(5)]
            assert [a.status_code for a in answers] == [202, 202, 202, 202, 429]
            assert answers[-1].json()["error"].startswith("Terlalu cepat")

    async def test_nothing_of_one_browser_is_reachable_from_another(
        self, sqlite_url: str, tmp_path: Path
    ) -> None:
        async with (
            web_bot(sqlite_url, tmp_path) as url,
            WebCitizen(url) as siti,
            WebCitizen(url) as joko,
            WebCitizen(url) as other_device,
        ):
            await siti.open()
            ticket = await siti.file_complaint(photo=jpeg())
            mine = await siti.messages()
            await joko.open()
            assert await joko.messages() == []
            # Guessing: every message id, every photo index, the media of Siti's own messages.
            for item in range(1, max(m["id"] for m in mine) + 5):
                for index in (0, 1):
                    guessed = await joko.http.get(f"/chat/media/{item}/{index}")
                    assert guessed.status_code == 404
            siti_photo = next(p for m in mine for p in m["photos"])
            assert (await siti.http.get(siti_photo)).status_code == 200
            assert (await joko.http.get(siti_photo)).status_code == 404
            # Joko's own status lookup of Siti's ticket finds nothing.
            await joko.says(f"/status {ticket}")
            assert "Lampu jalan" not in (await joko.bot_texts())[-1]
            # A cookie not signed by the server is a stranger; a write without the page's
            # token is refused.
            forged = httpx.Cookies()
            forged.set("aduan_warga", "AAAAAAAAAAAAAAAAAAAAAAAA")
            async with httpx.AsyncClient(base_url=url, cookies=forged) as intruder:
                assert (await intruder.get("/chat/api/messages")).json() == {"messages": []}
            stolen = await joko.http.post(
                "/chat/api/send",
                json={"id": "x1", "kind": "text", "text": "hi"},
                headers={"X-Aduan-Token": siti.token},
            )
            assert stolen.status_code == 403
            # Siti's private link moves her conversation to another device, and only hers.
            link = (await siti.http.get("/chat/api/link")).json()["url"]
            tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
            assert (await other_device.http.get(tampered)).status_code == 303
            assert await other_device.messages() == []
            await other_device.http.get(link)
            assert [m["id"] for m in await other_device.messages()] == [m["id"] for m in mine]


class TestTheWebDesk:
    async def test_a_wrong_password_or_an_old_form_signs_nobody_in(
        self, sqlite_url: str, tmp_path: Path
    ) -> None:
        await add_officer(sqlite_url, "meja", "Rina", desk=True)
        async with web_bot(sqlite_url, tmp_path) as url, WebOfficer(url) as rina:
            wrong = await rina.sign_in("meja", "salah-sekali-123")
            assert "Nama pengguna atau kata sandi salah." in wrong.text
            assert "aduan_petugas" not in rina.http.cookies
            stale = await rina.http.post(
                "/petugas/masuk", data={"csrf": "old", "username": "meja", "password": PASSWORD}
            )
            assert "Formulir sudah kedaluwarsa" in stale.text
            signed = await rina.sign_in("meja")
            assert "Masuk sebagai Rina (meja aduan)" in signed.text

    def test_failed_sign_ins_slow_the_next_ones_down_then_are_refused(self) -> None:
        now = [0.0]
        throttle = LoginThrottle(base_delay=0.5, max_delay=8.0, lock_after=5, clock=lambda: now[0])
        keys = ("user:meja", "address:10.0.0.1")
        delays = []
        for _ in range(5):
            delays.append(throttle.delay(*keys))
            throttle.failed(*keys)
        assert delays == [0.0, 0.5, 1.0, 2.0, 4.0]
        assert throttle.locked(*keys)
        assert throttle.locked("user:other", "address:10.0.0.1")  # the same address
        now[0] += 901
        assert not throttle.locked(*keys) and throttle.delay(*keys) == 0.0

    async def test_forms_without_the_sessions_csrf_token_change_nothing(
        self, sqlite_url: str, tmp_path: Path
    ) -> None:
        await add_officer(sqlite_url, "meja", "Rina", desk=True)
        async with web_bot(sqlite_url, tmp_path) as url, WebCitizen(url) as siti:
            await siti.open()
            ticket = await siti.file_complaint()
            async with WebOfficer(url) as rina:
                await rina.sign_in("meja")
                rina.csrf = "forged"
                page = await rina.act(ticket, "verify")
                assert "Formulir sudah kedaluwarsa" in page
                assert "Baru (menunggu verifikasi)" in page

    async def test_an_agency_officer_sees_and_handles_only_their_agencys_complaints(
        self, sqlite_url: str, tmp_path: Path
    ) -> None:
        await add_officer(sqlite_url, "meja", "Rina", desk=True)
        await add_officer(sqlite_url, "wati", "Wati", agency="pupr")
        await add_officer(sqlite_url, "dodi", "Dodi", agency="dlh")
        async with web_bot(sqlite_url, tmp_path) as url, WebCitizen(url) as siti:
            await siti.open()
            ticket = await siti.file_complaint()
            async with WebOfficer(url) as rina, WebOfficer(url) as wati, WebOfficer(url) as dodi:
                await rina.sign_in("meja")
                await wati.sign_in("wati")
                await dodi.sign_in("dodi")
                # Not yet dispatched: the category's agency does not see it, in any list.
                assert ticket not in (await wati.http.get("/petugas?status=all")).text
                assert (await wati.http.get(f"/petugas/aduan/{ticket}")).status_code == 404
                done = await rina.act(ticket, "dispatch", agency="pupr")
                assert "Berhasil. Status: Didisposisikan" in done
                await siti.hears(ticket, "Aduan Anda sudah diteruskan ke Dinas PUPR.")
                assert ticket in (await wati.http.get("/petugas")).text
                assert ticket not in (await dodi.http.get("/petugas")).text
                assert (await dodi.http.get(f"/petugas/aduan/{ticket}")).status_code == 404
                refused = await dodi.http.post(
                    f"/petugas/aduan/{ticket}/tindakan",
                    data={"csrf": dodi.csrf, "version": "3", "action": "start"},
                )
                assert refused.status_code == 404
                page = await wati.page(ticket)
                assert 'data-action="start"' in page and 'data-action="verify"' not in page
                started = await wati.act(ticket, "start")
                assert "Status: Sedang ditindaklanjuti" in started
                await siti.hears(ticket, "Dinas PUPR mulai menindaklanjuti aduan Anda.")
                empty = await wati.act(ticket, "resolve", text="")
                assert "perlu teks bagi pelapor" in empty
                resolved = await wati.act(ticket, "resolve", text="Lampu sudah diganti.")
                assert "Status: Selesai" in resolved
                await siti.hears("Lampu sudah diganti.")
                await siti.hears("Beri nilai 1–5", ticket)
                await wati.answer(ticket, "Terima kasih atas laporannya.")
                await siti.hears("Terima kasih atas laporannya.")
                await wati.answer(ticket, "Petugas lapangan: Pak Slamet.", what="catatan")
                history = await rina.page(ticket)
                assert "Petugas lapangan: Pak Slamet." in history
                assert "Petugas lapangan" not in " ".join(await siti.bot_texts())

    async def test_texts_are_escaped_and_anonymous_reporters_stay_hidden(
        self, sqlite_url: str, tmp_path: Path
    ) -> None:
        await add_officer(sqlite_url, "meja", "Rina", desk=True)
        async with web_bot(sqlite_url, tmp_path) as url, WebCitizen(url) as siti:
            await siti.open()
            ticket = await siti.file_complaint(description=XSS, privacy="🕶️ Anonim")
            assert any(XSS in m["text"] for m in await siti.messages() if m["own"])
            async with WebOfficer(url) as rina:
                await rina.sign_in("meja")
                page = await rina.page(ticket)
            assert "<script>alert" not in page and "<img src=x" not in page
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
            assert "Anonim (identitas disembunyikan)" in page
            assert "Warga (web " not in page

    async def test_without_a_desk_group_the_desks_messages_show_on_the_web_desk(
        self, sqlite_url: str, tmp_path: Path
    ) -> None:
        await add_officer(sqlite_url, "meja", "Rina", desk=True)
        async with web_bot(sqlite_url, tmp_path) as url, WebCitizen(url) as siti:
            await siti.open()
            ticket = await siti.file_complaint()
            await siti.says("/aduansaya")
            await siti.presses("➕ Tambah keterangan")
            await siti.says("Tiangnya juga miring.")
            async with WebOfficer(url) as rina:
                await rina.sign_in("meja")

                async def feed() -> str | None:
                    text = (await rina.http.get("/petugas/kabar")).text
                    return text if "Tiangnya juga miring." in text else None

                shown = await eventually(feed)
            assert f"🆕 Aduan {ticket}" in shown
            assert f"Informasi tambahan dari pelapor untuk aduan {ticket}" in shown


def test_signed_values_are_bound_to_their_purpose() -> None:
    signer = Signer("k" * 48)
    browser = signer.sign("browser", "abcdefghijklmnopqrstuvwx")
    assert signer.unsign("browser", browser) == "abcdefghijklmnopqrstuvwx"
    assert signer.unsign("flash", browser) is None
    assert Signer("another key" * 4).unsign("browser", browser) is None


@pytest.mark.parametrize("value", ["", "not-signed", "a.b.c"])
def test_garbage_never_passes_as_a_signed_value(value: str) -> None:
    assert Signer("k" * 48).unsign("browser", value) is None


class TestTheWebDeskBesideTelegram:
    """One desk, two front ends: what is done on the web reaches the citizen on Telegram and
    the Telegram cards; what is done in the group shows on the web desk."""

    async def test_web_and_telegram_officers_work_on_the_same_complaint(
        self, tmp_path: Path, sqlite_url: str
    ) -> None:
        async with FakeTelegram() as fake:
            city = build_city(fake, sqlite_url, tmp_path)
            await add_officer(sqlite_url, "meja", "Rina", desk=True)
            async with city.bot() as app:
                assert app.web is not None
                ticket = await city.file_complaint()
                async with WebOfficer(app.web.url) as rina:
                    await rina.sign_in("meja")
                    assert ticket in (await rina.http.get("/petugas")).text
                    done = await rina.act(ticket, "verify")
                    assert "Berhasil. Status: Terverifikasi" in done
                    await city.card_shows(city.admin, ticket, "Status: Terverifikasi", "oleh Rina")
                    await city.citizen_hears(ticket, "Aduan Anda sudah diverifikasi petugas.")

                    card = city.card(city.admin, ticket)
                    await city.press(city.desk, card, "📤 Disposisi")
                    card = await city.card_shows(city.admin, ticket, "Pilih perangkat daerah")
                    await city.press(city.desk, card, "⭐ Dinas PUPR")
                    page = await rina.page(ticket)
                    assert "Didisposisikan" in page and "oleh Budi" in page

                    # A form from before Budi's dispatch: Budi was first, nothing changes.
                    stale = await rina.http.post(
                        f"/petugas/aduan/{ticket}/tindakan",
                        data={"csrf": rina.csrf, "version": "2", "action": "dispatch"},
                    )
                    assert "sudah ditangani oleh Budi" in stale.text
                    await rina.answer(ticket, "Tim kami meninjau lokasi besok pagi.")
                    await city.citizen_hears("Tim kami meninjau lokasi besok pagi.")


async def aduan_with_input(cwd: Path, stdin: bytes, *args: str, **env: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=clean_env(cwd, **env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_aduan_officer_add_makes_an_account_that_signs_in(
    sqlite_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": sqlite_url, "MEDIA_DIR": str(tmp_path / "media")}
    code, out = await aduan_with_input(
        tmp_path, b"kata-sandi-wati-1\n", "officer", "add", "wati", "--agency", "pupr", **env
    )
    assert code == 0, out
    assert "kata-sandi-wati-1" not in out
    code, out = await aduan_with_input(
        tmp_path, b"x\n", "officer", "add", "joko", "--agency", "nope", **env
    )
    assert code == 1 and "unknown agency nope" in out
    code, out = await aduan_with_input(tmp_path, b"", "officer", "list", **env)
    assert code == 0 and out.splitlines()[-1] == "wati\twati\tagency pupr"
    async with web_bot(sqlite_url, tmp_path) as url, WebOfficer(url) as wati:
        signed = await wati.sign_in("wati", "kata-sandi-wati-1")
        assert "Masuk sebagai wati (Dinas PUPR)" in signed.text
