"""Queueing bot-initiated messages in the caller's transaction."""

from __future__ import annotations

from conversations.core.domain import OutboxItem
from conversations.core.messages import ChatAddress, Reply
from conversations.core.ports import UnitOfWork


async def queue(
    uow: UnitOfWork,
    to: ChatAddress,
    reply: Reply,
    kind: str,
    dedupe_key: str,
    complaint_id: int | None = None,
    role: str | None = None,
    extra: dict[str, object] | None = None,
) -> bool:
    payload: dict[str, object] = {"reply": reply.to_dict(), **(extra or {})}
    if role is not None:
        payload["role"] = role
    return await uow.outbox.add(
        OutboxItem(
            channel=to.channel.value,
            chat_id=to.chat_id,
            thread_id=to.thread_id,
            kind=kind,
            payload=payload,
            dedupe_key=dedupe_key,
            complaint_id=complaint_id,
        )
    )


async def queue_replies(uow: UnitOfWork, to: ChatAddress, replies: list[Reply], key: str) -> None:
    for index, reply in enumerate(replies):
        await queue(uow, to, reply, "reply", f"reply:{key}:{index}")
