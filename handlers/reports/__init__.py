"""Drawing reports: charts (matplotlib), workbooks (openpyxl) and CSV; I/O libraries,
so outside the core, which reaches them through ``ReportRenderer``."""

from __future__ import annotations

from conversations.core.reports import Report, ReportTexts


class FileRenderer:
    """``ReportRenderer`` with matplotlib (Agg) and openpyxl, imported on first use:
    matplotlib takes a while to load and most bot processes rarely draw."""

    def chart(self, report: Report, texts: ReportTexts) -> bytes:
        from handlers.reports.chart import report_chart

        return report_chart(report, texts)

    def workbook(self, report: Report, texts: ReportTexts) -> bytes:
        from handlers.reports.workbook import report_workbook

        return report_workbook(report, texts)
