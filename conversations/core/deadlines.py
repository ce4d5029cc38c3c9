"""Deadlines stored on a complaint, from the category's working-day rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from conversations.core.config import CityConfig
from conversations.core.domain import Complaint
from conversations.core.workdays import WorkingCalendar


def on_submit(complaint: Complaint, config: CityConfig, calendar: WorkingCalendar) -> None:
    rules = config.deadlines_for(complaint.category)
    complaint.verify_due = calendar.add_working_days(
        complaint.created_at, rules.verify_working_days
    )
    complaint.settle_due = complaint.created_at + timedelta(days=rules.settle_days)


def on_dispatch(
    complaint: Complaint, now: datetime, config: CityConfig, calendar: WorkingCalendar
) -> None:
    rules = config.deadlines_for(complaint.category)
    complaint.dispatched_at = now
    complaint.followup_due = calendar.add_working_days(now, rules.followup_working_days)


def on_resolve(
    complaint: Complaint, now: datetime, config: CityConfig, calendar: WorkingCalendar
) -> None:
    rules = config.deadlines_for(complaint.category)
    complaint.resolved_at = now
    complaint.autoclose_due = calendar.add_working_days(now, rules.autoclose_working_days)


def on_reopen_to_desk(
    complaint: Complaint, now: datetime, config: CityConfig, calendar: WorkingCalendar
) -> None:
    """Back on the desk (a review, a reopened rejection): verification is due afresh."""
    rules = config.deadlines_for(complaint.category)
    complaint.verify_due = calendar.add_working_days(now, rules.verify_working_days)
