"""Queueing bot-initiated messages in the caller's transaction."""

from __future__ import annotations

from conversations.core.domain import Citizen, Complaint, OutboxItem
from conversations.core.messages import ChatAddress, Inbound, Reply
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


async def replied_complaint(
    uow: UnitOfWork, citizen: Citizen, inbound: Inbound
) -> Complaint | None:
    """The citizen's own complaint that the bot message they replied to was about."""
    if inbound.reply_to_message_id is None:
        return None
    complaint_id = await uow.outbox.complaint_of_sent(
        inbound.chat.chat_id, inbound.reply_to_message_id
    )
    if complaint_id is None:
        return None
    complaint = await uow.complaints.get(complaint_id)
    if complaint is None or complaint.citizen_id != citizen.id:
        return None
    return complaint
