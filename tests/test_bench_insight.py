"""`cylch bench insight` at a tiny scale: the machinery builds a demo in a throwaway database,
computes every measure for every area, and reports its figures. No timing thresholds."""

from __future__ import annotations

import pytest

from cylch.insight import bench
from cylch.insight.measures import MEASURES

# On a SQLite database of its own whatever the settings name: run once, in the SQLite pass.
pytestmark = pytest.mark.once


def test_the_insight_bench_computes_every_measure_on_a_throwaway_database():
    r = bench.run("sqlite", 1500, "", repeats=1)
    assert r["database"] == "sqlite" and r["persons"] == 1500 and r["events"] > 0
    assert set(r["per_measure_median_ms"]) == {m.id for m in MEASURES}
    assert r["areas"] > 20 and r["periods"] == 8
    assert 0 < r["all_measures_ms"]["min"] <= r["all_measures_ms"]["median"] <= r["all_measures_ms"]["max"]
    assert "all ms (median)" in bench.table([r])
