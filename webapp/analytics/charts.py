"""Geometry for the two charts, drawn as inline SVG by the template (no chart library)."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.analytics.report import Report


@dataclass
class Column:
    x: float
    width: float
    received_y: float
    received_h: float
    sent_y: float
    sent_h: float
    label: str
    title: str


@dataclass
class VolumeChart:
    width: int
    height: int
    columns: list[Column]
    peak: int
    ticks: list[tuple[float, str]]  # (x, label) along the bottom


@dataclass
class Bar:
    label: str
    y: float
    median_w: float
    p90_x: float | None
    text: str
    median_text: str


@dataclass
class ResponseChart:
    width: int
    height: int
    label_w: int
    bars: list[Bar]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def volume(report: Report, width: int = 520, height: int = 220) -> VolumeChart | None:
    weeks = report.weeks
    if not weeks:
        return None
    peak = max(r + s for _, r, s in weeks) or 1
    plot_h = height - 24
    step = width / len(weeks)
    bar_w = max(2.0, step * 0.72)
    columns, ticks = [], []
    last_tick = -1e9
    for i, (week, received, sent) in enumerate(weeks):
        x = i * step + (step - bar_w) / 2
        rh = plot_h * received / peak
        sh = plot_h * sent / peak
        columns.append(
            Column(x, bar_w, plot_h - rh, rh, plot_h - rh - sh, sh, week.strftime("%d %b"),
                   f"Week of {week.strftime('%d %b %Y')}: {received} received, {sent} sent")
        )
        centre = max(x + bar_w / 2, 22)  # a label centred at the edge would be cut
        if centre - last_tick >= 64 and centre <= width - 22:
            ticks.append((centre, week.strftime("%d %b")))
            last_tick = centre
    return VolumeChart(width, height, columns, peak, ticks)


def response(report: Report, width: int = 520, label_w: int = 150, limit: int = 10) -> ResponseChart | None:
    rows = [r for r in report.rows if r.median is not None][:limit]
    if not rows:
        return None
    longest = max((r.p90 or r.median) for r in rows) or 1
    plot_w = width - label_w - 70
    bars = []
    for i, row in enumerate(rows):
        bars.append(
            Bar(
                label=row.value if len(row.value) <= 22 else row.value[:21] + "…",
                y=i * 26,
                median_w=max(1.0, plot_w * row.median / longest),
                p90_x=plot_w * row.p90 / longest if row.p90 is not None else None,
                text=f"{duration(row.median)} median · p90 {duration(row.p90)}",
                median_text=duration(row.median),
            )
        )
    return ResponseChart(width, len(bars) * 26 + 4, label_w, bars)
