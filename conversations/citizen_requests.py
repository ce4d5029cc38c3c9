"""The citizen's own complaints, on every channel: the list (``/aduansaya``), one
complaint with its history (``/status``, a typed ticket number), and the buttons to
add information, withdraw a complaint or ask once for a review of a rejection.

Choice ids: ``status:{id}``, ``add:{id}``, ``add:done``, ``withdraw:{id}``,
``withdraw:yes:{id}``, ``withdraw:no:{id}``, ``review:{id}``, ``review:no:{id}``.
What is typed after "add", "withdraw" or "review" is kept as ``Citizen.awaiting``.
The moves themselves, and who may make them, are in ``conversations.core.reporter``.
"""

from __future__ import annotations

from datetime import timedelta

from conversations.core.context import CoreContext
from conversations.core.domain import Awaiting, Citizen, Complaint
from conversations.core.handling import Conflict
from conversations.core.lifecycle import OPEN_STATUSES, IllegalTransition, Status
from conversations.core.messages import NO, YES, Choice, Inbound, InboundKind, Reply
from conversations.core.notices import (
    ADD,
    REVIEW,
    SHOW,
    WITHDRAW,
    category_label,
    complaint_choices,
    next_step,
    reviewed,
    status_text,
    status_words,
    survey_reply,
)
from conversations.core.ports import UnitOfWork
from conversations.core.reporter import (
    answer,
    may_add,
    may_review,
    own_complaint,
    request_review,
    withdraw,
)
from conversations.core.survey import awaiting_comment_since

PREFIXES = (SHOW, ADD, WITHDRAW, REVIEW)
# How long the bot keeps waiting for what it asked (more information, a reason).
AWAIT_WINDOW = timedelta(minutes=30)
MINE_SHOWN = 10
OPEN_SHOWN = 10
REVIEW_MIN = 10


def _t(ctx: CoreContext, citizen: Citizen, key: str, **values: object) -> str:
    return ctx.t(citizen.language, key, **values)


async def _await(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, what: str | None, complaint_id: int = 0
) -> None:
    assert citizen.id is not None
    awaiting = None
    if what is not None:
        awaiting = Awaiting(what, complaint_id, ctx.clock.now() + AWAIT_WINDOW)
    citizen.awaiting = awaiting
    await uow.citizens.await_input(citizen.id, awaiting)


async def forget_awaiting(ctx: CoreContext, uow: UnitOfWork, citizen: Citizen) -> None:
    if citizen.awaiting is not None:
        await _await(ctx, uow, citizen, None)


# lists and status ---------------------------------------------------------------------


async def my_complaints(ctx: CoreContext, uow: UnitOfWork, citizen: Citizen) -> list[Reply]:
    lang = citizen.language
    assert citizen.id is not None
    complaints = await uow.complaints.for_citizen(citizen.id, limit=MINE_SHOWN)
    if not complaints:
        return [Reply(_t(ctx, citizen, "mine.empty"))]
    lines = [_t(ctx, citizen, "mine.header")]
    rows: list[tuple[Choice, ...]] = []
    for complaint in complaints:
        lines.append(
            _t(
                ctx,
                citizen,
                "mine.line",
                ticket=complaint.ticket,
                status=status_words(ctx, complaint.status, lang),
                date=ctx.format_date(complaint.created_at, lang),
                category=category_label(ctx, complaint, lang),
            )
        )
        row = [
            Choice(f"{SHOW}:{complaint.id}", _t(ctx, citizen, "mine.show", ticket=complaint.ticket))
        ]
        if may_add(complaint):
            row.append(Choice(f"{ADD}:{complaint.id}", _t(ctx, citizen, "mine.add")))
        rows.append(tuple(row))
    if len(complaints) == MINE_SHOWN:
        more = await uow.complaints.count_for_citizen(citizen.id) - MINE_SHOWN
        if more > 0:
            lines.append(_t(ctx, citizen, "mine.more", count=more))
    return [Reply("\n".join(lines), choices=tuple(rows))]


async def open_complaints(ctx: CoreContext, uow: UnitOfWork, citizen: Citizen) -> list[Reply]:
    """``/status`` without a number: the open complaints as buttons."""
    assert citizen.id is not None
    lang = citizen.language
    mine = await uow.complaints.for_citizen(citizen.id, limit=50)
    open_ones = [c for c in mine if c.status in OPEN_STATUSES][:OPEN_SHOWN]
    example = f"{ctx.config.ticket_prefix}-{ctx.local(ctx.clock.now()):%y%m}-0001"
    if not open_ones:
        return [Reply(_t(ctx, citizen, "status.none_open", example=example))]
    rows = tuple(
        (
            Choice(
                f"{SHOW}:{c.id}",
                _t(
                    ctx,
                    citizen,
                    "status.open_button",
                    ticket=c.ticket,
                    category=category_label(ctx, c, lang),
                ),
            ),
        )
        for c in open_ones
    )
    return [Reply(_t(ctx, citizen, "status.pick", example=example), choices=rows)]


async def show(ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, complaint: Complaint) -> Reply:
    assert complaint.id is not None
    lang = citizen.language
    history = await uow.events.for_complaint(complaint.id)
    text = status_text(ctx, complaint, history, lang)
    choices = complaint_choices(ctx, complaint, lang, reviewed(history), detail=True)
    if complaint.status is Status.SELESAI:
        # The next step asks for the survey: its buttons come with it, the stars only
        # while no rating is stored.
        if await awaiting_comment_since(uow, complaint) is not None:
            text = status_text(ctx, complaint, history, lang, awaiting_comment=True)
        else:
            survey = survey_reply(ctx, complaint, lang).choices
            choices = survey if complaint.rating is None else survey[-1:]
    return Reply(text, choices=choices)


async def show_ticket(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, ticket: str
) -> list[Reply]:
    complaint = await uow.complaints.by_ticket(ticket)
    if complaint is None or complaint.citizen_id != citizen.id:
        return [Reply(_t(ctx, citizen, "status.not_found", ticket=ticket.upper()))]
    return [await show(ctx, uow, citizen, complaint)]


# buttons --------------------------------------------------------------------------------


async def handle_choice(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, inbound: Inbound, choice: str
) -> list[Reply] | None:
    """``CitizenChat.choice_handlers`` for every prefix in ``PREFIXES``."""
    prefix, *parts = choice.split(":")
    if prefix == ADD and parts == ["done"]:
        await forget_awaiting(ctx, uow, citizen)
        return [Reply(_t(ctx, citizen, "add.done"))]
    complaint = await own_complaint(uow, citizen, parts[-1] if parts else "")
    if complaint is None:
        return [Reply(_t(ctx, citizen, "common.out_of_date"))]
    verb = parts[0] if len(parts) == 2 else None
    if prefix == SHOW:
        return [await show(ctx, uow, citizen, complaint)]
    if prefix == ADD:
        return await _ask_to_add(ctx, uow, citizen, complaint)
    if prefix == WITHDRAW:
        if verb == "yes":
            return await _withdraw(ctx, uow, citizen, complaint, None)
        if verb == "no":
            await forget_awaiting(ctx, uow, citizen)
            return [Reply(_t(ctx, citizen, "withdraw.kept", ticket=complaint.ticket))]
        return await _ask_to_withdraw(ctx, uow, citizen, complaint)
    if prefix == REVIEW:
        if verb == "no":
            await forget_awaiting(ctx, uow, citizen)
            return [Reply(_t(ctx, citizen, "review.cancelled", ticket=complaint.ticket))]
        return await _ask_for_review(ctx, uow, citizen, complaint)
    return None


async def _dialogue_open(uow: UnitOfWork, citizen: Citizen) -> bool:
    return await uow.dialogues.get(citizen.id or 0) is not None


async def _ask_to_add(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, complaint: Complaint
) -> list[Reply]:
    if not may_add(complaint):
        status = status_words(ctx, complaint.status, citizen.language)
        return [Reply(_t(ctx, citizen, "add.closed", ticket=complaint.ticket, status=status))]
    if await _dialogue_open(uow, citizen):
        return [Reply(_t(ctx, citizen, "add.finish_dialogue"))]
    assert complaint.id is not None
    await _await(ctx, uow, citizen, ADD, complaint.id)
    done = Choice(f"{ADD}:done", _t(ctx, citizen, "add.done_button"))
    return [Reply(_t(ctx, citizen, "add.ask", ticket=complaint.ticket), choices=((done,),))]


async def _ask_to_withdraw(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, complaint: Complaint
) -> list[Reply]:
    if complaint.status not in OPEN_STATUSES:
        status = status_words(ctx, complaint.status, citizen.language)
        return [
            Reply(_t(ctx, citizen, "withdraw.not_open", ticket=complaint.ticket, status=status))
        ]
    if await _dialogue_open(uow, citizen):
        return [Reply(_t(ctx, citizen, "add.finish_dialogue"))]
    cid = complaint.id
    assert cid is not None
    await _await(ctx, uow, citizen, WITHDRAW, cid)
    rows = (
        (
            Choice(f"{WITHDRAW}:yes:{cid}", _t(ctx, citizen, "withdraw.yes"), YES),
            Choice(f"{WITHDRAW}:no:{cid}", _t(ctx, citizen, "withdraw.no"), NO),
        ),
    )
    return [Reply(_t(ctx, citizen, "withdraw.ask", ticket=complaint.ticket), choices=rows)]


async def _withdraw(
    ctx: CoreContext,
    uow: UnitOfWork,
    citizen: Citizen,
    complaint: Complaint,
    reason: str | None,
) -> list[Reply]:
    await forget_awaiting(ctx, uow, citizen)
    try:
        await withdraw(ctx, uow, citizen, complaint, reason)
    except (IllegalTransition, Conflict):
        fresh = await uow.complaints.get(complaint.id or 0) or complaint
        status = status_words(ctx, fresh.status, citizen.language)
        return [Reply(_t(ctx, citizen, "withdraw.not_open", ticket=fresh.ticket, status=status))]
    return [Reply(_t(ctx, citizen, "withdraw.done", ticket=complaint.ticket))]


async def _ask_for_review(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, complaint: Complaint
) -> list[Reply]:
    if not await may_review(uow, complaint):
        return [Reply(_t(ctx, citizen, "review.not_possible", ticket=complaint.ticket))]
    if await _dialogue_open(uow, citizen):
        return [Reply(_t(ctx, citizen, "add.finish_dialogue"))]
    cid = complaint.id
    assert cid is not None
    await _await(ctx, uow, citizen, REVIEW, cid)
    cancel = Choice(f"{REVIEW}:no:{cid}", _t(ctx, citizen, "review.cancel"), NO)
    return [Reply(_t(ctx, citizen, "review.ask", ticket=complaint.ticket), choices=((cancel,),))]


# what the bot waits for ------------------------------------------------------------------


async def handle_awaited(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, inbound: Inbound
) -> list[Reply] | None:
    """An idle handler, first in line: the information, or the reason, the bot asked for."""
    awaiting = citizen.awaiting
    if awaiting is None:
        return None
    if awaiting.until < ctx.clock.now():
        await forget_awaiting(ctx, uow, citizen)
        return None
    if inbound.kind not in (InboundKind.TEXT, InboundKind.PHOTO):
        return None
    complaint = await own_complaint(uow, citizen, str(awaiting.complaint_id))
    if complaint is None:
        await forget_awaiting(ctx, uow, citizen)
        return None
    text = (inbound.text or "").strip()
    if awaiting.what == ADD:
        return await _add(ctx, uow, citizen, inbound, complaint)
    if not text:
        key = "withdraw.needs_text" if awaiting.what == WITHDRAW else "review.needs_text"
        return [Reply(_t(ctx, citizen, key))]
    if awaiting.what == WITHDRAW:
        return await _withdraw(ctx, uow, citizen, complaint, text)
    if awaiting.what == REVIEW:
        return await _review(ctx, uow, citizen, complaint, text)
    return None


async def _add(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, inbound: Inbound, complaint: Complaint
) -> list[Reply]:
    if not may_add(complaint):
        await forget_awaiting(ctx, uow, citizen)
        status = status_words(ctx, complaint.status, citizen.language)
        return [Reply(_t(ctx, citizen, "add.closed", ticket=complaint.ticket, status=status))]
    replies = await answer(ctx, uow, citizen, inbound, complaint) or []
    assert complaint.id is not None
    await _await(ctx, uow, citizen, ADD, complaint.id)  # a little longer for the next one
    done = Choice(f"{ADD}:done", _t(ctx, citizen, "add.done_button"))
    more = Reply(_t(ctx, citizen, "add.more"), choices=((done,),))
    if replies:
        last = replies[-1]
        return [*replies[:-1], Reply(f"{last.text}\n{more.text}", choices=more.choices)]
    return [more]


async def _review(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, complaint: Complaint, reason: str
) -> list[Reply]:
    if len(reason) < REVIEW_MIN:
        cid = complaint.id
        cancel = Choice(f"{REVIEW}:no:{cid}", _t(ctx, citizen, "review.cancel"), NO)
        text = _t(ctx, citizen, "review.too_short", min=REVIEW_MIN)
        return [Reply(text, choices=((cancel,),))]
    await forget_awaiting(ctx, uow, citizen)
    try:
        await request_review(ctx, uow, citizen, complaint, reason)
    except (IllegalTransition, Conflict):
        return [Reply(_t(ctx, citizen, "review.not_possible", ticket=complaint.ticket))]
    after = next_step(ctx, complaint, citizen.language)
    return [Reply(_t(ctx, citizen, "review.sent", ticket=complaint.ticket, next=after))]
