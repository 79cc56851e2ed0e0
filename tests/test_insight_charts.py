"""The board dashboards' SVG charts: well-formed, labelled for screen readers, gaps where a figure
is suppressed, every label escaped and inside the drawing, and the same bytes for the same input."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest
from django.utils.safestring import SafeString
from django.utils.translation import override

from cylch.insight import charts
from cylch.insight.charts import Bar, Series, bar_chart, line_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
MONTHS = ["Apr 2024", "May 2024", "Jun 2024", "Jul 2024", "Aug 2024", "Sep 2024"]
RCT = "Gwasanaethau Plant Rhondda Cynon Taf"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def lines_of(root: ET.Element) -> list[ET.Element]:
    return [p for p in root.iter(f"{SVG}path") if p.get("class") == "cylch-chart__line"]


def markers(root: ET.Element, colour: str) -> list[ET.Element]:
    """The point markers of the series drawn in ``colour`` (the legend's sample is outside the group)."""
    return [
        el
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "cylch-chart__series"
        for el in g
        if el.get("class") != "cylch-chart__line" and colour in (el.get("fill"), el.get("stroke"))
    ]


def extents(root: ET.Element) -> list[tuple[str, float, float, float, float]]:
    """Each text's box, estimated conservatively at 0.6 x font size a character."""
    out = []
    for t in root.iter(f"{SVG}text"):
        size = float(t.get("font-size", "0"))
        width = len(t.text or "") * 0.6 * size
        x, y = float(t.get("x", "0")), float(t.get("y", "0"))
        anchor = t.get("text-anchor", "start")
        left = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
        out.append((t.text or "", left, left + width, y - size, y + 0.25 * size))
    return out


def view_box(root: ET.Element) -> tuple[float, float]:
    _x, _y, w, h = (float(v) for v in root.get("viewBox", "").split())
    return w, h


def assert_inside(root: ET.Element) -> None:
    w, h = view_box(root)
    for text, left, right, top, bottom in extents(root):
        assert left >= 0 and right <= w, f"{text!r} runs from {left:.1f} to {right:.1f}, outside 0..{w}"
        assert top >= 0 and bottom <= h, f"{text!r} runs from {top:.1f} to {bottom:.1f}, outside 0..{h}"


def two_lines() -> SafeString:
    return line_chart(
        [Series("Cardiff", [80, 82, None, 85, 88, 90]), Series("Wales", [70, 71, 72, 73, 74, 75])],
        x_labels=MONTHS,
        title="Strategy discussions within 5 working days",
        y_label="Per cent of discussions",
        percent=True,
    )


# -- both charts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chart",
    [
        lambda **kw: line_chart([Series("Wales", [1, 2, 3])], x_labels=["Q1", "Q2", "Q3"], y_label="Referrals", **kw),
        lambda **kw: bar_chart([Bar("Cardiff", 3), Bar("Wales", 5)], **kw),
    ],
    ids=["line", "bar"],
)
def test_an_image_labelled_by_its_title_and_description(chart):
    """The svg is an img named by its <title> and described by its <desc>, scales with its container and loads nothing."""
    markup = chart(title="Referrals by quarter", description="Referrals rose each quarter.")
    assert isinstance(markup, SafeString)
    root = parse(markup)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Referrals by quarter"
    assert desc is not None and desc.text == "Referrals rose each quarter."
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert root.get("width") == "100%" and root.get("height") is None and root.get("viewBox")
    assert root.get("style") is None and "cylch-chart" in root.get("class")  # sized by drawings.css (CSP)
    assert "<script" not in markup and "href" not in markup and "url(" not in markup


def test_the_description_is_generated_when_not_given():
    """Without a description the chart says what it covers and points to the table."""
    root = parse(two_lines())
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text is not None
    assert "Apr 2024" in desc.text and "Sep 2024" in desc.text and "Cardiff, Wales" in desc.text
    assert "gap" in desc.text and "table" in desc.text

    bars = parse(bar_chart([Bar("Cardiff", 12), Bar("Newport", 30), Bar("Wrexham", None, "suppressed")], title="Days"))
    text = bars.find(f"{SVG}desc").text
    assert "Highest Newport (30), lowest Cardiff (12)" in text and "1 figure is suppressed" in text


def test_same_input_same_bytes_and_distinct_charts_distinct_ids():
    """Output is deterministic, so tests and caches can compare it; two different charts never share ids."""
    assert two_lines() == two_lines()
    assert bar_chart([Bar("A", 1)], title="t") == bar_chart([Bar("A", 1)], title="t")
    ids_a = {el.get("id") for el in parse(two_lines()).iter() if el.get("id")}
    ids_b = {el.get("id") for el in parse(bar_chart([Bar("A", 1)], title="t")).iter() if el.get("id")}
    assert ids_a and ids_b and not ids_a & ids_b
    own = parse(bar_chart([Bar("A", 1)], title="t", id_prefix="referrals"))
    assert own.find(f"{SVG}title").get("id") == "referrals-title"


def test_labels_are_escaped():
    """'<' and '&' in any label come out as text, never markup."""
    nasty = 'Vale <b>& "Glamorgan"'
    markup = line_chart(
        [Series(nasty, [1, 2])], x_labels=[nasty, "Q2 <&>"], title=f"T {nasty}", y_label=f"Y {nasty}"
    ) + bar_chart([Bar(nasty, 3, note=nasty), Bar("x", None, note=f"n {nasty}")], title=nasty, unit="<&>")
    assert "<b>" not in markup
    for chunk in markup.split("</svg>")[:2]:
        root = parse(chunk + "</svg>")
        assert any(nasty in t or "Vale" in t for t in texts(root))
    root = parse(markup.split("</svg>")[1] + "</svg>")
    assert f"n {nasty}" in texts(root) and "3 <&>" in texts(root)


def test_control_characters_are_dropped():
    """A stray control character in a label would make the XML ill-formed; it is removed."""
    root = parse(bar_chart([Bar("Cardiff\x0b\x01", 1)], title="t\x1f"))
    assert "Cardiff" in texts(root)


# -- line chart ---------------------------------------------------------------------------


def test_a_suppressed_value_is_a_gap_not_zero():
    """None splits the line into two segments and has no marker; it is never drawn at zero."""
    root = parse(two_lines())
    blue = charts.line_style(0)[0]
    cardiff = [p for p in lines_of(root) if p.get("stroke") == blue]
    assert len(cardiff) == 2
    assert cardiff[0].get("d").count("L") == 1 and cardiff[1].get("d").count("L") == 2
    assert len(markers(root, blue)) == 5
    zero_y = next(t for t in root.iter(f"{SVG}text") if t.text == "0%").get("y")
    assert all(f" {float(zero_y) - 5:g}" not in p.get("d") for p in cardiff)


def test_a_point_between_two_gaps_is_a_marker_alone():
    """A known value with unknown neighbours is a marker with no line; all-None draws nothing."""
    root = parse(
        line_chart(
            [Series("A", [None, 5, None, 7]), Series("B", [None, None, None, None])],
            x_labels=["1", "2", "3", "4"],
            title="t",
            y_label="y",
        )
    )
    assert lines_of(root) == []
    assert len(markers(root, charts.line_style(0)[0])) == 2
    assert markers(root, charts.line_style(1)[0]) == []


def test_percent_axis_runs_from_0_to_100():
    """A percentage chart's axis is 0% to 100% whatever the data, so charts compare at a glance."""
    root = parse(two_lines())
    assert [t for t in texts(root) if t.endswith("%")][:5] == ["0%", "25%", "50%", "75%", "100%"]
    over = parse(line_chart([Series("A", [50, 104])], x_labels=["1", "2"], title="t", y_label="y", percent=True))
    ticks = [t for t in texts(over) if t.endswith("%")]
    assert ticks[0] == "0%" and float(ticks[-1][:-1]) >= 104


def test_count_axis_starts_at_zero_with_round_ticks():
    """Counts get whole-number ticks from 0 past the largest value."""
    assert nice_ticks(0, 7, integer=True) == [0, 2, 4, 6, 8]
    assert nice_ticks(0, 3, integer=True) == [0, 1, 2, 3]
    assert nice_ticks(0, 0.37) == [0, 0.1, 0.2, 0.3, 0.4]
    assert nice_ticks(0, 1234, integer=True) == [0, 500, 1000, 1500]
    assert nice_ticks(-12, 40) == [-20, 0, 20, 40]
    root = parse(line_chart([Series("A", [120, 340, 260])], x_labels=["a", "b", "c"], title="t", y_label="n"))
    assert texts(root)[1:6] == ["0", "100", "200", "300", "400"]


def test_target_line_is_drawn_and_labelled():
    """The target is a horizontal line, and the legend names it with its value."""
    root = parse(
        line_chart([Series("A", [50, 60])], x_labels=["1", "2"], title="t", y_label="y", percent=True, target=90)
    )
    target = [el for el in root.iter(f"{SVG}line") if el.get("class") == "cylch-chart__target"]
    assert len(target) == 1 and target[0].get("y1") == target[0].get("y2")
    assert "Target: 90%" in texts(root)
    assert "The target is 90%." in root.find(f"{SVG}desc").text


def test_format_value_formats_ticks_and_target():
    """The caller's formatter (Welsh decimal comma here) is used for every number shown."""

    def welsh(value: float) -> str:
        return f"{value:.1f}".replace(".", ",") + "%"

    with override("cy"):
        root = parse(
            line_chart(
                [Series("Cymru", [50.5, 60])],
                x_labels=["Ch1", "Ch2"],
                title="t",
                y_label="y",
                percent=True,
                target=87.5,
                format_value=welsh,
            )
        )
    assert "100,0%" in texts(root) and any("87,5%" in t for t in texts(root))


def test_series_look_different_without_colour():
    """Each of the first dozen series differs from every other in at least two of colour, dash and marker."""
    styles = [charts.line_style(i) for i in range(12)]
    for i, a in enumerate(styles):
        for b in styles[i + 1 :]:
            assert sum(x != y for x, y in zip(a, b, strict=True)) >= 2
    assert len({s[1] for s in styles[:6]}) == 6 and len({s[2] for s in styles[:6]}) == 6


def test_palette_colours_have_3_to_1_contrast_on_white():
    """Lines and bars are graphics, so each colour needs at least 3:1 against white (WCAG 1.4.11)."""

    def luminance(hex_colour: str) -> float:
        def channel(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    colours = [s[0] for s in charts.LINE_STYLES] + [charts.BAR, charts.BAR_MUTED, charts.BAR_HIGHLIGHT, charts.TARGET]
    for colour in colours:
        assert 1.05 / (luminance(colour) + 0.05) >= 3, colour


def test_mismatched_lengths_are_refused():
    """A series with more or fewer values than periods is a caller's mistake, not a chart to guess at."""
    with pytest.raises(ValueError, match="3 values for 2 periods"):
        line_chart([Series("A", [1, 2, 3])], x_labels=["1", "2"], title="t", y_label="y")


def test_many_periods_are_thinned_and_the_latest_is_labelled():
    """Three years of months label only some periods, never overlapping, always the latest."""
    months = [f"{m} {y}" for y in (2022, 2023, 2024) for m in ("Ionawr", "Chwefror", "Mawrth", "Ebrill")] * 3
    root = parse(line_chart([Series("Cymru", list(range(len(months))))], x_labels=months, title="t", y_label="y"))
    bottom_labels = sorted(
        (left, right) for text, left, right, top, _b in extents(root) if text.startswith(("Ion", "Chw", "Maw", "Ebr"))
    )
    assert 2 <= len(bottom_labels) < len(months)
    for (_l1, r1), (l2, _r2) in itertools.pairwise(bottom_labels):
        assert r1 <= l2, "x labels overlap"
    last = [t for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "middle"][-2:]
    assert [t.text for t in last] == ["Ebrill", "2024"]
    assert_inside(root)


def test_long_welsh_names_stay_inside_the_line_chart():
    """Long area names in the legend and a long axis label wrap inside the drawing."""
    root = parse(
        line_chart(
            [Series(RCT, [1, 2, 3]), Series("Cyngor Bwrdeistref Sirol Castell-nedd Port Talbot", [3, 2, 1])],
            x_labels=["Chwarter 1 2024-25", "Chwarter 2 2024-25", "Chwarter 3 2024-25"],
            title="t",
            y_label="Nifer yr atgyfeiriadau fesul 10,000 o blant a phobl ifanc o dan 18 oed",
        )
    )
    assert_inside(root)


# -- bar chart ----------------------------------------------------------------------------


def bars_of(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}rect"))


def test_bars_with_values_at_their_ends():
    """One bar a value, longest for the largest; each value label sits just past its bar's end, unit included."""
    root = parse(bar_chart([Bar("Cardiff", 10), Bar("Newport", 20)], title="t", unit="days"))
    rects = bars_of(root)
    assert len(rects) == 2 and float(rects[1].get("width")) == pytest.approx(2 * float(rects[0].get("width")), 0.01)
    for rect, label in zip(rects, ["10 days", "20 days"], strict=True):
        text = next(t for t in root.iter(f"{SVG}text") if t.text == label)
        assert float(text.get("x")) == pytest.approx(float(rect.get("x")) + float(rect.get("width")) + 5, abs=0.1)
    assert_inside(root)


def test_percent_bars_share_a_0_to_100_scale():
    """A 50% bar is half the width a 100% bar would be, even when it is the largest."""
    root = parse(bar_chart([Bar("A", 50)], title="t", percent=True))
    assert "50%" in texts(root)
    full = parse(bar_chart([Bar("A", 50), Bar("B", 100)], title="t", percent=True))
    assert float(bars_of(root)[0].get("width")) == pytest.approx(float(bars_of(full)[0].get("width")), abs=0.1)


def test_a_suppressed_bar_is_a_labelled_gap():
    """None draws no bar, only the caller's note (or "No data"), never a bar of zero."""
    root = parse(
        bar_chart([Bar("Cardiff", 10), Bar("Merthyr Tydfil", None, note="Suppressed (fewer than 5)")], title="t")
    )
    assert len(bars_of(root)) == 1
    assert "Suppressed (fewer than 5)" in texts(root) and "Merthyr Tydfil" in texts(root)
    assert "0" not in texts(root)
    assert "No data" in texts(parse(bar_chart([Bar("A", None)], title="t")))
    assert bars_of(parse(bar_chart([Bar("A", float("nan"))], title="t"))) == []


def test_the_highlighted_bar_differs_by_more_than_colour():
    """The highlighted bar is darker, and its label and value are bold."""
    root = parse(bar_chart([Bar("Cardiff", 10), Bar("Wales", 12)], title="t", highlight="Wales"))
    rects = bars_of(root)
    assert rects[1].get("class") == "cylch-chart__highlight" and rects[0].get("fill") != rects[1].get("fill")
    bold = {t.text for t in root.iter(f"{SVG}text") if t.get("font-weight") == "bold"}
    assert bold == {"Wales", "12"}
    assert "Wales, highlighted: 12." in root.find(f"{SVG}desc").text


def test_long_welsh_names_stay_inside_the_bar_chart():
    """The longest Welsh area names, a long note and wide values stay inside the drawing."""
    root = parse(
        bar_chart(
            [
                Bar(RCT, 123456.5),
                Bar("Cyngor Bwrdeistref Sirol Castell-nedd Port Talbot", 98765),
                Bar("Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch", 5),
                Bar("Merthyr Tudful", None, note="Wedi'i atal oherwydd bod llai na phump o blant yn y grŵp hwn"),
                Bar("Cymru", -40),
            ],
            title="t",
            unit="o ddiwrnodau",
        )
    )
    assert_inside(root)


def test_empty_charts_still_render():
    """No data at all gives a valid, labelled drawing rather than an error."""
    for markup in (
        line_chart([], x_labels=[], title="t", y_label="y"),
        bar_chart([], title="t"),
        line_chart([Series("A", [None, None])], x_labels=["1", "2"], title="t", y_label="y", percent=True),
    ):
        root = parse(markup)
        assert root.find(f"{SVG}title").text == "t"
