"""Moving a complaint through its lifecycle, with everything a move brings along.

``transition`` is the one entry point for every status change, whoever makes it
(desk officer, agency officer, the citizen, the scheduler). In the caller's unit
of work it checks the move against the table in ``lifecycle``, saves the complaint
under its optimistic lock, records the event, queues the push to the citizen,
queues an edit of every card that shows the complaint and, on dispatch, posts the
card to the agency. The caller commits, then calls ``ctx.wake_outbox()``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from conversations.core import deadlines
from conversations.core.cards import render_card
from conversations.core.complaints import photo_payload, queue_card_extras
from conversations.core.context import CoreContext
from conversations.core.domain import Attachment, CardLink, Citizen, Complaint, Event
from conversations.core.lifecycle import (
    FINAL_STATUSES,
    NEEDS_TEXT,
    Action,
    IllegalTransition,
    Role,
    Status,
    plan,
)
from conversations.core.messages import Channel, ChatAddress, Choice, Reply
from conversations.core.notices import (
    complaint_choices,
    next_step,
    push_text,
    reviewed,
    status_words,
    survey_key,
    survey_reply,
)
from conversations.core.outbox import queue, queue_to_citizen
from conversations.core.ports import UnitOfWork

log = logging.getLogger(__name__)

AGENCY_ROLE = "agency:"
ASK_ROLE = "ask"
DESK_ROLE = Role.DESK.value
# Statuses in which the agency's card carries buttons.
AGENCY_WORKING = frozenset({Status.DIDISPOSISIKAN, Status.DITINDAKLANJUTI})
# Complaints nobody works on any more; their cards need no "unreachable" line.
FINAL = FINAL_STATUSES
OPEN_COMPLAINTS_SCAN = 50
# The reporter's information added to a complaint (an event without a status change).
FOLLOW_UP_EVENT = "followup"


@dataclass(frozen=True)
class Actor:
    """Who makes a move: their role, and for people their platform id and name."""

    role: Role
    user_id: str | None = None
    name: str | None = None


SYSTEM = Actor(Role.SYSTEM)


class Conflict(Exception):
    """Someone else changed the complaint first; ``winner`` is who, when known."""

    def __init__(self, complaint: Complaint, winner: str | None):
        super().__init__(f"complaint {complaint.ticket} changed by {winner or 'someone'}")
        self.complaint = complaint
        self.winner = winner


class MessageRequired(IllegalTransition):
    """Reject, not-our-authority and ask-for-information need a text the citizen sees."""

    def __init__(self, status: Status, action: Action):
        super().__init__(status, action, "message")


def agency_role(code: str) -> str:
    return f"{AGENCY_ROLE}{code}"


def agency_may_act(complaint: Complaint) -> bool:
    """Whether the agency works on the complaint now (its card carries buttons). On hold
    after the agency had it, the agency may resume it without an answer."""
    return complaint.status in AGENCY_WORKING or (
        complaint.status is Status.TERTUNDA and complaint.resume_status in AGENCY_WORKING
    )


def card_agency(link: CardLink) -> str | None:
    """The agency whose card this is, or None for the desk card."""
    return link.role[len(AGENCY_ROLE) :] if link.role.startswith(AGENCY_ROLE) else None


def agency_destination(ctx: CoreContext, code: str) -> tuple[ChatAddress, dict[str, object]] | None:
    """Where the agency's card goes: its own chat, its topic in the admin group, or nowhere
    (then the desk card serves the agency too). Topics are resolved when sending."""
    agency = ctx.config.agency(code)
    if agency is None or ctx.desk_chat.channel is Channel.WEB:
        # Agency chats are groups of the desk's platform; the web desk shows agency
        # officers their complaints itself.
        return None
    if agency.chat_id is not None:
        address = ChatAddress(ctx.desk_chat.channel, str(agency.chat_id), agency.thread_id)
        return address, {}
    if agency.use_topic:
        return ChatAddress(ctx.desk_chat.channel, ctx.desk_chat.chat_id), {
            "agency_topic": agency.code,
            "topic_name": agency.name[:128],
        }
    return None


def actor_label(ctx: CoreContext, actor_role: str, actor_name: str | None, lang: str) -> str:
    if actor_role == Role.CITIZEN.value:
        return ctx.t(lang, "officer.actor_citizen")
    if actor_role == Role.SYSTEM.value:
        return ctx.t(lang, "officer.actor_system")
    return actor_name or ctx.t(lang, "officer.actor_unknown")


def done_label(ctx: CoreContext, action: str, lang: str) -> str:
    """What happened, as the card footer and the history say it; any event has one."""
    key = f"officer.done.{action}"
    if ctx.catalog.has(key, lang) or ctx.catalog.has(key):
        return ctx.t(lang, key)
    return ctx.t(lang, "officer.done_other", action=action)


def card_footer(ctx: CoreContext, event: Event, lang: str) -> str:
    return ctx.t(
        lang,
        "officer.card_footer",
        when=ctx.format_datetime(event.at),
        action=done_label(ctx, event.action, lang),
        actor=actor_label(ctx, event.actor_role, event.actor_name, lang),
    )


async def card_for(
    ctx: CoreContext,
    uow: UnitOfWork,
    complaint: Complaint,
    role: str,
    footer: str | None = None,
    full: bool = False,
) -> Reply:
    """The card as shown to the desk or to an agency, with the buttons of the state.

    ``full`` keeps the whole description, for ``/aduan``; a posted card never has it.
    """
    assert complaint.id is not None
    citizen = await uow.citizens.get(complaint.citizen_id)
    attachments = await uow.attachments.for_complaint(complaint.id)
    history = await uow.events.for_complaint(complaint.id)
    additions = sum(1 for e in history if e.action == FOLLOW_UP_EVENT)
    code = role[len(AGENCY_ROLE) :] if role.startswith(AGENCY_ROLE) else None
    if code is None:
        return render_card(
            ctx,
            complaint,
            citizen,
            attachments,
            Role.DESK,
            footer=footer,
            full=full,
            additions=additions,
        )
    buttons = code == complaint.agency and agency_may_act(complaint)
    return render_card(
        ctx,
        complaint,
        citizen,
        attachments,
        Role.AGENCY,
        footer=footer,
        buttons=buttons,
        full=full,
        additions=additions,
    )


async def last_move_footer(ctx: CoreContext, uow: UnitOfWork, complaint: Complaint) -> str | None:
    """The footer of the complaint's latest move (who acted, when), as its cards show it."""
    assert complaint.id is not None
    moves = [e for e in await uow.events.for_complaint(complaint.id) if e.from_status]
    return card_footer(ctx, moves[-1], ctx.catalog.default) if moves else None


async def refresh_cards(
    ctx: CoreContext,
    uow: UnitOfWork,
    complaint: Complaint,
    key: str | None = None,
    footer: str | None = None,
) -> None:
    """Queue an edit of every posted card of the complaint to show its state now.

    ``transition`` passes its event's id and footer. Others (the reporter became
    unreachable, say) call it with the complaint alone: the edit keeps the footer
    of the latest move and is keyed by the time, or by ``key`` when given.
    """
    assert complaint.id is not None
    if footer is None:
        footer = await last_move_footer(ctx, uow, complaint)
    if key is None:
        key = f"refresh:{complaint.version}:{ctx.clock.now().isoformat()}"
    for link in await uow.cards.for_complaint(complaint.id):
        if link.role == ASK_ROLE:
            continue
        reply = await card_for(ctx, uow, complaint, link.role, footer)
        await queue(
            uow,
            ChatAddress(ctx.desk_chat.channel, link.chat_id, link.thread_id),
            reply,
            "edit",
            f"edit:{key}:{link.chat_id}:{link.message_id}",
            complaint.id,
            extra={"message_id": link.message_id},
        )


async def post_agency_card(
    ctx: CoreContext, uow: UnitOfWork, complaint: Complaint, key: str, footer: str | None
) -> None:
    assert complaint.id is not None
    target = agency_destination(ctx, complaint.agency)
    if target is None:
        return
    address, extra = target
    role = agency_role(complaint.agency)
    card = await card_for(ctx, uow, complaint, role, footer)
    await queue(
        uow, address, card, "card", f"card:{complaint.id}:{role}:{key}", complaint.id, role, extra
    )
    attachments = await uow.attachments.for_complaint(complaint.id)
    await queue_card_extras(ctx, uow, complaint, attachments, address, f"{role}:{key}", extra)


async def refresh_reporter_cards(ctx: CoreContext, uow: UnitOfWork, citizen_id: int) -> int:
    """In the caller's unit of work, queue edits of the cards of the citizen's open
    complaints (to show, or stop showing, that the reporter cannot be reached).
    Returns how many complaints; the caller commits and wakes the outbox."""
    complaints = await uow.complaints.for_citizen(citizen_id, limit=OPEN_COMPLAINTS_SCAN)
    open_ones = [c for c in complaints if c.status not in FINAL]
    for complaint in open_ones:
        await refresh_cards(ctx, uow, complaint)
    return len(open_ones)


async def reporter_unreachable(ctx: CoreContext, channel: str, chat_id: str) -> int:
    """A chat blocked the bot: if it is a reporter's, show that on the cards of their
    open complaints. Call it once the citizen is marked ``unreachable``
    (``Deliverer.on_unreachable``); returns how many complaints' cards are edited."""
    async with ctx.uow() as uow:
        citizen = await uow.citizens.find_by_chat(channel, chat_id)
        if citizen is None or citizen.id is None or not citizen.unreachable:
            return 0
        count = await refresh_reporter_cards(ctx, uow, citizen.id)
        await uow.commit()
    if count:
        ctx.wake_outbox()
    return count


def citizen_address(complaint: Complaint, citizen: Citizen | None) -> ChatAddress:
    channel = Channel(citizen.channel if citizen else complaint.channel)
    return ChatAddress(channel, citizen.chat_id if citizen else complaint.chat_id)


async def push_to_citizen(
    ctx: CoreContext,
    uow: UnitOfWork,
    complaint: Complaint,
    text: str,
    key: str,
    attachments: list[Attachment] | None = None,
    choices: tuple[tuple[Choice, ...], ...] = (),
    status_change: bool = True,
) -> None:
    """Queue a message to the reporter (text, then photos) in their own chat.

    A status change carries its summary in three short values, for channels that may
    only send a fixed template (WhatsApp, after its 24-hour window); an officer's
    answer has none: its words cannot be put in a status template, so such a channel
    does not send it and tells the desk."""
    assert complaint.id is not None
    citizen = await uow.citizens.get(complaint.citizen_id)
    address = citizen_address(complaint, citizen)
    lang = citizen.language if citizen else complaint.language
    extra: dict[str, object] = {}
    if status_change:
        extra["summary"] = {
            "ticket": complaint.ticket,
            "status": status_words(ctx, complaint.status, lang),
            "next": next_step(ctx, complaint, lang),
        }
    await queue_to_citizen(
        uow,
        complaint.citizen_id,
        address,
        Reply(text, choices=choices),
        "push",
        key,
        complaint.id,
        extra=extra,
    )
    photos = [a for a in attachments or [] if a.kind == "photo" and a.id is not None]
    if photos:
        caption = ctx.t(lang, "notify.photo_caption", ticket=complaint.ticket)
        await queue(
            uow,
            address,
            Reply(caption, photos=tuple(a.id for a in photos if a.id is not None)),
            "push",
            f"{key}:photos",
            complaint.id,
            extra={"photos": photo_payload(photos)},
        )


def _apply(ctx: CoreContext, complaint: Complaint, action: Action, target: Status) -> None:
    now = ctx.clock.now()
    source = complaint.status
    if action is Action.DISPATCH:
        deadlines.on_dispatch(complaint, now, ctx.config, ctx.calendar)
    elif action is Action.START:
        complaint.followed_up_at = now
    elif action is Action.RESOLVE:
        complaint.followed_up_at = complaint.followed_up_at or now
        deadlines.on_resolve(complaint, now, ctx.config, ctx.calendar)
    elif action is Action.REQUEST_INFO:
        complaint.resume_status = source
    elif action is Action.RESUME:
        complaint.resume_status = None
    elif action is Action.REOPEN:
        complaint.resolved_at = None
        complaint.autoclose_due = None
        complaint.closed_at = None
    elif action in (Action.CLOSE, Action.WITHDRAW):
        complaint.closed_at = now
    if target is Status.BARU and action in (Action.REOPEN, Action.REVIEW):
        deadlines.on_reopen_to_desk(complaint, now, ctx.config, ctx.calendar)
    complaint.status = target
    complaint.updated_at = now


async def transition(
    ctx: CoreContext,
    uow: UnitOfWork,
    complaint: Complaint,
    action: Action,
    actor: Actor,
    message: str | None = None,
    note: str | None = None,
    agency: str | None = None,
    notify_citizen: bool = True,
    attachments: list[Attachment] | None = None,
) -> Complaint:
    """Make one move, or raise ``IllegalTransition`` / ``Conflict`` with nothing changed.

    ``complaint`` is the record as the caller loaded it; its version is the one
    expected in the database. ``message`` is what the citizen reads (a reason, a
    question, an answer); ``note`` stays internal. ``agency`` picks the agency on
    dispatch (default: the complaint's current one, i.e. the category's).
    ``notify_citizen=False`` when the citizen's own answer caused the move and the
    caller replies to them itself. ``attachments`` (an officer's photos, such as the
    "after" photo of a resolution) go with the event and the push. A resolution's
    push is followed by the survey, queued under the key the survey scan uses.
    """
    assert complaint.id is not None
    move = plan(complaint.status, action, actor.role, complaint.resume_status)
    message = (message or "").strip() or None
    if action in NEEDS_TEXT and message is None and actor.role is not Role.SYSTEM:
        raise MessageRequired(complaint.status, action)
    if action is Action.DISPATCH:
        code = agency or complaint.agency
        if ctx.config.agency(code) is None:
            raise IllegalTransition(complaint.status, action, "agency")
        complaint.agency = code
    expected = complaint.version
    _apply(ctx, complaint, action, move.target)
    if not await uow.complaints.update(complaint, expected):
        fresh = await uow.complaints.get(complaint.id)
        winner = None
        if fresh is not None:
            history = await uow.events.for_complaint(complaint.id)
            if history:
                last = history[-1]
                winner = actor_label(ctx, last.actor_role, last.actor_name, ctx.catalog.default)
        raise Conflict(fresh or complaint, winner)
    hidden = actor.role is Role.CITIZEN and complaint.anonymous
    event = await uow.events.add(
        Event(
            complaint_id=complaint.id,
            at=ctx.clock.now(),
            action=action.value,
            actor_role=actor.role.value,
            actor_id=None if hidden else actor.user_id,
            actor_name=None if hidden else actor.name,
            from_status=move.source.value,
            to_status=move.target.value,
            public_message=message,
            note=note,
            attachment_ids=[a.id for a in attachments or [] if a.id is not None],
        )
    )
    await uow.requests.clear(complaint.id)
    citizen = await uow.citizens.get(complaint.citizen_id)
    lang = citizen.language if citizen else complaint.language
    if notify_citizen:
        history = await uow.events.for_complaint(complaint.id)
        await push_to_citizen(
            ctx,
            uow,
            complaint,
            push_text(ctx, complaint, event, lang),
            f"push:{event.id}",
            attachments,
            complaint_choices(ctx, complaint, lang, reviewed=reviewed(history)),
        )
        if action is Action.RESOLVE and not (citizen and citizen.unreachable):
            await queue_to_citizen(
                uow,
                complaint.citizen_id,
                citizen_address(complaint, citizen),
                survey_reply(ctx, complaint, lang),
                "survey",
                survey_key(complaint),
                complaint.id,
            )
    footer = card_footer(ctx, event, ctx.catalog.default)
    await refresh_cards(ctx, uow, complaint, str(event.id), footer)
    if action is Action.DISPATCH:
        await post_agency_card(ctx, uow, complaint, str(event.id), footer)
    log.info(
        "complaint %s: %s -> %s by %s",
        complaint.ticket,
        move.source.value,
        move.target.value,
        actor.role.value,
    )
    return complaint


def explain(ctx: CoreContext, error: IllegalTransition, lang: str | None = None) -> str:
    """Why a move was refused, for the person who tried it."""
    values: dict[str, Any] = {
        "action": ctx.t(lang, f"officer.action.{error.action.value}"),
        "status": ctx.t(lang, f"status_label.{error.status.value}"),
    }
    return ctx.t(lang, f"officer.refused.{error.reason}", **values)
