"""Specification of the SP4N-LAPOR! working-day calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from conversations.core.workdays import WorkingCalendar, parse_days_off

WIB = ZoneInfo("Asia/Jakarta")
END_OF_DAY = time(23, 59, 59, 999999)


def wib(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=WIB)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), END_OF_DAY, tzinfo=WIB)


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


# --- which days are working days -------------------------------------------


def test_default_time_zone_is_jakarta(cal: WorkingCalendar) -> None:
    assert cal.tz == ZoneInfo("Asia/Jakarta")


def test_weekdays_work_and_weekends_do_not(cal: WorkingCalendar) -> None:
    assert cal.is_working_day(date(2026, 11, 27))  # Friday
    assert not cal.is_working_day(date(2026, 11, 28))  # Saturday
    assert not cal.is_working_day(date(2026, 11, 29))  # Sunday
    assert cal.is_working_day(date(2026, 11, 30))  # Monday


def test_national_holidays_are_not_working_days(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(date(2026, 3, 19))  # Nyepi (Thu)
    assert not cal.is_working_day(date(2026, 12, 25))  # Christmas (Fri)
    assert not cal.is_working_day(date(2027, 1, 1))  # New Year 2027 (Fri)
    assert cal.is_working_day(date(2026, 3, 20))  # Friday before Idul Fitri


def test_cuti_bersama_are_not_working_days() -> None:
    cal = WorkingCalendar(extra_days_off=[date(2026, 3, 20)])
    assert not cal.is_working_day(date(2026, 3, 20))


def test_extra_working_day_overrides_weekend_and_holiday() -> None:
    cal = WorkingCalendar(extra_working_days=[date(2026, 11, 28), date(2026, 12, 25)])
    assert cal.is_working_day(date(2026, 11, 28))  # Saturday
    assert cal.is_working_day(date(2026, 12, 25))  # Christmas


def test_same_date_as_day_off_and_working_day_is_rejected() -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(extra_days_off=[date(2026, 3, 20)], extra_working_days=[date(2026, 3, 20)])


def test_datetime_in_days_off_config_is_rejected() -> None:
    with pytest.raises(TypeError):
        WorkingCalendar(extra_days_off=[datetime(2026, 3, 20)])


def test_next_and_previous_working_day_skip_weekend(cal: WorkingCalendar) -> None:
    assert cal.next_working_day(date(2026, 11, 27)) == date(2026, 11, 30)
    assert cal.previous_working_day(date(2026, 11, 30)) == date(2026, 11, 27)


def test_next_working_day_is_strictly_after(cal: WorkingCalendar) -> None:
    assert cal.next_working_day(date(2026, 11, 24)) == date(2026, 11, 25)
    assert cal.previous_working_day(date(2026, 11, 25)) == date(2026, 11, 24)


# --- deadlines ---------------------------------------------------------------


def test_friday_submission_is_due_wednesday(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(wib(2026, 11, 27, 15), 3) == end_of(2026, 12, 2)


def test_saturday_submission_is_due_wednesday(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(wib(2026, 11, 28, 10), 3) == end_of(2026, 12, 2)


def test_deadline_is_end_of_day_in_calendar_zone(cal: WorkingCalendar) -> None:
    due = cal.add_working_days(wib(2026, 11, 24, 9), 1)
    assert due.tzinfo == WIB
    assert due.date() == date(2026, 11, 25)
    assert due.time() == END_OF_DAY


def test_nyepi_and_idul_fitri_weekend_are_skipped(cal: WorkingCalendar) -> None:
    # Wed 18 Mar 2026: Thu 19 Nyepi, Fri 20 = 1, Sat 21/Sun 22 Idul Fitri,
    # Mon 23 = 2, Tue 24 = 3.
    assert cal.add_working_days(wib(2026, 3, 18, 10), 3) == end_of(2026, 3, 24)


def test_cuti_bersama_around_idul_fitri_push_deadline_further() -> None:
    cal = WorkingCalendar(extra_days_off=parse_days_off(["2026-03-20", "2026-03-23", "2026-03-24"]))
    # Thu 19 .. Tue 24 all off; Wed 25 = 1, Thu 26 = 2, Fri 27 = 3.
    assert cal.add_working_days(wib(2026, 3, 18, 10), 3) == end_of(2026, 3, 27)


def test_christmas_with_cuti_bersama_is_skipped() -> None:
    cal = WorkingCalendar(extra_days_off=[date(2026, 12, 24)])
    # Wed 23 Dec: Thu 24 cuti bersama, Fri 25 Christmas, weekend,
    # Mon 28 = 1, Tue 29 = 2, Wed 30 = 3.
    assert cal.add_working_days(wib(2026, 12, 23, 14), 3) == end_of(2026, 12, 30)


def test_deadline_crosses_into_next_year_holidays(cal: WorkingCalendar) -> None:
    # Thu 31 Dec 2026: Fri 1 Jan 2027 New Year, weekend, Mon 4 = 1,
    # Tue 5 Isra' Mi'raj 2027, Wed 6 = 2.
    assert cal.add_working_days(wib(2026, 12, 31, 16), 1) == end_of(2027, 1, 4)
    assert cal.add_working_days(wib(2026, 12, 31, 16), 2) == end_of(2027, 1, 6)


def test_far_future_years_are_supported(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(date(2035, 8, 17))  # Independence Day
    assert cal.add_working_days(wib(2035, 8, 16, 9), 1) == datetime.combine(
        date(2035, 8, 20), END_OF_DAY, tzinfo=WIB
    )


def test_utc_input_uses_jakarta_local_date(cal: WorkingCalendar) -> None:
    # 18:00 UTC Friday is already Saturday 01:00 WIB.
    submitted = datetime(2026, 11, 27, 18, tzinfo=UTC)
    assert cal.add_working_days(submitted, 3) == end_of(2026, 12, 2)
    assert cal.add_working_days(submitted, 0) == end_of(2026, 11, 30)


def test_utc_thursday_evening_counts_from_jakarta_friday(cal: WorkingCalendar) -> None:
    submitted = datetime(2026, 11, 26, 18, tzinfo=UTC)  # Fri 01:00 WIB
    assert cal.add_working_days(submitted, 1) == end_of(2026, 11, 30)


def test_output_is_in_calendar_zone_even_for_utc_input(cal: WorkingCalendar) -> None:
    due = cal.add_working_days(datetime(2026, 11, 24, 3, tzinfo=UTC), 1)
    assert due.tzinfo == WIB


def test_other_city_zone_uses_its_own_local_date() -> None:
    wit = WorkingCalendar("Asia/Jayapura")  # UTC+9
    submitted = datetime(2026, 11, 27, 16, tzinfo=UTC)  # Sat 01:00 WIT
    due = wit.add_working_days(submitted, 1)
    assert due == datetime.combine(date(2026, 11, 30), END_OF_DAY, tzinfo=wit.tz)


def test_zero_days_on_working_day_is_end_of_same_day(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(wib(2026, 11, 27, 15), 0) == end_of(2026, 11, 27)


def test_zero_days_on_weekend_is_end_of_next_working_day(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(wib(2026, 11, 28, 15), 0) == end_of(2026, 11, 30)


def test_negative_days_are_rejected(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        cal.add_working_days(wib(2026, 11, 27), -1)


def test_extra_working_day_counts_toward_deadline() -> None:
    cal = WorkingCalendar(extra_working_days=[date(2026, 11, 28)])
    assert cal.add_working_days(wib(2026, 11, 27, 15), 1) == end_of(2026, 11, 28)


def test_naive_datetimes_are_rejected(cal: WorkingCalendar) -> None:
    naive = datetime(2026, 11, 27, 15)
    with pytest.raises(ValueError):
        cal.add_working_days(naive, 1)
    with pytest.raises(ValueError):
        cal.working_days_between(naive, wib(2026, 11, 30))
    with pytest.raises(ValueError):
        cal.working_days_between(wib(2026, 11, 27), naive)
    with pytest.raises(ValueError):
        cal.deadline_reminder_at(naive)
    with pytest.raises(ValueError):
        cal.next_working_day_start(naive)


# --- elapsed working time ----------------------------------------------------


def test_friday_noon_to_monday_noon_is_one_working_day(cal: WorkingCalendar) -> None:
    assert cal.working_days_between(wib(2026, 11, 27, 12), wib(2026, 11, 30, 12)) == 1.0


def test_elapsed_time_within_one_day_is_a_fraction(cal: WorkingCalendar) -> None:
    assert cal.working_days_between(wib(2026, 11, 24, 6), wib(2026, 11, 24, 12)) == 0.25


def test_time_on_weekend_counts_zero(cal: WorkingCalendar) -> None:
    assert cal.working_days_between(wib(2026, 11, 28, 1), wib(2026, 11, 29, 23)) == 0.0


def test_holidays_do_not_count_as_elapsed(cal: WorkingCalendar) -> None:
    # Thu 24 Dec noon -> Mon 28 Dec noon: Thu 0.5, Fri Christmas 0, Mon 0.5.
    elapsed = cal.working_days_between(wib(2026, 12, 24, 12), wib(2026, 12, 28, 12))
    assert elapsed == 1.0


def test_reversed_interval_is_negative(cal: WorkingCalendar) -> None:
    assert cal.working_days_between(wib(2026, 11, 30, 12), wib(2026, 11, 27, 12)) == -1.0


def test_elapsed_time_accepts_mixed_zones(cal: WorkingCalendar) -> None:
    start = datetime(2026, 11, 27, 5, tzinfo=UTC)  # Fri 12:00 WIB
    assert cal.working_days_between(start, wib(2026, 11, 30, 12)) == 1.0


# --- reminders and escalation --------------------------------------------------


def test_reminder_fires_at_start_of_last_working_day(cal: WorkingCalendar) -> None:
    deadline = cal.add_working_days(wib(2026, 11, 27, 15), 3)
    assert cal.deadline_reminder_at(deadline) == wib(2026, 12, 2)


def test_reminder_leaves_one_working_day(cal: WorkingCalendar) -> None:
    deadline = cal.add_working_days(wib(2026, 11, 27, 15), 1)  # end of Mon 30 Nov
    reminder = cal.deadline_reminder_at(deadline)
    assert cal.working_days_between(reminder, deadline) == pytest.approx(1.0)


def test_reminder_for_midday_deadline_is_same_time_previous_working_day(
    cal: WorkingCalendar,
) -> None:
    assert cal.deadline_reminder_at(wib(2026, 11, 30, 12)) == wib(2026, 11, 27, 12)


def test_reminder_for_deadline_on_weekend_is_start_of_friday(
    cal: WorkingCalendar,
) -> None:
    assert cal.deadline_reminder_at(wib(2026, 11, 28, 12)) == wib(2026, 11, 27)


def test_reminder_is_in_calendar_zone(cal: WorkingCalendar) -> None:
    deadline = end_of(2026, 12, 2).astimezone(UTC)
    reminder = cal.deadline_reminder_at(deadline)
    assert reminder == wib(2026, 12, 2)
    assert reminder.tzinfo == WIB


def test_escalation_after_friday_repeats_monday_midnight(cal: WorkingCalendar) -> None:
    assert cal.next_working_day_start(wib(2026, 11, 27, 10)) == wib(2026, 11, 30)


def test_escalation_skips_christmas_cuti_bersama() -> None:
    cal = WorkingCalendar(extra_days_off=[date(2026, 12, 24)])
    assert cal.next_working_day_start(wib(2026, 12, 23, 8)) == wib(2026, 12, 28)


def test_escalation_uses_local_date_of_utc_input(cal: WorkingCalendar) -> None:
    moment = datetime(2026, 11, 24, 18, tzinfo=UTC)  # Wed 01:00 WIB
    assert cal.next_working_day_start(moment) == wib(2026, 11, 26)


# --- configuration parsing ------------------------------------------------------


def test_parse_days_off_accepts_iso_strings_and_dates() -> None:
    assert parse_days_off(["2026-12-24", date(2026, 3, 20), " 2026-03-23 "]) == {
        date(2026, 12, 24),
        date(2026, 3, 20),
        date(2026, 3, 23),
    }


def test_parse_days_off_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_days_off(["24-12-2026"])


def test_parse_days_off_rejects_datetimes() -> None:
    with pytest.raises(TypeError):
        parse_days_off([datetime(2026, 12, 24)])


def test_holiday_lookup_is_cached_per_year(cal: WorkingCalendar) -> None:
    start = wib(2026, 1, 1)
    for _ in range(3):
        cal.add_working_days(start, 250)
    elapsed = cal.working_days_between(start, start + timedelta(days=365))
    assert 240 < elapsed < 260
