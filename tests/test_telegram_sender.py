"""What the Telegram sender does with awkward outbox rows, against the fake Bot API, on
both frameworks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conversations.core.domain import OutboxItem
from conversations.core.messages import Choice, Reply
from conversations.core.ports import SendOutcome
from handlers.telegram.common import BotApiSender
from storage.files import LocalFileStore
from tests.fakes.telegram_api import FakeTelegram
from tests.support.bot import FRAMEWORKS, TOKEN, framework_sender

CITIZEN = 1001


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        server.private_user(user_id=CITIZEN, first_name="Siti")
        yield server


@pytest.fixture(params=FRAMEWORKS)
async def sender(fake: FakeTelegram, request: pytest.FixtureRequest) -> AsyncIterator[BotApiSender]:
    async with framework_sender(fake, request.param) as port:
        yield port


def row(reply: Reply, **payload: object) -> OutboxItem:
    return OutboxItem(
        channel="telegram",
        chat_id=str(CITIZEN),
        kind="reply",
        payload={"reply": reply.to_dict(), **payload},
        dedupe_key="k",
    )


async def test_a_reply_to_a_deleted_message_is_sent_anyway(
    sender: BotApiSender, fake: FakeTelegram, tmp_path: Path
) -> None:
    result = await sender.deliver(
        row(Reply("Jawaban petugas"), reply_to=9999), LocalFileStore(tmp_path)
    )
    assert result.outcome is SendOutcome.SENT
    assert [m.text for m in fake.messages_to(CITIZEN)] == ["Jawaban petugas"]


async def test_leaving_the_location_step_removes_its_keyboard_and_keeps_the_buttons(
    sender: BotApiSender, fake: FakeTelegram, tmp_path: Path
) -> None:
    reply = Reply("Langkah 4/5", choices=((Choice("nav:skip", "Lewati"),),), remove_keyboard=True)
    result = await sender.deliver(row(reply), LocalFileStore(tmp_path))
    assert result.outcome is SendOutcome.SENT
    (sent,) = [call for call in fake.calls if call.method == "sendMessage"]
    assert "remove_keyboard" in str(sent.params["reply_markup"])
    assert fake.messages_to(CITIZEN)[-1].buttons == ["Lewati"]


async def test_a_reply_that_cannot_be_rendered_is_refused_not_retried(
    sender: BotApiSender, tmp_path: Path
) -> None:
    reply = Reply("x", choices=((Choice("x" * 65, "too long"),),))
    result = await sender.deliver(row(reply), LocalFileStore(tmp_path))
    assert result.outcome is SendOutcome.REJECTED
