"""The dashboard charts as a browser draws them: at desktop and phone widths, every label inside
the drawing, and no accessibility problems that axe-core can find."""

from __future__ import annotations

from html import escape
from pathlib import Path

import pytest

from cylch.insight.charts import Bar, Series, bar_chart, line_chart
from tests.browser.conftest import ARTIFACTS, axe_violations

pytestmark = pytest.mark.browser

GOVUK_CSS = (
    Path(__file__).resolve().parents[2] / "src" / "cylch" / "core" / "static" / "govuk" / "govuk-frontend.min.css"
)

QUARTERS = [
    "2023-24 Q1",
    "2023-24 Q2",
    "2023-24 Q3",
    "2023-24 Q4",
    "2024-25 Q1",
    "2024-25 Q2",
    "2024-25 Q3",
    "2024-25 Q4",
]
SERIES = [
    Series("Caerdydd", [81, 84, None, 86, 88, 90, 87, 91]),
    Series("Gwasanaethau Plant Rhondda Cynon Taf", [70, 72, 75, 71, None, 78, 80, 82]),
    Series("Bro Morgannwg", [62, 65, None, None, 68, 70, 72, 75]),
    Series("Merthyr Tudful", [55, None, 58, 60, 64, None, 66, 69]),
    Series("Pen-y-bont ar Ogwr", [74, 73, 76, 77, 79, 78, 80, 83]),
    Series("Cymru", [72, 74, 75, 76, 78, 79, 80, 82]),
]
MONTHS = [
    f"{m} {y}"
    for y in (2023, 2024)
    for m in ("Ion", "Chwef", "Maw", "Ebr", "Mai", "Meh", "Gorff", "Awst", "Medi", "Hyd", "Tach", "Rhag")
]
COUNTS = [
    Series("Caerdydd", [120 + (i * 37) % 60 for i in range(24)]),
    Series("Abertawe", [90 + (i * 23) % 50 if i % 7 else None for i in range(24)]),
    Series("Cymru (cyfartaledd)", [100 + (i * 11) % 30 for i in range(24)]),
]
BARS = [
    Bar("Caerdydd", 91),
    Bar("Gwasanaethau Plant Rhondda Cynon Taf", 82),
    Bar("Bro Morgannwg", 75),
    Bar("Merthyr Tudful", None, note="Wedi'i atal (llai na 5)"),
    Bar("Pen-y-bont ar Ogwr", 83),
    Bar("Cymru", 82),
]


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<th scope="col" class="govuk-table__header">{escape(h)}</th>' for h in headers)
    body = "".join(
        '<tr class="govuk-table__row">'
        + f'<th scope="row" class="govuk-table__header">{escape(r[0])}</th>'
        + "".join(f'<td class="govuk-table__cell govuk-table__cell--numeric">{escape(c)}</td>' for c in r[1:])
        + "</tr>"
        for r in rows
    )
    return (
        f'<table class="govuk-table"><thead class="govuk-table__head"><tr class="govuk-table__row">{head}</tr></thead>'
        f'<tbody class="govuk-table__body">{body}</tbody></table>'
    )


def _page() -> str:
    line = line_chart(
        SERIES,
        x_labels=QUARTERS,
        title="Trafodaethau strategaeth o fewn 5 diwrnod gwaith",
        y_label="Canran y trafodaethau strategaeth",
        percent=True,
        target=85,
    )
    counts = line_chart(COUNTS, x_labels=MONTHS, title="Atgyfeiriadau bob mis", y_label="Nifer yr atgyfeiriadau")
    bars = bar_chart(BARS, title="Trafodaethau strategaeth, 2024-25 Ch4", percent=True, highlight="Cymru")
    line_rows = [[s.name, *("-" if v is None else f"{v}%" for v in s.values)] for s in SERIES]
    bar_rows = [[b.label, b.note if b.value is None else f"{b.value}%"] for b in BARS]
    return f"""<!DOCTYPE html>
<html lang="cy" class="govuk-template">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Siartiau'r bwrdd</title><link rel="stylesheet" href="{GOVUK_CSS.as_uri()}"></head>
<body class="govuk-template__body"><div class="govuk-width-container"><main class="govuk-main-wrapper" id="main">
<h1 class="govuk-heading-l">Siartiau'r bwrdd</h1>
<div class="govuk-grid-row"><div class="govuk-grid-column-two-thirds">
<h2 class="govuk-heading-m">Trafodaethau strategaeth o fewn 5 diwrnod gwaith</h2>
{line}
<details class="govuk-details"><summary class="govuk-details__summary"><span class="govuk-details__summary-text">Y ffigurau</span></summary>
<div class="govuk-details__text">{_table(["Ardal", *QUARTERS], line_rows)}</div></details>
<h2 class="govuk-heading-m">Atgyfeiriadau bob mis</h2>
{counts}
<h2 class="govuk-heading-m">Trafodaethau strategaeth, 2024-25 Ch4</h2>
{bars}
{_table(["Ardal", "Canran"], bar_rows)}
</div></div></main></div></body></html>"""


# Each <text> drawn inside its svg's viewBox, measured by the browser's own font metrics.
OVERFLOW = """() => {
    const out = [];
    for (const svg of document.querySelectorAll('svg.cylch-chart')) {
        const vb = svg.viewBox.baseVal;
        for (const t of svg.querySelectorAll('text')) {
            const b = t.getBBox();
            if (b.x < vb.x - 0.5 || b.y < vb.y - 0.5 || b.x + b.width > vb.x + vb.width + 0.5 || b.y + b.height > vb.y + vb.height + 0.5) {
                out.push(t.textContent + ' ' + [b.x, b.y, b.width, b.height].map(Math.round).join(','));
            }
        }
    }
    return out;
}"""


@pytest.mark.parametrize("width", [1280, 390, 320])
def test_charts_render_inside_their_drawing_and_pass_axe(browser, tmp_path, width):
    """Both charts draw every label inside the drawing at desktop and phone widths, and axe-core finds nothing."""
    html = tmp_path / "charts.html"
    html.write_text(_page(), encoding="utf-8")
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="cy-GB")
    page = context.new_page()
    try:
        page.goto(html.as_uri())
        assert page.locator("svg.cylch-chart").count() == 3
        for svg in page.locator("svg.cylch-chart").all():
            box = svg.bounding_box()
            assert box is not None and box["width"] <= width and box["height"] > 100
        assert page.evaluate(OVERFLOW) == []
        ARTIFACTS.mkdir(exist_ok=True)
        name = "insight-charts" if width == 1280 else f"insight-charts-{width}"
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        assert axe_violations(page) == []
    finally:
        context.close()
