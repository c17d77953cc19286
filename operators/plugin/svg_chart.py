"""Line charts as inline SVG: no JavaScript and nothing fetched, so the page works on an offline machine."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 64, 16, 28, 44


def nice_ticks(low: float, high: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Return about count round tick values covering [low, high].

    :param low: the smallest value.
    :param high: the largest value.
    :param count: the number of ticks wanted.
    :param integer: only whole-number ticks (e.g. for version numbers).
    """
    if high < low:
        low, high = high, low
    if high - low <= max(abs(high), abs(low), 1e-12) * 1e-9:  # a flat series: give it a band around its value
        pad = 1.0 if integer or abs(low) < 1e-12 else abs(low) * 0.1
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    if integer:
        raw = max(raw, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    multipliers = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in multipliers if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = [float(f"{first:.12g}")]
    while ticks[-1] < high - step * 1e-9 and len(ticks) < 50:
        ticks.append(float(f"{first + step * len(ticks):.12g}"))
    return ticks


def _label(value: float) -> str:
    """Format a tick label compactly.

    :param value: the tick value.
    """
    return f"{value:.4g}"


def line_chart(
    title: str,
    series: Mapping[str, Sequence[Sequence[float]]],
    *,
    x_label: str,
    y_label: str = "",
    width: int = 560,
    height: int = 260,
) -> str:
    """Render series of (x, y) points as an SVG line chart with axes, ticks and a legend.

    :param title: the chart's title (also its accessible name).
    :param series: name -> points ``[(x, y), ...]``; points need not be sorted.
    :param x_label: the x axis label, with its unit.
    :param y_label: the y axis label.
    :param width: the width in pixels.
    :param height: the height in pixels.
    """
    points = {name: sorted((float(x), float(y)) for x, y in pts) for name, pts in series.items() if pts}
    out = [
        f'<svg class="ml-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    if not points:
        out.append(f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" fill="#777">no data</text>')
        return "".join(out) + "</svg>"
    xs = [x for pts in points.values() for x, _ in pts]
    ys = [y for pts in points.values() for _, y in pts]
    whole = all(float(x).is_integer() for x in xs)
    x_ticks, y_ticks = nice_ticks(min(xs), max(xs), integer=whole), nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    left, right = _MARGIN_LEFT, width - _MARGIN_RIGHT
    top, bottom = _MARGIN_TOP, height - _MARGIN_BOTTOM

    def px(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * (right - left)

    def py(y: float) -> float:
        return bottom - (y - y0) / ((y1 - y0) or 1) * (bottom - top)

    out.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#bbb"/>')
    for tick in y_ticks:
        out.append(
            f'<line x1="{left}" x2="{right}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{py(tick) + 4:.1f}" text-anchor="end" font-size="11">{_label(tick)}</text>'
        )
    for tick in x_ticks:
        out.append(
            f'<text x="{px(tick):.1f}" y="{bottom + 16}" text-anchor="middle" font-size="11">{_label(tick)}</text>'
        )
    out.append(
        f'<text x="{(left + right) / 2:.0f}" y="{height - 8}" text-anchor="middle" font-size="12">{escape(x_label)}</text>'
    )
    if y_label:
        out.append(
            f'<text x="14" y="{(top + bottom) / 2:.0f}" text-anchor="middle" font-size="12" '
            f'transform="rotate(-90 14 {(top + bottom) / 2:.0f})">{escape(y_label)}</text>'
        )
    for index, (name, pts) in enumerate(sorted(points.items())):
        color = PALETTE[index % len(PALETTE)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(
            f'<polyline class="series" data-series="{escape(name)}" points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
        )
        for x, y in pts:
            out.append(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}">'
                f"<title>{escape(name)}: {_label(y)} at {_label(x)}</title></circle>"
            )
        legend_y = top + 14 + 16 * index
        out.append(
            f'<rect x="{right - 150}" y="{legend_y - 9}" width="10" height="10" fill="{color}"/>'
            f'<text x="{right - 135}" y="{legend_y}" font-size="11">{escape(name)}</text>'
        )
    return "".join(out) + "</svg>"
