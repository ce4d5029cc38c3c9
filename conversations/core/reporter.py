"""What a reporter may do with a filed complaint, on any channel: answer the officers'
question while it is on hold, add information or photos while it is open, withdraw
it, ask once for a review of a rejection. Officers see each under the complaint's
cards (and the cards are edited).

Information is attached to a complaint only while it is open and waiting for it:
on hold (``tertunda``), after the citizen pressed "add information", or in the
minutes right after their answer (the rest of an album). Never to a closed one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from conversations.core.complaints import photo_payload
from conversations.core.context import CoreContext
from conversations.core.domain import Attachment, Citizen, Complaint, Event
from conversations.core.evidence import keep_photo
from conversations.core.handling import (
    ASK_ROLE,
    FOLLOW_UP_EVENT,
    Actor,
    refresh_cards,
    transition,
)
from conversations.core.lifecycle import OPEN_STATUSES, Action, IllegalTransition, Role, Status
from conversations.core.messages import ChatAddress, Inbound, InboundKind, Reply
from conversations.core.notices import reviewed, status_words
from conversations.core.outbox import queue, replied_complaint
from conversations.core.ports import FileTooLarge, UnitOfWork
from conversations.core.survey import awaiting_comment_since

log = logging.getLogger(__name__)

# After an answer resumes a complaint, further messages are added to it this long.
FOLLOW_UP_WINDOW = timedelta(minutes=10)
REASON_SHOWN = 1500


class AlreadyReviewed(IllegalTransition):
    """A rejection is reviewed at the citizen's request once."""

    def __init__(self, status: Status):
        super().__init__(status, Action.REVIEW, "once")


def citizen_actor(citizen: Citizen, complaint: Complaint) -> Actor:
    """The reporter as the history records them: nobody, when they are anonymous."""
    if complaint.anonymous:
        return Actor(Role.CITIZEN)
    return Actor(Role.CITIZEN, str(citizen.id), citizen.display_name)


def may_add(complaint: Complaint) -> bool:
    return complaint.status in OPEN_STATUSES


async def own_complaint(uow: UnitOfWork, citizen: Citizen, complaint_id: str) -> Complaint | None:
    if not complaint_id.isdigit():
        return None
    complaint = await uow.complaints.get(int(complaint_id))
    if complaint is None or complaint.citizen_id != citizen.id:
        return None
    return complaint


# information from the reporter ----------------------------------------------------


async def citizen_follow_up(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, inbound: Inbound
) -> list[Reply] | None:
    """While a complaint is ``tertunda``, the citizen's next message is the information
    asked for: attach it, copy it to the officers, and resume the complaint. Messages
    right after that (the rest of an album, a second text) are added to it too."""
    if inbound.kind not in (InboundKind.TEXT, InboundKind.PHOTO) or citizen.id is None:
        return None
    replied = await replied_complaint(uow, citizen, inbound)
    if replied is not None and replied.status is Status.TERTUNDA:
        return await answer(ctx, uow, citizen, inbound, replied)
    recent = await _recently_resumed(ctx, uow, citizen.id)
    if recent is not None and (replied is None or replied.id == recent.id):
        return await answer(ctx, uow, citizen, inbound, recent, resume=False)
    waiting = await uow.complaints.pending_for_citizen(citizen.id)
    if not waiting or await _survey_comment_is_newer(uow, citizen.id, waiting):
        return None
    if len(waiting) > 1:
        tickets = ", ".join(c.ticket for c in waiting)
        return [Reply(ctx.t(citizen.language, "followup.which", tickets=tickets))]
    return await answer(ctx, uow, citizen, inbound, waiting[0])


async def follow_up_reply(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, inbound: Inbound
) -> list[Reply] | None:
    """A reply handler: a Telegram reply to a message about a complaint on hold is the
    answer for that complaint, even while a dialogue is open."""
    if inbound.kind not in (InboundKind.TEXT, InboundKind.PHOTO) or citizen.id is None:
        return None
    replied = await replied_complaint(uow, citizen, inbound)
    if replied is None or replied.status is not Status.TERTUNDA:
        return None
    return await answer(ctx, uow, citizen, inbound, replied)


async def answer(
    ctx: CoreContext,
    uow: UnitOfWork,
    citizen: Citizen,
    inbound: Inbound,
    complaint: Complaint,
    resume: bool = True,
) -> list[Reply] | None:
    """Keep the citizen's information; on hold, the first answer also resumes the complaint."""
    if not may_add(complaint):
        return None
    resumes = resume and complaint.status is Status.TERTUNDA
    # Resuming edits the cards anyway.
    stored = await keep_information(ctx, uow, citizen, inbound, complaint, refresh=not resumes)
    if stored is None or isinstance(stored, Reply):
        return None if stored is None else [stored]
    lang = citizen.language
    if not resumes:
        return [Reply(ctx.t(lang, "followup.more", ticket=complaint.ticket))]
    await transition(
        ctx, uow, complaint, Action.RESUME, citizen_actor(citizen, complaint), notify_citizen=False
    )
    status = status_words(ctx, complaint.status, lang)
    return [Reply(ctx.t(lang, "followup.received", ticket=complaint.ticket, status=status))]


async def keep_information(
    ctx: CoreContext,
    uow: UnitOfWork,
    citizen: Citizen,
    inbound: Inbound,
    complaint: Complaint,
    refresh: bool = True,
) -> Event | Reply | None:
    """Store the message as a ``followup`` event, copy it under the cards and edit the
    cards; a Reply when a photo could not be kept, None when there is nothing to keep."""
    assert complaint.id is not None
    lang = citizen.language
    photos: list[Attachment] = []
    if inbound.kind is InboundKind.PHOTO and inbound.media:
        try:
            photos.append(await keep_photo(ctx, uow, inbound, "citizen", complaint.id, citizen.id))
        except FileTooLarge:
            return Reply(
                ctx.t(lang, "followup.too_large", max_mb=ctx.limits.max_photo_bytes // 2**20)
            )
        except Exception:
            log.warning("follow-up photo download failed", exc_info=True)
            return Reply(ctx.t(lang, "followup.failed"))
    text = (inbound.text or "").strip()
    if not text and not photos:
        return None
    event = await uow.events.add(
        Event(
            complaint_id=complaint.id,
            at=ctx.clock.now(),
            action=FOLLOW_UP_EVENT,
            actor_role=Role.CITIZEN.value,
            actor_id=None if complaint.anonymous else str(citizen.id),
            public_message=text or None,
            attachment_ids=[a.id for a in photos if a.id is not None],
        )
    )
    body = ctx.t(
        None,
        "officer.followup",
        ticket=complaint.ticket,
        message=text or ctx.t(None, "officer.followup_photo_only"),
    )
    await post_under_cards(ctx, uow, complaint, body, f"followup:{event.id}", photos)
    if refresh:
        await refresh_cards(ctx, uow, complaint, f"followup:{event.id}")
    return event


async def _recently_resumed(ctx: CoreContext, uow: UnitOfWork, citizen_id: int) -> Complaint | None:
    """The open complaint this citizen resumed with an answer in the last few minutes."""
    since = ctx.clock.now() - FOLLOW_UP_WINDOW
    best: tuple[datetime, Complaint] | None = None
    for complaint in await uow.complaints.for_citizen(citizen_id, limit=10):
        if complaint.id is None or complaint.status is Status.TERTUNDA or not may_add(complaint):
            continue
        for event in reversed(await uow.events.for_complaint(complaint.id)):
            at = event.at
            if at < since:
                break
            if event.action == Action.RESUME.value and event.actor_role == Role.CITIZEN.value:
                if best is None or at > best[0]:
                    best = (at, complaint)
                break
    return best[1] if best else None


async def _survey_comment_is_newer(
    uow: UnitOfWork, citizen_id: int, waiting: list[Complaint]
) -> bool:
    """True when the citizen said "not fixed" on a survey after the last question on
    hold: their next message is that comment, not the answer."""
    said: datetime | None = None
    for complaint in await uow.complaints.for_citizen(citizen_id, limit=10):
        if complaint.status is Status.SELESAI:
            since = await awaiting_comment_since(uow, complaint)
            if since is not None and (said is None or since > said):
                said = since
    if said is None:
        return False
    for complaint in waiting:
        assert complaint.id is not None
        asked = [
            e.at
            for e in await uow.events.for_complaint(complaint.id)
            if e.action == Action.REQUEST_INFO.value
        ]
        if asked and asked[-1] > said:
            return False
    return True


async def post_under_cards(
    ctx: CoreContext,
    uow: UnitOfWork,
    complaint: Complaint,
    body: str,
    key: str,
    photos: list[Attachment] | None = None,
) -> None:
    """Copy (never forward) a message from the reporter under every card of the
    complaint (the admin group when it has none yet)."""
    assert complaint.id is not None
    lang = ctx.catalog.default
    links = [link for link in await uow.cards.for_complaint(complaint.id) if link.role != ASK_ROLE]
    targets: list[tuple[ChatAddress, int | None]] = [
        (ChatAddress(ctx.desk_chat.channel, link.chat_id, link.thread_id), link.message_id)
        for link in links
    ] or [(ctx.desk_chat, None)]
    ids = tuple(a.id for a in photos or [] if a.id is not None)
    for address, card_id in targets:
        extra: dict[str, object] = {"reply_to": card_id} if card_id else {}
        suffix = f"{address.chat_id}:{card_id}"
        await queue(
            uow, address, Reply(body), "reply", f"{key}:{suffix}", complaint.id, extra=extra
        )
        if ids:
            caption = ctx.t(
                lang, "card.photo_caption", index=1, count=len(ids), ticket=complaint.ticket
            )
            await queue(
                uow,
                address,
                Reply(caption, photos=ids),
                "media",
                f"{key}-media:{suffix}",
                complaint.id,
                extra={**extra, "photos": photo_payload(photos or [])},
            )


# withdrawing and asking for a review -------------------------------------------------


async def withdraw(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, complaint: Complaint, reason: str | None
) -> Complaint:
    """The reporter withdraws an open complaint; officers are told under its cards.
    Raises ``IllegalTransition`` or ``Conflict`` with nothing changed."""
    reason = (reason or "").strip()[:REASON_SHOWN] or None
    await transition(
        ctx,
        uow,
        complaint,
        Action.WITHDRAW,
        citizen_actor(citizen, complaint),
        message=reason,
        notify_citizen=False,
    )
    body = ctx.t(
        None,
        "officer.withdrawn",
        ticket=complaint.ticket,
        reason=reason or ctx.t(None, "officer.no_reason"),
    )
    await post_under_cards(ctx, uow, complaint, body, f"withdrawn:{complaint.id}")
    return complaint


async def may_review(uow: UnitOfWork, complaint: Complaint) -> bool:
    assert complaint.id is not None
    if complaint.status is not Status.DITOLAK:
        return False
    return not reviewed(await uow.events.for_complaint(complaint.id))


async def request_review(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, complaint: Complaint, reason: str
) -> Complaint:
    """A rejected complaint goes back to the desk, once, with the reporter's reason.
    Raises ``AlreadyReviewed``, ``IllegalTransition`` or ``Conflict``."""
    if complaint.status is Status.DITOLAK and not await may_review(uow, complaint):
        raise AlreadyReviewed(complaint.status)
    reason = reason.strip()[:REASON_SHOWN]
    await transition(
        ctx,
        uow,
        complaint,
        Action.REVIEW,
        citizen_actor(citizen, complaint),
        message=reason,
        notify_citizen=False,
    )
    body = ctx.t(None, "officer.review_asked", ticket=complaint.ticket, reason=reason)
    await post_under_cards(ctx, uow, complaint, body, f"review:{complaint.id}")
    return complaint
