from django.core.management.base import BaseCommand

from cylch.protection.monitor import sweep


class Command(BaseCommand):
    help = (
        "The child protection process: `cylch protection sweep` warns the responsible worker before each "
        "statutory date and escalates to the team manager after it (run every few minutes; each is sent once)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("sweep", help="warn before statutory dates and escalate overdue ones")

    def handle(self, *args, **opts):
        result = sweep()
        self.stdout.write(f"warned {result.warned}, escalated {result.escalated}")
