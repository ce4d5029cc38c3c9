"""Report charts as PNG with matplotlib's Agg canvas (no display, no pyplot state).

Each call draws on its own ``Figure``, so charts may be drawn in worker threads.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from conversations.core.indicators import Dimension, Figures, Unit
from conversations.core.reports import Report, ReportTexts

FOLLOWUP_COLOUR = "#1b7f5b"
RESOLVED_COLOUR = "#2f6db5"
RECEIVED_COLOUR = "#d9d9d9"
DPI = 110
WIDTH = 10.0


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)  # draws on Agg, whatever matplotlib's default backend is
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _short_month(texts: ReportTexts, key: str) -> str:
    name, year = texts.month(key).split(" ")
    return f"{name[:3]} {year[2:]}"


def draw_trend(
    axes: Axes, months: Sequence[tuple[str, Figures | None]], texts: ReportTexts
) -> None:
    """Received complaints as grey bars (right axis), on-time follow-up and resolution
    as lines (left axis, %), one point per month."""
    labels = [_short_month(texts, key) for key, _ in months]
    positions = list(range(len(months)))
    received = [row.received if row else 0 for _, row in months]
    counts = axes.twinx()
    counts.bar(
        positions, received, color=RECEIVED_COLOUR, width=0.6, label=texts.t("chart.received")
    )
    counts.set_ylabel(texts.t("chart.count"))
    counts.set_ylim(0, max([*received, 1]) * 1.25)
    axes.set_zorder(counts.get_zorder() + 1)
    axes.patch.set_visible(False)
    for key, colour in (
        ("followup_on_time_pct", FOLLOWUP_COLOUR),
        ("resolved_pct", RESOLVED_COLOUR),
    ):
        shown = [
            (x, getattr(row, key))
            for x, (_, row) in zip(positions, months, strict=True)
            if row is not None and getattr(row, key) is not None
        ]
        label = texts.t("chart.followup" if key.startswith("followup") else "chart.resolved")
        axes.plot(
            [x for x, _ in shown],
            [y for _, y in shown],
            marker="o",
            color=colour,
            label=label,
        )
    axes.set_ylim(0, 105)
    axes.set_ylabel(texts.t("chart.percent"))
    axes.set_xticks(positions, labels)
    handles, names = axes.get_legend_handles_labels()
    bar_handles, bar_names = counts.get_legend_handles_labels()
    axes.legend(handles + bar_handles, names + bar_names, loc="upper left", fontsize=8)
    axes.grid(axis="y", alpha=0.3)


def _draw_agencies(axes: Axes, rows: list[Figures], texts: ReportTexts) -> None:
    rows = sorted(rows, key=lambda r: (-r.received, r.key))
    names = [
        "\n".join(textwrap.wrap(f"{texts.group(Dimension.AGENCY, r.key)} ({r.received})", 38))
        for r in rows
    ]
    positions = list(range(len(rows)))
    height = 0.38
    for offset, key, colour, label in (
        (-height / 2, "followup_on_time_pct", FOLLOWUP_COLOUR, texts.t("chart.followup")),
        (height / 2, "resolved_pct", RESOLVED_COLOUR, texts.t("chart.resolved")),
    ):
        values = [getattr(r, key) for r in rows]
        bars = axes.barh(
            [p + offset for p in positions],
            [v or 0.0 for v in values],
            height=height,
            color=colour,
            label=label,
        )
        axes.bar_label(
            bars, labels=[texts.number(v, Unit.PERCENT) for v in values], padding=3, fontsize=8
        )
    axes.set_yticks(positions, names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 112)
    axes.set_xlabel(texts.t("chart.percent"))
    axes.set_title(texts.t("chart.agencies"), loc="left", fontsize=10)
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(axis="x", alpha=0.3)


def report_chart(report: Report, texts: ReportTexts) -> bytes:
    """Per-agency bars of on-time follow-up and resolution, and the months' trend."""
    agencies = report.rows(Dimension.AGENCY)
    top = max(1.6, 0.55 * len(agencies) + 0.8)
    figure = Figure(figsize=(WIDTH, top + 3.4), dpi=DPI, layout="constrained")
    upper, lower = figure.subplots(2, 1, height_ratios=[top, 3.0])
    figure.suptitle(
        texts.t(
            "chart.title",
            period=texts.period(report.period),
            scope=texts.scope(report.agency),
        ),
        fontsize=12,
    )
    _draw_agencies(upper, agencies, texts)
    months = report.trend_months()
    draw_trend(lower, months, texts)
    lower.set_title(texts.t("chart.trend", months=len(months)), loc="left", fontsize=10)
    return _png(figure)


def trend_chart(months: Sequence[tuple[str, Figures | None]], texts: ReportTexts) -> bytes:
    """The monthly trend alone (the public page)."""
    figure = Figure(figsize=(WIDTH, 3.6), dpi=DPI, layout="constrained")
    draw_trend(figure.subplots(), months, texts)
    return _png(figure)
