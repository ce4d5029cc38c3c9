"""Working-day calendar for SP4N-LAPOR! complaint deadlines.

A day is a working day unless it is a Saturday or Sunday, an Indonesian
national public holiday (``holidays.country_holidays("ID")``), or one of the
city's extra days off (*cuti bersama*). Dates in ``extra_working_days``
are working days regardless of the above.

All datetime arguments must be timezone-aware (naive ones raise
``ValueError``); they are converted to the calendar's time zone, and every
datetime returned is aware in that zone. "Local date" below means the date
in the calendar's time zone.

- ``add_working_days(start, n)``: end of day (23:59:59.999999 local) of the
  n-th working day strictly after the local date of ``start``. For ``n == 0``
  it is the end of that local date if it is a working day, else the end of
  the next working day. Negative ``n`` raises ``ValueError``.
- ``working_days_between(start, end)``: working time elapsed, in working
  days; each working day contributes the fraction of it lying inside
  ``[start, end]`` (a whole day is 1.0), non-working days contribute 0.
  Negative when ``end < start``.
- ``deadline_reminder_at(deadline)``: the moment when one working day of
  working time remains. For a deadline at the end of a working day (as
  produced by ``add_working_days``) that is 00:00 of the deadline's local
  date; a deadline inside a working day gets the same local time on the
  previous working day; a deadline on a non-working day gets 00:00 of the
  last working day before it.
- ``next_working_day_start(moment)``: 00:00 local of the first working day
  strictly after the local date of ``moment``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

__all__ = ["WorkingCalendar", "parse_days_off"]

_ONE_DAY = timedelta(days=1)


@cache
def _national_holidays(year: int) -> frozenset[date]:
    """Indonesian national public holidays of one year."""
    return frozenset(holidays.country_holidays("ID", years=year))


def _as_date(value: object) -> date:
    # datetime subclasses date but never compares equal to one, so a datetime
    # slipping into the config would silently never match.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"expected a date, got {type(value).__name__}: {value!r}")
    return value


def parse_days_off(values: Iterable[str | date]) -> set[date]:
    """Parse ISO ``YYYY-MM-DD`` strings and/or dates into a set of dates."""
    days: set[date] = set()
    for value in values:
        if isinstance(value, str):
            try:
                days.add(date.fromisoformat(value.strip()))
            except ValueError:
                raise ValueError(f"invalid ISO date: {value!r}") from None
        else:
            days.add(_as_date(value))
    return days


class WorkingCalendar:
    """Working days of one city: weekends, national holidays, cuti bersama."""

    tz: ZoneInfo
    extra_days_off: frozenset[date]
    extra_working_days: frozenset[date]

    def __init__(
        self,
        tz: str | ZoneInfo = "Asia/Jakarta",
        extra_days_off: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
    ) -> None:
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self.extra_days_off = frozenset(_as_date(d) for d in extra_days_off)
        self.extra_working_days = frozenset(_as_date(d) for d in extra_working_days)
        overlap = self.extra_days_off & self.extra_working_days
        if overlap:
            listed = ", ".join(d.isoformat() for d in sorted(overlap))
            raise ValueError(f"dates both extra day off and working day: {listed}")

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day."""
        if isinstance(day, datetime):
            raise TypeError("is_working_day takes a date, not a datetime")
        if day in self.extra_working_days:
            return True
        if day in self.extra_days_off or day.weekday() >= 5:
            return False
        return day not in _national_holidays(day.year)

    def next_working_day(self, day: date) -> date:
        """First working day strictly after ``day``."""
        day += _ONE_DAY
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def previous_working_day(self, day: date) -> date:
        """Last working day strictly before ``day``."""
        day -= _ONE_DAY
        while not self.is_working_day(day):
            day -= _ONE_DAY
        return day

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Deadline: end of the ``days``-th working day after ``start``'s local date."""
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        day = self._local(start).date()
        if days == 0:
            if not self.is_working_day(day):
                day = self.next_working_day(day)
        else:
            for _ in range(days):
                day = self.next_working_day(day)
        return self._end_of(day)

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """Working time from ``start`` to ``end`` in working days."""
        start, end = self._local(start), self._local(end)
        if end < start:
            return -self.working_days_between(end, start)
        t0, t1 = start.timestamp(), end.timestamp()
        total = 0.0
        day = start.date()
        last = end.date()
        while day <= last:
            if self.is_working_day(day):
                # Timestamps, not wall-clock subtraction: same-tzinfo aware
                # datetimes subtract naively, which is wrong across DST shifts.
                day_start = self._start_of(day).timestamp()
                day_end = self._start_of(day + _ONE_DAY).timestamp()
                overlap = min(t1, day_end) - max(t0, day_start)
                if overlap > 0:
                    total += overlap / (day_end - day_start)
            day += _ONE_DAY
        return total

    def deadline_reminder_at(self, deadline: datetime) -> datetime:
        """Moment at which one working day of time remains before ``deadline``."""
        local = self._local(deadline)
        day = local.date()
        if self.is_working_day(day):
            if local.time() == time.max:
                return self._start_of(day)
            previous = self.previous_working_day(day)
            return datetime.combine(previous, local.time(), tzinfo=self.tz)
        return self._start_of(self.previous_working_day(day))

    def next_working_day_start(self, moment: datetime) -> datetime:
        """00:00 local of the first working day after ``moment``'s local date."""
        return self._start_of(self.next_working_day(self._local(moment).date()))

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"timezone-aware datetime required, got naive {moment!r}")
        return moment.astimezone(self.tz)

    def _start_of(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.tz)

    def _end_of(self, day: date) -> datetime:
        return datetime.combine(day, time.max, tzinfo=self.tz)
