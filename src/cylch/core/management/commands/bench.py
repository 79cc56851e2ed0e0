"""`cylch bench linkage|rules|chronology|insight ... [--out FILE]`: measured figures, machine-readable."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand


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
        insight = sub.add_parser("insight", help="every board measure for every area over 8 quarters, SQLite and PostgreSQL")
        insight.add_argument("--persons", type=int, default=50_000)
        insight.add_argument("--repeats", type=int, default=3)
        insight.add_argument("--databases", default="sqlite,postgresql")
        insight.add_argument("--postgres", default=os.environ.get("CYLCH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
        insight.add_argument("--out", type=Path, default=Path("var/bench/insight.json"))
        insight_worker = sub.add_parser("insight-worker", help=argparse.SUPPRESS)
        insight_worker.add_argument("--persons", type=int)
        insight_worker.add_argument("--repeats", type=int, default=3)
        chron_worker = sub.add_parser("chronology-worker", help=argparse.SUPPRESS)
        for option in ("--events", "--family-events", "--requests", "--warmup"):
            chron_worker.add_argument(option, type=int)

    def handle(self, *args, **opts):
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

    def _write(self, out: Path, bench: str, results) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "bench": bench, "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "results": results,
        }, indent=1))  # fmt: skip
        self.stdout.write(f"written to {out}")
