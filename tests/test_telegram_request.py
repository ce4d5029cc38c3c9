"""python-telegram-bot's Bot API requests over aiohttp (``AiohttpRequest``): what the bot
sends arrives as it did over httpx, and a slow, stalled, absent or proxied Bot API is
reported as python-telegram-bot reports it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InputMediaPhoto
from telegram.error import BadRequest, NetworkError, TimedOut

from handlers.telegram.aiohttp_request import AiohttpRequest
from tests.fakes.telegram_api import TINY_JPEG, FakeTelegram
from tests.support.bot import TOKEN

CITIZEN = 1001


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        server.private_user(user_id=CITIZEN, first_name="Siti")
        yield server


def bot_on(base_url: str, request: AiohttpRequest) -> Bot:
    return Bot(
        TOKEN, base_url=f"{base_url}/bot", base_file_url=f"{base_url}/file/bot", request=request
    )


async def test_texts_keyboards_and_uploads_arrive_as_sent(fake: FakeTelegram) -> None:
    async with bot_on(fake.base_url, AiohttpRequest()) as bot:
        await bot.send_message(CITIZEN, "Laporan & foto: 50% selesai ✓", reply_markup=None)
        sheet = b"PK\x03\x04 rekap" * 10_000
        await bot.send_document(CITIZEN, sheet, filename="rekap Mei.xlsx", caption="Rekap")
        await bot.send_media_group(
            CITIZEN, [InputMediaPhoto(TINY_JPEG, caption="1"), InputMediaPhoto(TINY_JPEG)]
        )
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(424242, "x")
    text, document, *album = fake.messages_to(CITIZEN)
    assert text.text == "Laporan & foto: 50% selesai ✓"
    assert document.document is not None
    stored = fake.files[document.document["file_id"]]
    assert stored.data == sheet
    assert document.document["file_name"] == "rekap Mei.xlsx"
    assert stored.mime_type == ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert len(album) == 2


async def test_a_slow_bot_api_times_out_and_the_next_call_goes_through(
    fake: FakeTelegram,
) -> None:
    async with bot_on(fake.base_url, AiohttpRequest(read_timeout=0.5)) as bot:
        fake.respond_slowly("sendMessage", 2.0)
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(CITIZEN, "lambat")
        assert time.monotonic() - started < 1.5
        fake.heal()
        await bot.send_message(CITIZEN, "cepat")
        # A longer wait asked for one call (as getUpdates does) is given.
        fake.respond_slowly("sendMessage", 1.0)
        await bot.send_message(CITIZEN, "sabar", read_timeout=3)
    assert [m.text for m in fake.messages_to(CITIZEN)][-2:] == ["cepat", "sabar"]


async def test_an_absent_bot_api_is_a_network_error_not_a_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    request = AiohttpRequest()
    try:
        with pytest.raises(NetworkError) as raised:
            await bot_on(closed, request).get_me()
    finally:
        await request.shutdown()
    assert not isinstance(raised.value, TimedOut)
    assert "aiohttp.ClientConnectorError" in raised.value.message
    assert TOKEN not in raised.value.message


ANSWER = b'{"ok":true,"result":{"id":1,"is_bot":true,"first_name":"P","username":"proxied_bot"}}'


@contextlib.asynccontextmanager
async def raw_server() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A TCP server that records the start of each request. It answers requests made
    to it as a proxy (absolute URL) and stops reading any other (a stalled peer)."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(4096))
        if received[-1].startswith(b"POST http://"):
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(ANSWER)}\r\n\r\n".encode()
                + ANSWER
            )
        await asyncio.sleep(30)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.close()


async def test_an_upload_the_bot_api_stops_reading_times_out() -> None:
    async with raw_server() as (base_url, _):
        request = AiohttpRequest(media_write_timeout=0.5)
        try:
            started = time.monotonic()
            with pytest.raises(TimedOut):
                await bot_on(base_url, request).send_document(
                    CITIZEN, b"x" * 32_000_000, filename="besar.bin"
                )
            assert time.monotonic() - started < 5
        finally:
            await request.shutdown()


async def test_the_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with raw_server() as (proxy_url, received):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        request = AiohttpRequest()
        try:
            assert (await bot_on(fake.base_url, request).get_me()).username == "proxied_bot"
        finally:
            await request.shutdown()
        assert received and received[0].startswith(f"POST {fake.base_url}/bot".encode())

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with bot_on(fake.base_url, AiohttpRequest()) as bot:
            assert bot.username != "proxied_bot"
        assert len(received) == 1
