"""The aiogram ``Router`` that hands Kanal Aduan's updates to its inbox (the rule is
``handlers.telegram.common.Claim``). Include it before the host's routers; handlers
registered on the ``Dispatcher`` itself run before any router.

aiogram handles updates concurrently; ``EmbeddedKanal.ingest`` stores them one at a time
in the order their handlers started, and the inbox applies each chat's in that order."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.types import TelegramObject, Update

from handlers.telegram.common import Claim, Ingest


def raw(update: Update) -> dict[str, Any]:
    return update.model_dump(mode="json", exclude_none=True, by_alias=True)


def kanal_router(rule: Claim, ingest: Ingest) -> Router:
    router = Router(name="kanal-aduan")

    # async: aiogram runs a plain function in a thread, which would lose the order in
    # which the updates of one chat reach the inbox.
    async def ours(event: TelegramObject, event_update: Update) -> bool:
        return rule.takes(raw(event_update))

    async def store(event: TelegramObject, event_update: Update) -> None:
        await ingest(raw(event_update))

    for observer in (
        router.message, router.edited_message, router.callback_query, router.my_chat_member,
    ):  # fmt: skip
        observer.register(store, ours)
    return router
