"""The indicators of ``conversations.core.indicators`` in SQL, the same on PostgreSQL and SQLite.

Working days: ``report_day`` holds one row per local date of the city with
``before``, the number of working days before it. An instant ``t`` whose local
date has row ``d`` lies at working-day position

    W(t) = d.before + d.working * (fraction of the local day elapsed at t)

so the working time between two instants is ``W(end) - W(start)``: whole working
days in between count 1, non-working days 0, the first and last days their
fraction, exactly as ``WorkingCalendar.working_days_between`` counts. Local dates
come from the zone's UTC offset (Indonesia's zones have no daylight saving time).

Median and 90th percentile interpolate between the two ranks around
``(n - 1) * p``: PostgreSQL's ``percentile_cont``; SQLite has none, so there the
values of each group are ranked with window functions and interpolated alike.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Select,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import SQLModel

from conversations.core.indicators import (
    COUNTED_EVENTS,
    PERCENTILES,
    VERIFY_ACTIONS,
    ComplaintLine,
    Dimension,
    Figures,
    HistoryEntry,
    Period,
)
from conversations.core.lifecycle import Action, Status
from conversations.core.survey import NOT_FIXED_EVENT
from conversations.core.workdays import WorkingCalendar
from storage.mapping import from_db_time, to_db_time
from storage.tables import (
    CitizenRow,
    ComplaintRow,
    EventRow,
    ReportCalendarRow,
    ReportDayRow,
)

log = logging.getLogger(__name__)

EPOCH = date(1970, 1, 1)
DAY_SECONDS = 86400.0
RESOLVED = (Status.SELESAI.value, Status.DITUTUP.value)
VERIFY_OPEN = (Status.BARU.value, Status.TERVERIFIKASI.value)
SETTLE_OPEN = (
    Status.BARU.value,
    Status.TERVERIFIKASI.value,
    Status.DIDISPOSISIKAN.value,
    Status.DITINDAKLANJUTI.value,
)
CALENDAR_YEARS_AHEAD = 2

complaint: Table = SQLModel.metadata.tables[ComplaintRow.__tablename__]
event: Table = SQLModel.metadata.tables[EventRow.__tablename__]
citizen: Table = SQLModel.metadata.tables[CitizenRow.__tablename__]
report_day: Table = SQLModel.metadata.tables[ReportDayRow.__tablename__]


class epoch_seconds(FunctionElement[float]):
    """Seconds since 1970-01-01 UTC of a stored instant."""

    type = Float()
    inherit_cache = True


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part is double precision; EXTRACT would give numeric, much slower to compute with.
    return f"date_part('epoch', {compiler.process(element.clauses, **kw)})"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps UTC instants as text, "YYYY-MM-DD HH:MM:SS.ffffff": whole seconds
    # from strftime, the fraction from the text (julianday would round it).
    moment = compiler.process(element.clauses, **kw)
    return f"(CAST(strftime('%s', {moment}) AS REAL) + CAST(substr({moment}, 20) AS REAL))"


class floor_int(FunctionElement[int]):
    """The integer at or below a number."""

    type = Integer()
    inherit_cache = True


@compiles(floor_int, "postgresql")
def _floor_postgresql(element: floor_int, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR({compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(floor_int, "sqlite")
def _floor_sqlite(element: floor_int, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's math functions are optional; CAST truncates, which is the floor for the
    # numbers used here (never negative).
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


def _float(expression: Any) -> ColumnElement[float]:
    return func.cast(expression, Float)


def _flag(condition: Any) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _share(part: Any, whole: Any) -> ColumnElement[float]:
    """Percent of ``whole``; NULL when ``whole`` is zero."""
    return case((whole > 0, _float(100.0 * part) / _float(whole)), else_=None)


class SqlReportQueries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], calendar: WorkingCalendar):
        self._sessions = sessions
        self.calendar = calendar
        # The range this process has checked the table for (the calendar never
        # changes in a process; a new range means a new year or older data).
        self._built: tuple[date, date] | None = None
        self._lock = asyncio.Lock()
        self._warned = False

    # the working-day calendar ----------------------------------------------------------

    def offset_seconds(self, moment: datetime) -> int:
        offset = self.calendar.tz.utcoffset(moment.replace(tzinfo=None))
        return int(offset.total_seconds()) if offset is not None else 0

    async def ensure_calendar(self, as_of: datetime) -> int:
        """Make sure ``report_day`` covers the data and ``as_of`` with this city's
        working days; returns the UTC offset (seconds) its local dates use."""
        async with self._sessions() as session:
            first = await session.scalar(select(func.min(complaint.c.created_at)))
        tz = self.calendar.tz
        this_year = as_of.astimezone(tz).year
        first_year = min((from_db_time(first) or as_of).astimezone(tz).year, this_year)
        start = date(first_year - 1, 1, 1)
        end = date(this_year + CALENDAR_YEARS_AHEAD + 1, 1, 1)
        offset = self.offset_seconds(datetime.combine(start, datetime.min.time()))
        if self._built == (start, end):
            return offset
        flags = [
            self.calendar.is_working_day(start + timedelta(days=n))
            for n in range((end - start).days)
        ]
        self._check_offset(start, end, offset)
        basis = f"{offset}:{start.isoformat()}:" + "".join("1" if f else "0" for f in flags)
        fingerprint = hashlib.sha256(basis.encode()).hexdigest()
        async with self._lock:
            if self._built != (start, end):
                await self._build(start, flags, offset, fingerprint)
                self._built = (start, end)
        return offset

    def _check_offset(self, start: date, end: date, offset: int) -> None:
        if self._warned:
            return
        for year in range(start.year, end.year):
            for month in (1, 7):
                if self.offset_seconds(datetime(year, month, 1)) != offset:
                    self._warned = True
                    log.warning(
                        "time zone %s changes its UTC offset; reports count working days "
                        "at a fixed offset of %+d s",
                        self.calendar.tz.key,
                        offset,
                    )
                    return

    async def _build(self, start: date, flags: list[bool], offset: int, fingerprint: str) -> None:
        async with self._sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                # Two processes must not interleave their rebuilds.
                await session.execute(text("LOCK TABLE report_calendar IN EXCLUSIVE MODE"))
            stored = await session.get(ReportCalendarRow, 1)
            if stored is not None and stored.fingerprint == fingerprint:
                return
            await session.execute(delete(ReportDayRow))
            rows: list[dict[str, Any]] = []
            before = 0
            for n, working in enumerate(flags):
                day = start + timedelta(days=n)
                number = (day - EPOCH).days
                rows.append(
                    {
                        "day": number,
                        "midnight": float(number * 86400 - offset),
                        "date": day,
                        "month": day.strftime("%Y-%m"),
                        "working": int(working),
                        "before": before,
                    }
                )
                before += int(working)
            for chunk in range(0, len(rows), 1000):
                await session.execute(insert(report_day), rows[chunk : chunk + 1000])
            if stored is None:
                session.add(ReportCalendarRow(id=1, fingerprint=fingerprint, built_at=_now()))
            else:
                stored.fingerprint = fingerprint
                stored.built_at = _now()
        log.info("report calendar rebuilt from %s (%d days)", start.isoformat(), len(flags))

    # per-complaint facts --------------------------------------------------------------

    def _facts(
        self,
        period: Period,
        as_of: datetime,
        agency: str | None,
        offset: int,
        page: tuple[int, int] | None = None,
    ) -> Select[Any]:
        """One row per complaint of the cohort with the values every indicator uses."""
        c = complaint.c
        e = event.c
        since, until = period.bounds(self.calendar.tz)
        scope: list[Any] = [c.created_at >= to_db_time(since), c.created_at < to_db_time(until)]
        if agency is not None:
            scope.append(c.agency == agency)
        if page is not None:
            after_id, limit = page
            ids = (
                select(c.id)
                .where(*scope, c.id > after_id)
                .order_by(c.id)
                .limit(limit)
                .scalar_subquery()
            )
            scope.append(c.id.in_(ids))
        now = to_db_time(as_of)
        ev = (
            select(
                e.complaint_id,
                func.min(case((e.action.in_(VERIFY_ACTIONS), e.at))).label("verified_at"),
                func.sum(
                    _flag(
                        and_(e.action == Action.REOPEN.value, e.from_status == Status.SELESAI.value)
                    )
                ).label("reopens"),
                func.sum(
                    _flag(and_(e.action == Action.CLOSE.value, e.actor_role == "citizen"))
                ).label("fixed"),
                func.sum(_flag(e.action == NOT_FIXED_EVENT)).label("notfixed"),
            )
            .join(complaint, c.id == e.complaint_id)
            .where(*scope, e.action.in_(COUNTED_EVENTS))
            .group_by(e.complaint_id)
            .subquery("ev")
        )
        days = {name: report_day.alias(f"d_{name}") for name in ("c", "v", "d", "f", "r")}

        def local_day(moment: Any) -> ColumnElement[int]:
            return floor_int((epoch_seconds(moment) + offset) / DAY_SECONDS)

        def position(name: str, moment: Any) -> ColumnElement[float]:
            d = days[name].c
            return d.before + d.working * (epoch_seconds(moment) - d.midnight) / DAY_SECONDS

        verified_at = ev.c.verified_at
        reopens = func.coalesce(ev.c.reopens, 0)
        resolved = c.status.in_(RESOLVED)
        dispatched = c.dispatched_at.is_not(None)
        verify_late = or_(
            verified_at > c.verify_due, and_(verified_at.is_(None), c.verify_due < now)
        )
        followup_late = and_(
            dispatched,
            or_(
                c.followed_up_at > c.followup_due,
                and_(c.followed_up_at.is_(None), c.followup_due < now),
            ),
        )
        overdue = or_(
            and_(c.status.in_(VERIFY_OPEN), c.verify_due < now),
            and_(c.status == Status.DIDISPOSISIKAN.value, c.followup_due < now),
            and_(c.status.in_(SETTLE_OPEN), c.settle_due < now),
        )
        joined = (
            complaint.outerjoin(ev, ev.c.complaint_id == c.id)
            .outerjoin(days["c"], days["c"].c.day == local_day(c.created_at))
            .outerjoin(days["v"], days["v"].c.day == local_day(verified_at))
            .outerjoin(days["d"], days["d"].c.day == local_day(c.dispatched_at))
            .outerjoin(days["f"], days["f"].c.day == local_day(c.followed_up_at))
            .outerjoin(days["r"], days["r"].c.day == local_day(c.resolved_at))
        )
        return (
            select(
                c.id,
                c.agency,
                c.category,
                c.channel,
                c.status,
                days["c"].c.month,
                _flag(verified_at <= c.verify_due).label("verify_on_time"),
                _flag(verify_late).label("verify_late"),
                _flag(and_(dispatched, c.followed_up_at <= c.followup_due)).label(
                    "followup_on_time"
                ),
                _flag(followup_late).label("followup_late"),
                _flag(resolved).label("resolved"),
                _flag(c.status == Status.DITOLAK.value).label("rejected"),
                _flag(c.status == Status.BUKAN_WEWENANG.value).label("not_authority"),
                _flag(reopens > 0).label("reopened"),
                _flag(or_(resolved, reopens > 0)).label("resolved_ever"),
                c.rating,
                func.coalesce(ev.c.fixed, 0).label("fixed_answers"),
                (func.coalesce(ev.c.fixed, 0) + func.coalesce(ev.c.notfixed, 0)).label(
                    "survey_answers"
                ),
                _flag(overdue).label("overdue"),
                (position("v", verified_at) - position("c", c.created_at)).label("verify_days"),
                (position("f", c.followed_up_at) - position("d", c.dispatched_at)).label(
                    "followup_days"
                ),
                case((resolved, position("r", c.resolved_at) - position("c", c.created_at))).label(
                    "resolve_days"
                ),
                verified_at.label("verified_at"),
            )
            .select_from(joined)
            .where(*scope)
        )

    # the scorecard --------------------------------------------------------------------

    async def scorecard(
        self,
        period: Period,
        dimensions: Sequence[Dimension],
        as_of: datetime,
        agency: str | None = None,
    ) -> list[Figures]:
        if not dimensions:
            return []
        offset = await self.ensure_calendar(as_of)
        async with self._sessions() as session:
            postgresql = session.get_bind().dialect.name == "postgresql"
            query = self._scorecard(period, dimensions, as_of, agency, offset, postgresql)
            if postgresql:
                # Compiling this one statement (JIT) costs more than running it, and
                # the percentiles' sorts fit in memory: keep them off the disk.
                await session.execute(text("SET LOCAL jit = off"))
                await session.execute(text("SET LOCAL work_mem = '64MB'"))
            rows = (await session.execute(query)).all()
        return [_figures(row) for row in rows]

    def _scorecard(
        self,
        period: Period,
        dimensions: Sequence[Dimension],
        as_of: datetime,
        agency: str | None,
        offset: int,
        ordered_set_aggregates: bool,
    ) -> Select[Any]:
        """The scorecard's statement. Percentiles come from ``percentile_cont`` where the
        database has it (PostgreSQL: it sorts each group's values alone, several times
        faster) and from ranks otherwise (SQLite); both interpolate the same way."""
        # Materialized: each complaint's values are computed once, not once per dimension.
        facts = (
            self._facts(period, as_of, agency, offset)
            .cte("f")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        f = facts.c
        keys = {
            Dimension.TOTAL: literal(""),
            Dimension.AGENCY: f.agency,
            Dimension.CATEGORY: f.category,
            Dimension.CHANNEL: f.channel,
            Dimension.STATUS: f.status,
            Dimension.MONTH: f.month,
        }
        # Every complaint once per dimension, labelled with its group in it.
        grouped = union_all(
            *(
                select(
                    literal(d.value).label("dim"),
                    keys[d].label("key"),
                    *(f[name] for name in FACT_VALUES),
                )
                for d in dimensions
            )
        ).cte("x")
        x = grouped.c

        def total(name: str) -> ColumnElement[int]:
            return func.coalesce(func.sum(x[name]), 0)

        received = func.count()
        sums = (
            select(
                x.dim,
                x.key,
                received.label("received"),
                total("verify_on_time").label("verify_on_time"),
                total("verify_late").label("verify_late"),
                _share(
                    total("verify_on_time"), total("verify_on_time") + total("verify_late")
                ).label("verify_on_time_pct"),
                total("followup_on_time").label("followup_on_time"),
                total("followup_late").label("followup_late"),
                _share(
                    total("followup_on_time"), total("followup_on_time") + total("followup_late")
                ).label("followup_on_time_pct"),
                total("resolved").label("resolved"),
                _share(total("resolved"), received).label("resolved_pct"),
                _float(func.avg(x.resolve_days)).label("resolve_days_avg"),
                total("overdue").label("overdue"),
                total("rejected").label("rejected"),
                _share(total("rejected"), received).label("rejected_pct"),
                total("not_authority").label("not_authority"),
                _share(total("not_authority"), received).label("not_authority_pct"),
                total("reopened").label("reopened"),
                total("resolved_ever").label("resolved_ever"),
                _share(total("reopened"), total("resolved_ever")).label("reopened_pct"),
                func.count(x.rating).label("rated"),
                _float(func.avg(x.rating)).label("rating_avg"),
                total("survey_answers").label("survey_answers"),
                total("fixed_answers").label("fixed_answers"),
                _share(total("fixed_answers"), total("survey_answers")).label("fixed_pct"),
                *(
                    _float(func.percentile_cont(p).within_group(x[name])).label(f"{name}_{label}")
                    for name in DURATIONS
                    for label, p in PERCENTILES.items()
                    if ordered_set_aggregates
                ),
            )
            .group_by(x.dim, x.key)
            .subquery("sums")
        )
        query_from: Any = sums
        percentiles: dict[str, Any] = {}
        for name in DURATIONS if not ordered_set_aggregates else ():
            ranked = _percentiles(grouped, name)
            query_from = query_from.outerjoin(
                ranked, and_(ranked.c.dim == sums.c.dim, ranked.c.key == sums.c.key)
            )
            for label in PERCENTILES:
                percentiles[f"{name}_{label}"] = ranked.c[label]
        columns: list[Any] = [sums.c.dim, sums.c.key]
        for field in FIGURES:
            columns.append(percentiles.get(field.name, sums.c.get(field.name)))
        return select(*columns).select_from(query_from).order_by(sums.c.dim, sums.c.key)

    # complaints, for files ----------------------------------------------------------------

    async def complaints(
        self,
        period: Period,
        as_of: datetime,
        agency: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[ComplaintLine]:
        offset = await self.ensure_calendar(as_of)
        facts = self._facts(period, as_of, agency, offset, page=(after_id, limit)).subquery("f")
        c = complaint.c
        query = (
            select(
                facts,
                c.ticket,
                c.created_at,
                c.anonymous,
                c.confidential,
                c.description,
                c.address,
                c.latitude,
                c.longitude,
                c.verify_due,
                c.dispatched_at,
                c.followup_due,
                c.followed_up_at,
                c.resolved_at,
                c.closed_at,
                c.settle_due,
                # Anonymous complaints: the name is never even read.
                case((c.anonymous.is_(False), citizen.c.display_name)).label("reporter"),
            )
            .select_from(
                facts.join(complaint, c.id == facts.c.id).outerjoin(
                    citizen, citizen.c.id == c.citizen_id
                )
            )
            .order_by(c.id)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).mappings().all()
            ids = [int(row["id"]) for row in rows]
            history: dict[int, list[HistoryEntry]] = defaultdict(list)
            if ids:
                e = event.c
                moves = await session.execute(
                    select(
                        e.complaint_id,
                        e.at,
                        e.action,
                        e.actor_role,
                        e.actor_name,
                        e.from_status,
                        e.to_status,
                    )
                    .where(e.complaint_id.in_(ids), e.to_status.is_not(None))
                    .order_by(e.complaint_id, e.id)
                )
                for move in moves.all():
                    at = from_db_time(move.at)
                    assert at is not None
                    history[int(move.complaint_id)].append(
                        HistoryEntry(
                            at,
                            move.action,
                            move.actor_role,
                            move.actor_name,
                            move.from_status,
                            move.to_status,
                        )
                    )
        return [_line(row, tuple(history[int(row["id"])])) for row in rows]


def _now() -> datetime:
    return datetime.now(UTC)


DURATIONS = ("verify_days", "followup_days", "resolve_days")
# Per-complaint values the scorecard aggregates (``_facts`` names them).
FACT_VALUES = (
    "verify_on_time",
    "verify_late",
    "followup_on_time",
    "followup_late",
    "resolved",
    "rejected",
    "not_authority",
    "reopened",
    "resolved_ever",
    "rating",
    "fixed_answers",
    "survey_answers",
    "overdue",
    "verify_days",
    "followup_days",
    "resolve_days",
)
FIGURES = [f for f in dataclasses.fields(Figures) if f.name not in ("dimension", "key")]


def _percentiles(grouped: Any, name: str) -> Any:
    """Median and 90th percentile of one value per group: rank the group's values,
    then interpolate between the ranks around ``(n - 1) * p`` (``percentile_cont``)."""
    x = grouped.c
    value = x[name]
    part = (x.dim, x.key)
    ranked = (
        select(
            x.dim,
            x.key,
            value.label("value"),
            func.row_number().over(partition_by=part, order_by=value).label("rank"),
            func.count().over(partition_by=part).label("n"),
        )
        .where(value.is_not(None))
        .subquery(f"ranked_{name}")
    )
    r = ranked.c
    below = {label: floor_int((r.n - 1) * p) + 1 for label, p in PERCENTILES.items()}
    # Only the two ranks around each percentile matter: a few rows per group.
    near = [rank for low in below.values() for rank in (low, low + 1)]
    picked = select(ranked).where(r.rank.in_(near)).subquery(f"picked_{name}")
    k = picked.c
    columns: list[Any] = [k.dim, k.key]
    for label, p in PERCENTILES.items():
        h = (k.n - 1) * p
        low = func.max(case((k.rank == floor_int(h) + 1, k.value)))
        high = func.max(case((k.rank == floor_int(h) + 2, k.value)))
        fraction = func.max(h - floor_int(h))
        columns.append(_float(low + fraction * (func.coalesce(high, low) - low)).label(label))
    return select(*columns).group_by(k.dim, k.key).subquery(f"percentiles_{name}")


def _figures(row: Any) -> Figures:
    """A result row (dimension, key, then the figures in field order) as ``Figures``."""
    values = list(row)
    converted: dict[str, Any] = {}
    for field, value in zip(FIGURES, values[2:], strict=True):
        if value is None:
            converted[field.name] = None
        else:
            converted[field.name] = int(value) if field.type == "int" else float(value)
    return Figures(dimension=Dimension(values[0]), key=str(values[1] or ""), **converted)


def _on_time(on_time: int, late: int) -> bool | None:
    if on_time:
        return True
    if late:
        return False
    return None


def _line(row: Any, history: tuple[HistoryEntry, ...]) -> ComplaintLine:
    created = from_db_time(row["created_at"])
    assert created is not None

    def days(name: str) -> float | None:
        value = row[name]
        return None if value is None else float(value)

    return ComplaintLine(
        id=int(row["id"]),
        ticket=row["ticket"],
        created_at=created,
        channel=row["channel"],
        category=row["category"],
        agency=row["agency"],
        status=row["status"],
        anonymous=bool(row["anonymous"]),
        confidential=bool(row["confidential"]),
        reporter=None if row["anonymous"] else row["reporter"],
        description=row["description"],
        address=row["address"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        verify_due=from_db_time(row["verify_due"]),
        verified_at=from_db_time(row["verified_at"]),
        dispatched_at=from_db_time(row["dispatched_at"]),
        followup_due=from_db_time(row["followup_due"]),
        followed_up_at=from_db_time(row["followed_up_at"]),
        resolved_at=from_db_time(row["resolved_at"]),
        closed_at=from_db_time(row["closed_at"]),
        settle_due=from_db_time(row["settle_due"]),
        rating=row["rating"],
        verify_on_time=_on_time(row["verify_on_time"], row["verify_late"]),
        followup_on_time=_on_time(row["followup_on_time"], row["followup_late"]),
        overdue=bool(row["overdue"]),
        reopened=bool(row["reopened"]),
        verify_days=days("verify_days"),
        followup_days=days("followup_days"),
        resolve_days=days("resolve_days"),
        history=history,
    )
