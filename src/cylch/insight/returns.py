"""Data returns: any set of measures for a period as CSV or XLSX, with the same figures as the
dashboard (both call ``compute.figures``). One row per measure, period, area and group.

Columns (docs/insight.md): measure_id, measure, period, period_start, period_end, area_type,
area_code, area, group, group_label, numerator, denominator, value, suppressed. A suppressed row
leaves numerator, denominator and value empty: the return is shared beyond those who may see
the records.
"""

from __future__ import annotations

import csv
import io

from cylch.insight.areas import Area
from cylch.insight.compute import figures
from cylch.insight.measures import Measure
from cylch.insight.periods import Period

COLUMNS = [
    "measure_id", "measure", "period", "period_start", "period_end", "area_type", "area_code", "area",
    "group", "group_label", "numerator", "denominator", "value", "suppressed",
]  # fmt: skip


def rows(measures: list[Measure], period_list: list[Period], areas: list[Area]) -> list[list]:
    out = []
    for m in measures:
        for f in figures(m, period_list, areas):
            hidden = f.suppressed
            out.append([
                m.id, str(m.title), f.period.key, f.period.start.isoformat(), f.period.end.isoformat(), f.area.kind,
                f.area.code, f.area.name, f.group, f.group_label if f.group else "",
                "" if hidden else f.numerator, "" if hidden or f.denominator is None else f.denominator,
                "" if f.value is None else round(f.value, 1), "yes" if hidden else "no",
            ])  # fmt: skip
    return out


def _safe(cell):
    """Text that a spreadsheet would run as a formula is written as text."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def to_csv(table: list[list]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    for row in table:
        writer.writerow([_safe(c) for c in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(table: list[list], title: str) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "measures"
    ws.append(COLUMNS)
    for row in table:
        ws.append([_safe(c) for c in row])
    ws.freeze_panes = "A2"
    wb.properties.title = title
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
