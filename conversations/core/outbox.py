"""Queueing bot-initiated messages in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from conversations.core.choices import flat, to_stored
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
    not_before: datetime | None = None,
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
            next_attempt_at=not_before,
        )
    )


async def offer(uow: UnitOfWork, citizen_id: int, replies: list[Reply]) -> None:
    """Remember the choices of the last of ``replies`` a citizen reads (a photo's caption
    does not count): typed answers pick from them, and a message without choices ends them."""
    shown = [reply for reply in replies if not reply.photos and not reply.location]
    if shown:
        await uow.citizens.offer(citizen_id, to_stored(flat(shown[-1])))


async def queue_to_citizen(
    uow: UnitOfWork,
    citizen_id: int,
    to: ChatAddress,
    reply: Reply,
    kind: str,
    dedupe_key: str,
    complaint_id: int | None = None,
    extra: dict[str, object] | None = None,
) -> bool:
    """Queue a message to a citizen's chat and remember the choices it offers."""
    queued = await queue(uow, to, reply, kind, dedupe_key, complaint_id, extra=extra)
    if queued:
        await offer(uow, citizen_id, [reply])
    return queued


async def queue_replies(uow: UnitOfWork, to: ChatAddress, replies: list[Reply], key: str) -> None:
    for index, reply in enumerate(replies):
        await queue(uow, to, reply, "reply", f"reply:{key}:{index}")


async def queue_gathered(
    uow: UnitOfWork, to: ChatAddress, reply: Reply, key: str, not_before: datetime
) -> str:
    """Queue ``reply`` to go out at ``not_before`` unless a later call replaces it first:
    several updates (the photos of an album) then make one message. Returns the key
    the message is queued under; pass it again to replace the message."""
    payload: dict[str, object] = {"reply": reply.to_dict()}
    index = 1
    while True:
        # Once a message is on its way, the rest of the album gets a message of its own.
        current = key if index == 1 else f"{key}:{index}"
        if await uow.outbox.revise(current, payload, not_before):
            return current
        if await queue(uow, to, reply, "reply", current, not_before=not_before):
            return current
        index += 1


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
