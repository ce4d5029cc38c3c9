"""Drive the web chat and the web desk over real HTTP, like a browser without a screen."""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from bot.runtime import KanalAduan
from bot.settings import Settings
from conversations.core.domain import OfficerAccount
from handlers.web.security import hash_password
from storage import migrate
from storage.database import create_engine, session_factory
from storage.web_store import SqlWebStore

PASSWORD = "rahasia-petugas-123"
_ids = itertools.count(1)


def web_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    """No token, no ADMIN_CHAT_ID: the web part alone, as on a fresh clone."""
    values: dict[str, object] = {
        "database_url": database_url,
        "media_dir": tmp_path / "media",
        "web_port": 0,
        "outbox_interval_seconds": 0.2,
        **overrides,
    }
    return Settings.model_validate(values)


@asynccontextmanager
async def web_bot(database_url: str, tmp_path: Path, **overrides: object) -> AsyncIterator[str]:
    """A running bot without Telegram; yields its web address."""
    app = KanalAduan(web_settings(database_url, tmp_path, **overrides))
    await app.start()
    try:
        assert app.web is not None
        yield app.web.url
    finally:
        await app.stop()


def jpeg(width: int = 64, height: int = 48, color: str = "orange") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG")
    return out.getvalue()


async def add_officer(
    database_url: str,
    username: str,
    display_name: str,
    agency: str | None = None,
    desk: bool = False,
) -> None:
    """What ``aduan officer add`` does, without starting a process."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        store = SqlWebStore(session_factory(engine))
        await store.add_account(
            OfficerAccount(
                username=username,
                display_name=display_name,
                password_hash=hash_password(PASSWORD),
                created_at=datetime.now(UTC),
                agency=agency,
                desk=desk,
            )
        )
    finally:
        await engine.dispose()


async def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:  # noqa: ASYNC109
    """Poll an async or plain condition until it holds; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


class WebCitizen:
    """One browser of the web chat: its own cookie jar."""

    def __init__(self, base_url: str):
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10.0)
        self.token = ""

    async def __aenter__(self) -> WebCitizen:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def open(self) -> None:
        page = await self.http.get("/")
        assert page.status_code == 200
        found = re.search(r'"token": "([0-9a-f]+)"', page.text)
        assert found, page.text[:500]
        self.token = found.group(1)

    async def post(self, message: dict[str, Any]) -> httpx.Response:
        message.setdefault("id", f"m{next(_ids)}")
        return await self.http.post(
            "/chat/api/send", json=message, headers={"X-Aduan-Token": self.token}
        )

    async def messages(self) -> list[dict[str, Any]]:
        response = await self.http.get("/chat/api/messages")
        assert response.status_code == 200
        result: list[dict[str, Any]] = response.json()["messages"]
        return result

    async def bot_texts(self) -> list[str]:
        return [m["text"] for m in await self.messages() if not m["own"]]

    async def hears(self, *texts: str) -> dict[str, Any]:
        async def heard() -> dict[str, Any] | None:
            return next(
                (
                    m
                    for m in reversed(await self.messages())
                    if not m["own"] and all(t in m["text"] for t in texts)
                ),
                None,
            )

        result: dict[str, Any] = await eventually(heard)
        return result

    async def says(self, text: str) -> None:
        before = len(await self.messages())
        response = await self.post({"kind": "text", "text": text})
        assert response.status_code == 202, response.text
        await self._answered(before)

    async def presses(self, label: str) -> None:
        for message in reversed(await self.messages()):
            for row in message["choices"]:
                for choice in row:
                    if choice["label"] == label:
                        before = len(await self.messages())
                        response = await self.post(
                            {"kind": "choice", "choice": choice["id"], "label": label}
                        )
                        assert response.status_code == 202, response.text
                        await self._answered(before)
                        return
        raise AssertionError(f"no button {label!r}")

    async def upload(self, data: bytes, name: str = "foto.jpg") -> httpx.Response:
        return await self.http.post(
            "/chat/api/photo",
            data={"id": f"p{next(_ids)}"},
            files={"photo": (name, data, "image/jpeg")},
            headers={"X-Aduan-Token": self.token},
        )

    async def _answered(self, before: int) -> None:
        """The echo and at least one answer of the bot arrived."""

        async def grown() -> bool:
            messages = await self.messages()
            return len(messages) >= before + 2 and not messages[-1]["own"]

        await eventually(grown)

    async def file_complaint(
        self,
        description: str = "Lampu jalan di depan pasar mati sejak tiga hari, gelap sekali.",
        privacy: str = "Biasa",
        photo: bytes | None = None,
    ) -> str:
        await self.says("/lapor")
        await self.presses("Jalan dan jembatan")
        await self.says(description)
        await self.says("Jl. Merdeka no. 5, depan pasar")
        if photo is not None:
            before = len(await self.messages())
            response = await self.upload(photo)
            assert response.status_code == 202, response.text
            await self._answered(before)
            await self.presses("✅ Selesai")
        else:
            await self.presses("Lewati ➡️")
        await self.presses(privacy)
        await self.presses("📨 Kirim")
        text = (await self.hears("nomor tiket"))["text"]
        found = re.search(r"ADU-\d{4}-\d{4,}", text)
        assert found, text
        return found.group(0)


class WebOfficer:
    """One officer's browser on the web desk."""

    def __init__(self, base_url: str):
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10.0, follow_redirects=True)
        self.csrf = ""

    async def __aenter__(self) -> WebOfficer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        page = await self.http.get("/petugas/masuk")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text[:500]
        response = await self.http.post(
            "/petugas/masuk",
            data={"csrf": found.group(1), "username": username, "password": password},
        )
        token = re.search(r'name="csrf" value="([^"]+)"', response.text)
        if token and "/petugas/keluar" in response.text:
            self.csrf = token.group(1)
        return response

    async def page(self, ticket: str) -> str:
        response = await self.http.get(f"/petugas/aduan/{ticket}")
        assert response.status_code == 200, response.text[:300]
        return response.text

    async def act(self, ticket: str, action: str, text: str = "", **fields: str) -> str:
        """Press an action on the complaint's page (with the version it shows); returns
        the page after the action, with its notice."""
        page = await self.page(ticket)
        version = re.search(r'name="version" value="(\d+)"', page)
        assert version, page[:500]
        response = await self.http.post(
            f"/petugas/aduan/{ticket}/tindakan",
            data={
                "csrf": self.csrf,
                "version": version.group(1),
                "action": action,
                "text": text,
                **fields,
            },
        )
        return response.text

    async def answer(self, ticket: str, text: str, what: str = "jawab") -> str:
        response = await self.http.post(
            f"/petugas/aduan/{ticket}/{what}", data={"csrf": self.csrf, "text": text}
        )
        return response.text
