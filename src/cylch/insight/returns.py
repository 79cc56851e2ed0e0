"""Data returns: any set of measures for a period as CSV or XLSX, with the same figures as the
dashboard (both call ``compute.figures``). One row per measure, period, area and group.

Columns (docs/insight.md): measure_id, measure, period, period_start, period_end, area_type,
area_code, area, group, group_label, numerator, denominator, value, suppressed, as_of. A suppressed row
leaves numerator, denominator and value empty: the return is shared beyond those who may see
the records. Periods' dates are dates and figures are numbers (in XLSX they keep their types);
every cell goes through ``cylch.governance.exports``, so no text runs as a formula.
"""

from __future__ import annotations

from datetime import date

from cylch.governance.exports import csv_bytes, xlsx_bytes
from cylch.insight.areas import Area
from cylch.insight.compute import figures
from cylch.insight.measures import Measure
from cylch.insight.periods import Period

COLUMNS = [
    "measure_id", "measure", "period", "period_start", "period_end", "area_type", "area_code", "area",
    "group", "group_label", "numerator", "denominator", "value", "suppressed", "as_of",
]  # fmt: skip


def rows(measures: list[Measure], period_list: list[Period], areas: list[Area], *, as_of: date) -> list[list]:
    """The return's rows, as things stood at the end of ``as_of`` (each row says so): the same
    period and day give the same figures whenever the return is run."""
    out = []
    for m in measures:
        for f in figures(m, period_list, areas, as_of=as_of):
            hidden = f.suppressed
            out.append([
                m.id, str(m.title), f.period.key, f.period.start, f.period.end, f.area.kind,
                f.area.code, f.area.name, f.group, f.group_label if f.group else "",
                "" if hidden else f.numerator, "" if hidden or f.denominator is None else f.denominator,
                "" if f.value is None else round(f.value, 1), "yes" if hidden else "no", as_of,
            ])  # fmt: skip
    return out


def to_csv(table: list[list]) -> bytes:
    return csv_bytes([COLUMNS, *table])


def to_xlsx(table: list[list], title: str) -> bytes:
    return xlsx_bytes(COLUMNS, table, title=title, sheet_name="measures")
