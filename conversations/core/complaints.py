"""Filing a complaint: ticket, routing, deadlines, history, and the card for officers."""

from __future__ import annotations

from conversations.core import deadlines
from conversations.core.cards import card_location, card_media, render_card
from conversations.core.context import CoreContext
from conversations.core.domain import Attachment, Citizen, Complaint, Draft, Event
from conversations.core.lifecycle import Role, Status
from conversations.core.messages import ChatAddress
from conversations.core.outbox import queue
from conversations.core.ports import UnitOfWork


class IncompleteDraft(Exception):
    pass


def photo_payload(attachments: list[Attachment]) -> list[dict[str, object]]:
    """What a sender needs to show a photo: the platform's file id, or the stored file."""
    return [
        {"id": a.id, "path": a.path, "file_id": a.platform_file_id, "channel": a.channel}
        for a in attachments
        if a.kind == "photo"
    ]


async def post_card(
    ctx: CoreContext, uow: UnitOfWork, complaint: Complaint, citizen: Citizen | None
) -> None:
    """Queue the card, its photos and its pin for the complaint desk."""
    assert complaint.id is not None
    attachments = await uow.attachments.for_complaint(complaint.id)
    card = render_card(ctx, complaint, citizen, attachments, Role.DESK)
    desk = ctx.desk_chat
    await queue(uow, desk, card, "card", f"card:{complaint.id}:desk", complaint.id, Role.DESK)
    await queue_card_extras(ctx, uow, complaint, attachments, desk, "desk")


async def queue_card_extras(
    ctx: CoreContext,
    uow: UnitOfWork,
    complaint: Complaint,
    attachments: list[Attachment],
    to: ChatAddress,
    key: str,
    extra: dict[str, object] | None = None,
) -> None:
    """Queue what follows a card: its photos as an album, then its location pin."""
    extra = extra or {}
    media = card_media(ctx, complaint, attachments)
    if media is not None:
        await queue(
            uow,
            to,
            media,
            "media",
            f"card-media:{complaint.id}:{key}",
            complaint.id,
            extra={**extra, "photos": photo_payload(attachments)},
        )
    pin = card_location(ctx, complaint)
    if pin is not None:
        pin_key = f"card-pin:{complaint.id}:{key}"
        await queue(uow, to, pin, "location", pin_key, complaint.id, extra=extra or None)


async def submit(ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, draft: Draft) -> Complaint:
    category = ctx.config.category(draft.category or "")
    if category is None or not draft.description:
        raise IncompleteDraft()
    assert citizen.id is not None
    now = ctx.clock.now()
    complaint = Complaint(
        ticket=await uow.complaints.next_ticket(ctx.config.ticket_prefix, ctx.local(now)),
        citizen_id=citizen.id,
        channel=citizen.channel,
        chat_id=citizen.chat_id,
        language=citizen.language,
        category=category.code,
        agency=category.agency,
        description=draft.description,
        latitude=draft.latitude,
        longitude=draft.longitude,
        address=draft.address,
        anonymous=draft.anonymous,
        confidential=draft.confidential,
        status=Status.BARU,
        created_at=now,
        updated_at=now,
    )
    deadlines.on_submit(complaint, ctx.config, ctx.calendar)
    await uow.complaints.add(complaint)
    assert complaint.id is not None
    await uow.attachments.attach(draft.photo_ids, complaint.id)
    await uow.events.add(
        Event(
            complaint_id=complaint.id,
            at=now,
            action="submit",
            actor_role=Role.CITIZEN.value,
            actor_id=None if complaint.anonymous else str(citizen.id),
            to_status=Status.BARU.value,
        )
    )
    await post_card(ctx, uow, complaint, citizen)
    return complaint
