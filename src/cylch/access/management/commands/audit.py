from django.core.management.base import BaseCommand, CommandError

from cylch.access.audit import audit_verify


class Command(BaseCommand):
    help = "Audit log tools: `cylch audit verify` checks the hash chain end to end."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="exit non-zero and name the first bad entry if the chain is broken")

    def handle(self, *args, **opts):
        result = audit_verify()
        if not result.ok:
            raise CommandError(
                f"audit chain broken at entry #{result.first_bad_seq}: {result.problem} ({result.checked} entries verified before it)"
            )
        noun = "entry" if result.checked == 1 else "entries"
        self.stdout.write(f"audit chain intact: {result.checked} {noun} verified")
