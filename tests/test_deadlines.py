"""Deadlines stored on a complaint: SP4N-LAPOR! defaults, per-category overrides, holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from conversations.core import deadlines
from conversations.core.config import CityConfig
from conversations.core.domain import Complaint
from conversations.core.workdays import WorkingCalendar
from tests.support.core import sample_city

WIB = ZoneInfo("Asia/Jakarta")


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=WIB)


def complaint(category: str, created: datetime) -> Complaint:
    return Complaint(
        ticket="ADU-2611-0001",
        citizen_id=1,
        channel="telegram",
        chat_id="1001",
        category=category,
        agency="pupr",
        description="Jalan berlubang di depan pasar",
        created_at=created,
    )


def city(**deadline_overrides: int) -> CityConfig:
    config = sample_city()
    if deadline_overrides:
        data = config.model_dump()
        for category in data["categories"]:
            if category["code"] == "sampah":
                category["deadlines"] = deadline_overrides
        config = CityConfig.model_validate(data)
    return config


def calendar(config: CityConfig) -> WorkingCalendar:
    return WorkingCalendar(config.timezone, config.cuti_bersama, config.extra_working_days)


def test_defaults_over_a_weekend() -> None:
    config = city()
    cal = calendar(config)
    friday = datetime(2026, 11, 27, 14, 0, tzinfo=WIB)
    c = complaint("jalan", friday)
    deadlines.on_submit(c, config, cal)
    assert c.verify_due == end_of(date(2026, 12, 2))  # Mon, Tue, Wed
    assert c.settle_due == friday + timedelta(days=60)
    deadlines.on_dispatch(c, friday, config, cal)
    assert c.followup_due == end_of(date(2026, 12, 4))  # five working days
    deadlines.on_resolve(c, friday, config, cal)
    assert c.autoclose_due == end_of(date(2026, 12, 11))  # ten working days


def test_category_override_from_the_city_file() -> None:
    config = city()
    cal = calendar(config)
    friday = datetime(2026, 11, 27, 14, 0, tzinfo=WIB)
    c = complaint("adminduk", friday)  # city.yaml: followup_working_days: 3
    deadlines.on_submit(c, config, cal)
    deadlines.on_dispatch(c, friday, config, cal)
    assert c.verify_due == end_of(date(2026, 12, 2))
    assert c.followup_due == end_of(date(2026, 12, 2))


def test_every_deadline_can_be_overridden_per_category() -> None:
    config = city(
        verify_working_days=1,
        followup_working_days=2,
        autoclose_working_days=4,
        settle_days=14,
    )
    cal = calendar(config)
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=WIB)
    c = complaint("sampah", monday)
    deadlines.on_submit(c, config, cal)
    deadlines.on_dispatch(c, monday, config, cal)
    deadlines.on_resolve(c, monday, config, cal)
    assert c.verify_due == end_of(date(2026, 12, 1))
    assert c.followup_due == end_of(date(2026, 12, 2))
    assert c.autoclose_due == end_of(date(2026, 12, 4))
    assert c.settle_due == monday + timedelta(days=14)
    other = complaint("jalan", monday)  # other categories keep the defaults
    deadlines.on_submit(other, config, cal)
    assert other.verify_due == end_of(date(2026, 12, 3))


def test_christmas_and_configured_cuti_bersama() -> None:
    config = city()  # city.yaml: cuti bersama 2026-12-24
    cal = calendar(config)
    wednesday = datetime(2026, 12, 23, 9, 0, tzinfo=WIB)
    c = complaint("jalan", wednesday)
    deadlines.on_submit(c, config, cal)
    # 24 cuti bersama, 25 Christmas, 26-27 weekend: Mon 28, Tue 29, Wed 30.
    assert c.verify_due == end_of(date(2026, 12, 30))


def test_idul_fitri_with_cuti_bersama() -> None:
    config = city()
    data = config.model_dump()
    # Nyepi Thu 19 March, Idul Fitri Sat-Sun 21-22 March 2026; joint leave 20, 23, 24.
    data["cuti_bersama"] = [date(2026, 3, 20), date(2026, 3, 23), date(2026, 3, 24)]
    config = CityConfig.model_validate(data)
    cal = calendar(config)
    wednesday = datetime(2026, 3, 18, 10, 0, tzinfo=WIB)
    c = complaint("jalan", wednesday)
    deadlines.on_submit(c, config, cal)
    assert c.verify_due == end_of(date(2026, 3, 27))
    deadlines.on_dispatch(c, wednesday, config, cal)
    assert c.followup_due == end_of(date(2026, 3, 31))  # 25, 26, 27, 30, 31 March
    without_leave = calendar(city())
    c2 = complaint("jalan", wednesday)
    deadlines.on_submit(c2, city(), without_leave)
    assert c2.verify_due == end_of(date(2026, 3, 24))


def test_deadlines_from_utc_moments_use_the_local_date() -> None:
    config = city()
    cal = calendar(config)
    # 18:30 UTC Friday is 01:30 WIB Saturday: counting starts from Saturday.
    c = complaint("jalan", datetime(2026, 11, 27, 18, 30, tzinfo=UTC))
    deadlines.on_submit(c, config, cal)
    assert c.verify_due == end_of(date(2026, 12, 2))
