"""`cylch bench linkage [--sizes 100000,1000000] [--out FILE]`: measured figures, machine-readable."""

from __future__ import annotations

import json
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

    def handle(self, *args, **opts):
        from cylch.identity.linkage.bench import run_all, table

        sizes = [int(s) for s in opts["sizes"].split(",") if s.strip()]
        results = run_all(sizes, progress=lambda m: self.stderr.write(m))
        opts["out"].parent.mkdir(parents=True, exist_ok=True)
        opts["out"].write_text(json.dumps({
            "bench": "linkage", "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
            "results": results,
        }, indent=1))  # fmt: skip
        self.stdout.write(table(results))
        self.stdout.write(f"\nwritten to {opts['out']}")
