"""`cylch import csv FILE --organisation CODE`: import an agency's events, all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cylch.access.models import Organisation
from cylch.events.csv_intake import import_csv
from cylch.events.models import ImportStatus


class Command(BaseCommand):
    help = "Import events from a file: `cylch import csv FILE --organisation CODE`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="format", required=True)
        csv = sub.add_parser("csv", help="a CSV file in the column specification (see /imports/spec/ in the app)")
        csv.add_argument("file", type=Path)
        csv.add_argument("--organisation", required=True, help="organisation code (see `cylch organisations`)")
        csv.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        org = Organisation.objects.filter(code=opts["organisation"]).first()
        if org is None:
            raise CommandError(f"No organisation with code {opts['organisation']!r}. `cylch organisations` lists them.")
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"No file at {path}")
        data = path.read_bytes()
        rows = max(data.count(b"\n") - 1, 0)
        with tqdm(total=rows, unit="row", desc=path.name, disable=opts["no_progress"]) as bar:
            run = import_csv(organisation=org, data=data, filename=path.name, progress=bar.update)
        if run.status != ImportStatus.STORED:
            for e in run.errors:
                self.stderr.write(f"{path.name}:{e['line']}: {e['column'] or '-'}: {e['message']}")
            more = run.error_count - len(run.errors)
            raise CommandError(
                f"nothing was stored: {run.error_count} problem(s)" + (f" ({more} not shown)" if more > 0 else "")
            )
        self.stdout.write(
            f"{path.name}: {run.rows} rows, {run.created} new events, {run.unchanged} already stored, "
            f"{run.new_persons} new persons, {run.links} linked to people already known"
        )
