"""The indicators a city reports on complaint handling: one definition each.

Every indicator is taken over a *cohort*: the complaints received (submitted) in
a period of local dates, as they stand at the report's moment ``as_of``. Storage
computes them in SQL (``ReportQueries``) from the per-complaint facts below, so a
scorecard row, a trend point and a complaint's line in an export agree.

Per complaint:

- *verified*: the desk's first assessment, i.e. the first ``verify``, ``dispatch``,
  ``reject`` or ``notauth`` event. On time when at or before ``verify_due``;
  late when after it, or still not verified once ``verify_due`` has passed;
  otherwise not counted yet.
- *followed up*: ``followed_up_at`` (the agency started, or resolved at once).
  Only dispatched complaints count: on time when at or before ``followup_due``,
  late when after it or still not done once ``followup_due`` has passed.
- *resolved*: status ``selesai`` or ``ditutup``.
- *overdue now*: open and past a deadline at ``as_of``, as the escalations see it
  (verification in ``baru``/``terverifikasi``, follow-up in ``didisposisikan``,
  settlement in any open status but ``tertunda``).
- *reopened*: moved out of ``selesai`` again (the citizen said it is not fixed).
- durations in working days (weekends, national holidays and the city's own days
  off count zero, part days count their fraction, as the deadlines do): to
  verification from submission, to follow-up from dispatch, to resolution from
  submission (the last resolution).

Per group, percentages are of the complaints whose outcome is known (on time +
late), of all received (resolved, rejected, not our authority), of those resolved
at least once (reopened), and of the citizens' answers to "is it fixed?" (fixed).
Median and 90th percentile interpolate linearly between ranks, like PostgreSQL's
``percentile_cont``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from conversations.core.lifecycle import Action
from conversations.core.survey import NOT_FIXED_EVENT

# Events that count as the desk's first assessment of a complaint.
VERIFY_ACTIONS = (
    Action.VERIFY.value,
    Action.DISPATCH.value,
    Action.REJECT.value,
    Action.NOT_AUTHORITY.value,
)
# Every event an indicator reads: verification, reopening, closing, "not fixed".
COUNTED_EVENTS = (*VERIFY_ACTIONS, Action.REOPEN.value, Action.CLOSE.value, NOT_FIXED_EVENT)
PERCENTILES = {"median": 0.5, "p90": 0.9}
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class Dimension(StrEnum):
    TOTAL = "total"
    AGENCY = "agency"
    CATEGORY = "category"
    CHANNEL = "channel"
    STATUS = "status"
    MONTH = "month"


class Unit(StrEnum):
    COUNT = "count"
    PERCENT = "percent"
    DAYS = "days"
    RATING = "rating"


@dataclass(frozen=True)
class Period:
    """Local dates from ``start`` up to, not including, ``end``."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a period ends after it starts")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = date(year, month, 1)
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return cls(start, end)

    @classmethod
    def parse_month(cls, text: str) -> Period:
        """``YYYY-MM``; ``ValueError`` for anything else."""
        found = _MONTH.fullmatch(text.strip())
        if found is None or not 1 <= int(found.group(2)) <= 12:
            raise ValueError(f"not a month (YYYY-MM): {text!r}")
        return cls.month(int(found.group(1)), int(found.group(2)))

    @classmethod
    def month_of(cls, day: date) -> Period:
        return cls.month(day.year, day.month)

    def previous_month(self) -> Period:
        before = date.fromordinal(self.start.toordinal() - 1)
        return Period.month(before.year, before.month)

    def months_back(self, count: int) -> Period:
        """The ``count`` months ending with this period's month (for a trend)."""
        first = Period.month_of(self.start)
        for _ in range(count - 1):
            first = first.previous_month()
        return Period(first.start, self.end)

    @property
    def is_month(self) -> bool:
        return self == Period.month_of(self.start)

    @property
    def label(self) -> str:
        if self.is_month:
            return self.start.strftime("%Y-%m")
        last = date.fromordinal(self.end.toordinal() - 1)
        return f"{self.start.isoformat()} – {last.isoformat()}"

    def months(self) -> list[str]:
        """``YYYY-MM`` of every month the period touches, in order."""
        found: list[str] = []
        current = Period.month_of(self.start)
        while current.start < self.end:
            found.append(current.start.strftime("%Y-%m"))
            current = Period(current.end, Period.month_of(current.end).end)
        return found

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The instants of local midnight at ``start`` and at ``end``."""
        return (
            datetime.combine(self.start, time.min, tzinfo=tz),
            datetime.combine(self.end, time.min, tzinfo=tz),
        )


@dataclass(frozen=True)
class Figures:
    """One scorecard row: the indicators of one group of the cohort."""

    dimension: Dimension
    key: str
    received: int
    verify_on_time: int
    verify_late: int
    verify_on_time_pct: float | None
    followup_on_time: int
    followup_late: int
    followup_on_time_pct: float | None
    resolved: int
    resolved_pct: float | None
    verify_days_median: float | None
    verify_days_p90: float | None
    followup_days_median: float | None
    followup_days_p90: float | None
    resolve_days_median: float | None
    resolve_days_p90: float | None
    resolve_days_avg: float | None
    overdue: int
    rejected: int
    rejected_pct: float | None
    not_authority: int
    not_authority_pct: float | None
    reopened: int
    resolved_ever: int
    reopened_pct: float | None
    rated: int
    rating_avg: float | None
    survey_answers: int
    fixed_answers: int
    fixed_pct: float | None


@dataclass(frozen=True)
class Indicator:
    """An indicator as reports show it; its name and definition are in the catalog
    (``report.indicator.<key>``, ``report.definition.<key>``)."""

    key: str
    unit: Unit


INDICATORS: tuple[Indicator, ...] = (
    Indicator("received", Unit.COUNT),
    Indicator("verify_on_time_pct", Unit.PERCENT),
    Indicator("followup_on_time_pct", Unit.PERCENT),
    Indicator("resolved_pct", Unit.PERCENT),
    Indicator("verify_days_median", Unit.DAYS),
    Indicator("verify_days_p90", Unit.DAYS),
    Indicator("followup_days_median", Unit.DAYS),
    Indicator("followup_days_p90", Unit.DAYS),
    Indicator("resolve_days_median", Unit.DAYS),
    Indicator("resolve_days_p90", Unit.DAYS),
    Indicator("resolve_days_avg", Unit.DAYS),
    Indicator("overdue", Unit.COUNT),
    Indicator("rejected_pct", Unit.PERCENT),
    Indicator("not_authority_pct", Unit.PERCENT),
    Indicator("reopened_pct", Unit.PERCENT),
    Indicator("rating_avg", Unit.RATING),
    Indicator("fixed_pct", Unit.PERCENT),
)


@dataclass(frozen=True)
class HistoryEntry:
    """One status change of a complaint (no messages or notes: those may name people)."""

    at: datetime
    action: str
    actor_role: str
    actor_name: str | None
    from_status: str | None
    to_status: str | None


@dataclass(frozen=True)
class ComplaintLine:
    """A complaint as files list it, with its own indicator values.

    ``reporter`` is None for anonymous complaints: storage never reads the name.
    ``*_on_time`` is True, False (late) or None (not due yet, or not dispatched).
    """

    id: int
    ticket: str
    created_at: datetime
    channel: str
    category: str
    agency: str
    status: str
    anonymous: bool
    confidential: bool
    reporter: str | None
    description: str
    address: str | None
    latitude: float | None
    longitude: float | None
    verify_due: datetime | None
    verified_at: datetime | None
    dispatched_at: datetime | None
    followup_due: datetime | None
    followed_up_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    settle_due: datetime | None
    rating: int | None
    verify_on_time: bool | None
    followup_on_time: bool | None
    overdue: bool
    reopened: bool
    verify_days: float | None
    followup_days: float | None
    resolve_days: float | None
    history: tuple[HistoryEntry, ...] = ()


class ReportQueries(Protocol):
    """Indicator queries; each call is its own read-only transaction."""

    async def scorecard(
        self,
        period: Period,
        dimensions: Sequence[Dimension],
        as_of: datetime,
        agency: str | None = None,
    ) -> list[Figures]:
        """One row per group of each dimension (``TOTAL`` has one row, key ``""``);
        groups without complaints are left out."""

    async def complaints(
        self,
        period: Period,
        as_of: datetime,
        agency: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[ComplaintLine]:
        """The cohort's complaints with id > ``after_id``, by id, with their histories."""
