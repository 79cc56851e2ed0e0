from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cylch.rules.pack import NATIONAL_PACK, check_pack
from cylch.rules.services import alerts_sweep, run_batch


class Command(BaseCommand):
    help = (
        "Cumulative-risk rules: `cylch rules check PACK.yaml` validates a rule pack; `cylch rules run` "
        "evaluates every rule over the whole population; `cylch rules sweep` escalates late alerts."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="validate rule packs (file, line, rule and field for each problem)")
        check.add_argument("packs", nargs="*", help="pack files; default: the national pack")
        run = sub.add_parser("run", help="evaluate every rule over the whole population")
        run.add_argument("--no-progress", action="store_true")
        sub.add_parser("sweep", help="escalate alerts not acknowledged in time (run every few minutes)")

    def handle(self, *args, **opts):
        if opts["action"] == "check":
            paths = opts["packs"] or [str(NATIONAL_PACK)]
            bad = 0
            for path in paths:
                problems = check_pack(path)
                for p in problems:
                    self.stderr.write(str(p))
                bad += len(problems)
                if not problems:
                    self.stdout.write(f"{path}: good")
            if bad:
                raise CommandError(f"{bad} problem(s) found")
        elif opts["action"] == "run":
            bar = None if opts["no_progress"] else tqdm(unit=" scopes", desc="rules")
            stats = run_batch(progress=bar.update if bar else None)
            if bar:
                bar.close()
            self.stdout.write(
                f"{stats.events} events read, {stats.scopes} scopes evaluated in {stats.seconds:.1f} s: "
                f"{stats.raised} alerts raised, {stats.updated} updated"
            )
            for rule_id, n in sorted(stats.by_rule.items()):
                self.stdout.write(f"  {rule_id}: {n}")
        else:
            self.stdout.write(f"{alerts_sweep()} alerts escalated")
