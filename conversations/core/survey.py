"""After resolution: the satisfaction survey, the citizen's answers, and the automatic close.

The survey follows the resolution's push in the same transaction; the scan here
is the safety net derived from the database: a complaint in ``selesai`` whose
survey for that ``resolved_at`` is not in the outbox gets one (the same dedupe
key ``survey:{id}:{resolved_at}``, so nobody gets two). "Yes, fixed" closes the complaint; "not yet"
asks what is still wrong, and the citizen's next message reopens it to its
agency with that comment. A rating 1-5 is stored on the complaint and shown to
the officers. Without any answer, the complaint closes by itself at
``autoclose_due`` (10 working days) and the citizen is told.
"""

from __future__ import annotations

import logging
from datetime import datetime

from conversations.core.context import CoreContext
from conversations.core.domain import Citizen, Complaint, Event
from conversations.core.evidence import keep_photo
from conversations.core.handling import (
    SYSTEM,
    Actor,
    Conflict,
    agency_destination,
    citizen_address,
    transition,
)
from conversations.core.lifecycle import Action, IllegalTransition, Role, Status
from conversations.core.messages import Inbound, InboundKind, Reply
from conversations.core.notices import survey_key, survey_reply
from conversations.core.outbox import queue, queue_to_citizen, replied_complaint
from conversations.core.ports import FileTooLarge, ScheduleQueries, UnitOfWork

log = logging.getLogger(__name__)

PREFIX = "survey"
NOT_FIXED_EVENT = "survey_notfixed"
RATED_EVENT = "rated"  # the stars are the event's note
PAGE = 500


async def scan_surveys(ctx: CoreContext, queries: ScheduleQueries, now: datetime) -> int:
    """Queue the survey of every resolved complaint that has none yet."""
    queued = 0
    after: tuple[datetime, int] | None = None
    while True:
        page = await queries.due("resolved_at", (Status.SELESAI,), now, PAGE, after)
        if not page:
            return queued
        last = page[-1]
        assert last.resolved_at is not None and last.id is not None
        after = (last.resolved_at, last.id)
        known = await queries.queued_keys([survey_key(c) for c in page])
        fresh = [c for c in page if survey_key(c) not in known]
        if fresh:
            async with ctx.uow() as uow:
                for complaint in fresh:
                    citizen = await uow.citizens.get(complaint.citizen_id)
                    if citizen is not None and citizen.unreachable:
                        continue
                    lang = citizen.language if citizen else complaint.language
                    queued += await queue_to_citizen(
                        uow,
                        complaint.citizen_id,
                        citizen_address(complaint, citizen),
                        survey_reply(ctx, complaint, lang),
                        "survey",
                        survey_key(complaint),
                        complaint.id,
                    )
                await uow.commit()
        if len(page) < PAGE:
            return queued


async def scan_autoclose(ctx: CoreContext, queries: ScheduleQueries, now: datetime) -> int:
    """Close resolved complaints nobody answered for; returns how many moved."""
    moved = 0
    due = await queries.due("autoclose_due", (Status.SELESAI,), now, PAGE)
    for stale in due:
        assert stale.id is not None
        async with ctx.uow() as uow:
            complaint = await uow.complaints.get(stale.id)
            if (
                complaint is None
                or complaint.status is not Status.SELESAI
                or complaint.autoclose_due is None
                or complaint.autoclose_due > now
            ):
                continue
            citizen = await uow.citizens.get(complaint.citizen_id)
            lang = citizen.language if citizen else complaint.language
            try:
                if await _awaiting_comment(uow, complaint):
                    # The citizen said "not fixed" but wrote nothing: reopen anyway.
                    await transition(
                        ctx,
                        uow,
                        complaint,
                        Action.REOPEN,
                        Actor(Role.CITIZEN),
                        message=ctx.t(lang, "survey.no_comment"),
                    )
                else:
                    days = ctx.config.deadlines_for(complaint.category).autoclose_working_days
                    await transition(
                        ctx,
                        uow,
                        complaint,
                        Action.CLOSE,
                        SYSTEM,
                        message=ctx.t(lang, "scheduler.autoclosed", days=days),
                    )
            except (Conflict, IllegalTransition) as error:
                log.info("autoclose of %s skipped: %s", complaint.ticket, error)
                continue
            await uow.commit()
            moved += 1
    return moved


async def awaiting_comment_since(uow: UnitOfWork, complaint: Complaint) -> datetime | None:
    """When the citizen said "not fixed" for this resolution, if no comment (reopen)
    came since; later events (a rating) do not end the wait."""
    if complaint.id is None or complaint.resolved_at is None:
        return None
    resolved = complaint.resolved_at
    since: datetime | None = None
    for event in await uow.events.for_complaint(complaint.id):
        if event.at < resolved:
            continue
        if event.action == NOT_FIXED_EVENT:
            since = since or event.at
        elif event.action == Action.REOPEN.value:
            since = None
    return since


async def _awaiting_comment(uow: UnitOfWork, complaint: Complaint) -> bool:
    return await awaiting_comment_since(uow, complaint) is not None


async def _own_complaint(uow: UnitOfWork, citizen: Citizen, complaint_id: str) -> Complaint | None:
    if not complaint_id.isdigit():
        return None
    complaint = await uow.complaints.get(int(complaint_id))
    if complaint is None or complaint.citizen_id != citizen.id:
        return None
    return complaint


def _citizen_actor(citizen: Citizen, complaint: Complaint) -> Actor:
    if complaint.anonymous:
        return Actor(Role.CITIZEN)
    return Actor(Role.CITIZEN, str(citizen.id), citizen.display_name)


async def handle_choice(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, inbound: Inbound, choice: str
) -> list[Reply] | None:
    """``CitizenChat.choice_handlers["survey"]``.

    Choice ids: ``survey:fixed:{id}``, ``survey:notfixed:{id}``, ``survey:rate:{id}:{n}``.
    """
    lang = citizen.language
    parts = choice.split(":")
    if len(parts) < 3:
        return None
    complaint = await _own_complaint(uow, citizen, parts[2])
    if complaint is None:
        return [Reply(ctx.t(lang, "survey.not_now"))]
    if parts[1] == "rate" and len(parts) == 4 and parts[3] in {"1", "2", "3", "4", "5"}:
        return await _rate(ctx, uow, citizen, complaint, int(parts[3]))
    if complaint.status is not Status.SELESAI:
        return [Reply(ctx.t(lang, "survey.not_now"))]
    if parts[1] == "fixed":
        try:
            await transition(
                ctx,
                uow,
                complaint,
                Action.CLOSE,
                _citizen_actor(citizen, complaint),
                notify_citizen=False,
            )
        except (Conflict, IllegalTransition):
            return [Reply(ctx.t(lang, "survey.not_now"))]
        return [Reply(ctx.t(lang, "survey.thanks_fixed", ticket=complaint.ticket))]
    if parts[1] == "notfixed":
        assert complaint.id is not None
        if not await _awaiting_comment(uow, complaint):
            await uow.events.add(
                Event(
                    complaint_id=complaint.id,
                    at=ctx.clock.now(),
                    action=NOT_FIXED_EVENT,
                    actor_role=Role.CITIZEN.value,
                    actor_id=None if complaint.anonymous else str(citizen.id),
                )
            )
        return [Reply(ctx.t(lang, "survey.ask_comment", ticket=complaint.ticket))]
    return None


async def _rate(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, complaint: Complaint, stars: int
) -> list[Reply]:
    lang = citizen.language
    if complaint.resolved_at is None or complaint.status not in (Status.SELESAI, Status.DITUTUP):
        return [Reply(ctx.t(lang, "survey.not_now"))]
    assert complaint.id is not None
    for _ in range(3):  # optimistic lock: an officer may be saving the complaint right now
        complaint.rating = stars
        if await uow.complaints.update(complaint, complaint.version):
            break
        fresh = await uow.complaints.get(complaint.id)
        if fresh is None:
            return [Reply(ctx.t(lang, "survey.not_now"))]
        complaint = fresh
    else:
        return [Reply(ctx.t(lang, "survey.not_now"))]
    assert complaint.id is not None
    event = await uow.events.add(
        Event(
            complaint_id=complaint.id,
            at=ctx.clock.now(),
            action=RATED_EVENT,
            actor_role=Role.CITIZEN.value,
            actor_id=None if complaint.anonymous else str(citizen.id),
            note=str(stars),
        )
    )
    text = ctx.t(None, "survey.rating_to_officers", ticket=complaint.ticket, n=stars)
    # One notice per resolution; a changed rating is stored and shown on /aduan.
    resolved = complaint.resolved_at.isoformat() if complaint.resolved_at else str(event.id)
    await _tell_officers(ctx, uow, complaint, Reply(text), f"rated:{complaint.id}:{resolved}")
    thanks = ctx.t(lang, "survey.rated", n=stars, ticket=complaint.ticket)
    if complaint.status is Status.SELESAI and not await _awaiting_comment(uow, complaint):
        # The other question of the survey is still open: ask it again, with its buttons.
        question = survey_reply(ctx, complaint, lang).choices[-1:]
        return [Reply(f"{thanks}\n{ctx.t(lang, 'survey.still_fixed')}", choices=question)]
    return [Reply(thanks)]


async def _tell_officers(
    ctx: CoreContext, uow: UnitOfWork, complaint: Complaint, reply: Reply, key: str
) -> None:
    await queue(uow, ctx.desk_chat, reply, "notice", f"{key}:desk", complaint.id)
    target = agency_destination(ctx, complaint.agency)
    if target is not None:
        address, extra = target
        await queue(uow, address, reply, "notice", f"{key}:agency", complaint.id, extra=extra)


async def handle_comment(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, inbound: Inbound
) -> list[Reply] | None:
    """An idle handler: text (or a photo) after "not fixed" reopens the complaint
    with that comment."""
    if not _is_comment(inbound):
        return None
    assert citizen.id is not None
    for complaint in await uow.complaints.for_citizen(citizen.id, limit=10):
        if complaint.status is not Status.SELESAI or not await _awaiting_comment(uow, complaint):
            continue
        return await _comment(ctx, uow, citizen, inbound, complaint)
    return None


async def comment_reply(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, inbound: Inbound
) -> list[Reply] | None:
    """A reply handler: a Telegram reply to a message about a resolved complaint that
    awaits its "not fixed" comment is that comment, even during a dialogue."""
    if not _is_comment(inbound):
        return None
    complaint = await replied_complaint(uow, citizen, inbound)
    if (
        complaint is None
        or complaint.status is not Status.SELESAI
        or not await _awaiting_comment(uow, complaint)
    ):
        return None
    return await _comment(ctx, uow, citizen, inbound, complaint)


def _is_comment(inbound: Inbound) -> bool:
    if inbound.kind is InboundKind.PHOTO:
        return bool(inbound.media)
    return inbound.kind is InboundKind.TEXT and bool((inbound.text or "").strip())


async def _comment(
    ctx: CoreContext, uow: UnitOfWork, citizen: Citizen, inbound: Inbound, complaint: Complaint
) -> list[Reply]:
    lang = citizen.language
    assert complaint.id is not None
    if inbound.kind is InboundKind.PHOTO:
        try:
            await keep_photo(ctx, uow, inbound, "citizen", complaint.id, citizen.id)
        except FileTooLarge:
            return [Reply(ctx.t(lang, "followup.too_large"))]
        except Exception:
            log.warning("survey photo download failed", exc_info=True)
            return [Reply(ctx.t(lang, "followup.failed"))]
    comment = (inbound.text or "").strip()[:1500] or ctx.t(None, "survey.photo_comment")
    try:
        await transition(
            ctx,
            uow,
            complaint,
            Action.REOPEN,
            _citizen_actor(citizen, complaint),
            message=comment,
            notify_citizen=False,
        )
    except (Conflict, IllegalTransition):
        return [Reply(ctx.t(lang, "survey.not_now"))]
    text = ctx.t(None, "survey.comment_to_agency", ticket=complaint.ticket, comment=comment)
    await _tell_officers(ctx, uow, complaint, Reply(text), f"comment:{inbound.update_key}")
    return [Reply(ctx.t(lang, "survey.reopened", ticket=complaint.ticket))]
