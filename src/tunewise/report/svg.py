"""Small self-contained SVG charts for reports (no plotting library, no network when viewed).

A line chart (series with CI whiskers), a scatter of labelled points with CI bars and their Pareto frontier, a
heatmap with a count in every cell, and grouped bars. Every text is escaped; marks carry a class (`point`, `ci`,
`frontier`, `cell`, `bar`).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from typing import NamedTuple

Point = tuple[float, float, float, float]  # x, y, y_low, y_high
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
WIDTH, HEIGHT = 560, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 130, 30, 44  # margins: the legend sits on the right
MAX_X_LABELS = 12  # more distinct x values than this: round ticks instead of one label per value
CHAR_W, LINE_H = 6.6, 13  # rough width of a 12px sans-serif character, and a text line's height
LABEL_SHIFTS = [0] + [sign * k for k in range(1, 20) for sign in (1, -1)]  # lines a crowded label may move


def line_chart(series: dict[str, list[Point]], title: str, x_label: str, y_label: str,
               y_range: tuple[float, float] | None = (0.0, 1.0)) -> str:
    """An SVG document: each series a polyline over its points (sorted by x) with vertical CI bars.

    `y_range=None` fits the axis to the data, from 0 (losses); points whose interval is empty get no bar."""
    xs = sorted({p[0] for points in series.values() for p in points}) or [0.0]
    x_min, x_max = xs[0], xs[-1] if xs[-1] > xs[0] else xs[0] + 1
    if y_range is None:
        y_range = (0.0, _nice_ceiling(max((p[3] for points in series.values() for p in points), default=1.0)))
    y_min, y_max = y_range
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    many = sum(len(points) for points in series.values()) > 60  # a long learning curve: no dot per point

    def sx(x: float) -> float:
        return LEFT + (x - x_min) / (x_max - x_min) * plot_w

    def sy(y: float) -> float:
        return TOP + (1 - (min(max(y, y_min), y_max) - y_min) / (y_max - y_min)) * plot_h

    parts = [
        _svg_open(WIDTH, HEIGHT, title),
        f'<text x="{WIDTH / 2:.0f}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for i in range(6):  # horizontal grid lines with y tick labels
        y = y_min + (y_max - y_min) * i / 5
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.2g}</text>')
    x_ticks = xs if len(xs) <= MAX_X_LABELS else [x for x in nice_ticks(x_min, x_max) if x_min <= x <= x_max]
    for x in x_ticks:
        parts.append(f'<text x="{sx(x):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{x:g}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(_y_label(y_label, TOP + plot_h / 2))
    for n, (name, points) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = sorted(points)
        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y, _, _ in points)
        parts.append(f'<polyline class="series" points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y, low, high in points:
            if high > low:
                parts.append(f'<line class="ci" x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{sy(low):.1f}" '
                             f'y2="{sy(high):.1f}" stroke="{colour}" stroke-opacity="0.5"/>')
            if not many:
                parts.append(f'<circle class="point" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>')
        legend_y = TOP + 14 + 18 * n
        swatch = (f'<line x1="{WIDTH - RIGHT + 12}" x2="{WIDTH - RIGHT + 30}" y1="{legend_y - 4}" '
                  f'y2="{legend_y - 4}" stroke="{colour}" stroke-width="2"/>')
        parts += _legend_entry(swatch, WIDTH - RIGHT + 36, legend_y, name)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


class Mark(NamedTuple):
    """One labelled point of a scatter chart: its cost x, its metric y with interval, and its colour group."""

    label: str
    x: float
    y: float
    y_low: float
    y_high: float
    group: str


def pareto_front(marks: list[Mark]) -> list[Mark]:
    """The marks no other mark beats (at most as costly and strictly higher y), cheapest first."""
    front: list[Mark] = []
    for m in sorted(marks, key=lambda m: (m.x, -m.y)):
        if not front or m.y > front[-1].y:
            front.append(m)
    return front


def scatter_chart(marks: list[Mark], title: str, x_label: str, y_label: str,
                  x_format: Callable[[float], str] = lambda v: f"{v:g}", highlight: str | None = None,
                  width: int = 520, height: int = 340, footnote: str | None = None) -> str:
    """An SVG document: each mark a labelled dot with a vertical CI bar, coloured by group, and the Pareto frontier
    as a dashed line. The x axis is logarithmic when the positive costs span two decades or more; zero costs then
    sit in their own column left of the first decade. `highlight` rings the mark with that label; `footnote` is a
    line under the legend (what a marker in the labels means)."""
    extra = LINE_H + 4 if footnote else 0  # room for the footnote under the legend
    height += extra
    left, right, top, bottom = 56, 24, 30, 62 + extra
    plot_w, plot_h = width - left - right, height - top - bottom
    sx, x_ticks, log = _x_axis([m.x for m in marks], left, plot_w, x_format)
    y_min, y_max = _y_extent([v for m in marks for v in (m.y_low, m.y_high)])

    def sy(y: float) -> float:
        return top + (1 - (min(max(y, y_min), y_max) - y_min) / (y_max - y_min)) * plot_h

    groups = list(dict.fromkeys(m.group for m in marks))
    colour = {g: COLOURS[i % len(COLOURS)] for i, g in enumerate(groups)}
    parts = [
        _svg_open(width, height, title),
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for y in nice_ticks(y_min, y_max):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3g}</text>')
    for px, text in x_ticks:
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#f2f2f2"/>')
        parts.append(f'<text x="{px:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{escape(text)}</text>')
    scale = " (log scale)" if log else ""
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 28}" text-anchor="middle">'
                 f'{escape(x_label + scale)}</text>')
    parts.append(_y_label(y_label, top + plot_h / 2))
    front = pareto_front(marks)
    if len(front) > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{sx(m.x):.1f},{sy(m.y):.1f}" for i, m in enumerate(front))
        parts.append(f'<path class="frontier" d="{path}" fill="none" stroke="#444" stroke-width="1.5" '
                     'stroke-dasharray="5 4"/>')
    anchors = sorted(((sx(m.x), sy(m.y), m) for m in marks), key=lambda a: (a[1], a[0]))
    for (px, py, m), (lx, ly) in zip(anchors, _label_positions(anchors, left + plot_w, (top, top + plot_h))):
        c = colour[m.group]
        parts.append(f'<line class="ci" x1="{px:.1f}" x2="{px:.1f}" y1="{sy(m.y_low):.1f}" y2="{sy(m.y_high):.1f}" '
                     f'stroke="{c}" stroke-width="2" stroke-opacity="0.45"/>')
        if m.label == highlight:
            parts.append(f'<circle class="recommended" cx="{px:.1f}" cy="{py:.1f}" r="9" fill="none" '
                         f'stroke="{c}" stroke-width="2"/>')
        tip = f"{m.label}: {m.y:.3f} [{m.y_low:.3f}, {m.y_high:.3f}] at {x_format(m.x)}"
        parts.append(f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="5" fill="{c}">'
                     f'<title>{escape(tip)}</title></circle>')
        if abs(ly - 4 - py) > LINE_H / 2:  # pushed away from its dot by other labels: a leader line says whose it is
            parts.append(f'<line x1="{px:.1f}" y1="{py:.1f}" x2="{lx - 2:.1f}" y2="{ly - 4:.1f}" stroke="#bbb"/>')
        parts.append(f'<text class="label" x="{lx:.1f}" y="{ly:.1f}">{escape(m.label)}</text>')
    x, y = left, height - 12 - extra  # the legend: one entry per group, then the frontier's line
    for g in groups:
        parts.append(f'<circle cx="{x + 6:.0f}" cy="{y}" r="5" fill="{colour[g]}"/>')
        parts.append(f'<text x="{x + 14:.0f}" y="{y + 4}">{escape(g)}</text>')
        x += 30 + CHAR_W * len(g)
    if len(front) > 1:
        parts.append(f'<line x1="{x:.0f}" x2="{x + 18:.0f}" y1="{y}" y2="{y}" stroke="#444" stroke-dasharray="5 4"/>')
        parts.append(f'<text x="{x + 22:.0f}" y="{y + 4}">Pareto frontier</text>')
    if footnote:
        parts.append(f'<text class="footnote" x="{left}" y="{height - 10}" fill="#555">{escape(footnote)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def heatmap(labels: list[str], counts: list[list[int]], title: str, rows: str = "reference",
            columns: str = "predicted") -> str:
    """An SVG document: an n x n grid of cells (counts[i][j]: row label i, column label j), each shaded by its share
    of the row and showing its count. Long labels are shortened, with the whole label as a tooltip."""
    n = len(labels)
    cell = max(18, min(44, 440 // max(n, 1)))
    short = [_shorten(label, 18) for label in labels]
    label_w = CHAR_W * max((len(s) for s in short), default=1)
    left, top = 40 + label_w, 48 + label_w * 0.72  # column labels are turned 45 degrees above the grid
    width, height = int(left + n * cell + label_w * 0.72 + 12), int(top + n * cell + 16)
    font = min(12, int(cell * 0.45))
    parts = [
        _svg_open(width, height, title),
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>',
        (f'<text x="{width / 2:.0f}" y="34" text-anchor="middle" fill="#555">rows: {escape(rows)}; columns: '
         f'{escape(columns)}; shade: share of the row</text>'),
        _y_label(rows, top + n * cell / 2),
    ]
    for i, (label, text) in enumerate(zip(labels, short)):
        centre = top + (i + 0.5) * cell
        parts.append(f'<text x="{left - 6}" y="{centre + 4:.1f}" text-anchor="end">{escape(text)}'
                     f'<title>{escape(label)}</title></text>')
        x = left + (i + 0.5) * cell
        parts.append(f'<text transform="translate({x:.1f} {top - 6:.1f}) rotate(-45)">{escape(text)}'
                     f'<title>{escape(label)}</title></text>')
    for i, row in enumerate(counts):
        total = sum(row)
        for j, count in enumerate(row):
            share = count / total if total else 0.0
            x, y = left + j * cell, top + i * cell
            tip = f"{labels[i]} -> {labels[j]}: {count}"
            parts.append(f'<rect class="cell" x="{x:.1f}" y="{y:.1f}" width="{cell}" height="{cell}" '
                         f'fill="{_shade(share)}" stroke="#fff"><title>{escape(tip)}</title></rect>')
            ink = "#fff" if share > 0.5 else "#222" if count else "#bbb"
            parts.append(f'<text class="count" x="{x + cell / 2:.1f}" y="{y + cell / 2 + font / 3:.1f}" '
                         f'text-anchor="middle" font-size="{font}" fill="{ink}">{count}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def bar_chart(categories: list[str], series: dict[str, list[float]], title: str, x_label: str, y_label: str,
              value_format: Callable[[float], str] = lambda v: f"{v:g}") -> str:
    """An SVG document: for each category a group of bars, one per series (series[name][i]: category i), from 0;
    every bar, a zero one included, carries a tooltip "series, category: value". Long category names are
    shortened and turned 45 degrees, with the whole name as a tooltip."""
    n = max(len(series), 1)
    slot = max(12 * n + 10, min(90, 460 // max(len(categories), 1)))  # one category's width, bars and gap
    bar_w = (slot - 10) / n
    short = [_shorten(c, 18) for c in categories]
    turned = any(CHAR_W * len(s) > slot for s in short)
    under = CHAR_W * max((len(s) for s in short), default=1) * 0.72 + 10 if turned else 0  # room for turned names
    legend_w = 24 + CHAR_W * max((len(name) for name in series), default=1)
    left, top, bottom = max(56, int(under - slot / 2)), 30, 44 + under  # a turned first name stays inside
    plot_w, plot_h = slot * max(len(categories), 1), 200
    width, height = int(left + plot_w + legend_w + 24), int(top + plot_h + bottom)
    y_max = _nice_ceiling(max((v for values in series.values() for v in values), default=1.0))

    def sy(y: float) -> float:
        return top + (1 - min(max(y, 0.0), y_max) / y_max) * plot_h

    parts = [
        _svg_open(width, height, title),
        f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for y in nice_ticks(0.0, y_max):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{value_format(y)}</text>')
    for i, (category, text) in enumerate(zip(categories, short)):
        x = left + (i + 0.5) * slot
        tip = f"<title>{escape(category)}</title>"
        if turned:
            parts.append(f'<text transform="translate({x:.1f} {top + plot_h + 12}) rotate(-45)" text-anchor="end">'
                         f'{escape(text)}{tip}</text>')
        else:
            parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{escape(text)}{tip}</text>')
        for j, (name, values) in enumerate(series.items()):
            value = values[i]
            bx = left + i * slot + 5 + j * bar_w
            bar_tip = f"{name}, {category}: {value_format(value)}"
            parts.append(f'<rect class="bar" x="{bx:.1f}" y="{sy(value):.1f}" width="{bar_w:.1f}" '
                         f'height="{sy(0.0) - sy(value):.1f}" fill="{COLOURS[j % len(COLOURS)]}">'
                         f'<title>{escape(bar_tip)}</title></rect>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(_y_label(y_label, top + plot_h / 2))
    for j, name in enumerate(series):  # the legend, right of the plot
        y = top + 14 + 18 * j
        colour = COLOURS[j % len(COLOURS)]
        swatch = f'<rect x="{left + plot_w + 12}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
        parts += _legend_entry(swatch, left + plot_w + 30, y, name)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _legend_entry(swatch: str, x: float, y: float, name: str) -> list[str]:
    """One legend line: its swatch (SVG markup) and the series name at (x, y)."""
    return [swatch, f'<text x="{x}" y="{y}">{escape(name)}</text>']


def nice_ticks(low: float, high: float, n: int = 5) -> list[float]:
    """About n round values (1, 2 or 5 times a power of ten apart) from low to high."""
    step = _nice_step((high - low) / n if high > low else 1.0)
    first = math.ceil(low / step - 1e-9)
    return [round(k * step, 12) for k in range(first, math.floor(high / step + 1e-9) + 1)]


def _nice_step(raw: float) -> float:
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))


def _nice_ceiling(value: float) -> float:
    """The first round tick at or above value (at least a little above 0)."""
    if value <= 0:
        return 1.0
    step = _nice_step(value / 5)
    return math.ceil(value / step - 1e-9) * step


def _y_extent(values: list[float]) -> tuple[float, float]:
    """A y range on round ticks around the values, kept within [0, 1] when the values are (most metrics)."""
    low, high = min(values, default=0.0), max(values, default=1.0)
    if high - low < 0.02:
        low, high = low - 0.05, high + 0.05
    step = _nice_step((high - low) / 5)
    low, high = math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step
    if min(values, default=0.0) >= 0 and max(values, default=1.0) <= 1:
        low, high = max(low, 0.0), min(high, 1.0)
    return low, high


def _x_axis(values: list[float], left: float, width: float, fmt: Callable[[float], str]):
    """(value -> pixel, [(pixel, tick text)], whether the axis is logarithmic) for non-negative costs."""
    positive = [v for v in values if v > 0]
    if not positive or max(positive) / min(positive) < 100:
        high = _nice_ceiling(max(values, default=1.0))

        def linear(v: float) -> float:
            return left + max(v, 0.0) / high * width

        return linear, [(linear(t), fmt(t)) for t in nice_ticks(0.0, high)], False
    lo, hi = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    hi = max(hi, lo + 1)
    gap = 0.14 * width if len(positive) < len(values) else 0.0  # a column for zero costs: log(0) has no place

    def log(v: float) -> float:
        if v <= 0:
            return left + gap / 2
        return left + gap + (math.log10(v) - lo) / (hi - lo) * (width - gap)

    every = math.ceil((hi - lo + 1) / 7)  # at most about seven decade labels
    ticks = [(log(10.0 ** d), fmt(10.0 ** d)) for d in range(lo, hi + 1, every)]
    return log, ([(log(0.0), fmt(0.0))] if gap else []) + ticks, True


def _label_positions(anchors: list[tuple[float, float, Mark]], right_edge: float,
                     rows: tuple[float, float]) -> list[tuple[float, float]]:
    """Where each mark's label goes (x, baseline y): right of its dot, or left of it near the right edge; moved one
    line down, then up, then two lines... until it overlaps no label placed before it and stays within `rows`."""
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for px, py, m in anchors:
        w = CHAR_W * len(m.label)
        x = px + 8 if px + 8 + w <= right_edge else px - 8 - w
        candidates = [py + 4 + k * LINE_H for k in LABEL_SHIFTS]
        inside = [y for y in candidates if rows[0] + LINE_H <= y <= rows[1]] or [py + 4]
        y = next((y for y in inside if not _overlaps((x, y - LINE_H + 3, x + w, y + 3), placed)), inside[0])
        placed.append((x, y - LINE_H + 3, x + w, y + 3))
        out.append((x, y))
    return out


def _overlaps(box: tuple[float, float, float, float], boxes: list[tuple[float, float, float, float]]) -> bool:
    return any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes)


def _svg_open(width: float, height: float, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} '
            f'{height}" font-family="sans-serif" font-size="12" role="img" aria-label="{escape(title)}">')


def _y_label(text: str, middle: float) -> str:
    return f'<text transform="translate(14 {middle:.0f}) rotate(-90)" text-anchor="middle">{escape(text)}</text>'


def _shade(share: float) -> str:
    """White for 0 to a strong blue for 1."""
    r, g, b = (round(255 + (c - 255) * share) for c in (31, 119, 180))
    return f"#{r:02x}{g:02x}{b:02x}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
