"""`cylch bench insight`: every measure for every area over the dashboard's eight quarters, on a
large demo population with its two years of process history, SQLite and PostgreSQL.

What is timed is what the board's pages and returns do: read each measure's units once for the
eight quarters and turn them into figures for Wales, every board area and every local authority,
with each measure's groups. A floor measured the same way gives a machine-free ratio: the time
to count the whole event table once (``SELECT COUNT(*)``).
"""

from __future__ import annotations

import statistics
import time
from datetime import date

from cylch.core.benchrun import run_worker


def worker(persons: int, repeats: int = 3) -> dict:
    """Runs inside the bench database's process."""
    from django.core.management import call_command
    from django.db import connection

    from cylch.demo.builder import build
    from cylch.events.models import Event
    from cylch.insight import areas, periods
    from cylch.insight.compute import figures, units_by_period
    from cylch.insight.measures import MEASURES

    call_command("migrate", verbosity=0)
    as_of = date.today()
    t0 = time.perf_counter()
    stats = build(persons=persons, seed=2026, as_of=as_of, progress=False)
    built = time.perf_counter() - t0
    shown = periods.recent("quarter", 8, as_of)
    every = areas.all_areas()

    def floor():
        with connection.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM events_event")
            cur.fetchone()

    def all_measures() -> dict[str, float]:
        per = {}
        for m in MEASURES:
            s = time.perf_counter()
            figures(m, shown, every, read=units_by_period(m, shown, as_of=as_of))
            per[m.id] = (time.perf_counter() - s) * 1000
        return per

    all_measures()  # warm
    runs = [all_measures() for _ in range(repeats)]
    totals = [sum(r.values()) for r in runs]
    floors = []
    for _ in range(repeats):
        s = time.perf_counter()
        floor()
        floors.append((time.perf_counter() - s) * 1000)
    median_total = statistics.median(totals)
    return {
        "persons": persons,
        "events": Event.objects.count(),
        "history": stats.history,
        "build_seconds": round(built, 1),
        "areas": len(every),
        "periods": len(shown),
        "measures": len(MEASURES),
        "all_measures_ms": {
            "median": round(median_total, 1),
            "min": round(min(totals), 1),
            "max": round(max(totals), 1),
        },
        "per_measure_median_ms": {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]},
        "floor_count_events_ms": round(statistics.median(floors), 1),
        "ratio_to_floor": round(median_total / statistics.median(floors), 1),
    }


def run(database: str, persons: int, postgres: str, repeats: int = 3) -> dict:
    args = ["bench", "insight-worker", "--persons", str(persons), "--repeats", str(repeats)]
    result = run_worker(database, postgres, args, name="cylch_bench_insight")
    result["database"] = database
    return result


def table(results: list[dict]) -> str:
    lines = [
        f"{'database':<11}{'persons':>9}{'events':>11}{'measures':>9}{'areas':>6}"
        f"{'all ms (median)':>16}{'floor ms':>9}{'ratio':>7}"
    ]
    for r in results:
        lines.append(
            f"{r['database']:<11}{r['persons']:>9,}{r['events']:>11,}{r['measures']:>9}{r['areas']:>6}"
            f"{r['all_measures_ms']['median']:>16,.1f}{r['floor_count_events_ms']:>9.1f}{r['ratio_to_floor']:>7.1f}"
        )
    slowest = sorted(results[0]["per_measure_median_ms"].items(), key=lambda kv: -kv[1])[:5] if results else []
    if slowest:
        lines.append(
            "slowest measures (" + results[0]["database"] + "): " + ", ".join(f"{k} {v:.0f} ms" for k, v in slowest)
        )
    return "\n".join(lines)
