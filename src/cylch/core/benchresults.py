"""`cylch bench results`: every bench's figures in one file, each with its floor and ratio.

Each ``cylch bench ...`` writes its own JSON under ``var/bench/``; this reads them and writes
``var/bench/results.json``: one entry per figure (bench, what, engine, value, unit), the floor
measured in the same run on the same machine, and the ratio. The ratio always reads "how many
times the floor's cost": value ÷ floor for times, floor ÷ value for rates; so it is 1 at the
floor and grows as the figure gets dearer, and does not depend on the machine the way the value
does. Figures that do not depend on the machine (precision, errors, writes lost) have no floor.
With them: the machine (cores, memory, processor, Python, PostgreSQL) and the load average
before and after, since other work on the machine shows in every timing.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

BENCHES = ("linkage", "intake", "rules", "chronology", "insight", "http")


def _figure(
    bench: str,
    name: str,
    engine: str,
    value,
    unit: str,
    *,
    floor=None,
    floor_name: str = "",
    floor_unit: str = "",
    ratio=None,
    note: str = "",
    aim: str = "",
    at: str = "",
) -> dict:
    out = {"bench": bench, "figure": name, "engine": engine, "value": value, "unit": unit}
    if floor is not None:
        out["floor"] = {"what": floor_name, "value": floor, "unit": floor_unit or unit}
        out["ratio"] = ratio
    if note:
        out["note"] = note
    if aim:
        out["aim"] = aim
    if at:
        out["measured_at"] = at
    return out


def _rate_ratio(value, floor):
    return round(floor / value, 1) if value and floor else None


def _time_ratio(value, floor):
    return round(value / floor, 1) if value and floor else None


def _linkage(doc: dict) -> list[dict]:
    out = []
    rows = [r for r in doc["results"] if "error" not in r]
    base = next((r for r in rows if "baseline" in r["case"]), None)
    base_rate = base["records"] / base["seconds"] if base and base.get("seconds") else None
    for r in doc["results"]:
        if "error" in r:
            out.append(_figure("linkage", f"{r['case']}: failed", "duckdb", None, "", note=str(r["error"])))
            continue
        if "ms_p50" in r:
            out.extend(_online(r))
            continue
        rate = r["records"] / r["seconds"] if r.get("seconds") else None
        floor = (
            {}
            if r is base
            else {
                "floor": round(base_rate, 1) if base_rate else None,
                "floor_name": "recordlinkage baseline on FEBRL4",
                "ratio": _rate_ratio(rate, base_rate),
            }
        )
        out.append(
            _figure(
                "linkage",
                f"{r['case']}: records linked per second",
                "duckdb",
                round(rate, 1) if rate else None,
                "records/s",
                floor_unit="records/s",
                **floor,
            )
        )
        out.append(_figure("linkage", f"{r['case']}: pair F1 (machine-free)", "duckdb", r["pairs"]["f1"], ""))
        out.append(_figure("linkage", f"{r['case']}: peak memory", "duckdb", r.get("peak_mb"), "MB"))
    return out


def _online(r: dict) -> list[dict]:
    """One new record matched at once against a stored population: its latency against the
    database lookup of its candidates (the floor: what any matcher must read), and how many
    were linked to the right person (machine-free)."""
    out = []
    db = r.get("database", "")
    for stat in ("p50", "p95"):
        value, floor = r[f"ms_{stat}"], r.get(f"candidates_ms_{stat}")
        out.append(
            _figure(
                "linkage", f"{r['case']}: one record matched, {stat}", db, value, "ms",
                floor=floor, floor_name="finding its candidates in the database", ratio=_time_ratio(value, floor),
                aim="under 100 ms at a million records" if stat == "p95" else "",
            )
        )  # fmt: skip
    linked = (r.get("decisions") or {}).get("link", 0)
    right, findable = r.get("linked_to_the_right_person", 0), r.get("with_someone_to_find", 0)
    out.append(
        _figure(
            "linkage", f"{r['case']}: linked to the right person (machine-free)", db,
            round(right / findable, 4) if findable else None, "",
            note=f"{right} of {findable} with someone to find; {linked - right} linked to the wrong person",
        )
    )  # fmt: skip
    return out


def _rules(doc: dict) -> list[dict]:
    out = []
    for r in doc["results"]:
        db, inc = r["database"], r["incremental"]
        out.append(
            _figure(
                "rules",
                f"events recorded one by one with rules ({r['persons']:,} people)",
                db,
                inc["events_per_second"],
                "events/s",
                floor=inc["record_only_events_per_second"],
                floor_name="the same recording with the rules off",
                ratio=inc["ratio_to_record_only"],
            )
        )
        out.append(
            _figure(
                "rules",
                f"batch run over {r['events_in_population']:,} events",
                db,
                r["batch"]["seconds"],
                "s",
                note="no floor: rules/bench.py measures none for the batch run (see docs/bench.md)",
            )
        )
    return out


def _chronology(doc: dict) -> list[dict]:
    out = []
    for r in doc["results"]:
        db, floor = r["database"], r["floor_healthz"]
        for key, label in (
            ("selector", "chronology() selector"),
            ("page", "chronology page"),
            ("api", "chronology API"),
        ):
            for p in ("p50_ms", "p95_ms"):
                out.append(
                    _figure(
                        "chronology",
                        f"{label} {p[:3]} ({r['events']:,} events)",
                        db,
                        r[key][p],
                        "ms",
                        floor=floor[p],
                        floor_name="/healthz, same client",
                        ratio=_time_ratio(r[key][p], floor[p]),
                        aim="p95 under 150 ms" if p == "p95_ms" and key != "selector" else "",
                    )
                )
    return out


def _insight(doc: dict) -> list[dict]:
    return [
        _figure(
            "insight",
            f"every measure, every area, 8 quarters ({r['persons']:,} people)",
            r["database"],
            r["all_measures_ms"]["median"],
            "ms",
            floor=r["floor_count_events_ms"],
            floor_name="SELECT COUNT(*) of the events",
            ratio=r["ratio_to_floor"],
        )
        for r in doc["results"]
    ]


def _intake(doc: dict) -> list[dict]:
    out = []
    for r in doc["results"]:
        db, t, f = r["database"], r["intake"], r["floor"]
        floor = {
            "floor": f["rows_per_second"],
            "floor_name": f"the same rows into a plain table, {f['method']}",
            "floor_unit": "rows/s",
        }
        out.append(
            _figure(
                "intake",
                f"events stored, rules evaluated (batches of {r['batch_size']}, {t['senders']} senders)",
                db,
                t["events_per_second"],
                "events/s",
                ratio=_rate_ratio(t["events_per_second"], f["rows_per_second"]),
                aim="5,000 events/s on PostgreSQL" if db == "postgresql" else "",
                **floor,
            )
        )
        p = r["rules_off"]
        out.append(
            _figure(
                "intake",
                f"events stored, rules switched off (batches of {r['batch_size']})",
                db,
                p["events_per_second"],
                "events/s",
                ratio=_rate_ratio(p["events_per_second"], f["rows_per_second"]),
                **floor,
            )
        )
    return out


def _http(doc: dict) -> list[dict]:
    out = []
    for r in doc["results"]:
        c, floor = r["config"], r["floor"]["total"]
        label = f"{c['users']} users"
        for name, s in r["mix"]["by_name"].items():
            if not s.get("n") or name == "sign in":
                continue
            for p in ("p50_ms", "p95_ms", "p99_ms"):
                out.append(
                    _figure(
                        "http",
                        f"{name} {p[:3]} ({label})",
                        "postgresql",
                        s[p],
                        "ms",
                        floor=floor.get(p),
                        floor_name="GET /healthz, same server and users",
                        ratio=_time_ratio(s[p], floor.get(p)),
                        aim="p95 under 150 ms" if "chronology" in name and p == "p95_ms" else "",
                    )
                )
        for name, a in ((r.get("alone") or {}).get("by_name") or {}).items():
            if a.get("n") and name != "sign in":
                out.append(
                    _figure(
                        "http",
                        f"{name} p50 alone (one user of each kind, no queue)",
                        "postgresql",
                        a["p50_ms"],
                        "ms",
                        floor=floor.get("p50_ms"),
                        floor_name="GET /healthz, same server",
                        ratio=_time_ratio(a["p50_ms"], floor.get("p50_ms")),
                    )
                )
        out.append(
            _figure(
                "http",
                f"mix throughput ({label}, think {c['think_seconds'][0]:g}-{c['think_seconds'][1]:g} s)",
                "postgresql",
                r["mix"]["total"].get("per_second"),
                "req/s",
                floor=floor.get("per_second"),
                floor_name="GET /healthz at the same pace",
                ratio=_rate_ratio(r["mix"]["total"].get("per_second"), floor.get("per_second")),
            )
        )
        if "capacity" in r:
            cap = r["capacity"]
            out.append(
                _figure(
                    "http",
                    f"most requests per second, mix ({label}, no think time)",
                    "postgresql",
                    cap["mix"]["total"].get("per_second"),
                    "req/s",
                    floor=cap["floor"]["total"].get("per_second"),
                    floor_name="GET /healthz, no think time",
                    ratio=cap["ratio_to_floor"],
                )
            )
        out.append(_figure("http", "errors (machine-free)", "postgresql", r["mix"]["errors"], "requests"))
        out.append(
            _figure("http", "acknowledged writes lost (machine-free)", "postgresql", r["writes"]["lost"], "writes")
        )
    return out


READERS = {
    "linkage": _linkage,
    "rules": _rules,
    "chronology": _chronology,
    "insight": _insight,
    "intake": _intake,
    "http": _http,
}


def _machine(directory: Path) -> dict:
    facts: dict = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                facts["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
        model = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            "",
        )
        facts["processor"] = model
    except OSError:
        pass
    try:
        import psycopg

        url = os.environ.get("CYLCH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
        with psycopg.connect(url, connect_timeout=5) as conn:
            facts["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # a fact, not a requirement
        facts["postgresql"] = "unreachable"
    before = directory / "loadavg.before"
    if before.exists():
        facts["load_average_before"] = before.read_text().split()[:3]
    facts["load_average_after"] = [f"{x:.2f}" for x in os.getloadavg()]
    with contextlib.suppress(OSError):
        git = ["git", "describe", "--always", "--dirty"]
        facts["source"] = subprocess.run(git, capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    return facts


def collect(directory: Path) -> dict:
    """Every bench file found in ``directory``, as one list of figures."""
    figures, benches, missing = [], {}, []
    for bench in BENCHES:
        path = directory / f"{bench}.json"
        if not path.exists():
            missing.append(bench)
            continue
        doc = json.loads(path.read_text())
        benches[bench] = {"file": str(path), "at": doc.get("at")}
        for f in READERS[bench](doc):
            f["measured_at"] = doc.get("at")
            figures.append(f)
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(directory),
        "ratio_means": "times the floor's cost: value ÷ floor for times, floor ÷ value for rates (1 = the floor)",
        "benches": benches,
        "missing": missing,
        "figures": figures,
    }


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        # Below 1 (an F1, a ratio under the floor, a floor of a tenth of a millisecond): 4 significant digits.
        return f"{value:.4g}" if abs(value) < 1 and value else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(combined: dict) -> str:
    """The figures as a Markdown table."""
    m = combined["machine"]
    lines = [
        f"{m.get('cpus')} cores, {m.get('memory_gib')} GiB, {m.get('processor', '')}; Python {m.get('python')}, "
        f"PostgreSQL {m.get('postgresql')}; load average before {m.get('load_average_before', '?')}, "
        f"after {m.get('load_average_after')}",
        "",
        "| bench | figure | engine | value | unit | floor | × floor |",
        "|---|---|---|---:|---|---:|---:|",
    ]
    for f in combined["figures"]:
        floor = f.get("floor")
        floor_text = f"{_fmt(floor['value'])} {floor['unit']} ({floor['what']})" if floor else ""
        ratio = _fmt(f.get("ratio")) if floor else ""
        aim = f" — aim: {f['aim']}" if f.get("aim") else ""
        lines.append(
            f"| {f['bench']} | {f['figure']}{aim} | {f['engine']} | {_fmt(f['value'])} | {f['unit']} "
            f"| {floor_text} | {ratio} |"
        )
    if combined["missing"]:
        lines.append(f"\nnot run: {', '.join(combined['missing'])}")
    return "\n".join(lines)
