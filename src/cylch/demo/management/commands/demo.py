"""`cylch demo`: build the synthetic Wales demo (if the database is new) and serve it."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from cylch.access.models import Organisation
from cylch.demo.builder import SIZES, build
from cylch.demo.organisations import DEMO_PASSWORD, DEMO_USERS


def _size(value: str) -> int:
    if value in SIZES:
        return SIZES[value]
    try:
        n = int(value.replace("_", "").replace(",", ""))
    except ValueError:
        raise CommandError(f"--size: use small, standard, large or a number of people, not {value!r}") from None
    if n < 100:
        raise CommandError("--size: the scenario families alone need 100 people or more")
    return n


class Command(BaseCommand):
    help = "Build the synthetic Wales demo hub (if the database is new) and serve it."

    def add_arguments(self, parser):
        parser.add_argument("--build-only", action="store_true", help="build the database and exit")
        parser.add_argument(
            "--size", default="standard", help="small, standard (5,000 people), large (300,000) or a number"
        )
        parser.add_argument("--seed", type=int, default=2026, help="random seed: the same seed builds the same data")
        parser.add_argument(
            "--as-of", type=date.fromisoformat, default=None, help="the demo's 'today' (YYYY-MM-DD); default today"
        )
        parser.add_argument("--events-per-person", type=float, default=None, help="mean background events per person")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        # The SQLite file lives in CYLCH_VAR_DIR: a folder not made yet is made, not an error.
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        persons = _size(opts["size"])
        if Organisation.objects.exists():
            self.stdout.write(
                "The database already has data: not rebuilding the demo (delete var/cylch.sqlite3 to start again)."
            )
        else:
            epp = opts["events_per_person"]
            if epp is None:
                epp = 40.0 if persons >= 100_000 else 6.0
            self.stdout.write(f"Building the demo: {persons:,} people, seed {opts['seed']} ...")
            stats = build(
                seed=opts["seed"],
                persons=persons,
                as_of=opts["as_of"],
                events_per_person=epp,
                progress=not opts["no_progress"],
            )
            self.stdout.write(
                f"Built in {stats.seconds}s: {stats.organisations:,} organisations, {stats.persons:,} people, "
                f"{stats.households:,} households, {stats.agency_records:,} agency records, {stats.events:,} events."
            )
            self.stdout.write(
                f"Rules: {stats.history['rules_raised']:,} alerts raised, {stats.history['rules_dated']:,} of them "
                "dated by their evidence and worked (docs/demo.md)."
            )
        if opts["as_of"] is not None and opts["as_of"] < date.today():
            # The board pages count as of today unless told otherwise (docs/insight.md, "As of").
            self.stdout.write(
                f"Board measures as they stood on the demo's day: /insight/?as_of={opts['as_of'].isoformat()}"
            )
        self.stdout.write("")
        self.stdout.write(f"Demo sign-in accounts (password for all: {DEMO_PASSWORD}):")
        for role, org_code, name, _lead in DEMO_USERS:
            self.stdout.write(f"  {role.value:<34} {name} ({org_code})")
        if opts["build_only"]:
            return
        self.stdout.write("")
        call_command("serve", port=opts["port"])
