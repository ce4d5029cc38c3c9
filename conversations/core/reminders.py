"""Deadline reminders and escalations, derived from the deadlines stored on complaints.

One working day before a deadline a reminder goes to whoever must act (the desk
for verification, the agency for follow-up); once a deadline has passed, an
escalation goes to the admin group on every working day until someone acts.
A complaint on hold (tertunda) that the citizen has not answered for
``info_wait_working_days`` reminds, once per hold, the chat that asked.
Officers hear none of this at night: notices wait for ``office_hours_start`` on
a working day (the deadlines themselves do not move).
Dedupe keys make each message once-only, however often the scan runs and
whichever process runs it; a restart simply scans again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from conversations.core.context import CoreContext
from conversations.core.domain import Complaint, Event
from conversations.core.handling import agency_destination
from conversations.core.lifecycle import Role, Status
from conversations.core.messages import ChatAddress, Reply
from conversations.core.outbox import queue
from conversations.core.ports import ScheduleQueries

PAGE = 500


@dataclass(frozen=True)
class DeadlineKind:
    name: str
    column: str
    statuses: tuple[Status, ...]


VERIFY = DeadlineKind("verify", "verify_due", (Status.BARU, Status.TERVERIFIKASI))
FOLLOWUP = DeadlineKind("followup", "followup_due", (Status.DIDISPOSISIKAN,))
SETTLE = DeadlineKind(
    "settle",
    "settle_due",
    (Status.BARU, Status.TERVERIFIKASI, Status.DIDISPOSISIKAN, Status.DITINDAKLANJUTI),
)
KINDS: tuple[DeadlineKind, ...] = (VERIFY, FOLLOWUP, SETTLE)


@dataclass(frozen=True)
class Notice:
    key: str
    to: ChatAddress
    text: str
    complaint_id: int
    extra: dict[str, object]


def remind_key(complaint_id: int, kind: str, due: datetime) -> str:
    return f"remind:{complaint_id}:{kind}:{due.isoformat()}"


def hold_key(complaint_id: int, event_id: int) -> str:
    return f"remind:{complaint_id}:info:{event_id}"


def office_open(ctx: CoreContext, now: datetime) -> bool:
    """Whether officers may be pinged now: a working day, from ``office_hours_start``."""
    local = ctx.local(now)
    return (
        ctx.calendar.is_working_day(local.date()) and local.time() >= ctx.config.office_hours_start
    )


def escalate_key(complaint_id: int, kind: str, local_day: str) -> str:
    return f"escalate:{complaint_id}:{kind}:{local_day}"


def responsible(
    ctx: CoreContext, complaint: Complaint, kind: DeadlineKind
) -> tuple[ChatAddress, dict[str, object]]:
    """Who must act: the desk for verification, the agency (its chat or topic) after dispatch."""
    if kind is FOLLOWUP or (kind is SETTLE and complaint.dispatched_at is not None):
        target = agency_destination(ctx, complaint.agency)
        if target is not None:
            return target
    return ctx.desk_chat, {}


def _text(
    ctx: CoreContext, key: str, complaint: Complaint, due: datetime, late: int | None = None
) -> str:
    category = ctx.config.category(complaint.category)
    agency = ctx.config.agency(complaint.agency)
    lang = ctx.catalog.default
    return ctx.t(
        lang,
        key,
        ticket=complaint.ticket,
        category=category.label(lang) if category else complaint.category,
        agency=agency.name if agency else complaint.agency,
        due=ctx.format_date(due, lang),
        late=late if late is not None else 0,
    )


def notices_for(
    ctx: CoreContext, kind: DeadlineKind, complaints: Sequence[Complaint], now: datetime
) -> list[Notice]:
    """Reminders and escalations these complaints call for at ``now`` (before dedupe)."""
    calendar = ctx.calendar
    today = ctx.local(now).date()
    working_today = calendar.is_working_day(today)
    notices: list[Notice] = []
    for complaint in complaints:
        due: datetime | None = getattr(complaint, kind.column)
        if due is None or complaint.id is None:
            continue
        if due <= now:
            if not working_today:
                continue
            if kind is SETTLE:
                late = max(1, math.ceil((now - due).total_seconds() / 86400))
            else:
                late = max(1, math.ceil(calendar.working_days_between(due, now)))
            notices.append(
                Notice(
                    escalate_key(complaint.id, kind.name, today.isoformat()),
                    ctx.desk_chat,
                    _text(ctx, f"scheduler.escalate.{kind.name}", complaint, due, late),
                    complaint.id,
                    {},
                )
            )
        elif calendar.deadline_reminder_at(due) <= now:
            to, extra = responsible(ctx, complaint, kind)
            notices.append(
                Notice(
                    remind_key(complaint.id, kind.name, due),
                    to,
                    _text(ctx, f"scheduler.remind.{kind.name}", complaint, due),
                    complaint.id,
                    extra,
                )
            )
    return notices


def hold_notice(
    ctx: CoreContext, complaint: Complaint, event: Event, now: datetime
) -> Notice | None:
    """The reminder a hold calls for at ``now``: the citizen has not answered in time."""
    if complaint.id is None or event.id is None:
        return None
    wait = ctx.config.deadlines_for(complaint.category).info_wait_working_days
    if ctx.calendar.working_days_between(event.at, now) < wait:
        return None
    to, key = ctx.desk_chat, "scheduler.remind.info"
    extra: dict[str, object] = {}
    if event.actor_role == Role.AGENCY.value:
        target = agency_destination(ctx, complaint.agency)
        if target is not None:  # else the desk card serves the agency too
            (to, extra), key = target, "scheduler.remind.info_agency"
    text = _text(ctx, key, complaint, event.at, wait)
    return Notice(hold_key(complaint.id, event.id), to, text, complaint.id, extra)


async def scan_holds(ctx: CoreContext, queries: ScheduleQueries, now: datetime) -> int:
    """Queue the reminders of holds the citizen has not answered; returns how many were new."""
    config = ctx.config
    waits = [config.deadlines.info_wait_working_days]
    waits += [c.deadlines.info_wait_working_days or 0 for c in config.categories]
    # A working day is at most a calendar day: shorter holds cannot be due yet.
    before = now - timedelta(days=min(w for w in waits if w > 0))
    queued = 0
    after: tuple[datetime, int] | None = None
    while True:
        page = await queries.on_hold(before, PAGE, after)
        if not page:
            break
        last = page[-1][1]
        after = (last.at, last.id or 0)
        notices = [hold_notice(ctx, complaint, event, now) for complaint, event in page]
        queued += await _queue_new(ctx, queries, [n for n in notices if n is not None])
        if len(page) < PAGE:
            break
    return queued


async def scan_deadlines(ctx: CoreContext, queries: ScheduleQueries, now: datetime) -> int:
    """Queue every reminder and escalation due at ``now``; returns how many were new.

    Outside office hours nothing is queued; the next scan in office hours catches up.
    """
    if not office_open(ctx, now):
        return 0
    # A reminder is due one working day before its deadline, so only deadlines up to
    # the end of the next working day can need one: an index range, not a table scan.
    horizon = ctx.calendar.add_working_days(now, 1)
    queued = 0
    for kind in KINDS:
        after: tuple[datetime, int] | None = None
        while True:
            page = await queries.due(kind.column, kind.statuses, horizon, PAGE, after)
            if not page:
                break
            last = page[-1]
            after = (getattr(last, kind.column), last.id or 0)
            queued += await _queue_new(ctx, queries, notices_for(ctx, kind, page, now))
            if len(page) < PAGE:
                break
    return queued + await scan_holds(ctx, queries, now)


async def _queue_new(ctx: CoreContext, queries: ScheduleQueries, notices: list[Notice]) -> int:
    if not notices:
        return 0
    known = await queries.queued_keys([n.key for n in notices])
    fresh = [n for n in notices if n.key not in known]
    if not fresh:
        return 0
    added = 0
    async with ctx.uow() as uow:
        for notice in fresh:
            if await queue(
                uow,
                notice.to,
                Reply(notice.text),
                "notice",
                notice.key,
                notice.complaint_id,
                extra=notice.extra,
            ):
                added += 1
        await uow.commit()
    return added
