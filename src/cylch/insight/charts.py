"""Line and bar charts for the board dashboards, drawn as SVG on the server. Pure: numbers in,
markup out, no database, templates or JavaScript, so a chart can be tested as a string and
cached by its inputs (the same input always gives the same bytes).

The dashboards always show the figures in an HTML table beside each chart, so a chart is a
picture for sighted readers plus a ``<title>`` and a short ``<desc>`` for screen readers; it
does not repeat the table. Nothing depends on colour alone: each line has its own dash
pattern and point marker as well as a GOV.UK palette colour, and a highlighted bar also has
a bold label.

Sizes are in viewBox units. The drawing is 400 units wide and is shown at 100% of its
container up to ``MAX_WIDTH`` px (``.cylch-chart`` in ``core/static/cylch/drawings.css``: the
Content-Security-Policy allows no style attribute), so 16-unit text is about 11.5px on a 320px screen (290px
of column), 14px on a 390px phone and 20px at its widest. Text widths are estimated generously (0.6 em a character) so labels,
including long Welsh area names, wrap before they would leave the drawing.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

WIDTH = 400
MAX_WIDTH = 500  # px, in drawings.css; any wider and the labels would outgrow the page's body text
MARGIN = 8
FONT = 16  # every label
LINE_H = 19  # line height of FONT text
CHAR_EM = 0.6  # estimated advance of one character, in em (generous for Arial)

INK = "#0b0c0c"
GREY = "#505a5f"
GRID = "#b1b4b6"

# GOV.UK Frontend 5 palette colours, each at least 3:1 against white (WCAG 1.4.11), paired
# with a dash pattern and a marker so that lines differ in shape as well as hue.
LINE_STYLES = (
    ("#1d70b8", "", "circle"),  # blue 5.2:1
    ("#d4351c", "8 4", "square"),  # red 4.9:1
    ("#00703c", "2 3", "triangle"),  # green 6.2:1
    ("#912b88", "10 3 2 3", "diamond"),  # bright purple 7.2:1
    ("#b58840", "14 5", "triangle-down"),  # brown 3.2:1
    (INK, "4 2 1 2", "cross"),  # black 19.6:1
)
TARGET = GREY  # dark grey 7:1, plain and without markers: unlike any series
TARGET_W = 2
BAR = "#1d70b8"  # blue, when nothing is highlighted
BAR_MUTED = "#5694ca"  # light blue 3.2:1, the others when one bar is highlighted
BAR_HIGHLIGHT = "#003078"  # dark blue 12.4:1

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Formatter = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One line: a name for the legend and a value per period (``None``: a gap, not zero)."""

    name: str
    values: list[float | None]


@dataclass(frozen=True)
class Bar:
    """One bar. ``value`` ``None`` leaves a gap labelled with ``note`` (e.g. "suppressed")."""

    label: str
    value: float | None
    note: str = ""


# -- text ---------------------------------------------------------------------------------


def text_width(text: str, size: float = FONT) -> float:
    """A generous estimate of rendered width: 0.6 em a character (ŵ, â and the like count once)."""
    return len(unicodedata.normalize("NFC", text)) * CHAR_EM * size


def wrap(text: str, width: float, size: float = FONT) -> list[str]:
    """Greedy word wrap to ``width``; a word too long for a line is broken inside with a hyphen."""
    lines: list[str] = []
    line = ""
    for word in _clean(text).split():
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, size) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while text_width(word, size) > width and len(word) > 2:
            cut = max(int(width / (CHAR_EM * size)) - 1, 1)
            lines.append(word[:cut] + "-")
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines or [""]


def _clean(text: str) -> str:
    return _CONTROL.sub("", unicodedata.normalize("NFC", str(text)))


def _x(text: str) -> str:
    return escape(_clean(text))


def _n(value: float) -> str:
    """A coordinate: at most one decimal place, never "-0.0", so output is stable."""
    s = f"{value:.1f}"
    s = s[:-2] if s.endswith(".0") else s
    return "0" if s == "-0" else s


def _text(
    x: float, y: float, text: str, *, anchor: str = "start", bold: bool = False, fill: str = INK, extra: str = ""
) -> str:
    attrs = f' text-anchor="{anchor}"' if anchor != "start" else ""
    attrs += ' font-weight="bold"' if bold else ""
    return f'<text x="{_n(x)}" y="{_n(y)}" font-size="{FONT}" fill="{fill}"{attrs}{extra}>{_x(text)}</text>'


def default_format(percent: bool = False) -> Formatter:
    """Locale-neutral numbers: "12", "12.5", and "12.5%" when ``percent`` (values are 0 to 100)."""

    def fmt(value: float) -> str:
        s = f"{value:.1f}"
        s = s[:-2] if s.endswith(".0") else s
        s = "0" if s == "-0" else s
        return f"{s}%" if percent else s

    return fmt


def _svg_open(kind: str, width: float, height: float, title: str, desc: str, id_prefix: str) -> list[str]:
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(width)} {_n(height)}" width="100%" '
        f'role="img" aria-labelledby="{title_id} {desc_id}" font-family="arial, helvetica, sans-serif" '
        f'class="cylch-chart cylch-chart--{kind}">',
        f'<title id="{title_id}">{_x(title)}</title>',
        f'<desc id="{desc_id}">{_x(desc)}</desc>',
    ]


def _id_prefix(kind: str, *parts: object) -> str:
    """Stable, distinct ids for distinct charts on one page, without a counter or randomness."""
    digest = hashlib.sha1(repr((kind, *parts)).encode(), usedforsecurity=False).hexdigest()[:10]
    return f"chart-{digest}"


# -- scales -------------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, *, integer: bool = False, count: int = 5) -> list[float]:
    """Round tick values covering ``lo``..``hi`` (0 is always one), about ``count`` of them."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = 10 * mag
    for m in (1, 2, 2.5, 5, 10):
        if m == 2.5 and integer and mag < 10:
            continue
        if m * mag >= raw - 1e-12:
            step = m * mag
            break
    if integer:
        step = max(step, 1)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


# -- line chart ---------------------------------------------------------------------------

PLOT_H = 200
MARKER_R = 4.5


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    r = MARKER_R
    if kind == "circle":
        return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{r}" fill="{colour}"/>'
    if kind == "square":
        s = r * 0.9
        return f'<rect x="{_n(x - s)}" y="{_n(y - s)}" width="{_n(2 * s)}" height="{_n(2 * s)}" fill="{colour}"/>'
    if kind == "triangle":
        d = f"M {_n(x)} {_n(y - r - 1)} L {_n(x + r + 0.5)} {_n(y + r - 0.5)} L {_n(x - r - 0.5)} {_n(y + r - 0.5)} Z"
    elif kind == "triangle-down":
        d = f"M {_n(x)} {_n(y + r + 1)} L {_n(x + r + 0.5)} {_n(y - r + 0.5)} L {_n(x - r - 0.5)} {_n(y - r + 0.5)} Z"
    elif kind == "diamond":
        d = f"M {_n(x)} {_n(y - r - 1)} L {_n(x + r + 1)} {_n(y)} L {_n(x)} {_n(y + r + 1)} L {_n(x - r - 1)} {_n(y)} Z"
    else:  # cross
        s = r
        return (
            f'<path d="M {_n(x - s)} {_n(y - s)} L {_n(x + s)} {_n(y + s)} M {_n(x - s)} {_n(y + s)} '
            f'L {_n(x + s)} {_n(y - s)}" stroke="{colour}" stroke-width="2.5" fill="none"/>'
        )
    return f'<path d="{d}" fill="{colour}"/>'


def line_style(index: int) -> tuple[str, str, str]:
    """Colour, dash pattern and marker of the ``index``-th series. Past six, the three are
    recombined (the seventh line is red with the blue line's marker...), so every line still
    differs from every other in at least two ways."""
    n = len(LINE_STYLES)
    lap = index // n
    return LINE_STYLES[index % n][0], LINE_STYLES[(index + lap) % n][1], LINE_STYLES[(index + 2 * lap) % n][2]


def _split_label(label: str) -> list[str]:
    """An x label on at most two lines, broken at the space that makes the longer line shortest."""
    words = label.split()
    if len(words) < 2:
        return [label]
    best = min(range(1, len(words)), key=lambda i: max(len(" ".join(words[:i])), len(" ".join(words[i:]))))
    return [" ".join(words[:best]), " ".join(words[best:])]


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive known values: a ``None`` ends a run, so the line has a gap there."""
    runs: list[list[tuple[int, float]]] = []
    run: list[tuple[int, float]] = []
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            if run:
                runs.append(run)
            run = []
        else:
            run.append((i, float(v)))
    if run:
        runs.append(run)
    return runs


def line_chart(
    series: list[Series],
    *,
    x_labels: list[str],
    title: str,
    y_label: str,
    percent: bool = False,
    target: float | None = None,
    description: str | None = None,
    format_value: Formatter | None = None,
    id_prefix: str | None = None,
) -> SafeString:
    """A trend line per series over the periods in ``x_labels``, with a legend.

    ``None`` values leave a gap in the line (a point on its own is drawn as a marker only).
    The y axis starts at 0 (0 to 100 when ``percent``: values are percentages, not fractions);
    ``target`` draws a labelled horizontal line. ``description`` is the ``<desc>`` (a summary
    is generated without it); ``format_value`` formats tick, target and summary numbers.
    """
    n = len(x_labels)
    for s in series:
        if len(s.values) != n:
            raise ValueError(f"Series {s.name!r} has {len(s.values)} values for {n} periods")
    fmt = format_value or default_format(percent)
    known = [float(v) for s in series for _i, v in (p for run in _segments(s.values) for p in run)]
    lo = min([0.0, *known, *([target] if target is not None else [])])
    hi = max([0.0, *known, *([target] if target is not None else [])])
    if percent:
        hi = max(hi, 100.0)
        ticks = nice_ticks(lo, hi, count=5) if (lo < 0 or hi > 100) else [0, 25, 50, 75, 100]
    else:
        ticks = nice_ticks(lo, hi, integer=all(v == int(v) for v in known), count=5)
    y_min, y_max = ticks[0], ticks[-1]
    tick_labels = [fmt(t) for t in ticks]

    # Horizontal layout: tick labels, then the plot; each period is a band, its point centred.
    left = MARGIN + max(text_width(t) for t in tick_labels) + 8
    right = WIDTH - MARGIN
    plot_w = right - left
    band = plot_w / max(n, 1)

    # Vertical layout: the y axis label above the plot, the x labels and the legend below.
    y_label_lines = wrap(y_label, WIDTH - 2 * MARGIN) if y_label else []
    top = MARGIN + len(y_label_lines) * LINE_H + 12
    bottom = top + PLOT_H

    def sy(v: float) -> float:
        return bottom - (v - y_min) / (y_max - y_min) * PLOT_H

    def sx(i: int) -> float:
        return left + band * (i + 0.5)

    # Thin the x labels so that none overlap; the latest period is always labelled.
    split = [_split_label(label) for label in x_labels]
    widest = max((text_width(line) for lines in split for line in lines), default=0)
    step = max(1, math.ceil((widest + 8) / band)) if n else 1
    # A label near either end is pulled in to stay inside the drawing; if that would make it
    # touch its neighbour, the neighbour (never the latest) is left out.
    placed: list[tuple[int, float]] = []
    edge = WIDTH - 2.0
    for i in reversed([i for i in range(n) if (n - 1 - i) % step == 0]):
        half = max(text_width(line) for line in split[i]) / 2
        x = min(max(sx(i), 2 + half), WIDTH - 2 - half)
        if x + half + 8 <= edge or not placed:
            placed.append((i, x))
            edge = x - half
    placed.reverse()
    x_label_h = max((len(split[i]) for i, _x in placed), default=0) * LINE_H
    legend_top = bottom + 8 + x_label_h + 14
    entries = [(*line_style(i), s.name) for i, s in enumerate(series)]
    if target is not None:
        entries.append((TARGET, "", "", _("Target: %(value)s") % {"value": fmt(target)}))
    legend, legend_h = _line_legend(entries, legend_top)
    height = legend_top + legend_h + MARGIN

    desc = description if description is not None else _describe_line(series, x_labels, target, fmt)
    prefix = id_prefix or _id_prefix("line", series, x_labels, title, y_label, percent, target, desc)
    out = _svg_open("line", WIDTH, height, title, desc, prefix)

    for i, line in enumerate(y_label_lines):
        out.append(_text(MARGIN, MARGIN + (i + 1) * LINE_H - 4, line, fill=INK))
    for t, label in zip(ticks, tick_labels, strict=True):
        y = sy(t)
        colour, width = (GREY, 1.5) if t == 0 else (GRID, 1)
        out.append(
            f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(right)}" y2="{_n(y)}" stroke="{colour}" stroke-width="{width}"/>'
        )
        out.append(_text(left - 6, y + 5, label, anchor="end"))
    for i in range(n):
        x = sx(i)
        out.append(
            f'<line x1="{_n(x)}" y1="{_n(bottom)}" x2="{_n(x)}" y2="{_n(bottom + 5)}" stroke="{GREY}" stroke-width="1"/>'
        )
    for i, x in placed:
        for j, line in enumerate(split[i]):
            out.append(_text(x, bottom + 8 + (j + 1) * LINE_H - 4, line, anchor="middle"))

    if target is not None:
        # Labelled in the legend rather than on the plot, where the lines would run through it.
        y = sy(target)
        out.append(
            f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(right)}" y2="{_n(y)}" stroke="{TARGET}" '
            f'stroke-width="{TARGET_W}" class="cylch-chart__target"/>'
        )

    for index, s in enumerate(series):
        colour, dash, marker = line_style(index)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append('<g class="cylch-chart__series">')
        for run in _segments(s.values):
            if len(run) > 1:
                d = " ".join(f"{'M' if k == 0 else 'L'} {_n(sx(i))} {_n(sy(v))}" for k, (i, v) in enumerate(run))
                out.append(
                    f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr} '
                    f'stroke-linejoin="round" class="cylch-chart__line"/>'
                )
        for run in _segments(s.values):
            for i, v in run:
                out.append(_marker(marker, sx(i), sy(v), colour))
        out.append("</g>")

    out += legend
    out.append("</svg>")
    return mark_safe("\n".join(out))


def _line_legend(entries: list[tuple[str, str, str, str]], top: float) -> tuple[list[str], float]:
    """One row per (colour, dash, marker, name): a sample line, then the name wrapped, so that
    long names never run off the side. No marker: the target line."""
    out: list[str] = []
    y = top
    sample_w = 32
    for colour, dash, marker, name in entries:
        lines = wrap(name, WIDTH - 2 * MARGIN - sample_w - 6)
        mid = y + LINE_H / 2
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        width = 2.5 if marker else TARGET_W
        out.append(
            f'<line x1="{_n(MARGIN)}" y1="{_n(mid)}" x2="{_n(MARGIN + sample_w)}" y2="{_n(mid)}" stroke="{colour}" '
            f'stroke-width="{width}"{dash_attr}/>'
        )
        if marker:
            out.append(_marker(marker, MARGIN + sample_w / 2, mid, colour))
        for j, line in enumerate(lines):
            out.append(_text(MARGIN + sample_w + 6, y + (j + 1) * LINE_H - 4, line))
        y += len(lines) * LINE_H + 6
    return out, y - top


def _describe_line(series: list[Series], x_labels: list[str], target: float | None, fmt: Formatter) -> str:
    parts = []
    if x_labels:
        parts.append(
            _("Trend from %(first)s to %(last)s for %(names)s.")
            % {"first": x_labels[0], "last": x_labels[-1], "names": ", ".join(s.name for s in series)}
        )
    if target is not None:
        parts.append(_("The target is %(value)s.") % {"value": fmt(target)})
    if any(v is None for s in series for v in s.values):
        parts.append(_("Where a figure is suppressed or missing the line has a gap."))
    parts.append(_("The table with the chart gives the figures."))
    return " ".join(parts)


# -- bar chart ----------------------------------------------------------------------------

BAR_H = 18
BAR_GAP = 12  # between one bar and the next label


def bar_chart(
    bars: list[Bar],
    *,
    title: str,
    unit: str = "",
    percent: bool = False,
    highlight: str | None = None,
    description: str | None = None,
    format_value: Formatter | None = None,
    id_prefix: str | None = None,
) -> SafeString:
    """Horizontal bars, each with its label above it (room for long Welsh names on a phone)
    and its value at its end. ``unit`` follows each value ("12 days"). Percent bars share a
    0 to 100 scale; others are scaled to the largest. A bar with value ``None`` is a gap
    labelled with its ``note``; the bar whose label is ``highlight`` is darker and its label
    bold.
    """
    fmt = format_value or default_format(percent)
    # NaN (as pandas gives for a missing figure) is a gap too.
    bars = [Bar(b.label, None, b.note) if b.value is not None and math.isnan(b.value) else b for b in bars]

    def value_text(v: float) -> str:
        return f"{fmt(v)} {unit}" if unit else fmt(v)

    values = [float(b.value) for b in bars if b.value is not None]
    lo = min([0.0, *values])
    hi = max([100.0 if percent else 0.0, *values])
    if hi == lo:
        hi = lo + 1
    labels = {i: value_text(float(b.value)) for i, b in enumerate(bars) if b.value is not None}
    # Room for the value labels: at the right for positive values, at the left for negative.
    # Percentages always leave room for "100%", so that every percent chart has the same scale.
    right_room = max(
        (text_width(labels[i]) for i, b in enumerate(bars) if b.value is not None and b.value >= 0),
        default=text_width(value_text(hi)) if percent else 0,
    )
    if percent:
        right_room = max(right_room, text_width(value_text(hi)))
    left_room = max(
        (text_width(labels[i]) for i, b in enumerate(bars) if b.value is not None and b.value < 0), default=0
    )
    left = MARGIN + (left_room + 6 if left_room else 0)
    right = WIDTH - MARGIN - (right_room + 6 if right_room else 0)

    def sx(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (right - left)

    x0 = sx(0)
    muted = highlight is not None and any(b.label == highlight for b in bars)
    out_bars: list[str] = []
    y = MARGIN
    for i, b in enumerate(bars):
        is_hi = muted and b.label == highlight
        for line in wrap(b.label, WIDTH - 2 * MARGIN):
            y += LINE_H
            out_bars.append(_text(MARGIN, y - 4, line, bold=is_hi))
        bar_y = y + 2
        mid = bar_y + BAR_H / 2 + 5
        if b.value is None:
            note = wrap(b.note or _("No data"), WIDTH - MARGIN - x0 - 6)
            for k, line in enumerate(note):
                out_bars.append(_text(x0 + 6, mid + k * LINE_H, line, fill=GREY, extra=' font-style="italic"'))
            y = bar_y + BAR_H + (len(note) - 1) * LINE_H + BAR_GAP
            continue
        v = float(b.value)
        x1, x2 = sorted((x0, sx(v)))
        fill = BAR_HIGHLIGHT if is_hi else (BAR_MUTED if muted else BAR)
        css = ' class="cylch-chart__highlight"' if is_hi else ""
        out_bars.append(
            f'<rect x="{_n(x1)}" y="{_n(bar_y)}" width="{_n(x2 - x1)}" height="{BAR_H}" fill="{fill}"{css}/>'
        )
        # The zero line beside each bar (not through the labels), so a bar of 0 still shows.
        out_bars.append(
            f'<line x1="{_n(x0)}" y1="{_n(bar_y - 2)}" x2="{_n(x0)}" y2="{_n(bar_y + BAR_H + 2)}" '
            f'stroke="{INK}" stroke-width="1.5"/>'
        )
        if v >= 0:
            out_bars.append(_text(x2 + 5, mid, labels[i], bold=is_hi))
        else:
            out_bars.append(_text(x1 - 5, mid, labels[i], anchor="end", bold=is_hi))
        y = bar_y + BAR_H + BAR_GAP
    height = y - BAR_GAP + MARGIN

    desc = description if description is not None else _describe_bars(bars, highlight, value_text)
    prefix = id_prefix or _id_prefix("bar", bars, title, unit, percent, highlight, desc)
    out = _svg_open("bar", WIDTH, height, title, desc, prefix)
    out += out_bars
    out.append("</svg>")
    return mark_safe("\n".join(out))


def _describe_bars(bars: list[Bar], highlight: str | None, value_text: Formatter) -> str:
    known = [b for b in bars if b.value is not None]
    parts = [ngettext("%(n)s bar.", "%(n)s bars.", len(bars)) % {"n": len(bars)}]
    if len(known) > 1:
        top = max(known, key=lambda b: float(b.value or 0))
        low = min(known, key=lambda b: float(b.value or 0))
        parts.append(
            _("Highest %(high)s (%(high_value)s), lowest %(low)s (%(low_value)s).")
            % {
                "high": top.label,
                "high_value": value_text(float(top.value or 0)),
                "low": low.label,
                "low_value": value_text(float(low.value or 0)),
            }
        )
    chosen = next((b for b in bars if b.label == highlight), None)
    if chosen is not None and chosen.value is not None:
        parts.append(
            _("%(label)s, highlighted: %(value)s.") % {"label": chosen.label, "value": value_text(float(chosen.value))}
        )
    missing = len(bars) - len(known)
    if missing:
        parts.append(
            ngettext("%(n)s figure is suppressed or missing.", "%(n)s figures are suppressed or missing.", missing)
            % {"n": missing}
        )
    parts.append(_("The table with the chart gives the figures."))
    return " ".join(parts)
