"""The scheduler's periodic work, in one place: ``Duties.scan`` and delivery notices.

Everything is derived from database rows and guarded by outbox dedupe keys, so
a scan may run any number of times, in any number of processes, and after any
restart: each reminder, escalation, survey, digest and monthly recap is queued once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from conversations.core import digest, reminders, reports, survey
from conversations.core.context import CoreContext
from conversations.core.domain import OutboxItem
from conversations.core.messages import Reply
from conversations.core.outbox import queue
from conversations.core.ports import ScheduleQueries

log = logging.getLogger(__name__)


@dataclass
class ScanReport:
    notices: int = 0
    surveys: int = 0
    closed: int = 0
    digest: bool = False
    recap: bool = False

    @property
    def queued(self) -> int:
        return self.notices + self.surveys + self.closed + int(self.digest) + int(self.recap)


class Duties:
    def __init__(self, ctx: CoreContext, queries: ScheduleQueries):
        self.ctx = ctx
        self.queries = queries

    async def scan(self, now: datetime | None = None) -> ScanReport:
        """Run every derived duty once; a failing one does not stop the others."""
        now = now or self.ctx.clock.now()
        report = ScanReport()
        steps = (
            ("deadlines", self._deadlines),
            ("autoclose", self._autoclose),
            ("surveys", self._surveys),
            ("digest", self._digest),
            ("recap", self._recap),
        )
        for name, step in steps:
            try:
                await step(now, report)
            except Exception:
                log.exception("scheduled %s scan failed", name)
        if report.queued:
            self.ctx.wake_outbox()
        return report

    async def _deadlines(self, now: datetime, report: ScanReport) -> None:
        report.notices = await reminders.scan_deadlines(self.ctx, self.queries, now)

    async def _autoclose(self, now: datetime, report: ScanReport) -> None:
        report.closed = await survey.scan_autoclose(self.ctx, self.queries, now)

    async def _surveys(self, now: datetime, report: ScanReport) -> None:
        report.surveys = await survey.scan_surveys(self.ctx, self.queries, now)

    async def _digest(self, now: datetime, report: ScanReport) -> None:
        report.digest = await digest.scan_digest(self.ctx, self.queries, now)

    async def _recap(self, now: datetime, report: ScanReport) -> None:
        report.recap = await reports.scan_recap(self.ctx, self.queries, now)

    # delivery notices (Deliverer.on_failed / on_unreachable) -----------------

    async def _ticket(self, item: OutboxItem) -> str | None:
        if item.complaint_id is None:
            return None
        async with self.ctx.uow() as uow:
            complaint = await uow.complaints.get(item.complaint_id)
        return complaint.ticket if complaint else None

    def _is_desk(self, item: OutboxItem) -> bool:
        desk = self.ctx.desk_chat
        return item.channel == desk.channel.value and item.chat_id == desk.chat_id

    async def _tell_desk(self, text: str, key: str, complaint_id: int | None) -> None:
        async with self.ctx.uow() as uow:
            await queue(uow, self.ctx.desk_chat, Reply(text), "alert", key, complaint_id)
            await uow.commit()
        self.ctx.wake_outbox()

    async def delivery_failed(self, item: OutboxItem, detail: str) -> None:
        """A message gave up after its last attempt: tell the admin group, once.

        Officers see the ticket, never a private chat's id: that id is the citizen's
        own account, and an anonymous reporter must stay anonymous.
        """
        if self._is_desk(item) or item.kind == "alert":
            log.error("could not deliver to the admin group: %s", detail)
            return
        ticket = await self._ticket(item)
        lang = self.ctx.catalog.default
        if item.private:
            target = self.ctx.t(lang, "scheduler.failed_private")
            detail = detail.replace(item.chat_id, "…")
        else:
            target = self.ctx.t(lang, "scheduler.failed_group", chat=item.chat_id)
        text = self.ctx.t(
            lang,
            "scheduler.failed",
            ticket=self.ctx.t(lang, "scheduler.failed_ticket", ticket=ticket) if ticket else "",
            target=target,
            attempts=item.attempts + 1,
            detail=detail[:200],
        )
        await self._tell_desk(text, f"alert:failed:{item.id}", item.complaint_id)

    async def delivery_unreachable(self, item: OutboxItem, detail: str) -> None:
        """403: a citizen blocked the bot, or the bot lost a group; tell the desk once."""
        if self._is_desk(item) or item.kind == "alert":
            log.error("the admin group refuses the bot: %s", detail)
            return
        lang = self.ctx.catalog.default
        if not item.private:
            # Every queued row of a lost group fails on its own: one alert a day is enough.
            day = self.ctx.local(self.ctx.clock.now()).date().isoformat()
            text = self.ctx.t(lang, "scheduler.unreachable_chat", chat=item.chat_id)
            key = f"alert:unreachable:{item.channel}:{item.chat_id}:{day}"
            await self._tell_desk(text, key, None)
            return
        ticket = await self._ticket(item)
        if ticket is None:
            text = self.ctx.t(lang, "scheduler.unreachable_private")
            key = f"alert:unreachable:{item.channel}:{item.chat_id}:{item.id}"
        else:
            text = self.ctx.t(lang, "scheduler.unreachable_citizen", ticket=ticket)
            key = f"alert:unreachable:{item.complaint_id}"
        await self._tell_desk(text, key, item.complaint_id)
