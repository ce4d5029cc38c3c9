"""Reports for the city: a month's scorecard as a chart and a workbook, the monthly
recap, and the figures of the public statistics page.

A report is asked for by queueing a *request* in the outbox (``/laporan`` in an
officers' chat, the monthly recap in the admin group). When the deliverer reaches
it, ``ReportSender`` builds the report, renders the chart and the workbook (a
``ReportRenderer``, outside the core), keeps both files in the file store and
queues them as two messages to the same chat, keyed after the request. A crash
or a second process never sends them twice, the heavy work never runs inside an
officer's transaction, and the group's rate limit applies as to any message.

The monthly recap of the last month goes to the admin group on the first working
day of each month, from ``office_hours_start`` (dedupe key ``recap:YYYY-MM``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from conversations.core.config import CityConfig
from conversations.core.context import CoreContext
from conversations.core.domain import OutboxItem
from conversations.core.i18n import Catalog
from conversations.core.indicators import (
    INDICATORS,
    ComplaintLine,
    Dimension,
    Figures,
    HistoryEntry,
    Period,
    ReportQueries,
    Unit,
)
from conversations.core.lifecycle import Status
from conversations.core.messages import Channel, ChatAddress, Reply, StoredFileRef
from conversations.core.outbox import queue
from conversations.core.ports import (
    FileStore,
    MessageSender,
    ScheduleQueries,
    SendOutcome,
    SendResult,
    UnitOfWork,
)
from conversations.core.reminders import office_open
from conversations.core.workdays import WorkingCalendar

log = logging.getLogger(__name__)

REQUEST_KIND = "report"
TREND_MONTHS = 6
PUBLIC_MONTHS = 12
PAGE = 1000
SCORECARD = (Dimension.TOTAL, Dimension.AGENCY, Dimension.CATEGORY, Dimension.CHANNEL)
PUBLIC = (Dimension.TOTAL, Dimension.AGENCY, Dimension.CATEGORY, Dimension.STATUS, Dimension.MONTH)
PNG = "image/png"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Report:
    """A period's scorecard, its trend and (for files) its complaints, for one scope."""

    period: Period
    as_of: datetime
    agency: str | None
    city_name: str
    scorecard: tuple[Figures, ...]
    trend: tuple[Figures, ...]
    complaints: tuple[ComplaintLine, ...] = ()

    def rows(self, dimension: Dimension) -> list[Figures]:
        return [row for row in self.scorecard if row.dimension is dimension]

    @property
    def total(self) -> Figures | None:
        return next(iter(self.rows(Dimension.TOTAL)), None)

    def trend_months(self) -> list[tuple[str, Figures | None]]:
        """Every month of the trend window, with its figures if it had complaints."""
        by_month = {row.key: row for row in self.trend}
        window = self.period.months_back(TREND_MONTHS)
        return [(month, by_month.get(month)) for month in window.months()]


@dataclass(frozen=True)
class PublicStatistics:
    """What the public page shows: counts and rates only, never a complaint."""

    period: Period
    as_of: datetime
    city_name: str
    figures: tuple[Figures, ...]

    def rows(self, dimension: Dimension) -> list[Figures]:
        return [row for row in self.figures if row.dimension is dimension]

    @property
    def total(self) -> Figures | None:
        return next(iter(self.rows(Dimension.TOTAL)), None)

    def months(self) -> list[tuple[str, Figures | None]]:
        by_month = {row.key: row for row in self.rows(Dimension.MONTH)}
        return [(month, by_month.get(month)) for month in self.period.months()]


class ReportTexts:
    """Every label a report shows, in one language, from the ``report.*`` catalog."""

    def __init__(self, catalog: Catalog, config: CityConfig, calendar: WorkingCalendar, lang: str):
        self.catalog = catalog
        self.config = config
        self.calendar = calendar
        self.lang = lang

    def t(self, key: str, **values: object) -> str:
        return self.catalog.t(self.lang, f"report.{key}", **values)

    def indicator(self, key: str) -> str:
        return self.t(f"indicator.{key}")

    def definition(self, key: str) -> str:
        return self.t(f"definition.{key}")

    def month(self, key: str) -> str:
        year, month = key.split("-")
        return f"{self.t(f'month.{int(month)}')} {year}"

    def period(self, period: Period) -> str:
        if period.is_month:
            return self.month(period.start.strftime("%Y-%m"))
        last = date.fromordinal(period.end.toordinal() - 1)
        if period.start.day == 1 and period.end.day == 1:
            first, final = period.start.strftime("%Y-%m"), last.strftime("%Y-%m")
            return f"{self.month(first)} – {self.month(final)}"
        return f"{period.start.strftime('%d-%m-%Y')} – {last.strftime('%d-%m-%Y')}"

    def scope(self, agency: str | None) -> str:
        if agency is None:
            return self.t("scope_city", city=self.config.city_name)
        found = self.config.agency(agency)
        return found.name if found else agency

    def group(self, dimension: Dimension, key: str) -> str:
        if dimension is Dimension.TOTAL:
            return self.t("total")
        if dimension is Dimension.AGENCY:
            agency = self.config.agency(key)
            return agency.name if agency else key
        if dimension is Dimension.CATEGORY:
            category = self.config.category(key)
            return category.label(self.lang) if category else key
        if dimension is Dimension.MONTH:
            return self.month(key)
        name = f"report.{dimension.value}.{key}"
        return self.catalog.t(self.lang, name) if self.catalog.has(name) else key

    def in_order(self, rows: Sequence[Figures]) -> list[Figures]:
        """Rows as the city lists them: agencies and categories in the YAML's order,
        statuses along the lifecycle, anything else by key; the total last."""
        places: dict[tuple[Dimension, str], int] = {}
        for index, agency in enumerate(self.config.agencies):
            places[(Dimension.AGENCY, agency.code)] = index
        for index, category in enumerate(self.config.categories):
            places[(Dimension.CATEGORY, category.code)] = index
        for index, status in enumerate(Status):
            places[(Dimension.STATUS, status.value)] = index
        return sorted(
            rows,
            key=lambda r: (
                r.dimension is Dimension.TOTAL,
                places.get((r.dimension, r.key), len(places)),
                r.key,
            ),
        )

    def number(self, value: float | int | None, unit: Unit) -> str:
        if value is None:
            return self.t("none")
        if unit is Unit.COUNT:
            return f"{int(value):,}".replace(",", self.t("thousands"))
        digits = {Unit.PERCENT: 1, Unit.DAYS: 1, Unit.RATING: 2}[unit]
        text = f"{value:.{digits}f}".replace(".", self.t("decimal"))
        return f"{text}%" if unit is Unit.PERCENT else text

    def value(self, figures: Figures, key: str) -> str:
        unit = next(i.unit for i in INDICATORS if i.key == key)
        return self.number(getattr(figures, key), unit)

    def local(self, moment: datetime) -> datetime:
        """Local wall-clock time without a zone (spreadsheets have none)."""
        return moment.astimezone(self.calendar.tz).replace(tzinfo=None)

    def moment(self, moment: datetime | None) -> str:
        return self.local(moment).strftime("%d-%m-%Y %H:%M") if moment else ""

    def flag(self, value: bool | None) -> str:
        if value is None:
            return ""
        return self.t("answer_yes") if value else self.t("answer_no")

    def on_time(self, value: bool | None) -> str:
        if value is None:
            return ""
        return self.t("on_time") if value else self.t("late")

    def privacy(self, line: ComplaintLine) -> str:
        if line.anonymous and line.confidential:
            return self.t("privacy.both")
        if line.anonymous:
            return self.t("privacy.anonymous")
        if line.confidential:
            return self.t("privacy.confidential")
        return self.t("privacy.normal")

    def reporter(self, line: ComplaintLine) -> str:
        if line.anonymous or line.reporter is None:
            return self.t("anonymous")
        return line.reporter

    def location(self, line: ComplaintLine) -> str:
        parts = []
        if line.address:
            parts.append(line.address)
        if line.latitude is not None and line.longitude is not None:
            parts.append(f"{line.latitude:.6f}, {line.longitude:.6f}")
        return " – ".join(parts)

    def status(self, key: str | None) -> str:
        return self.group(Dimension.STATUS, key) if key else ""

    def history(self, entries: Sequence[HistoryEntry]) -> str:
        return "\n".join(self._history_line(entry) for entry in entries)

    def _history_line(self, entry: HistoryEntry) -> str:
        action = f"officer.done.{entry.action}"
        done = self.catalog.t(self.lang, action) if self.catalog.has(action) else entry.action
        if entry.actor_role == "citizen":
            actor = self.catalog.t(self.lang, "officer.actor_citizen")
        elif entry.actor_role == "system":
            actor = self.catalog.t(self.lang, "officer.actor_system")
        else:
            actor = entry.actor_name or self.catalog.t(self.lang, "officer.actor_unknown")
        return self.t(
            "history_line",
            when=self.moment(entry.at),
            action=done,
            source=self.status(entry.from_status) or "–",
            target=self.status(entry.to_status),
            actor=actor,
        )

    def file_name(self, period: Period, agency: str | None, extension: str) -> str:
        label = period.label if period.is_month else f"{period.start}_{period.end}"
        scope = f"-{agency}" if agency else ""
        return f"{self.t('file_stem')}-{label}{scope}.{extension}"


class ReportRenderer(Protocol):
    """Draws a report; implemented outside the core (matplotlib, openpyxl)."""

    def chart(self, report: Report, texts: ReportTexts) -> bytes:
        """A PNG: per-agency bars of on-time follow-up and resolution, and the trend."""

    def workbook(self, report: Report, texts: ReportTexts) -> bytes:
        """An XLSX: the scorecard per agency (and category, channel, month) and every
        complaint of the period with its history and deadlines."""


@dataclass(frozen=True)
class ReportRequest:
    period: Period
    agency: str | None
    lang: str
    recap: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "period": [self.period.start.isoformat(), self.period.end.isoformat()],
            "agency": self.agency,
            "lang": self.lang,
            "recap": self.recap,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ReportRequest:
        start, end = payload["period"]
        agency = payload.get("agency")
        return cls(
            Period(date.fromisoformat(start), date.fromisoformat(end)),
            str(agency) if agency else None,
            str(payload.get("lang") or "id"),
            bool(payload.get("recap", False)),
        )


@dataclass
class Reports:
    """Builds reports from the indicator queries and draws them with the renderer."""

    ctx: CoreContext
    queries: ReportQueries
    renderer: ReportRenderer
    trend_months: int = field(default=TREND_MONTHS)

    def texts(self, lang: str | None = None) -> ReportTexts:
        catalog = self.ctx.catalog
        chosen = lang if lang in catalog.languages else catalog.default
        return ReportTexts(catalog, self.ctx.config, self.ctx.calendar, chosen)

    async def build(
        self,
        period: Period,
        agency: str | None = None,
        as_of: datetime | None = None,
        with_complaints: bool = True,
    ) -> Report:
        as_of = as_of or self.ctx.clock.now()
        scorecard = await self.queries.scorecard(period, SCORECARD, as_of, agency)
        trend = await self.queries.scorecard(
            period.months_back(self.trend_months), (Dimension.MONTH,), as_of, agency
        )
        complaints: list[ComplaintLine] = []
        if with_complaints:
            async for page in self.complaints(period, as_of, agency):
                complaints.extend(page)
        return Report(
            period,
            as_of,
            agency,
            self.ctx.config.city_name,
            tuple(scorecard),
            tuple(trend),
            tuple(complaints),
        )

    async def complaints(
        self, period: Period, as_of: datetime, agency: str | None = None
    ) -> AsyncIterator[list[ComplaintLine]]:
        """The cohort's complaints, a page at a time (exports of years stay small)."""
        after = 0
        while True:
            page = await self.queries.complaints(period, as_of, agency, after, PAGE)
            if not page:
                return
            yield page
            if len(page) < PAGE:
                return
            after = page[-1].id

    async def public(self, as_of: datetime | None = None) -> PublicStatistics:
        as_of = as_of or self.ctx.clock.now()
        today = self.ctx.local(as_of).date()
        period = Period.month_of(today).months_back(PUBLIC_MONTHS)
        figures = await self.queries.scorecard(period, PUBLIC, as_of)
        return PublicStatistics(period, as_of, self.ctx.config.city_name, tuple(figures))

    async def messages(self, request: ReportRequest, files: FileStore) -> list[Reply]:
        """The report as messages: the chart and the workbook (kept in ``files``), or a
        line saying the period had no complaints (nothing for a recap)."""
        texts = self.texts(request.lang)
        report = await self.build(request.period, request.agency)
        total = report.total
        period = texts.period(request.period)
        scope = texts.scope(request.agency)
        if total is None:
            # A month without complaints needs no recap (a new city's first month, say).
            return [] if request.recap else [Reply(texts.t("empty", period=period, scope=scope))]
        chart, workbook = await asyncio.gather(
            asyncio.to_thread(self.renderer.chart, report, texts),
            asyncio.to_thread(self.renderer.workbook, report, texts),
        )
        kept_chart = await files.save(chart, "reports", PNG)
        kept_workbook = await files.save(workbook, "reports", XLSX)
        caption = texts.t(
            "recap_caption" if request.recap else "chart_caption",
            period=period,
            scope=scope,
            received=texts.value(total, "received"),
            verified=texts.value(total, "verify_on_time_pct"),
            followup=texts.value(total, "followup_on_time_pct"),
            resolved=texts.value(total, "resolved_pct"),
            overdue=texts.value(total, "overdue"),
        )
        name = texts.file_name(request.period, request.agency, "xlsx")
        return [
            Reply(
                caption,
                file=StoredFileRef(
                    kept_chart.path,
                    texts.file_name(request.period, request.agency, "png"),
                    PNG,
                    as_photo=True,
                ),
            ),
            Reply(
                texts.t("file_caption", period=period, scope=scope),
                file=StoredFileRef(kept_workbook.path, name, XLSX),
            ),
        ]


async def request_report(
    uow: UnitOfWork,
    to: ChatAddress,
    request: ReportRequest,
    key: str,
    reply_to: int | None = None,
) -> bool:
    """Queue a report for ``to`` in the caller's transaction; False when ``key`` is known."""
    payload = request.payload()
    if reply_to is not None:
        payload["reply_to"] = reply_to
    return await uow.outbox.add(
        OutboxItem(
            channel=to.channel.value,
            chat_id=to.chat_id,
            thread_id=to.thread_id,
            kind=REQUEST_KIND,
            payload=payload,
            dedupe_key=key,
        )
    )


class ReportSender:
    """Wraps a platform's sender: a report request becomes the report's messages."""

    def __init__(self, inner: MessageSender, reports: Reports):
        self.inner = inner
        self.reports = reports

    def message_count(self, item: OutboxItem) -> int:
        return 0 if item.kind == REQUEST_KIND else self.inner.message_count(item)

    async def deliver(self, item: OutboxItem, files: FileStore) -> SendResult:
        if item.kind != REQUEST_KIND:
            return await self.inner.deliver(item, files)
        try:
            request = ReportRequest.from_payload(item.payload)
        except (KeyError, TypeError, ValueError) as error:
            return SendResult(SendOutcome.REJECTED, detail=f"bad report request: {error}")
        try:
            replies = await self.reports.messages(request, files)
            to = ChatAddress(Channel(item.channel), item.chat_id, item.thread_id)
            carried = {k: v for k, v in item.payload.items() if k in ("agency_topic", "topic_name")}
            ctx = self.reports.ctx
            async with ctx.uow() as uow:
                for index, reply in enumerate(replies):
                    extra = dict(carried)
                    if index == 0 and item.payload.get("reply_to"):
                        extra["reply_to"] = item.payload["reply_to"]
                    key = f"{item.dedupe_key}:{index}"
                    await queue(uow, to, reply, "report_file", key, extra=extra)
                await uow.commit()
        except Exception as error:
            log.exception("report %s could not be made", item.dedupe_key)
            return SendResult(
                SendOutcome.TRANSIENT, detail=f"report failed: {type(error).__name__}"
            )
        return SendResult(SendOutcome.SENT)


def recap_key(period: Period) -> str:
    return f"recap:{period.label}"


def first_working_day(calendar: WorkingCalendar, month: Period) -> date:
    day = month.start
    return day if calendar.is_working_day(day) else calendar.next_working_day(day)


async def scan_recap(ctx: CoreContext, queries: ScheduleQueries, now: datetime) -> bool:
    """Queue last month's recap for the admin group on the first working day of the
    month, once office hours have begun; True when it was queued now."""
    if not office_open(ctx, now):
        return False
    today = ctx.local(now).date()
    month = Period.month_of(today)
    if today != first_working_day(ctx.calendar, month):
        return False
    period = month.previous_month()
    key = recap_key(period)
    if await queries.queued_keys([key]):
        return False
    request = ReportRequest(period, None, ctx.catalog.default, recap=True)
    async with ctx.uow() as uow:
        added = await request_report(uow, ctx.desk_chat, request, key)
        await uow.commit()
    return added
