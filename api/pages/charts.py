"""Bar charts drawn on the server (inline SVG, and a list for a phone): rates per region
(`bar_chart`), and a bundle's metrics before and after (`before_after_svg`). The drawing
primitives and the workflow graphs are `svg`'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from .svg import (
    GREEN,
    GREY_BAR,
    INK,
    LINE,
    MUTED,
    PAD,
    RATE_FULL,
    RATE_LOW,
    RATE_NEAR,
    _n,
    _svg,
    _t,
    fit,
    text_width,
)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    """A rate between 0 and 1."""
    text: str = ""
    href: str | None = None
    """Where the bar's subject is; the page lists these links beside the chart (none inside it)."""


def bar_chart_svg(bars: Sequence[Bar], label: str, width: float = 720.0) -> Markup:
    """Horizontal bars of rates, 0 to 100 %, the value written at the end of each bar."""
    size = 13.0
    label_w = min(max((text_width(b.label, size) for b in bars), default=40.0) + 12, 180.0)
    text_w = max((text_width(b.text, 12) for b in bars), default=0.0) + 16
    bar_h, gap, top = 18.0, 8.0, 22.0
    plot_x = PAD + label_w
    plot_w = max(width - plot_x - text_w - PAD, 80.0)
    legend = 24.0
    top += legend
    height = top + len(bars) * (bar_h + gap) + PAD
    body: list[str] = []
    x = plot_x
    for colour, text in ((RATE_FULL, "100%"), (RATE_NEAR, "90%–99%"), (RATE_LOW, "低于 90%")):
        body.append(
            f'<rect x="{_n(x)}" y="{_n(PAD - 6)}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{_n(x + 17)}" y="{_n(PAD + 4.5)}" font-size="12" fill="{INK}">{text}</text>'
        )
        x += text_width(text, 12) + 40
    for pct in (0, 25, 50, 75, 100):
        x = plot_x + plot_w * pct / 100
        body.append(
            f'<line x1="{_n(x)}" y1="{_n(top - 4)}" x2="{_n(x)}" y2="{_n(height - PAD + 2)}" '
            f'stroke="{LINE}" stroke-dasharray="{"none" if pct in (0, 100) else "3 3"}"/>'
            f'<text x="{_n(x)}" y="{_n(top - 8)}" text-anchor="middle" font-size="11" fill="{MUTED}">{pct}%</text>'
        )
    for i, b in enumerate(bars):
        y = top + i * (bar_h + gap) + gap / 2
        value = min(max(b.value, 0.0), 1.0)
        colour = RATE_FULL if value >= 1.0 else RATE_NEAR if value >= 0.9 else RATE_LOW
        name = fit(b.label, size, label_w - 12)
        label_svg = (
            f'<text x="{_n(plot_x - 8)}" y="{_n(y + bar_h - 4.5)}" text-anchor="end" font-size="{_n(size)}" '
            f'fill="{INK}">{_t(name)}</text>'
        )
        body.append(
            f'<g class="bar" data-label="{_t(b.label)}" data-value="{value:.4f}"><title>{_t(b.label)} {_t(b.text)}'
            f"</title>{label_svg}"
            f'<rect x="{_n(plot_x)}" y="{_n(y)}" width="{_n(plot_w)}" height="{_n(bar_h)}" fill="#f3f4f6"/>'
            f'<rect x="{_n(plot_x)}" y="{_n(y)}" width="{_n(plot_w * value)}" height="{_n(bar_h)}" '
            f'fill="{colour}"/>'
            f'<text x="{_n(plot_x + plot_w + 8)}" y="{_n(y + bar_h - 4.5)}" font-size="12" fill="{INK}">'
            f"{_t(b.text)}</text></g>"
        )
    return _svg(width, height, body, label, "chart bars")


def bar_list_html(bars: Sequence[Bar], label: str) -> Markup:
    """The same bars for a phone: a list, each row its name (a link when it has one), its value
    in words and a full-width bar — text at the page's size, never an SVG scaled down."""
    rows = []
    for b in bars:
        value = min(max(b.value, 0.0), 1.0)
        colour = RATE_FULL if value >= 1.0 else RATE_NEAR if value >= 0.9 else RATE_LOW
        name = f'<a href="{_t(b.href)}">{_t(b.label)}</a>' if b.href else _t(b.label)
        rows.append(
            f'<li data-label="{_t(b.label)}" data-value="{value:.4f}"><span class="name">{name}</span>'
            f'<span class="value">{_t(b.text)}</span>'
            f'<svg class="meter" viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true" focusable="false">'
            f'<rect width="100" height="6" fill="#f3f4f6"/><rect width="{value * 100:.2f}" height="6" '
            f'fill="{colour}"/></svg></li>'
        )
    return Markup(f'<ol class="bars-list" aria-label="{_t(label)}">{"".join(rows)}</ol>')


def bar_chart(bars: Sequence[Bar], label: str, width: float = 720.0) -> Markup:
    """The bars as an SVG chart on a wide screen and as a list on a phone (CSS picks one)."""
    return Markup(
        f'<div class="chart-wide">{bar_chart_svg(bars, label, width)}</div>'
        f'<div class="chart-narrow">{bar_list_html(bars, label)}</div>'
    )


@dataclass(frozen=True)
class Pair:
    label: str
    before: int
    after: int
    unit: str = ""


def before_after_svg(
    pairs: Sequence[Pair], label: str = "一件事办理前后对比", width: float = 560.0
) -> Markup:
    """One row per metric: the grey bar is before bundling, the green one after, each row scaled
    to its own larger value (materials and days do not share a unit)."""
    size = 13.0
    label_w = max((text_width(p.label, size) for p in pairs), default=40.0) + 14
    value_w = 112.0
    row_h, bar_h = 46.0, 15.0
    legend = 26.0
    plot_x = PAD + label_w
    plot_w = max(width - plot_x - value_w - PAD, 80.0)
    height = PAD + legend + len(pairs) * row_h + PAD / 2
    body = [
        (
            f'<rect x="{_n(plot_x)}" y="{_n(PAD)}" width="12" height="12" fill="{GREY_BAR}"/>'
            f'<text x="{_n(plot_x + 17)}" y="{_n(PAD + 10.5)}" font-size="12" fill="{MUTED}">分别办理</text>'
            f'<rect x="{_n(plot_x + 90)}" y="{_n(PAD)}" width="12" height="12" fill="{GREEN}"/>'
            f'<text x="{_n(plot_x + 107)}" y="{_n(PAD + 10.5)}" font-size="12" fill="{MUTED}">一件事一次办</text>'
        )
    ]
    for i, p in enumerate(pairs):
        y = PAD + legend + i * row_h
        top = max(p.before, p.after, 1)
        wb, wa = plot_w * p.before / top, plot_w * p.after / top
        saved = p.before - p.after
        note = f"减少 {saved}{p.unit}" if saved > 0 else ""
        body.append(
            f'<g class="pair" data-metric="{_t(p.label)}" data-before="{p.before}" data-after="{p.after}">'
            f'<text x="{_n(plot_x - 10)}" y="{_n(y + bar_h + 5)}" text-anchor="end" font-size="{_n(size)}" '
            f'fill="{INK}">{_t(p.label)}</text>'
            f'<rect x="{_n(plot_x)}" y="{_n(y)}" width="{_n(max(wb, 1.5))}" height="{_n(bar_h)}" rx="2" '
            f'fill="{GREY_BAR}"/>'
            f'<text x="{_n(plot_x + max(wb, 1.5) + 6)}" y="{_n(y + bar_h - 3)}" font-size="12" fill="{MUTED}">'
            f"{p.before}{_t(p.unit)}</text>"
            f'<rect x="{_n(plot_x)}" y="{_n(y + bar_h + 3)}" width="{_n(max(wa, 1.5))}" height="{_n(bar_h)}" '
            f'rx="2" fill="{GREEN}"/>'
            f'<text x="{_n(plot_x + max(wa, 1.5) + 6)}" y="{_n(y + 2 * bar_h)}" font-size="12" '
            f'font-weight="600" fill="{GREEN}">{p.after}{_t(p.unit)}'
            + (f'<tspan fill="{MUTED}" font-weight="400">  {_t(note)}</tspan>' if note else "")
            + "</text></g>"
        )
    return _svg(width, height, body, label, "chart pairs")
