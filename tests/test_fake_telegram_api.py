"""Self-test of the fake Bot API server, driven by the real python-telegram-bot Bot over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    ReplyParameters,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter

from tests.fakes.telegram_api import TINY_JPEG, FakeTelegram

TOKEN = "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN, bot_username="kanal_aduan_bot") as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(
        TOKEN, base_url=f"{fake.base_url}/bot", base_file_url=f"{fake.base_url}/file/bot"
    ) as real_bot:
        yield real_bot


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data)] for text, data in pairs]
    )


async def test_get_me_and_wrong_token(fake: FakeTelegram, bot: Bot) -> None:
    assert bot.username == "kanal_aduan_bot"
    assert (await bot.get_me()).id == 123456
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=f"{fake.base_url}/bot"):
            pass
    assert fake.calls[-1].status == 401


async def test_message_with_inline_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    citizen = fake.private_user(user_id=1001, first_name="Siti", username="siti")
    sent = await bot.send_message(1001, "Pilih kategori", reply_markup=keyboard(("Jalan", "cat:1")))
    assert sent.from_user is not None and sent.from_user.is_bot
    [message] = fake.messages_to(citizen.id)
    assert message.text == "Pilih kategori"
    assert message.buttons == ["Jalan"]
    assert message.button_data("Jalan") == "cat:1"
    assert (await fake.next_message_to(1001)).message_id == sent.message_id


async def test_callback_data_too_long_and_empty_text(fake: FakeTelegram, bot: Bot) -> None:
    fake.private_user(user_id=1001)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(1001, "x", reply_markup=keyboard(("a", "x" * 65)))
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1001, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(4242, "x")
    assert fake.sent == []


async def test_get_updates_text_redelivery_and_callback(fake: FakeTelegram, bot: Bot) -> None:
    citizen = fake.private_user(user_id=1001, first_name="Siti")
    first = citizen.send_command("/status ABC")
    updates = await bot.get_updates(timeout=1)
    assert [u.update_id for u in updates] == [first["update_id"]]
    assert updates[0].message is not None and updates[0].message.text == "/status ABC"
    assert updates[0].message.entities[0].type == "bot_command"
    # Confirming drops it; a redelivery brings the very same update_id back once.
    assert await bot.get_updates(offset=first["update_id"] + 1, timeout=0) == ()
    fake.redeliver(first)
    again = await bot.get_updates(offset=first["update_id"] + 1, timeout=0)
    assert [u.update_id for u in again] == [first["update_id"]]

    sent = await bot.send_message(1001, "Ya?", reply_markup=keyboard(("Ya", "yes")))
    pressed = citizen.press_button(sent.message_id, "Ya")
    [update] = await bot.get_updates(offset=first["update_id"] + 1, timeout=1)
    assert update.update_id == pressed["update_id"]
    assert update.callback_query is not None and update.callback_query.data == "yes"
    await update.callback_query.answer("Oke")
    assert fake.callback_answers[0]["text"] == "Oke"
    with pytest.raises(AssertionError, match="available buttons"):
        citizen.press_button(sent.message_id, "Tidak")


async def test_long_poll_wakes_on_new_update(fake: FakeTelegram, bot: Bot) -> None:
    citizen = fake.private_user(user_id=1001)
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()
    citizen.send_text("halo")
    updates = await asyncio.wait_for(poll, 2)
    assert updates[0].message is not None and updates[0].message.text == "halo"


async def test_photo_round_trip(fake: FakeTelegram, bot: Bot) -> None:
    citizen = fake.private_user(user_id=1001)
    data = TINY_JPEG + b"extra"
    update = citizen.send_photo(data=data, caption="lubang")
    largest = update["message"]["photo"][-1]
    telegram_file = await bot.get_file(largest["file_id"])
    assert telegram_file.file_size == len(data)
    assert bytes(await telegram_file.download_as_bytearray()) == data
    # The bot can resend the photo by file_id.
    echoed = await bot.send_photo(1001, largest["file_id"], caption="diterima")
    assert echoed.photo[-1].file_id == largest["file_id"]
    assert fake.messages_to(1001)[0].photo


# PTB 22.2+ warns that RetryAfter.retry_after will become a timedelta.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limit_and_block(fake: FakeTelegram, bot: Bot) -> None:
    fake.private_user(user_id=1001)
    fake.private_user(user_id=1002)
    fake.fail_next(method="sendMessage", status=429, retry_after=2)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1001, "a")
    retry_after = caught.value.retry_after
    assert (retry_after.total_seconds() if isinstance(retry_after, timedelta) else retry_after) == 2
    await bot.send_message(1001, "b")
    fake.block(1002)
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await bot.send_message(1002, "c")
    assert fake.texts_to(1001) == ["b"]
    assert [c.status for c in fake.calls if c.method == "sendMessage"] == [429, 200, 403]
    assert fake.max_rate(1.0) == 1
    assert fake.limit_violations() == []


async def test_edit_and_identical_edit(fake: FakeTelegram, bot: Bot) -> None:
    fake.private_user(user_id=1001)
    sent = await bot.send_message(1001, "Menunggu", reply_markup=keyboard(("Batal", "cancel")))
    await bot.edit_message_text("Selesai", chat_id=1001, message_id=sent.message_id)
    [current] = fake.messages_to(1001)
    assert current.text == "Selesai"
    assert current.buttons == []  # editMessageText without reply_markup drops the keyboard
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Selesai", chat_id=1001, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=1001, message_id=999)
    assert len(fake.edits) == 1


async def test_forum_topic_and_thread(fake: FakeTelegram, bot: Bot) -> None:
    group = fake.group(chat_id=-1001234567890, title="Meja Aduan", is_forum=True, admins=[2001])
    officer = fake.private_user(user_id=2001, first_name="Budi")
    topic = await bot.create_forum_topic(group.id, "ADU-0001 Jalan rusak")
    sent = await bot.send_message(group.id, "Aduan baru", message_thread_id=topic.message_thread_id)
    assert sent.message_thread_id == topic.message_thread_id and sent.is_topic_message
    assert [m.text for m in fake.messages_to(group.id, thread_id=topic.message_thread_id)] == [
        "Aduan baru"
    ]
    reply = officer.send_text_in(group, "Sudah ditangani", reply_to=sent.message_id)
    assert reply["message"]["message_thread_id"] == topic.message_thread_id
    reply_to = await bot.send_message(
        group.id, "Dicatat", reply_parameters=ReplyParameters(reply["message"]["message_id"])
    )
    assert reply_to.reply_to_message is not None
    assert fake.sent[-1].reply_to_message_id == reply["message"]["message_id"]
    fake.delete_topic(group.id, topic.message_thread_id)
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(group.id, "x", message_thread_id=topic.message_thread_id)
    admins = await bot.get_chat_administrators(group.id)
    assert {a.user.id for a in admins} == {2001, 123456}


async def test_media_group_upload(fake: FakeTelegram, bot: Bot) -> None:
    fake.private_user(user_id=1001)
    media = [InputMediaPhoto(TINY_JPEG, caption="satu"), InputMediaPhoto(TINY_JPEG + b"2")]
    messages = await bot.send_media_group(1001, media)
    assert len(messages) == 2 and messages[0].media_group_id == messages[1].media_group_id
    assert [m.text for m in fake.messages_to(1001)] == ["satu", None]
    assert fake.max_rate(1.0, chat_id=1001) == 2  # each album item counts as a message
    biggest = messages[1].photo[-1]
    downloaded = await (await bot.get_file(biggest.file_id)).download_as_bytearray()
    assert bytes(downloaded) == TINY_JPEG + b"2"
    with pytest.raises(BadRequest):
        await bot.send_media_group(1001, [InputMediaPhoto(TINY_JPEG)])


async def test_a_document_file_id_is_refused_as_a_photo(fake: FakeTelegram, bot: Bot) -> None:
    user = fake.private_user(user_id=1001)
    document = user.send_document(TINY_JPEG, "foto.jpg", "image/jpeg")["message"]["document"]
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type document as photo"):
        await bot.send_photo(1001, document["file_id"])
    with pytest.raises(BadRequest, match=r"(?i)type document"):
        await bot.send_media_group(
            1001, [InputMediaPhoto(document["file_id"]), InputMediaPhoto(TINY_JPEG)]
        )
    sent = await bot.send_document(1001, document["file_id"])
    assert sent.document is not None


async def test_group_press_formatting_and_limits(fake: FakeTelegram, bot: Bot) -> None:
    group = fake.group(chat_id=-100555, title="Meja Aduan", admins=[2001])
    officer = fake.private_user(user_id=2001, first_name="Budi")
    sent = await bot.send_message(
        group.id,
        "<b>ADU-1</b> &amp; foto",
        parse_mode="HTML",
        reply_markup=keyboard(("Ambil", "t")),
    )
    assert fake.texts_to(group.id) == ["ADU-1 & foto"]  # stored like Telegram: markup removed
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(group.id, "1 < 2", parse_mode="HTML")
    pressed = officer.press_button(sent, "Ambil")
    assert pressed["callback_query"]["message"]["chat"]["id"] == group.id
    await fake.next_message_to(group.id)
    with pytest.raises(AssertionError, match="ADU-1"):
        await fake.next_message_to(group.id, timeout=0.2)
    for number in range(4):
        await bot.send_message(2001, f"pesan {number}")
    await fake.wait_idle(quiet=0.1)
    assert fake.max_rate(1.0, chat_id=2001) == 4
    assert fake.limit_violations() == ["private chat 2001: 4 messages within 1s (burst limit 3)"]
    assert fake.all_texts_except([group]) == [f"pesan {n}" for n in range(4)]


async def test_webhook_mode_posts_updates_with_the_secret_until_answered(
    fake: FakeTelegram, bot: Bot
) -> None:
    from aiohttp import web

    received: list[tuple[str | None, dict[str, object]]] = []
    answers = [500, 200, 200]

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        with pytest.raises(Exception, match="webhook is active"):
            await bot.get_updates(timeout=0)
        siti = fake.private_user(1001)
        first = siti.send_text("satu")
        second = siti.send_text("dua")
        await fake.wait_for(lambda: len(fake.delivered_updates) == 2)
        # The first POST got a 500 and was retried; order kept; the secret on every call.
        assert [u["update_id"] for _, u in received] == [
            first["update_id"],
            first["update_id"],
            second["update_id"],
        ]
        assert {secret for secret, _ in received} == {"s3cret"}
        assert (await bot.get_webhook_info()).url.endswith("/hook")
        assert await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == ()
    finally:
        await runner.cleanup()


async def test_webhook_backends_take_updates_in_turn_each_chat_in_order(
    fake: FakeTelegram, bot: Bot
) -> None:
    from aiohttp import web

    received: list[list[tuple[int, str]]] = [[], []]
    runners = []
    for index in range(2):

        async def hook(request: web.Request, index: int = index) -> web.Response:
            update = await request.json()
            message = update["message"]
            received[index].append((message["chat"]["id"], message["text"]))
            return web.Response(status=200)

        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
    fake.webhook_backends = [f"http://127.0.0.1:{r.addresses[0][1]}" for r in runners]
    try:
        # The registered URL's path is kept; its host is the balancer's, never called.
        assert await bot.set_webhook("http://127.0.0.1:9/hook")
        users = [fake.private_user(3001 + n) for n in range(3)]
        for number in range(4):
            for user in users:
                user.send_text(f"m{number}")
        await fake.wait_for(lambda: len(fake.delivered_updates) == 12)
        assert len(received[0]) == len(received[1]) == 6
        for user in users:
            # A chat's next update is POSTed once the previous one was answered.
            texts = [t for update in fake.delivered_updates for t in _texts(update, user.id)]
            assert texts == [f"m{n}" for n in range(4)]
            assert len(fake.webhook_routes[user.id]) == 4
    finally:
        for runner in runners:
            await runner.cleanup()


def _texts(update: dict[str, object], chat: int) -> list[str]:
    message = update.get("message")
    if isinstance(message, dict) and message["chat"]["id"] == chat:
        return [str(message["text"])]
    return []
