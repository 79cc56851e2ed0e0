"""`cylch bench linkage|rules ... [--out FILE]`: measured figures, machine-readable."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Benchmarks. `linkage` measures the linkage model on FEBRL4 and the demo's hard population."

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

    def handle(self, *args, **opts):
        if opts["which"] == "rules-worker":
            from cylch.rules.bench import worker

            self.stdout.write(json.dumps(worker(opts["persons"], opts["events"])))
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
