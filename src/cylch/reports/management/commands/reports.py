from django.core.management.base import BaseCommand

from cylch.reports.challenges import challenges_sweep
from cylch.reports.clocks import reports_sweep


class Command(BaseCommand):
    help = "Front-door clocks: `cylch reports sweep` warns, escalates and chases (run every few minutes)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("sweep", help="send due warnings, escalations and chases once each")

    def handle(self, *args, **opts):
        r = reports_sweep()
        moved = challenges_sweep()
        self.stdout.write(f"warned {r.warned}, escalated {r.escalated}, chased {r.chased}, challenges moved up {moved}")
