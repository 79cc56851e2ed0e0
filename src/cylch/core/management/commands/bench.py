"""`cylch bench linkage|rules|chronology|insight|intake|http|soak ... [--out FILE]`: measured figures,
machine-readable; `cylch bench results` gathers them into one file (docs/bench.md)."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


def _sizes(text: str) -> list[int]:
    """``--batch 100,1000``: positive whole numbers, each timed in turn."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected batch sizes such as 100 or 100,1000, not {text!r}")
    return sizes


class Command(BaseCommand):
    help = (
        "Benchmarks. `linkage` measures the linkage model on FEBRL4 and the demo's hard population; `chronology` "
        "the chronology of a 2,000-event family in a ten-million-event hub."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="which", required=True)
        linkage = sub.add_parser("linkage")
        linkage.add_argument("--sizes", default="100000,1000000", help="hard-population sizes (records)")
        linkage.add_argument("--out", type=Path, default=Path("var/bench/linkage.json"))
        rules = sub.add_parser("rules", help="batch run and incremental throughput, SQLite and PostgreSQL")
        rules.add_argument("--persons", type=int, default=50_000)
        rules.add_argument("--events", type=int, default=2000, help="events recorded one by one for throughput")
        rules.add_argument("--databases", default="sqlite,postgresql")
        rules.add_argument("--postgres", default=os.environ.get("CYLCH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
        rules.add_argument("--out", type=Path, default=Path("var/bench/rules.json"))
        worker = sub.add_parser("rules-worker", help=argparse.SUPPRESS)
        worker.add_argument("--persons", type=int)
        worker.add_argument("--events", type=int)
        chron = sub.add_parser("chronology", help="server time for one family's chronology in a big hub, SQLite and PostgreSQL")  # fmt: skip
        chron.add_argument(
            "--events", type=int, default=10_000_000, help="events in the database, the family's included"
        )
        chron.add_argument("--family-events", type=int, default=2000)
        chron.add_argument("--requests", type=int, default=50, help="timed requests of each kind, after the warm-ups")
        chron.add_argument("--warmup", type=int, default=5)
        chron.add_argument("--databases", default="sqlite,postgresql")
        chron.add_argument("--postgres", default=os.environ.get("CYLCH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
        chron.add_argument("--out", type=Path, default=Path("var/bench/chronology.json"))
        insight = sub.add_parser(
            "insight", help="every board measure for every area over 8 quarters, SQLite and PostgreSQL"
        )
        insight.add_argument("--persons", type=int, default=50_000)
        insight.add_argument("--repeats", type=int, default=3)
        insight.add_argument("--databases", default="sqlite,postgresql")
        insight.add_argument("--postgres", default=os.environ.get("CYLCH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
        insight.add_argument("--out", type=Path, default=Path("var/bench/insight.json"))
        insight_worker = sub.add_parser("insight-worker", help=argparse.SUPPRESS)
        insight_worker.add_argument("--persons", type=int)
        insight_worker.add_argument("--repeats", type=int, default=3)
        intake = sub.add_parser("intake", help="events per second through the intake service, rules evaluated, SQLite and PostgreSQL")  # fmt: skip
        intake.add_argument("--persons", type=int, default=5000, help="demo population the events are about")
        intake.add_argument("--events", type=int, default=20_000, help="events timed (and as many with the rules off)")
        intake.add_argument("--batch", type=_sizes, default=[100], help="events per batch, as an agency system sends them; a comma list (100,1000) times each in turn")  # fmt: skip
        intake.add_argument("--senders", type=int, default=2, help="agency systems sending at once (processes)")
        intake.add_argument("--databases", default="sqlite,postgresql")
        intake.add_argument("--postgres", default=os.environ.get("CYLCH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
        intake.add_argument("--out", type=Path, default=Path("var/bench/intake.json"))
        intake_worker = sub.add_parser("intake-worker", help=argparse.SUPPRESS)
        for option in ("--persons", "--events", "--batch", "--senders"):
            intake_worker.add_argument(option, type=int)
        for which, help_text in (
            ("http", "gunicorn on loopback with PostgreSQL, driven by locust: the mix and its floor"),
            ("soak", "the mix for ten minutes, the workers' memory sampled (make soak)"),
        ):
            load = sub.add_parser(which, help=help_text)
            load.add_argument("--persons", type=int, default=3000, help="demo population of the hub served")
            load.add_argument("--users", type=int, default=50, help="concurrent users")
            load.add_argument("--think", default="1,3", help="seconds each user waits between requests: low,high")
            load.add_argument("--workers", type=int, default=None, help="gunicorn workers (default 2 x cores + 1)")
            load.add_argument("--postgres", default=os.environ.get("CYLCH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
            if which == "http":
                load.add_argument("--seconds", type=int, default=60, help="the mix's run time")
                load.add_argument("--floor-seconds", type=int, default=30)
                load.add_argument("--capacity-seconds", type=int, default=20, help="each no-think-time run (0: none)")
                load.add_argument(
                    "--alone-seconds", type=int, default=30, help="one user of each kind, pausing 1 s (0: none)"
                )
                load.add_argument("--max-requests", type=int, default=20_000, help="stop the mix after this many")
                load.add_argument("--out", type=Path, default=Path("var/bench/http.json"))
            else:
                load.add_argument("--seconds", type=int, default=600)
                load.add_argument("--warmup", type=float, default=120, help="seconds before memory is compared")
                load.add_argument("--sample-every", type=float, default=5)
                load.add_argument("--bound", type=float, default=0.10, help="largest memory growth after warm-up")
                load.add_argument("--out", type=Path, default=Path("var/bench/soak.json"))
        prepare = sub.add_parser("load-prepare", help=argparse.SUPPRESS)
        prepare.add_argument("--persons", type=int)
        prepare.add_argument("--plan", type=Path)
        results = sub.add_parser("results", help="every bench's figures in one file with their floors and ratios")
        results.add_argument("--dir", type=Path, default=Path("var/bench"))
        results.add_argument("--out", type=Path, default=Path("var/bench/results.json"))
        chron_worker = sub.add_parser("chronology-worker", help=argparse.SUPPRESS)
        for option in ("--events", "--family-events", "--requests", "--warmup"):
            chron_worker.add_argument(option, type=int)

    def handle(self, *args, **opts):
        if opts["which"] in ("intake", "intake-worker"):
            return self._intake(opts)
        if opts["which"] in ("http", "soak", "load-prepare"):
            return self._load(opts)
        if opts["which"] == "results":
            from cylch.core import benchresults

            combined = benchresults.collect(opts["dir"])
            opts["out"].parent.mkdir(parents=True, exist_ok=True)
            opts["out"].write_text(json.dumps(combined, indent=1))
            self.stdout.write(benchresults.table(combined))
            self.stdout.write(f"written to {opts['out']}")
            return
        if opts["which"] == "rules-worker":
            from cylch.rules.bench import worker

            self.stdout.write(json.dumps(worker(opts["persons"], opts["events"])))
            return
        if opts["which"] == "insight-worker":
            from cylch.insight.bench import worker as insight_worker

            self.stdout.write(json.dumps(insight_worker(opts["persons"], opts["repeats"])))
            return
        if opts["which"] == "insight":
            from cylch.insight import bench as insight_bench

            results = []
            for db in opts["databases"].split(","):
                self.stderr.write(f"insight on {db}: {opts['persons']:,} persons ...")
                results.append(insight_bench.run(db.strip(), opts["persons"], opts["postgres"], opts["repeats"]))
            self._write(opts["out"], "insight", results)
            self.stdout.write(insight_bench.table(results))
            return
        if opts["which"] == "chronology-worker":
            from cylch.chronology.bench import worker as chronology_worker

            result = chronology_worker(
                opts["events"], opts["family_events"], requests=opts["requests"], warmup=opts["warmup"]
            )
            self.stdout.write(json.dumps(result))
            return
        if opts["which"] == "chronology":
            from cylch.chronology import bench as chronology_bench

            results = []
            for db in opts["databases"].split(","):
                self.stderr.write(f"chronology on {db}: {opts['events']:,} events, {opts['family_events']:,} in the family ...")  # fmt: skip
                results.append(chronology_bench.run(
                    db.strip(), opts["events"], opts["family_events"], opts["postgres"],
                    requests=opts["requests"], warmup=opts["warmup"],
                ))  # fmt: skip
            self._write(opts["out"], "chronology", results)
            self.stdout.write(chronology_bench.table(results))
            return
        if opts["which"] == "rules":
            from cylch.rules import bench as rules_bench

            results = []
            for db in opts["databases"].split(","):
                self.stderr.write(f"rules on {db}: {opts['persons']:,} persons ...")
                results.append(rules_bench.run(db.strip(), opts["persons"], opts["events"], opts["postgres"]))
            self._write(opts["out"], "rules", results)
            self.stdout.write(rules_bench.table(results))
            return
        from cylch.identity.linkage.bench import run_all, table

        sizes = [int(s) for s in opts["sizes"].split(",") if s.strip()]
        results = run_all(sizes, progress=lambda m: self.stderr.write(m))
        self._write(opts["out"], "linkage", results)
        self.stdout.write(table(results))

    def _intake(self, opts) -> None:
        from cylch.events import bench as intake_bench

        if opts["which"] == "intake-worker":
            result = intake_bench.worker(opts["persons"], opts["events"], opts["batch"], opts["senders"])
            self.stdout.write(json.dumps(result))
            return
        results = []
        for db in opts["databases"].split(","):
            for batch in opts["batch"]:
                self.stderr.write(f"intake on {db}: {opts['events']:,} events in batches of {batch} ...")
                results.append(intake_bench.run(
                    db.strip(), opts["persons"], opts["events"], batch, opts["senders"], opts["postgres"]
                ))  # fmt: skip
        self._write(opts["out"], "intake", results)
        self.stdout.write(intake_bench.table(results))

    def _load(self, opts) -> None:
        if opts["which"] == "load-prepare":
            from cylch.core.loadtest.world import prepare

            self.stdout.write(json.dumps(prepare(opts["persons"], opts["plan"])))
            return
        from cylch.core.loadtest import harness

        low, _, high = opts["think"].partition(",")
        think = (float(low), float(high or low))
        self.stderr.write(f"{opts['which']}: building a hub of {opts['persons']:,} people on PostgreSQL ...")
        hub = harness.Hub.create(opts["persons"], postgres=opts["postgres"])
        csv_dir = opts["out"].parent / opts["which"]
        try:
            if opts["which"] == "http":
                result = harness.load_run(
                    hub, users=opts["users"], seconds=opts["seconds"], floor_seconds=opts["floor_seconds"], think=think,
                    capacity_seconds=opts["capacity_seconds"], alone_seconds=opts["alone_seconds"], workers=opts["workers"],
                    max_requests=opts["max_requests"], csv_dir=csv_dir,
                )  # fmt: skip
                self._write(opts["out"], "http", [result])
                self.stdout.write(harness.load_table(result))
            else:
                result = harness.soak_run(
                    hub, users=opts["users"], seconds=opts["seconds"], think=think, warmup_seconds=opts["warmup"],
                    sample_every=opts["sample_every"], bound=opts["bound"], workers=opts["workers"], csv_dir=csv_dir,
                )  # fmt: skip
                self._write(opts["out"], "soak", [result])
                self.stdout.write(harness.soak_table(result))
                if not result["passed"]:
                    raise CommandError("the soak failed: " + ", ".join(k for k, v in result["checks"].items() if not v))
        finally:
            hub.drop()

    def _write(self, out: Path, bench: str, results) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "bench": bench, "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "results": results,
        }, indent=1))  # fmt: skip
        self.stdout.write(f"written to {out}")
