"""The indicators, computed in SQL, on a December with a weekend, Christmas and cuti bersama.

The dataset and the working-day arithmetic behind each expected figure are in
``tests/support/reports.py``. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
import pytest_asyncio

from conversations.core.indicators import Dimension, Figures, Period
from conversations.core.workdays import WorkingCalendar
from storage.database import session_factory
from storage.report_queries import SqlReportQueries
from tests.conftest import database_params
from tests.support.reports import (
    AS_OF,
    WIB,
    Dataset,
    DecemberDatabase,
    december_database,
    module_database_url,
    wib,
)

DECEMBER = Period.month(2026, 12)
ALL = (Dimension.TOTAL, Dimension.AGENCY, Dimension.CATEGORY, Dimension.CHANNEL)


# One database per backend for the whole module: the tests only read it.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=database_params())
async def city(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DecemberDatabase]:
    folder = tmp_path_factory.mktemp("db")
    url = await module_database_url(str(request.param), folder, "indicators")
    async with december_database(url, folder) as db:
        yield db


@pytest.fixture
def dataset(city: DecemberDatabase) -> Dataset:
    return city.dataset


@pytest.fixture
def queries(city: DecemberDatabase) -> SqlReportQueries:
    return SqlReportQueries(session_factory(city.engine), city.core.ctx.calendar)


def row(rows: list[Figures], dimension: Dimension, key: str = "") -> Figures:
    found = [r for r in rows if r.dimension is dimension and r.key == key]
    assert len(found) == 1, f"{dimension} {key!r} in {[(r.dimension, r.key) for r in rows]}"
    return found[0]


class TestTheCityInDecember:
    async def test_counts_the_seven_complaints_received_in_local_december(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        total = row(await queries.scorecard(DECEMBER, ALL, AS_OF), Dimension.TOTAL)
        # H (31 Dec 23:30 WIB, still 16:30 UTC) counts; G (30 Nov 23:30) and I
        # (1 Jan 00:30 WIB, 31 Dec in UTC) do not.
        assert total.received == 7

    async def test_verification_on_time_counts_the_desks_first_decision(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        total = row(await queries.scorecard(DECEMBER, ALL, AS_OF), Dimension.TOTAL)
        # On time: A, C (rejected), D (not our authority), E, H; late: B (dispatched
        # after its deadline) and F (never verified, deadline 6 Jan passed).
        assert (total.verify_on_time, total.verify_late) == (5, 2)
        assert total.verify_on_time_pct == pytest.approx(100 * 5 / 7)

    async def test_working_days_to_verification_skip_weekend_holiday_and_cuti_bersama(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        total = row(await queries.scorecard(DECEMBER, ALL, AS_OF), Dimension.TOTAL)
        # Sorted: E 0.25, C 0.375 (Sat -> Mon 09:00), H 0.395833 (Thu 23:30, over New
        # Year and the weekend, -> Mon 09:00), A 0.75 (Wed 16:00 -> Mon 10:00 across
        # cuti bersama, Christmas and the weekend), D 1.5, B 3.958333.
        # Median: between ranks 3 and 4 = 0.395833 + 0.5 * (0.75 - 0.395833).
        assert total.verify_days_median == pytest.approx(0.572917, abs=1e-6)
        # 90th percentile: (6 - 1) * 0.9 = 4.5, between D and B.
        assert total.verify_days_p90 == pytest.approx(2.729167, abs=1e-6)

    async def test_follow_up_counts_only_dispatched_complaints(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        total = row(await queries.scorecard(DECEMBER, ALL, AS_OF), Dimension.TOTAL)
        # A on time; E started the day after its deadline; B never started.
        assert (total.followup_on_time, total.followup_late) == (1, 2)
        assert total.followup_on_time_pct == pytest.approx(100 / 3)
        # A 2.916667 (over New Year's Day), E 5.833333.
        assert total.followup_days_median == pytest.approx(4.375, abs=1e-6)
        assert total.followup_days_p90 == pytest.approx(2.916667 + 0.9 * 2.916667, abs=1e-6)

    async def test_resolution_rejection_and_not_our_authority(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        total = row(await queries.scorecard(DECEMBER, ALL, AS_OF), Dimension.TOTAL)
        assert (total.resolved, total.rejected, total.not_authority) == (2, 1, 1)
        assert total.resolved_pct == pytest.approx(100 * 2 / 7)
        assert total.rejected_pct == pytest.approx(100 / 7)
        assert total.not_authority_pct == pytest.approx(100 / 7)
        # A 4.833333, E 10.083333 (its last resolution, after the reopening).
        assert total.resolve_days_median == pytest.approx(7.458333, abs=1e-6)
        assert total.resolve_days_avg == pytest.approx(7.458333, abs=1e-6)
        assert total.resolve_days_p90 == pytest.approx(4.833333 + 0.9 * 5.25, abs=1e-6)

    async def test_overdue_now_as_the_escalations_see_it(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        total = row(await queries.scorecard(DECEMBER, ALL, AS_OF), Dimension.TOTAL)
        # B waits for follow-up, F for verification, H (verified) for dispatch.
        assert total.overdue == 3
        before = await queries.scorecard(DECEMBER, ALL, wib(2027, 1, 5, 10))
        # On 5 January (a holiday) nothing was overdue yet: B's follow-up and F's
        # verification were due on the 6th, H's verification on the 7th.
        assert row(before, Dimension.TOTAL).overdue == 0

    async def test_reopened_rating_and_fixed(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        total = row(await queries.scorecard(DECEMBER, ALL, AS_OF), Dimension.TOTAL)
        assert (total.reopened, total.resolved_ever) == (1, 2)
        assert total.reopened_pct == 50.0
        assert (total.rated, total.rating_avg) == (2, 3.0)
        # Answers: A fixed; E not fixed, then fixed.
        assert (total.fixed_answers, total.survey_answers) == (2, 3)
        assert total.fixed_pct == pytest.approx(200 / 3)

    async def test_per_agency_category_and_channel(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        rows = await queries.scorecard(DECEMBER, ALL, AS_OF)
        pupr = row(rows, Dimension.AGENCY, "pupr")
        assert (pupr.received, pupr.verify_on_time, pupr.verify_late, pupr.overdue) == (4, 3, 1, 2)
        assert pupr.followup_on_time_pct == pytest.approx(100 / 3)
        dlh = row(rows, Dimension.AGENCY, "dlh")
        assert (dlh.received, dlh.rejected, dlh.not_authority) == (2, 1, 1)
        assert dlh.verify_days_median == pytest.approx((0.375 + 1.5) / 2)
        assert dlh.followup_on_time_pct is None  # nothing dispatched: no rate, not 0 %
        assert row(rows, Dimension.AGENCY, "dishub").overdue == 1
        assert row(rows, Dimension.CATEGORY, "sampah").received == 2
        whatsapp = row(rows, Dimension.CHANNEL, "whatsapp")
        assert (whatsapp.received, whatsapp.verify_on_time, whatsapp.verify_late) == (2, 1, 1)
        assert {r.key for r in rows if r.dimension is Dimension.AGENCY} == {"pupr", "dlh", "dishub"}

    async def test_an_agency_scope_holds_only_that_agency(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        rows = await queries.scorecard(DECEMBER, ALL, AS_OF, agency="dlh")
        assert row(rows, Dimension.TOTAL).received == 2
        assert {r.key for r in rows if r.dimension is Dimension.AGENCY} == {"dlh"}
        lines = await queries.complaints(DECEMBER, AS_OF, agency="dlh")
        assert {line.agency for line in lines} == {"dlh"}

    async def test_months_statuses_and_an_empty_period(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        quarter = Period(DECEMBER.start - timedelta(days=30), DECEMBER.end + timedelta(days=31))
        months = await queries.scorecard(quarter, (Dimension.MONTH,), AS_OF)
        assert {r.key: r.received for r in months} == {"2026-11": 1, "2026-12": 7, "2027-01": 1}
        statuses = await queries.scorecard(DECEMBER, (Dimension.STATUS,), AS_OF)
        assert {r.key: r.received for r in statuses} == {
            "ditutup": 2,
            "didisposisikan": 1,
            "ditolak": 1,
            "bukan_wewenang": 1,
            "baru": 1,
            "terverifikasi": 1,
        }
        assert await queries.scorecard(Period.month(2026, 6), ALL, AS_OF) == []


class TestComplaintLines:
    async def test_each_complaint_with_its_own_values_and_history(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        lines = {line.ticket: line for line in await queries.complaints(DECEMBER, AS_OF)}
        assert set(lines) == {dataset.tickets[name] for name in "ABCDEFH"}
        a = lines[dataset.tickets["A"]]
        assert a.reporter == "Siti Rahayu"
        assert (a.verify_on_time, a.followup_on_time, a.overdue) == (True, True, False)
        assert a.verify_days == pytest.approx(0.75)
        assert a.verified_at == wib(2026, 12, 28, 10)
        assert a.followup_due == datetime(2027, 1, 6, 23, 59, 59, 999999, tzinfo=WIB)
        assert [(h.from_status, h.to_status) for h in a.history] == [
            (None, "baru"),
            ("baru", "terverifikasi"),
            ("terverifikasi", "didisposisikan"),
            ("didisposisikan", "ditindaklanjuti"),
            ("ditindaklanjuti", "selesai"),
            ("selesai", "ditutup"),
        ]
        f = lines[dataset.tickets["F"]]
        assert (f.verify_on_time, f.verify_days, f.overdue) == (False, None, True)

    async def test_an_anonymous_complaint_carries_no_reporter(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        lines = {line.ticket: line for line in await queries.complaints(DECEMBER, AS_OF)}
        e = lines[dataset.tickets["E"]]
        assert (e.anonymous, e.confidential, e.reporter) == (True, True, None)
        assert e.reopened
        assert all(h.actor_name is None for h in e.history if h.actor_role == "citizen")

    async def test_pages_follow_each_other(
        self, dataset: Dataset, queries: SqlReportQueries
    ) -> None:
        first = await queries.complaints(DECEMBER, AS_OF, limit=3)
        second = await queries.complaints(DECEMBER, AS_OF, after_id=first[-1].id, limit=3)
        rest = await queries.complaints(DECEMBER, AS_OF, after_id=second[-1].id, limit=3)
        assert [len(first), len(second), len(rest)] == [3, 3, 1]
        assert len({line.id for line in first + second + rest}) == 7


async def test_the_sql_calendar_follows_the_citys_days_off(
    city: DecemberDatabase, dataset: Dataset
) -> None:
    sessions = session_factory(city.engine)
    config = city.core.ctx.config
    with_cuti = SqlReportQueries(sessions, city.core.ctx.calendar)
    lines = {line.ticket: line for line in await with_cuti.complaints(DECEMBER, AS_OF)}
    assert lines[dataset.tickets["D"]].verify_days == pytest.approx(1.5)
    # Without 24 December as cuti bersama, D's first afternoon counts too (11/24).
    without = WorkingCalendar(config.timezone, [], config.extra_working_days)
    lines = {
        line.ticket: line
        for line in await SqlReportQueries(sessions, without).complaints(DECEMBER, AS_OF)
    }
    assert lines[dataset.tickets["D"]].verify_days == pytest.approx(1.5 + 11 / 24)
