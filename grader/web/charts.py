"""Charts of a submission's result page, drawn on the server as inline SVG: no script, no request leaves the page.

Each function returns one ``<svg role="img">`` as Markup, or an empty Markup when there is nothing to draw. Every
text placed in the SVG is escaped. The training curve is what a sandboxed run reported about itself, so it is read
defensively: a bounded number of points and series, finite numbers of sane size, short lowercase series names.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from itertools import islice
from typing import Any

from markupsafe import Markup, escape

from grader.core.kinds import KINDS

WIDTH, FONT, CHAR = 640, 11, 6.6  # viewBox width; font size; the width of one character, estimated
FG, MUTED, LINE, ACCENT = "#1d2330", "#667085", "#d0d5dd", (36, 87, 197)  # as style.css: --fg, --muted, --accent
INK = f' fill="{FG}"'  # text that is read (labels, titles); tick values stay muted
# Series differ in lightness and in dash, so they stay apart when printed in grey.
STYLES = tuple(
    (colour, f' stroke-dasharray="{dash}"' if dash else "")
    for colour, dash in zip(
        ("#2457c5", "#e08a1e", "#1d2330", "#8fb0ee", "#b42318", "#067647"),
        ("", "7 4", "2 3", "9 3 2 3", "4 2", "1 3"),
        strict=True,
    )
)
MAX_POINTS, MAX_SERIES, MAX_KEYS, MAX_CLASSES, PRINTED_COUNTS = 2000, 6, 32, 100, 12
LIMIT = 1e15  # larger magnitudes are treated as missing: nobody reads them off a chart, and they break arithmetic
SERIES_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")  # as grader.core.curves keeps them
LEFT, RIGHT = 56, WIDTH - 16  # the plot area of the training curve


def _number(value: object) -> float | None:
    """Return value as a float of sane size, or None: bools, strings, NaN and inf are not data."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not -LIMIT <= value <= LIMIT:
        return None
    return float(value) if abs(value) > 1e-100 else 0.0  # a subnormal range would break the ticks


def _fmt(value: float) -> str:
    """Write a number compactly: 0.25, 1.5, 2000, 1.23e4, 1e-5."""
    return f"{value:.4g}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def _c(value: float) -> str:
    """Write a coordinate to a tenth of a unit."""
    return f"{value:.1f}".removesuffix(".0")


def _text(x: float, y: float, content: str, anchor: str = "middle", extra: str = "") -> str:
    """Place escaped text; extra holds trusted attributes (fill, size, rotation)."""
    return f'<text x="{_c(x)}" y="{_c(y)}" text-anchor="{anchor}"{extra}>{escape(content)}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = LINE, extra: str = ' stroke-width=".5"') -> str:
    """Draw a straight line: grid lines by default."""
    return f'<line x1="{_c(x1)}" y1="{_c(y1)}" x2="{_c(x2)}" y2="{_c(y2)}" stroke="{stroke}"{extra}/>'


def _rect(x: float, y: float, width: float, height: float, fill: str, extra: str = "", tip: str = "") -> str:
    """Draw a rectangle, with an escaped tooltip when tip is given."""
    end = f"><title>{escape(tip)}</title></rect>" if tip else "/>"
    return f'<rect x="{_c(x)}" y="{_c(y)}" width="{_c(width)}" height="{_c(height)}" fill="{fill}"{extra}{end}'


def _svg(height: float, label: str, body: list[str], width: float = WIDTH, css: str = "result-chart") -> Markup:
    """Wrap the parts in one accessible, self-contained <svg> that scales to its container."""
    title = escape(label)
    return Markup(
        f'<svg class="{css}" role="img" aria-label="{title}" viewBox="0 0 {_c(width)} {_c(height)}" width="100%"'
        f' font-size="{FONT}" fill="{MUTED}"><title>{title}</title>{"".join(body)}</svg>'
    )


def _labels(labels: Sequence[str] | None, count: int) -> list[str]:
    """Use the given class names, shortened, when there is one per class; else 0..k-1."""
    if not isinstance(labels, Sequence) or isinstance(labels, str) or len(labels) != count:
        return [str(index) for index in range(count)]
    return [(text if len(text) <= 16 else text[:15] + "…") for text in map(str, labels)]  # cut before escaping


def _axis(low: float, high: float, count: int = 5) -> tuple[float, float, list[float]]:
    """Round a range outwards to steps of 1, 2 or 5 times a power of ten, and list its ticks."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    step = 10.0 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if step * m >= raw)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    return low, high, [low + i * step for i in range(round((high - low) / step) + 1)]


def _read_curve(curve: object) -> dict[str, list[tuple[float, float]]]:
    """Keep at most MAX_POINTS evenly spread entries, one per epoch (the later report wins), and their series."""
    if not isinstance(curve, list) or not curve:
        return {}
    step = max(1.0, (len(curve) - 1) / (MAX_POINTS - 1))
    rows: dict[float, dict] = {}
    for index in sorted({round(i * step) for i in range(min(len(curve), MAX_POINTS))}):
        item = curve[index]
        if isinstance(item, dict):
            epoch = _number(item["epoch"]) if "epoch" in item else index + 1
            if epoch is not None and epoch >= 0:
                rows[epoch] = item
    epochs = sorted(rows)
    series = {name: [(e, v) for e in epochs if (v := _number(rows[e].get(name))) is not None] for name in _names(rows)}
    return {name: points for name, points in series.items() if points}


def _names(rows: dict[float, dict]) -> list[str]:
    """Name the series to draw: numbers under short lowercase keys, the first MAX_SERIES found."""
    names: list[str] = []
    for item in rows.values():
        for key in islice(item, MAX_KEYS):  # a run may report thousands of keys: look at the first few only
            if isinstance(key, str) and key != "epoch" and key not in names and SERIES_NAME.fullmatch(key):
                if _number(item[key]) is not None and len(names) < MAX_SERIES:
                    names.append(key)
    return names


def training_curve(curve: object) -> Markup:
    """Draw the per-epoch series a run reported (loss, val_loss, accuracy...): losses above, accuracies below."""
    series = _read_curve(curve)
    if not series:
        return Markup("")
    styles = dict(zip(series, STYLES, strict=False))
    epochs = [x for points in series.values() for x, _ in points]
    body, top = _legend(styles)
    losses = {name: points for name, points in series.items() if "acc" not in name}
    accuracies = {name: points for name, points in series.items() if "acc" in name}
    for group, accuracy in ((losses, False), (accuracies, True)):
        if group:
            height = 120 if accuracy and losses else 200
            body += _panel(group, styles, _axis(min(epochs), max(epochs), 6), top, height, accuracy)
            top += height + 42
    body.append(_text((LEFT + RIGHT) / 2, top - 14, "epoch"))
    label = f"Training curve: {', '.join(series)} for epochs {min(epochs):g} to {max(epochs):g}"
    return _svg(top - 6, label, body)


def _legend(styles: dict[str, tuple[str, str]]) -> tuple[list[str], float]:
    """Draw a line sample (colour and dash) and the name of each series, in rows; return them and the next free y."""
    parts, x, y = [], float(LEFT), 12
    for name, (colour, dash) in styles.items():
        width = 34 + CHAR * len(name)
        if x + width > WIDTH and x > LEFT:
            x, y = float(LEFT), y + 18
        sample = _line(x, y - 4, x + 24, y - 4, colour, ' stroke-width="2.5"' + dash)
        parts.append(f'<g class="legend-entry">{sample}{_text(x + 28, y, name, "start", INK)}</g>')
        x += width
    return parts, y + 28


def _y_axis(values: list[float], accuracy: bool) -> tuple[float, float, list[tuple[float, str]], bool]:
    """Choose the y range: from 0 (to at least 1 for accuracies), or in decades when a loss spans more than three."""
    low, high = min(values), max(values)
    if not accuracy and low > 0 and high / low > 1000:
        low, high = math.floor(math.log10(low)), math.ceil(math.log10(high))
        return low, high, [(t, _fmt(10.0**t)) for t in range(low, high + 1, math.ceil((high - low) / 6))], True
    low, high, ticks = _axis(min(low, 0.0), max(high, 1.0) if accuracy else high)
    return low, high, [(t, _fmt(t)) for t in ticks], False


def _panel(group: dict, styles: dict, x_axis: tuple, top: float, height: float, accuracy: bool) -> list[str]:
    """Draw one plot: y grid and ticks, x ticks, one polyline per series (with dots when the points are few)."""
    low, high, y_ticks, log = _y_axis([v for points in group.values() for _, v in points], accuracy)
    x_low, x_high, x_ticks = x_axis
    bottom = top + height

    def at(x: float, y: float) -> tuple[float, float]:
        y = math.log10(y) if log else y
        return LEFT + (x - x_low) / (x_high - x_low) * (RIGHT - LEFT), bottom - (y - low) / (high - low) * height

    parts = [_text(LEFT, top - 8, ("accuracy" if accuracy else "loss") + (" (log scale)" if log else ""), "start", INK)]
    for value, label in y_ticks:  # values in axis units: logarithms on a log scale
        y = bottom - (value - low) / (high - low) * height
        parts += [_line(LEFT, y, RIGHT, y), _text(LEFT - 6, y + 4, label, "end")]
    parts += [_text(at(x, 1)[0], bottom + 14, _fmt(x)) for x in x_ticks]
    parts.append(_line(LEFT, bottom, RIGHT, bottom, MUTED, ""))
    for name, points in group.items():
        colour, dash = styles[name]
        xy = [at(x, y) for x, y in points]
        coords = " ".join(f"{_c(x)},{_c(y)}" for x, y in xy)
        parts.append(f'<polyline data-series="{name}" points="{coords}" fill="none" stroke="{colour}" stroke-width="2"')
        parts.append(
            f' stroke-linejoin="round"{dash}><title>{name}</title></polyline>'
        )  # name: letters, digits, _ only
        if len(xy) <= 40:  # dots show single points and help in grey; on a long curve they would be a smear
            parts += [f'<circle cx="{_c(x)}" cy="{_c(y)}" r="2.5" fill="{colour}"/>' for x, y in xy]
    return parts


def _square_size(matrix: object) -> int:
    """Return k when matrix is a k x k table (k <= MAX_CLASSES) of non-negative ints, else 0."""
    if not isinstance(matrix, Sequence) or isinstance(matrix, str) or not 0 < len(matrix) <= MAX_CLASSES:
        return 0
    for row in matrix:
        if not isinstance(row, Sequence) or isinstance(row, str) or len(row) != len(matrix):
            return 0
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= LIMIT for n in row):
            return 0
    return len(matrix)


def _shade(share: float) -> str:
    """Blend white into the accent colour: darker means more, in colour and in grey alike; zero is white."""
    share = 0.06 + 0.94 * share if share > 0 else 0.0  # a count of one still shows
    return "#" + "".join(f"{round(255 + (c - 255) * share):02x}" for c in ACCENT)


def confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str] | None = None) -> Markup:
    """Draw true classes (rows) against predicted ones (columns), shaded by share of the row: what gets confused."""
    size = _square_size(matrix)
    if not size:
        return Markup("")
    names, cell, top = _labels(labels, size), min(36.0, 440 / size), 8.0
    every = math.ceil(FONT * 1.8 / cell)  # small cells: label every n-th class
    label_width = CHAR * max(len(names[i]) for i in range(0, size, every))
    left, grid = 34 + label_width, cell * size
    bottom, rotate = top + grid, label_width > cell * every - 4
    body = [_text(14, top + grid / 2, "true class", extra=f'{INK} transform="rotate(-90 14 {_c(top + grid / 2)})"')]
    body += [_rect(left, top, grid, grid, "#ffffff", f' stroke="{LINE}"'), '<g class="cells">']
    printed = size <= PRINTED_COUNTS
    for r, row in enumerate(matrix):
        total = sum(row)
        for c, count in enumerate(row):
            if count or printed:  # large matrices: zero cells stay blank, so the page stays small
                tip = f"true {names[r]}, predicted {names[c]}: {count} of {total}" if size <= 30 else ""
                body += _cell(left + c * cell, top + r * cell, cell, count, count / (total or 1), tip, printed)
    body.append("</g>")
    for i in range(0, size, every):
        x, y = left + i * cell + cell / 2, top + i * cell + cell / 2
        turn = f' transform="rotate(-45 {_c(x + 3)} {_c(bottom + 12)})"'
        column = (
            _text(x + 3, bottom + 12, names[i], "end", INK + turn)
            if rotate
            else _text(x, bottom + 14, names[i], extra=INK)
        )
        body += [_text(left - 6, y + 4, names[i], "end", INK), column]
    below = bottom + (label_width * 0.72 + 16 if rotate else 20)
    body += [_text(left + grid / 2, below + 12, "predicted class", extra=INK), *_shade_legend(left + grid + 16, top)]
    label = f"Confusion matrix of {size} classes: rows are the true class, columns the predicted class"
    return _svg(below + 20, label, body)


def _cell(x: float, y: float, cell: float, count: int, share: float, tip: str, printed: bool) -> list[str]:
    """Draw one cell of the matrix, its count written when the matrix is small enough to read it."""
    if not printed:
        return [_rect(x, y, cell, cell, _shade(share), "", tip)]
    text = str(count) if count < 100_000 else _fmt(count)
    size = min(FONT, cell * 0.9 / (0.6 * len(text)))
    colour = "#fff" if share > 0.55 else FG if count else MUTED
    extra = f' font-size="{size:.3g}" fill="{colour}"'
    square = _rect(x, y, cell, cell, _shade(share), f' stroke="{LINE}" stroke-width=".5"', tip)
    return [square, _text(x + cell / 2, y + cell / 2 + size * 0.35, text, extra=extra)]


def _shade_legend(x: float, top: float) -> list[str]:
    """Show which share of its row each shade stands for."""
    parts = [_text(x, top + 8, "% of row", "start")]
    for i, share in enumerate((0, 0.25, 0.5, 0.75, 1)):
        y = top + 16 + 18 * i
        parts.append(_rect(x, y, 14, 14, _shade(share), f' stroke="{LINE}"'))
        parts.append(_text(x + 20, y + 11, f"{share:.0%}", "start"))
    return parts


def per_class_accuracy(values: Sequence[float | None], labels: Sequence[str] | None = None) -> Markup:
    """Draw one bar per class on a 0..1 scale with its value written; "n/a" for a class absent from the test labels."""
    if not isinstance(values, Sequence) or isinstance(values, str) or not 0 < len(values) <= MAX_CLASSES:
        return Markup("")
    names, top, row = _labels(labels, len(values)), 8, 18
    left, right = 16 + CHAR * max(len(name) for name in names), WIDTH - 48
    bottom, body = top + row * len(values), []
    for tick in (0, 0.2, 0.4, 0.6, 0.8, 1):
        x = left + tick * (right - left)
        body += [_line(x, top, x, bottom), _text(x, bottom + 14, _fmt(tick))]
    body.append('<g class="bars">')
    for i, (name, value) in enumerate(zip(names, values, strict=True)):
        y, number = top + i * row, _number(value)
        body.append(_text(left - 6, y + 13, name, "end", INK))
        if number is None:
            body.append(_text(left + 4, y + 13, "n/a", "start", ' class="na"'))
            continue
        width = min(max(number, 0.0), 1.0) * (right - left)
        body.append(_rect(left, y + 3, width, 12, _shade(1), "", f"{name}: {number:.2f}"))
        body.append(_text(left + width + 4, y + 13, f"{number:.2f}", "start", INK))
    body += ["</g>", _text((left + right) / 2, bottom + 32, "accuracy", extra=INK)]
    label = f"Accuracy of each of {len(values)} classes, 0 to 1; n/a: the class is absent from the test labels"
    return _svg(bottom + 40, label, body)


# Histograms (the gradebook): a narrower canvas than the result page's, so the text stays readable in a card.
HIST_WIDTH, HIST_LEFT, HIST_TOP, HIST_HEIGHT = 480, 44, 18, 140
BAR, DUE = "#2457c5", "#b42318"  # as style.css: --accent, --bad
MAX_BINS, WRITTEN_COUNTS = 200, 24  # more bins than WRITTEN_COUNTS: the y axis alone tells the counts


def histogram(
    counts: Sequence[int],
    ticks: Sequence[tuple[float, str]],
    *,
    label: str,
    x_title: str,
    y_title: str,
    bins: Sequence[str] | None = None,
    marker: tuple[float, str] | None = None,
) -> Markup:
    """Draw counts as bars on a count axis, the count written on each bar when the bins are few enough to read.

    ticks place x labels in bin units (0 is the left edge of the first bin, 0.5 its middle); bins names each bin
    for its tooltip and for the text alternative, which lists every non-zero bin; marker draws a dashed line at a
    position in bin units (a due date) with its name.
    """
    if not 0 < len(counts) <= MAX_BINS or any(not isinstance(n, int) or n < 0 for n in counts):
        return Markup("")
    names = list(bins) if bins is not None and len(bins) == len(counts) else [str(i) for i in range(len(counts))]
    top, y_ticks = _count_axis(max(counts))
    left, right, bottom = HIST_LEFT, HIST_WIDTH - 20, HIST_TOP + HIST_HEIGHT
    slot = (right - left) / len(counts)
    body = []
    for tick in y_ticks:
        y = bottom - tick * HIST_HEIGHT / top
        body += [_line(left, y, right, y), _text(left - 6, y + 4, str(tick), "end", ' class="tick"')]
    body += _histogram_bars(counts, names, HIST_HEIGHT / top, slot)
    body.append(_line(left, bottom, right, bottom, MUTED, ""))
    body += [_text(left + position * slot, bottom + 14, text) for position, text in ticks]
    if marker is not None:
        x = left + marker[0] * slot
        body.append(_line(x, HIST_TOP - 8, x, bottom, DUE, ' stroke-dasharray="4 3" class="marker"'))
        body.append(_text(x + 4, HIST_TOP - 2, marker[1], "start", f' fill="{DUE}"'))
    body.append(_text((left + right) / 2, bottom + 34, x_title, extra=INK))
    middle = HIST_TOP + HIST_HEIGHT / 2
    body.append(_text(12, middle, y_title, extra=f'{INK} transform="rotate(-90 12 {_c(middle)})"'))
    return _svg(bottom + 42, _histogram_label(label, counts, names), body, HIST_WIDTH, "histogram")


def _histogram_bars(counts: Sequence[int], names: Sequence[str], unit: float, slot: float) -> list[str]:
    """Draw one bar per bin (unit: height of a count of one), its count above it when the bins are few."""
    bottom, written = HIST_TOP + HIST_HEIGHT, len(counts) <= WRITTEN_COUNTS
    parts = ['<g class="bars">']
    for index, (count, name) in enumerate(zip(counts, names, strict=True)):
        x, height, tip = HIST_LEFT + index * slot, count * unit, f"{name}: {count}"
        parts.append(_rect(x + slot * 0.06, bottom - height, slot * 0.88, height, BAR, f' data-count="{count}"', tip))
        if written:
            parts.append(_text(x + slot / 2, bottom - height - 4, str(count), extra=' class="count"' + INK))
    return [*parts, "</g>"]


def _count_axis(largest: int) -> tuple[int, list[int]]:
    """Return the axis top and whole-number ticks for counts up to largest (at least 1, at most 6 ticks)."""
    if largest <= 5:
        top = max(largest, 1)
        return top, list(range(top + 1))
    _, high, ticks = _axis(0, largest)
    return round(high), [round(t) for t in ticks]


def _histogram_label(label: str, counts: Sequence[int], names: Sequence[str]) -> str:
    """The text alternative: the chart's subject, the total, then every non-zero bin with its count."""
    listed = "; ".join(f"{name}: {count}" for name, count in zip(names, counts, strict=True) if count)
    total = sum(counts)
    if not total:
        return f"{label}: none"
    rest = "; every other bin 0" if any(count == 0 for count in counts) else ""
    return f"{label}: {total} in all; {listed}{rest}"


def init_app(app: Any) -> None:
    """Let templates draw charts and find a submission's task kind (its feedback section)."""
    from grader.web import charts_generation, charts_rl

    app.jinja_env.globals.update(
        charts=sys.modules[__name__],
        charts_generation=charts_generation,
        charts_rl=charts_rl,
        task_kind=KINDS.get,
    )
