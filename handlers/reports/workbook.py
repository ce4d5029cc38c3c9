"""Report workbooks (XLSX) with openpyxl, written row by row (write-only mode), so an
export of years of complaints never holds them all in memory.

Sheets: the scorecard per agency (with the total), per category, per channel, the
monthly trend, every complaint of the period with its history and deadlines, and
the indicators' definitions.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from conversations.core.indicators import (
    INDICATORS,
    ComplaintLine,
    Dimension,
    Figures,
    Period,
    Unit,
)
from conversations.core.reports import Report, ReportTexts
from handlers.reports import table

FORMATS = {Unit.COUNT: "0", Unit.PERCENT: "0.0", Unit.DAYS: "0.00", Unit.RATING: "0.00"}
DATETIME_FORMAT = "dd-mm-yyyy hh:mm"
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
WIDE = {"description": 60, "history": 70, "location": 35, "reporter": 22, "agency": 30}


def _width(sheet: WriteOnlyWorksheet, column: str, width: float) -> None:
    sheet.column_dimensions[column].width = width  # type: ignore[attr-defined]


class ReportWorkbook:
    """One workbook: the summary sheets first, then complaints added page by page."""

    def __init__(self, texts: ReportTexts, period: Period, agency: str | None, as_of: datetime):
        self.texts = texts
        self.period = period
        self.agency = agency
        self.as_of = as_of
        self.book = Workbook(write_only=True)
        self._complaints: WriteOnlyWorksheet | None = None

    def _sheet(self, key: str) -> WriteOnlyWorksheet:
        sheet: WriteOnlyWorksheet = self.book.create_sheet(self.texts.t(f"sheet.{key}"))
        return sheet

    def _cell(self, sheet: WriteOnlyWorksheet, value: Any, **style: Any) -> Cell:
        cell = WriteOnlyCell(sheet, value=value)
        for name, setting in style.items():
            setattr(cell, name, setting)
        return cell

    def _heading(self, sheet: WriteOnlyWorksheet) -> None:
        texts = self.texts
        title = texts.t(
            "workbook.title", period=texts.period(self.period), scope=texts.scope(self.agency)
        )
        sheet.append([self._cell(sheet, title, font=Font(bold=True, size=13))])
        sheet.append([texts.t("workbook.generated", when=texts.moment(self.as_of))])
        sheet.append([texts.t("workbook.privacy")])
        sheet.append([])

    def scorecard(self, key: str, dimension: Dimension, rows: Sequence[Figures]) -> None:
        """A sheet with one row per group and one column per indicator."""
        texts = self.texts
        sheet = self._sheet(key)
        _width(sheet, "A", 45)
        for index in range(len(INDICATORS)):
            _width(sheet, get_column_letter(index + 2), 16)
        sheet.freeze_panes = "B6"
        self._heading(sheet)
        header = [texts.t(f"dimension.{dimension.value}")]
        header += [texts.indicator(i.key) for i in INDICATORS]
        sheet.append([self._cell(sheet, text, font=BOLD, alignment=WRAP) for text in header])
        for row in texts.in_order(rows):
            label = texts.group(row.dimension, row.key)
            cells = [
                self._cell(sheet, label, font=BOLD if row.dimension is Dimension.TOTAL else None)
            ]
            for indicator in INDICATORS:
                value = getattr(row, indicator.key)
                cells.append(self._cell(sheet, value, number_format=FORMATS[indicator.unit]))
            sheet.append(cells)

    def summary(self, report: Report) -> None:
        """The scorecard sheets and the definitions; call before ``complaints``."""
        total = report.rows(Dimension.TOTAL)
        self.scorecard("summary", Dimension.AGENCY, [*report.rows(Dimension.AGENCY), *total])
        self.scorecard("category", Dimension.CATEGORY, report.rows(Dimension.CATEGORY))
        self.scorecard("channel", Dimension.CHANNEL, report.rows(Dimension.CHANNEL))
        self.scorecard("trend", Dimension.MONTH, list(report.trend))
        self._complaints = self._complaint_sheet()
        self._definitions()

    def _complaint_sheet(self) -> WriteOnlyWorksheet:
        sheet = self._sheet("complaints")
        for index, (name, _) in enumerate(table.COMPLAINT_COLUMNS):
            _width(sheet, get_column_letter(index + 1), WIDE.get(name, 17))
        sheet.freeze_panes = "B2"
        sheet.append(
            [
                self._cell(sheet, text, font=BOLD, alignment=WRAP)
                for text in table.headers(self.texts)
            ]
        )
        return sheet

    def _definitions(self) -> None:
        texts = self.texts
        sheet = self._sheet("definitions")
        _width(sheet, "A", 45)
        _width(sheet, "B", 110)
        sheet.append(
            [
                self._cell(sheet, texts.t("column.indicator"), font=BOLD),
                self._cell(sheet, texts.t("column.definition"), font=BOLD),
            ]
        )
        for indicator in INDICATORS:
            sheet.append(
                [
                    self._cell(sheet, texts.indicator(indicator.key), alignment=TOP),
                    self._cell(sheet, texts.definition(indicator.key), alignment=WRAP),
                ]
            )

    def complaints(self, lines: Iterable[ComplaintLine]) -> None:
        sheet = self._complaints
        if sheet is None:
            raise RuntimeError("write the summary first")
        for line in lines:
            cells = []
            for (name, _), value in zip(
                table.COMPLAINT_COLUMNS, table.values(line, self.texts), strict=True
            ):
                cells.append(self._value_cell(sheet, name, value))
            sheet.append(cells)

    def _value_cell(self, sheet: WriteOnlyWorksheet, name: str, value: table.Value) -> Cell:
        if isinstance(value, datetime):
            # To the minute: a deadline at 23:59:59.999999 must not show as the next day.
            local = self.texts.local(value).replace(second=0, microsecond=0)
            return self._cell(sheet, local, number_format=DATETIME_FORMAT, alignment=TOP)
        if isinstance(value, bool):
            return self._cell(sheet, self.texts.flag(value), alignment=TOP)
        if isinstance(value, float):
            return self._cell(sheet, value, number_format="0.00", alignment=TOP)
        wrap = WRAP if name in WIDE else TOP
        return self._cell(sheet, value, alignment=wrap)

    def save(self, target: IO[bytes]) -> None:
        self.book.save(target)


def report_workbook(report: Report, texts: ReportTexts) -> bytes:
    book = ReportWorkbook(texts, report.period, report.agency, report.as_of)
    book.summary(report)
    book.complaints(report.complaints)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
