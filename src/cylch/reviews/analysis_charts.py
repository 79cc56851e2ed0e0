"""The map of co-occurring indicators (TA figures 5 and 6) as SVG, drawn on the server.

No database and no request: points in, markup out. The page shows a table of the coordinates
beside the map, so the drawing has a ``<title>`` and a short ``<desc>`` for screen readers and
does not repeat the table. Every point is numbered and labelled with its name, and the table
carries the same numbers, so a reader can match a crowded label to its row. Both axes share one
scale: in an MDS map only distances mean something, and unequal axes would distort them. No
``style`` attributes (the content security policy does not allow them): the drawing scales with
its viewBox to the width of its column (``.cylch-chart`` in drawings.css caps it). The geometry is
computed here and the markup written by ``templates/reviews/analysis/_map.svg``, whose
autoescaping covers every label: nothing is marked safe by hand.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from cylch.insight.charts import nice_ticks, text_width, wrap

WIDTH = 400
MARGIN = 8
FONT = 14  # the point labels; the map is crowded, and the table beside it repeats them
AXIS_FONT = 14
LINE_H = 16
LABEL_W = 120  # a label wraps at this width
POINT_R = 4.5
INK = "#0b0c0c"
GREY = "#505a5f"
GRID = "#b1b4b6"
POINT = "#1d70b8"  # GOV.UK blue, 5.2:1 on white
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class MapPoint:
    label: str
    x: float
    y: float


def _n(value: float) -> str:
    s = f"{value:.1f}"
    s = s[:-2] if s.endswith(".0") else s
    return "0" if s == "-0" else s


def _clean(text: str) -> str:
    """Text without the control characters XML does not allow (escaping is the template's)."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", str(text)))


def _tick(value: float) -> str:
    s = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


Box = tuple[float, float, float, float]  # left, top, right, bottom


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _place_labels(
    points: list[tuple[float, float]], labels: list[list[str]], bounds: Box
) -> list[tuple[float, float, str]]:
    """Greedy placement: each label goes to whichever of eight spots around its point overlaps
    the labels already placed, the other points and the outside of ``bounds`` least. Points with
    the most neighbours are placed first, while there is still room near them."""
    sizes = [(max(text_width(line, FONT) for line in lines), len(lines) * LINE_H) for lines in labels]
    point_boxes = [(x - POINT_R - 1, y - POINT_R - 1, x + POINT_R + 1, y + POINT_R + 1) for x, y in points]

    def crowd(i: int) -> int:
        x, y = points[i]
        return sum(1 for j, (u, v) in enumerate(points) if j != i and abs(u - x) < 90 and abs(v - y) < 40)

    order = sorted(range(len(points)), key=lambda i: -crowd(i))
    placed: dict[int, tuple[Box, str]] = {}
    gap = POINT_R + 3
    for i in order:
        x, y = points[i]
        w, h = sizes[i]
        # Beside the point, slid up and down its height in half-line steps, then centred above
        # and below it: the nearer spots first, so a tie goes to the nearest.
        candidates: list[tuple[Box, str]] = []
        steps = max(1, int(h // (LINE_H / 2)))
        for k in range(steps + 1):
            for sign in (1, -1) if k else (1,):
                top = y - h / 2 + sign * k * LINE_H / 2
                candidates.append(((x + gap, top, x + gap + w, top + h), "start"))
                candidates.append(((x - gap - w, top, x - gap, top + h), "end"))
            if k == 0:
                candidates.append(((x - w / 2, y - gap - h, x + w / 2, y - gap), "middle"))
                candidates.append(((x - w / 2, y + gap, x + w / 2, y + gap + h), "middle"))

        def cost(box: Box, i: int = i) -> float:
            inside = _overlap(box, bounds)
            out = (box[2] - box[0]) * (box[3] - box[1]) - inside
            return (
                out * 10
                + sum(_overlap(box, other) for other, _a in placed.values())
                + sum(_overlap(box, pb) for j, pb in enumerate(point_boxes) if j != i) * 4
            )

        placed[i] = min(candidates, key=lambda c: cost(c[0]))  # min keeps the first of equals
    out = []
    for i in range(len(points)):
        (left, top, right, _bottom), anchor = placed[i]
        ax = {"start": left, "end": right, "middle": (left + right) / 2}[anchor]
        out.append((ax, top, anchor))
    return out


def mds_map(
    points: Sequence[MapPoint],
    *,
    title: str,
    description: str | None = None,
    stress: float | None = None,
    id_prefix: str | None = None,
) -> SafeString:
    """A scatter of the indicators on the two MDS dimensions, numbered and labelled.

    The axes span the same range, symmetric about 0 (the configuration is centred), with a light
    grid; the first dimension runs left to right. ``description`` is the ``<desc>``; without it
    one is made from the count and ``stress``.
    """
    # A margin round the furthest point, so no point sits on the frame; ticks inside it.
    span = max([abs(c) for p in points for c in (p.x, p.y)] + [1e-9]) * 1.15
    lo, hi = -span, span
    ticks = [t for t in nice_ticks(lo, hi, count=5) if lo <= t <= hi] or [0.0]
    tick_labels = [_tick(t) for t in ticks]

    left = MARGIN + max(text_width(t, AXIS_FONT) for t in tick_labels) + 6
    top = MARGIN + LINE_H + 8  # room for the y axis name
    size = WIDTH - MARGIN - left
    bottom = top + size

    def sx(v: float) -> float:
        return left + (v - lo) / (hi - lo) * size

    def sy(v: float) -> float:
        return bottom - (v - lo) / (hi - lo) * size

    xy = [(sx(p.x), sy(p.y)) for p in points]
    labels = [wrap(f"{i}. {p.label}", LABEL_W, FONT) for i, p in enumerate(points, start=1)]
    # Labels stay inside the frame, clear of the tick labels and the axes' names.
    spots = _place_labels(xy, labels, (left + 1, top + 1, WIDTH - 1, bottom - 1))
    lowest = max([bottom] + [t + len(lines) * LINE_H for (_ax, t, _a), lines in zip(spots, labels, strict=True)])
    axis_label_y = max(bottom + LINE_H + 6, lowest) + LINE_H + 4
    height = axis_label_y + MARGIN
    # A label placed above the plot's top edge widens the drawing upwards.
    min_y = min(0.0, min([top] + [t for _ax, t, _a in spots]) - MARGIN)

    if description is None:
        description = _("A map of %(count)s indicators placed by multidimensional scaling.") % {"count": len(points)}
        if stress is not None:
            description += " " + _("Normalised raw stress %(stress)s.") % {"stress": f"{stress:.3f}"}
        description += " " + _(
            "Indicators close together tend to be recorded in the same reviews. "
            "The table with the map gives each indicator's number and coordinates."
        )
    prefix = id_prefix or "map-" + hashlib.sha256(repr((tuple(points), title, description)).encode()).hexdigest()[:10]
    context = {
        "prefix": prefix, "title": _clean(title), "description": _clean(description),
        "view_box": f"0 {_n(min_y)} {WIDTH} {_n(height - min_y)}",
        "frame": {"x": _n(left), "y": _n(top), "size": _n(size), "right": _n(left + size), "bottom": _n(bottom)},
        "y_name": {"x": _n(left), "y": _n(MARGIN + LINE_H - 3)},
        "x_name": {"x": _n(left + size), "y": _n(axis_label_y)},
        "ticks": [
            {"label": label, "x": _n(sx(t)), "y": _n(sy(t)), "label_x": _n(left - 4), "label_y": _n(sy(t) + 5),
             "below": _n(bottom + LINE_H + 2), "zero": t == 0}
            for t, label in zip(ticks, tick_labels, strict=True)
        ],
        "points": [
            {"x": _n(x), "y": _n(y), "anchor": anchor,
             "lines": [{"x": _n(ax), "y": _n(label_top + (k + 1) * LINE_H - 4), "text": _clean(line)}
                       for k, line in enumerate(lines)]}
            for (x, y), (ax, label_top, anchor), lines in zip(xy, spots, labels, strict=True)
        ],
        "colours": {"ink": INK, "grey": GREY, "grid": GRID, "point": POINT}, "font": FONT, "axis_font": AXIS_FONT,
        "r": POINT_R,
    }  # fmt: skip
    # Drawn by a template, so every piece of text is escaped by the template engine.
    return render_to_string("reviews/analysis/_map.svg", context)
