"""`cylch link train|run|csv|rekey`: train the linkage model, re-link the hub, deduplicate any CSV, or
remake the linkage keys stored on agency records."""

from __future__ import annotations

import csv
import sys
import time
from functools import partial
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cylch.identity.linkage import features
from cylch.identity.linkage.sources import HUB_FIELDS, SourceError, csv_rows, hub_rows, parse_map


class Command(BaseCommand):
    help = "Record linkage: `train` a model on the hub, `run` it over every record, or dedupe a `csv`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        train = sub.add_parser("train", help="train a new model on the hub's agency records and make it active")
        train.add_argument("--out", type=Path, help="also write the model JSON here")
        run = sub.add_parser("run", help="re-link the whole population with the active model")
        run.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
        run.add_argument(
            "--spark-master",
            default="local[2]",
            help="with --engine spark: where Spark runs (local[N], spark://HOST:7077, yarn, k8s://...)",
        )
        run.add_argument(
            "--spark-driver-memory", default="2g", help="with --engine spark: memory of this process's JVM"
        )
        run.add_argument("--dry-run", action="store_true", help="score and cluster, change nothing")
        dd = sub.add_parser("csv", help="deduplicate a CSV file: writes id,cluster_id,decision")
        dd.add_argument("input", type=Path)
        dd.add_argument("--id", required=True, dest="id_column", help="the column holding each row's id")
        dd.add_argument("--map", required=True, help="FIELD=COLUMN,... with FIELD one of " + ", ".join(features.FIELDS))
        dd.add_argument("--out", required=True, type=Path)
        rekey = sub.add_parser(
            "rekey",
            help="remake the linkage keys stored on every agency record (after a change to how names, "
            "postcodes or addresses are prepared); reports how many changed",
        )
        for p in (train, run, dd, rekey):
            p.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        return getattr(self, f"_{opts['action']}")(opts)

    def _say(self, opts, message: str) -> None:
        if not opts["no_progress"]:
            self.stderr.write(message)

    def _hub_table(self, opts):
        from cylch.identity.models import AgencyRecord

        total = AgencyRecord.objects.filter(links__active=True).count()
        if total < 2:
            raise CommandError("There are fewer than two linked agency records: nothing to link.")
        with tqdm(total=total, unit="record", desc="reading records", disable=opts["no_progress"]) as bar:
            rows = list(hub_rows(progress=bar.update))
            bar.update(total - bar.n)
        return features.to_arrow(rows), total

    def _train(self, opts):
        from django.db import transaction

        from cylch.access.audit import audit_record
        from cylch.identity.linkage.batch import train_duckdb
        from cylch.identity.linkage.online import active_model, forget_active_model
        from cylch.identity.models import LinkageModelVersion

        table, total = self._hub_table(opts)
        self._say(opts, f"training on {total} records")
        previous = active_model()
        model = train_duckdb(table, fields=set(HUB_FIELDS))
        # The thresholds were chosen by measurement (docs/linkage.md), not by training: a new model
        # keeps the active one's, the cluster-level link included (None when it has none).
        model.auto_link_weight, model.review_weight = previous.auto_link_weight, previous.review_weight
        model.cluster_link_weight = previous.cluster_link_weight
        with transaction.atomic():
            LinkageModelVersion.objects.filter(active=True).update(active=False)
            LinkageModelVersion.objects.create(
                version=model.version, model_json=model.to_json(), active=True, records=total
            )
            audit_record(action="write", actor_label="cylch link train", object_type="linkage_model",
                         object_id=model.version, purpose="linkage model trained", detail={"records": total})  # fmt: skip
        forget_active_model()
        if opts["out"]:
            model.save(opts["out"])
        self.stdout.write(f"model {model.version} trained on {total} records and made active")

    def _run(self, opts):
        from cylch.identity.linkage.online import active_model
        from cylch.identity.linking import apply_batch, hub_constraints

        model = active_model()
        table, total = self._hub_table(opts)
        must, cannot = hub_constraints()
        started = time.perf_counter()
        say = partial(self._say, opts)
        if opts["engine"] == "spark":
            result = self._run_spark(opts, table, model, must, cannot, say)
        else:
            from cylch.identity.linkage.batch import run_duckdb

            result, _ = run_duckdb(table, model, must_link=must, cannot_link=cannot, progress=say)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"{total} records scored with model {model.version} on {opts['engine']} in {seconds:.1f} s: "
            f"{result.summary()}"
        )
        if opts["dry_run"]:
            self.stdout.write("dry run: nothing changed")
            return
        summary = apply_batch(result, model)
        self.stdout.write(
            f"applied: {summary.merged} people merged, {summary.moved} records moved, "
            f"{summary.reviews_opened} new review tasks"
        )

    def _run_spark(self, opts, table, model, must, cannot, say):
        from cylch.identity.linkage import spark

        try:
            result, _ = spark.run_spark(
                table,
                model,
                master=opts["spark_master"],
                driver_memory=opts["spark_driver_memory"],
                must_link=must,
                cannot_link=cannot,
                progress=say,
            )
        except (spark.SparkUnavailable, spark.UnsupportedSQL) as exc:
            raise CommandError(str(exc)) from None
        return result

    def _rekey(self, opts):
        from cylch.identity.models import AgencyRecord
        from cylch.identity.services import agency_record_keys_remake

        total = AgencyRecord.objects.count()
        with tqdm(total=total, unit="record", desc="remaking keys", disable=opts["no_progress"]) as bar:
            changed = agency_record_keys_remake(progress=bar.update)
        self.stdout.write(f"{total} agency records read: linkage keys remade on {changed}")

    def _csv(self, opts):
        from cylch.identity.linkage.batch import run_duckdb
        from cylch.identity.linkage.model import LinkageModel, settings_for

        path: Path = opts["input"]
        if not path.is_file():
            raise CommandError(f"No file at {path}")
        try:
            mapping = parse_map(opts["map"])
            self._say(opts, f"reading {path.name}")
            ids, rows = csv_rows(path.read_bytes(), id_column=opts["id_column"], mapping=mapping)
        except SourceError as exc:
            raise CommandError(f"{path.name}: {exc}") from None
        fields = set(mapping)
        if len(ids) < 2:
            raise CommandError(f"{path.name}: need at least two rows to deduplicate.")
        base = LinkageModel(version=f"csv-{path.stem}", fields=sorted(fields), splink=settings_for(fields))
        steps = tqdm(total=3, unit="step", desc="linking", disable=opts["no_progress"], file=sys.stderr)

        def step(message: str) -> None:
            steps.set_postfix_str(message)
            steps.update(1)

        result, _trained = run_duckdb(features.to_arrow(rows), base, train=True, progress=step)
        steps.close()
        tmp = opts["out"].with_suffix(opts["out"].suffix + ".part")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["id", "cluster_id", "decision"])
            for uid in ids:
                out.writerow([uid, result.cluster_of[uid], result.decision_of[uid]])
        tmp.replace(opts["out"])
        self.stdout.write(f"{len(ids)} rows: {len(result.clusters())} clusters; {result.summary()} -> {opts['out']}")
