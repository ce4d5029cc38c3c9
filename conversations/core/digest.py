"""The daily digest to the admin group, at ``digest_time`` local time.

Derived from the database like everything the scheduler does: once the local
time is past ``digest_time`` and today's digest (dedupe key ``digest:{date}``)
is not in the outbox yet, it is composed and queued. A bot that was down at
07:30 sends it when it comes back.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from conversations.core.context import CoreContext
from conversations.core.messages import Reply
from conversations.core.outbox import queue
from conversations.core.ports import DigestFigures, ScheduleQueries


def digest_key(ctx: CoreContext, now: datetime) -> str:
    return f"digest:{ctx.local(now).date().isoformat()}"


def digest_text(ctx: CoreContext, figures: DigestFigures, now: datetime) -> str:
    lang = ctx.catalog.default
    calendar = ctx.calendar
    durations = [calendar.working_days_between(a, b) for a, b in figures.followups]
    avg = (
        ctx.t(lang, "digest.avg", days=sum(durations) / len(durations))
        if durations
        else ctx.t(lang, "digest.none")
    )
    lines = []
    if figures.overdue_verification:
        lines.append(ctx.t(lang, "digest.overdue_desk", count=figures.overdue_verification))
    for code, count in sorted(figures.overdue_by_agency.items(), key=lambda kv: (-kv[1], kv[0])):
        agency = ctx.config.agency(code)
        lines.append(
            ctx.t(lang, "digest.overdue_line", agency=agency.name if agency else code, count=count)
        )
    return ctx.t(
        lang,
        "digest.text",
        date=ctx.format_date(now),
        new=figures.new,
        waiting=figures.waiting_verification,
        resolved=figures.resolved,
        avg=avg,
        window=figures.followup_window_days,
        overdue="\n".join(lines) or ctx.t(lang, "digest.overdue_none"),
    )


async def scan_digest(ctx: CoreContext, queries: ScheduleQueries, now: datetime) -> bool:
    """Queue today's digest if it is time and it is not queued yet."""
    local = ctx.local(now)
    if local.time() < ctx.config.digest_time:
        return False
    key = digest_key(ctx, now)
    if await queries.queued_keys([key]):
        return False
    today = datetime.combine(local.date(), time.min, tzinfo=ctx.calendar.tz)
    figures = await queries.digest(today - timedelta(days=1), today, now)
    async with ctx.uow() as uow:
        text = digest_text(ctx, figures, now)
        added = await queue(uow, ctx.desk_chat, Reply(text), "digest", key)
        await uow.commit()
    return added
