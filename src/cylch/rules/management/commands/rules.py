from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cylch.rules.coordinator import propose_all
from cylch.rules.health import quiet_settings, rule_health, rules_switched_off
from cylch.rules.pack import NATIONAL_PACK, check_pack
from cylch.rules.services import alerts_sweep, run_batch


class Command(BaseCommand):
    help = (
        "Cumulative-risk rules: `cylch rules check PACK.yaml` validates a rule pack; `cylch rules run` "
        "evaluates every rule over the whole population; `cylch rules sweep` escalates late alerts; "
        "`cylch rules health` says when each rule last fired and which have gone quiet."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="validate rule packs (file, line, rule and field for each problem)")
        check.add_argument("packs", nargs="*", help="pack files; default: the national pack")
        run = sub.add_parser("run", help="evaluate every rule over the whole population")
        run.add_argument("--no-progress", action="store_true")
        sub.add_parser("sweep", help="escalate alerts not acknowledged in time (run every few minutes)")
        health = sub.add_parser(
            "health", help="when each rule last fired in each board area, and which have gone quiet (docs/rules.md)"
        )
        health.add_argument("--days", type=int, help="the window (default CYLCH_RULE_QUIET_DAYS, 90)")
        health.add_argument(
            "--min-triggers",
            type=int,
            help="events that make silence notable (default CYLCH_RULE_QUIET_MIN_TRIGGERS, 20)",
        )
        health.add_argument("--strict", action="store_true", help="fail (exit status 1) when a rule is quiet")

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
            # As new entries would have: a lead coordinator proposed where two or more agencies
            # know a child nobody coordinates for (docs/rules.md, "Lead coordinator").
            self.stdout.write(f"{propose_all()} lead coordinator proposals made")
        elif opts["action"] == "health":
            self._health(opts)
        else:
            self.stdout.write(f"{alerts_sweep()} alerts escalated")

    def _health(self, opts) -> None:
        default_days, default_min = quiet_settings()
        days = opts["days"] or default_days
        least = default_min if opts["min_triggers"] is None else opts["min_triggers"]
        rows = rule_health(days=days, min_triggers=least)
        area = object()
        for row in rows:
            if row.board_area != area:
                area = row.board_area
                self.stdout.write(f"{row.board_area_name} ({row.board_area or '-'}), pack {row.pack}:")
            last = row.last_fired.strftime("%Y-%m-%d") if row.last_fired else "never"
            flag = "  QUIET" if row.quiet else ""
            self.stdout.write(
                f"  {row.rule.id}: last fired {last}; {row.triggers} events that could set it off in {days} days{flag}"
            )
        for off in rules_switched_off():
            self.stdout.write(f"Switched off in {off.board_area} ({off.pack}): {off.rule_id}")
        quiet = [r for r in rows if r.quiet]
        self.stdout.write(
            f"{len(quiet)} quiet: no alert and no new evidence in {days} days while at least {least} events "
            "that could set them off arrived"
        )
        if quiet and opts["strict"]:
            raise CommandError(f"{len(quiet)} rule(s) quiet")
