"""Drive a real server from a second process: the HTTP load run, the soak, and their floors.

A run has three processes besides this one, all on loopback: PostgreSQL (a database made for
the run, ``cylch_bench_http_<pid>``, dropped after it), gunicorn serving ``cylch.wsgi`` on a free
port (sync workers, 2 × cores + 1 by default, as gunicorn's documentation suggests), and locust,
headless, bounded by ``--run-time`` and a request limit, following the plan ``world.prepare``
wrote. Figures come from locust's own record of every request (``locustfile.py`` keeps each
one), summarised here with nearest-rank percentiles; locust's CSV files are kept beside them.

Every run checks what it wrote: each event, report and acknowledgement locust saw
acknowledged is in the database, and nothing with the run's tag is there that was not
acknowledged. The soak samples the resident memory of gunicorn's workers every few seconds.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from cylch.core.loadtest.server import DEFAULT_POSTGRES, Hub, RssSampler, Server, postgres_reachable, warm

__all__ = ["DEFAULT_POSTGRES", "Hub", "Server", "load_run", "postgres_reachable", "soak_run"]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def _log(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the load generator -----------------------------------------------------------------------


def locust(
    server: Server,
    *,
    profile: str,
    users: int,
    seconds: int,
    think: tuple[float, float],
    spawn_rate: float | None = None,
    max_requests: int = 0,
    tag: str = "load",
    csv_dir: Path | None = None,
    sender_pace: float = 5,
) -> dict:
    """One headless locust run in its own process against ``server``; returns its record."""
    out = server.hub.workdir / f"locust-{tag}.json"
    csv_prefix = (csv_dir or server.hub.workdir) / f"locust-{tag}"
    csv_prefix.parent.mkdir(parents=True, exist_ok=True)
    spawn_rate = spawn_rate or max(1.0, users / 10)  # every user started within ten seconds
    # ``seconds`` is what is measured, from the moment every user has started (the ramp and the
    # practitioners' sign-in come before it; locust stops itself then). The run time only bounds it.
    run_time = seconds + math.ceil(users / spawn_rate) + 240
    env = {k: v for k, v in os.environ.items() if not k.startswith("CYLCH_")}
    env.update(
        CYLCH_LOAD_PLAN=str(server.hub.plan),
        CYLCH_LOAD_OUT=str(out),
        CYLCH_LOAD_PROFILE=profile,
        CYLCH_LOAD_THINK=f"{think[0]},{think[1]}",
        CYLCH_LOAD_MAX_REQUESTS=str(max_requests),
        CYLCH_LOAD_TAG=tag,
        CYLCH_LOAD_MEASURE_SECONDS=str(seconds),
        CYLCH_LOAD_SENDER_PACE=str(sender_pace),
    )
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        server.url,
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "--run-time",
        f"{run_time}s",
        "--stop-timeout",
        "10",
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    t0 = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=run_time + 120)
    wall = time.monotonic() - t0
    if not out.exists():
        raise RuntimeError(f"locust wrote nothing (exit {done.returncode}): {done.stderr[-2000:]}")
    record = json.loads(out.read_text())
    record.update(
        users=users,
        seconds=seconds,
        think_seconds=list(think),
        wall_seconds=round(wall, 1),
        spawn_rate=spawn_rate,
        csv=str(csv_prefix),
        tag=tag,
    )
    return record


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def _stats(ms: list[float], span: float) -> dict:
    ms = sorted(ms)
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "per_second": round(len(ms) / span, 2) if span > 0 else None,
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(ms[-1], 1),
        "mean_ms": round(sum(ms) / len(ms), 1),
    }


def summarise(record: dict) -> dict:
    """Throughput and latency by request kind over the measured window (all users started), and
    every failure whenever it happened."""
    measured = [t for t in record["timings"] if t[3]]
    if measured:
        start = min(t[1] for t in measured)
        end = max(t[1] + t[2] / 1000 for t in measured)
        span = end - start
    else:
        span = 0.0
    names = sorted({t[0] for t in measured})
    by_name = {name: _stats([t[2] for t in measured if t[0] == name], span) for name in names}
    failures_by_name: dict[str, int] = {}
    for f in record["failures"]:
        failures_by_name[f["name"]] = failures_by_name.get(f["name"], 0) + 1
    for name, n in failures_by_name.items():
        by_name.setdefault(name, {"n": 0})["failures"] = n
    return {
        "measured_seconds": round(span, 1),
        "requests": len(record["timings"]),
        "warmup_requests": len(record["timings"]) - len(measured),
        "total": _stats([t[2] for t in measured], span),
        "by_name": by_name,
        "errors": len(record["failures"]),
        "failures_sample": record["failures"][:10],
    }


def check_writes(hub: Hub, record: dict) -> dict:
    """Each write locust saw acknowledged is stored, and nothing of this run's that was not,
    apart from writes still waiting for their answer when locust stopped (the server may have
    stored them; they are counted, not judged)."""
    tag = record["tag"]
    acked_events = set(record["acked"]["events"])
    acked_reports = set(record["acked"]["reports"])
    acked_alerts = set(record["acked"]["alerts"])
    waiting = record.get("in_flight_at_stop") or {}
    waiting_events, waiting_reports = set(waiting.get("events", ())), set(waiting.get("reports", ()))
    stored_events = {
        r[0] for r in hub.query("SELECT external_id FROM events_event WHERE external_id LIKE %s", (f"{tag}-ev-%",))
    }
    stored_reports = {
        r[0] for r in hub.query("SELECT external_id FROM reports_report WHERE external_id LIKE %s", (f"{tag}-rep-%",))
    }
    acknowledged = {
        str(r[0])
        for r in hub.query(
            "SELECT public_id FROM rules_alert WHERE public_id::text = ANY(%s) AND acknowledged_at IS NOT NULL",
            (list(acked_alerts),),
        )
    }
    return {
        "events_acknowledged": len(acked_events),
        "events_stored": len(stored_events - waiting_events),
        "reports_acknowledged": len(acked_reports),
        "reports_stored": len(stored_reports - waiting_reports),
        "alert_acknowledgements": len(record["acked"]["alerts"]),
        "alerts_acknowledged_stored": len(acknowledged),
        "in_flight_at_stop": {
            "events": len(waiting_events),
            "events_stored": len(waiting_events & stored_events),
            "reports": len(waiting_reports),
            "reports_stored": len(waiting_reports & stored_reports),
        },
        "lost": len(acked_events - stored_events)
        + len(acked_reports - stored_reports)
        + len(acked_alerts - acknowledged),
        "unacknowledged_but_stored": len(stored_events - acked_events - waiting_events)
        + len(stored_reports - acked_reports - waiting_reports),
    }


# --- the runs ---------------------------------------------------------------------------------


def _ratios(mix: dict, floor: dict) -> dict:
    """Each kind's latency over the floor's at the same percentile (how many trivial requests it costs)."""
    f = floor["total"]
    out = {}
    for name, s in mix["by_name"].items():
        if s.get("n"):
            out[name] = {p: round(s[p] / f[p], 1) for p in ("p50_ms", "p95_ms", "p99_ms") if f.get(p)}
    return out


def load_run(
    hub: Hub,
    *,
    users: int = 50,
    seconds: int = 60,
    floor_seconds: int = 30,
    think=(1.0, 3.0),
    capacity_seconds: int = 0,
    alone_seconds: int = 0,
    workers: int | None = None,
    max_requests: int = 0,
    csv_dir: Path | None = None,
) -> dict:
    """The paced mix at ``users`` with its floor; (if ``alone_seconds``) first the mix with one
    user of each kind pausing a second, for each request's own cost with (almost) nothing else
    running;
    (if ``capacity_seconds``) the mix and the floor with no pause at ``users``, for the most
    requests per second the server gives each."""
    server = Server(hub, workers=workers).start()
    try:
        warmed = warm(server)
        alone = None
        if alone_seconds:
            _log(f"alone: one user of each kind, pausing a second, {alone_seconds} s")
            alone = summarise(
                locust(
                    server,
                    profile="mix",
                    users=3,
                    seconds=alone_seconds,
                    think=(1, 1),
                    tag="alone",
                    csv_dir=csv_dir,
                    sender_pace=1,
                )
            )
        before = hub.counts()
        _log(f"floor: /healthz, {users} users, {floor_seconds} s")
        floor_rec = locust(
            server, profile="floor", users=users, seconds=floor_seconds, think=think, tag="floor", csv_dir=csv_dir
        )
        _log(f"mix: {users} users, think {think[0]:g}-{think[1]:g} s, {seconds} s")
        mix_rec = locust(
            server,
            profile="mix",
            users=users,
            seconds=seconds,
            think=think,
            tag="mix",
            max_requests=max_requests,
            csv_dir=csv_dir,
        )
        after = hub.counts()
        floor, mix = summarise(floor_rec), summarise(mix_rec)
        result = {
            "engine": "postgresql",
            "hub": hub.built,
            "config": {
                **server.config,
                "users": users,
                "think_seconds": list(think),
                "mix_seconds": seconds,
                "floor_seconds": floor_seconds,
                "alone_seconds": alone_seconds,
                "capacity_seconds": capacity_seconds,
                "max_requests": max_requests,
            },
            "floor": floor,
            "mix": mix,
            "ratio_to_floor": _ratios(mix, floor),
            "throughput_ratio_to_floor": round(mix["total"]["per_second"] / floor["total"]["per_second"], 2)
            if floor["total"].get("per_second") and mix["total"].get("per_second")
            else None,
            "writes": check_writes(hub, mix_rec),
            "alone": alone,
            "warm_up": warmed,
            "counts_before": before,
            "counts_after": after,
        }
        if capacity_seconds:
            _log(f"capacity: floor and mix with no think time, {users} users, {capacity_seconds} s each")
            cap_floor = summarise(
                locust(
                    server,
                    profile="floor",
                    users=users,
                    seconds=capacity_seconds,
                    think=(0, 0),
                    tag="capfloor",
                    csv_dir=csv_dir,
                )
            )
            cap_rec = locust(
                server,
                profile="mix",
                users=users,
                seconds=capacity_seconds,
                think=(0, 0),
                tag="capmix",
                csv_dir=csv_dir,
            )
            cap_mix = summarise(cap_rec)
            result["capacity"] = {
                "floor": cap_floor,
                "mix": cap_mix,
                # How many trivial requests the server answers for each request of the mix.
                "ratio_to_floor": round(cap_floor["total"]["per_second"] / cap_mix["total"]["per_second"], 1)
                if cap_mix["total"].get("per_second")
                else None,
                "writes": check_writes(hub, cap_rec),
            }
        result["server_errors"] = server.errors()[:20]
        result["server_log"] = server.keep_log(csv_dir)
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        return result
    finally:
        server.stop()


def rss_growth(samples: list[dict], warmup_seconds: float) -> dict:
    """The workers' memory after warm-up: the median of the first fifth of the samples against
    the median of the last fifth (medians, so one request's passing allocation is not read as
    growth), and the growth between them."""
    after = [s for s in samples if s["t"] >= warmup_seconds and s["total_mb"] > 0]
    if len(after) < 5:
        return {"samples_after_warmup": len(after)}
    k = max(3, len(after) // 5)
    first = statistics.median(s["total_mb"] for s in after[:k])
    last = statistics.median(s["total_mb"] for s in after[-k:])
    span_min = (after[-1]["t"] - after[0]["t"]) / 60
    return {
        "samples_after_warmup": len(after),
        "start_mb": round(first, 1),
        "end_mb": round(last, 1),
        "peak_mb": round(max(s["total_mb"] for s in after), 1),
        "growth_mb": round(last - first, 1),
        "growth_share": round((last - first) / first, 4),
        "mb_per_minute": round((last - first) / span_min, 2) if span_min > 0 else None,
    }


def soak_run(
    hub: Hub,
    *,
    users: int = 50,
    seconds: int = 600,
    think=(1.0, 3.0),
    warmup_seconds: float = 120,
    sample_every: float = 5,
    bound: float = 0.10,
    workers: int | None = None,
    csv_dir: Path | None = None,
    spawn_rate: float | None = None,
    sender_pace: float = 5,
) -> dict:
    """The mix for ``seconds`` with the workers' memory sampled; passes with no error, every
    acknowledged write stored, the same workers throughout, and memory growth after warm-up
    below ``bound``."""
    server = Server(hub, workers=workers).start()
    try:
        warmed = warm(server)
        before = hub.counts()
        pids = server.worker_pids()
        sampler = RssSampler(server, sample_every)
        sampler.start()
        _log(f"soak: {users} users, think {think[0]:g}-{think[1]:g} s, {seconds} s; memory every {sample_every:g} s")
        record = locust(
            server,
            profile="mix",
            users=users,
            seconds=seconds,
            think=think,
            tag="soak",
            csv_dir=csv_dir,
            spawn_rate=spawn_rate,
            sender_pace=sender_pace,
        )
        samples = sampler.stop()
        same_workers = server.worker_pids() == pids
        after = hub.counts()
        summary = summarise(record)
        writes = check_writes(hub, record)
        growth = rss_growth(samples, warmup_seconds)
        chain_ok, chain_message = hub.verify_audit_chain()
        # p95 per minute: a slow drift shows here before it shows in the totals.
        start = record.get("measure_from") or 0
        minutes: dict[int, list[float]] = {}
        for _name, at, ms, measured in record["timings"]:
            if measured:
                minutes.setdefault(int((at - start) // 60), []).append(ms)
        per_minute = [{"minute": m + 1, **_stats(v, 60)} for m, v in sorted(minutes.items())]
        passed = {
            "no_errors": summary["errors"] == 0,
            "nothing_lost": writes["lost"] == 0 and writes["unacknowledged_but_stored"] == 0,
            "same_workers": same_workers,
            "memory_bounded": growth.get("growth_share") is not None and growth["growth_share"] < bound,
            "audit_chain_verifies": chain_ok,
        }
        return {
            "engine": "postgresql",
            "hub": hub.built,
            "config": {
                **server.config,
                "users": users,
                "think_seconds": list(think),
                "seconds": seconds,
                "warmup_seconds": warmup_seconds,
                "sample_every_seconds": sample_every,
                "memory_growth_bound": bound,
            },
            "summary": summary,
            "per_minute": per_minute,
            "writes": writes,
            "memory": growth,
            "warm_up": warmed,
            "memory_samples": samples,
            "audit_chain": chain_message,
            "counts_before": before,
            "counts_after": after,
            "checks": passed,
            "passed": all(passed.values()),
            "server_errors": server.errors()[:20],
            "server_log": server.keep_log(csv_dir),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
    finally:
        server.stop()


# --- tables -----------------------------------------------------------------------------------


def _row(label: str, s: dict, ratio: dict | None = None) -> str:
    if not s.get("n"):
        return f"| {label} | 0 | | | | | {s.get('failures', 0)} | |"
    r = ratio or {}
    rs = " / ".join(f"{r[p]:.1f}" for p in ("p50_ms", "p95_ms", "p99_ms") if p in r) if r else "1.0"
    return (
        f"| {label} | {s['n']:,} | {s['per_second']:.1f} | {s['p50_ms']:.0f} | {s['p95_ms']:.0f} | {s['p99_ms']:.0f} "
        f"| {s.get('failures', 0)} | {rs} |"
    )


def load_table(r: dict) -> str:
    c = r["config"]
    alone = (r.get("alone") or {}).get("by_name", {})
    lines = [
        f"gunicorn {c['worker_class']} × {c['workers']}, {c['users']} users, think {c['think_seconds'][0]:g}-"
        f"{c['think_seconds'][1]:g} s, {r['mix']['measured_seconds']:.0f} s measured; load average {r['load_average']}",
        "",
        "| request | n | req/s | p50 ms | p95 ms | p99 ms | errors | × floor (p50 / p95 / p99) | alone p50 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        _row("floor: GET /healthz", r["floor"]["total"]) + " |",
    ]
    for name, s in r["mix"]["by_name"].items():
        own = alone.get(name, {}).get("p50_ms")
        lines.append(_row(name, s, r["ratio_to_floor"].get(name)) + f" {own if own is not None else ''} |")
    lines.append(_row("all of the mix", r["mix"]["total"]) + " |")
    w = r["writes"]
    lines.append(
        f"\nerrors {r['mix']['errors']}; writes acknowledged and stored: events {w['events_stored']:,}/"
        f"{w['events_acknowledged']:,}, reports {w['reports_stored']}/{w['reports_acknowledged']}, alert "
        f"acknowledgements {w['alert_acknowledgements']} ({w['alerts_acknowledged_stored']} alerts); lost {w['lost']}"
    )
    if "capacity" in r:
        cap = r["capacity"]
        lines.append(
            f"capacity (no think time, {c['users']} users): mix {cap['mix']['total'].get('per_second', 0):.1f} req/s, "
            f"floor {cap['floor']['total'].get('per_second', 0):.1f} req/s: a request of the mix costs "
            f"{cap['ratio_to_floor']} trivial ones; errors {cap['mix']['errors']}"
        )
    return "\n".join(lines)


def soak_table(r: dict) -> str:
    c, m, s = r["config"], r["memory"], r["summary"]
    lines = [
        f"soak: {c['seconds']} s, {c['users']} users, gunicorn {c['worker_class']} × {c['workers']}; "
        f"load average {r['load_average']}",
        f"requests {s['requests']:,}, {s['total'].get('per_second', 0):.1f}/s, p50/p95/p99 "
        f"{s['total'].get('p50_ms')}/{s['total'].get('p95_ms')}/{s['total'].get('p99_ms')} ms, errors {s['errors']}",
        f"workers' memory after {c['warmup_seconds']:g} s warm-up: {m.get('start_mb')} → {m.get('end_mb')} MiB "
        f"({(m.get('growth_share') or 0):+.1%}; bound {c['memory_growth_bound']:.0%}), peak {m.get('peak_mb')} MiB",
        f"writes lost {r['writes']['lost']}; audit chain: {r['audit_chain']}",
        "checks: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r["checks"].items()),
        "PASSED" if r["passed"] else "FAILED",
    ]
    return "\n".join(lines)
