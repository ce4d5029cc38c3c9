"""The columns of a complaint in files (the workbook's complaint sheet and the CSV export).

Values are raw (aware datetimes, floats, bools, text); each file format writes
them its own way. Anonymous complaints show "Anonim" as the reporter and never
anything else about them; confidential ones are marked in the privacy column.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from conversations.core.indicators import ComplaintLine, Dimension
from conversations.core.reports import ReportTexts

Value = str | int | float | bool | datetime | None
Column = tuple[str, Callable[[ComplaintLine, ReportTexts], Value]]

COMPLAINT_COLUMNS: tuple[Column, ...] = (
    ("ticket", lambda line, texts: line.ticket),
    ("received_at", lambda line, texts: line.created_at),
    ("channel", lambda line, texts: texts.group(Dimension.CHANNEL, line.channel)),
    ("category", lambda line, texts: texts.group(Dimension.CATEGORY, line.category)),
    ("agency", lambda line, texts: texts.group(Dimension.AGENCY, line.agency)),
    ("status", lambda line, texts: texts.status(line.status)),
    ("privacy", lambda line, texts: texts.privacy(line)),
    ("reporter", lambda line, texts: texts.reporter(line)),
    ("description", lambda line, texts: line.description),
    ("location", lambda line, texts: texts.location(line)),
    ("verify_due", lambda line, texts: line.verify_due),
    ("verified_at", lambda line, texts: line.verified_at),
    ("verify_on_time", lambda line, texts: texts.on_time(line.verify_on_time)),
    ("verify_days", lambda line, texts: line.verify_days),
    ("dispatched_at", lambda line, texts: line.dispatched_at),
    ("followup_due", lambda line, texts: line.followup_due),
    ("followed_up_at", lambda line, texts: line.followed_up_at),
    ("followup_on_time", lambda line, texts: texts.on_time(line.followup_on_time)),
    ("followup_days", lambda line, texts: line.followup_days),
    ("resolved_at", lambda line, texts: line.resolved_at),
    ("resolve_days", lambda line, texts: line.resolve_days),
    ("settle_due", lambda line, texts: line.settle_due),
    ("closed_at", lambda line, texts: line.closed_at),
    ("overdue", lambda line, texts: line.overdue),
    ("reopened", lambda line, texts: line.reopened),
    ("rating", lambda line, texts: line.rating),
    ("history", lambda line, texts: texts.history(line.history)),
)


def headers(texts: ReportTexts) -> list[str]:
    return [texts.t(f"column.{name}") for name, _ in COMPLAINT_COLUMNS]


def values(line: ComplaintLine, texts: ReportTexts) -> list[Value]:
    return [extract(line, texts) for _, extract in COMPLAINT_COLUMNS]
