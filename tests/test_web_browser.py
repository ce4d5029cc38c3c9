"""A real browser: Chromium (Debian's package) driven by Playwright.

A citizen files a complaint with a photo in one browser while an officer signs in and
acts in another; the push and the answer appear on the citizen's page without a reload;
what the citizen typed (markup included) stays text on both pages; a third browser sees
nothing of it. The screenshots in docs/ are taken here.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    Dialog,
    FilePayload,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from tests.support.web import PASSWORD, add_officer, jpeg, web_bot

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_FOUND = Path(CHROMIUM).exists()
DOCS = Path(__file__).resolve().parent.parent / "docs"


def shots(tmp_path: Path) -> Path:
    """Where the screenshots go: into docs/ when KANAL_SCREENSHOTS=docs (to refresh the
    README's pictures), else beside the test, so a test run leaves the checkout clean."""
    return DOCS if os.environ.get("KANAL_SCREENSHOTS") == "docs" else tmp_path


XSS = 'Jalan berlubang <script>alert("x")</script> <img src=x onerror=alert(1)> dekat pasar.'
PHONE = ViewportSize(width=390, height=760)
DESKTOP = ViewportSize(width=1000, height=900)
ANSWER = "Terima kasih, petugas segera meninjau."


# A loaded CI machine answers slowly; a step waits this long (it passes as soon as it holds).
expect.set_options(timeout=45_000)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM_FOUND, "install Debian's chromium: apt-get install -y chromium"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def press(page: Page, label: str) -> None:
    await page.get_by_role("button", name=label, exact=True).last.click()


async def bot_says(page: Page, text: str) -> None:
    await expect(page.locator(".msg:not(.own)").last).to_contain_text(text, timeout=45_000)


async def test_a_citizen_and_an_officer_in_two_browsers(
    browser: Browser, sqlite_url: str, tmp_path: Path
) -> None:
    await add_officer(sqlite_url, "meja", "Rina Wulandari", desk=True)
    alerts: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        alerts.append(dialog.message)
        await dialog.dismiss()

    async with web_bot(sqlite_url, tmp_path) as url:
        citizen = await (await browser.new_context(viewport=PHONE)).new_page()
        citizen.on("dialog", dismiss)
        await citizen.goto(url)
        await bot_says(citizen, "Silakan pilih")
        await press(citizen, "📝 Aduan baru")
        await press(citizen, "Jalan dan jembatan")
        # Too long to send: said in her language, and what she typed stays in the box.
        await citizen.fill("#text", "Jalan rusak. " * 3000)
        await citizen.press("#text", "Enter")
        await expect(citizen.locator("#status")).to_contain_text("Pesan terlalu panjang")
        await expect(citizen.locator("#text")).to_have_value("Jalan rusak. " * 3000)
        await citizen.fill("#text", XSS)
        await citizen.press("#text", "Enter")
        await expect(citizen.locator("#text")).to_have_value("")
        # Shift+Enter breaks the line and the box grows; Enter sends.
        height = await citizen.locator("#text").evaluate("e => e.offsetHeight")
        await citizen.type("#text", "Jl. Kenari 12")
        await citizen.press("#text", "Shift+Enter")
        await citizen.type("#text", "depan pasar Legi")
        await expect(citizen.locator("#text")).to_have_value("Jl. Kenari 12\ndepan pasar Legi")
        assert await citizen.locator("#text").evaluate("e => e.offsetHeight") > height
        await citizen.press("#text", "Enter")
        await expect(citizen.locator("#text")).to_have_value("")
        await bot_says(citizen, "Kirim foto bukti")
        await citizen.set_input_files(
            "#photo", files=[FilePayload(name="jalan.jpg", mimeType="image/jpeg", buffer=jpeg())]
        )
        await bot_says(citizen, "Foto 1/5 diterima")
        await press(citizen, "✅ Selesai")
        await press(citizen, "Biasa")
        await press(citizen, "📨 Kirim")
        await bot_says(citizen, "nomor tiket")
        found = re.search(r"ADU-\d{4}-\d{4,}", await citizen.locator(".msg").last.inner_text())
        assert found
        ticket = found.group(0)
        await expect(citizen.locator(".msg.own img")).to_have_count(1)
        await citizen.screenshot(path=str(shots(tmp_path) / "web-chat.png"))

        officer = await (await browser.new_context(viewport=DESKTOP)).new_page()
        officer.on("dialog", dismiss)
        await officer.goto(f"{url}/petugas")
        await officer.fill("input[name=username]", "meja")
        await officer.fill("input[name=password]", PASSWORD)
        await officer.click("form.login button")
        await officer.click(f"text={ticket}")
        await expect(officer.locator("#description")).to_have_text(XSS)
        await expect(officer.locator(".photos img")).to_have_count(1)
        await officer.screenshot(path=str(shots(tmp_path) / "web-desk.png"), full_page=True)
        await officer.click("button[data-action=verify]")
        await expect(officer.locator(".flash")).to_have_text("Berhasil. Status: Terverifikasi")
        await officer.fill("form[action$='/jawab'] textarea", ANSWER)
        await officer.click("form[action$='/jawab'] button")
        await expect(officer.locator(".flash")).to_contain_text("diteruskan ke pelapor")

        # Live, without a reload: the status push, then the officer's answer.
        await expect(citizen.locator(".msg", has_text="sudah diverifikasi")).to_have_count(1)
        await bot_says(citizen, ANSWER)
        typed = citizen.locator(".msg.own", has_text='<script>alert("x")</script>')
        await expect(typed).to_have_count(1)
        assert alerts == []

        # The same conversation after a reload; none of it in another browser.
        await citizen.reload()
        await bot_says(citizen, ANSWER)
        stranger = await (await browser.new_context(viewport=PHONE)).new_page()
        await stranger.goto(url)
        await bot_says(stranger, "Silakan pilih")
        assert ticket not in await stranger.locator("#messages").inner_text()
        assert (await stranger.request.get(f"{url}/petugas/aduan/{ticket}")).url.endswith("/masuk")
