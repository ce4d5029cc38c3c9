"""Complaints as CSV: one row per complaint, the same columns as the workbook's sheet.

Times are local ISO 8601 with their UTC offset, working days have a decimal
point, so other systems can read the file back.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import TextIO

from conversations.core.indicators import ComplaintLine
from conversations.core.reports import ReportTexts
from handlers.reports import table


def _text(value: table.Value, texts: ReportTexts) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(texts.calendar.tz).isoformat(timespec="seconds")
    if isinstance(value, bool):
        return texts.flag(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


class CsvComplaints:
    def __init__(self, target: TextIO, texts: ReportTexts):
        self.texts = texts
        self.writer = csv.writer(target)
        self.writer.writerow(table.headers(texts))

    def write(self, lines: Iterable[ComplaintLine]) -> None:
        for line in lines:
            self.writer.writerow([_text(v, self.texts) for v in table.values(line, self.texts)])
