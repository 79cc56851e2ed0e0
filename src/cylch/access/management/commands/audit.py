from django.core.management.base import BaseCommand, CommandError

from cylch.access.audit import audit_verify


class Command(BaseCommand):
    help = (
        "Audit log tools: `cylch audit verify` checks the hash chain end to end, and that every entry "
        "whose content was erased was erased by a retention run that accounts for it."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="exit non-zero and name the first bad entry if the chain or an erasure is wrong")

    def handle(self, *args, **opts):
        result = audit_verify()
        if not result.ok:
            raise CommandError(
                f"audit chain broken at entry #{result.first_bad_seq}: {result.problem} ({result.checked} entries verified before it)"
            )
        # The chain cannot see an erasure (an erased entry keeps only what its digest was made
        # from); the retention runs' receipts account for each one.
        from cylch.governance.retention import redactions_verify

        erasures = redactions_verify()
        if not erasures.ok:
            raise CommandError(
                "erased audit entries do not match the runs that erased them:\n" + "\n".join(erasures.problems)
            )
        noun = "entry" if result.checked == 1 else "entries"
        erased = f"; {erasures.erased} erased, each by a retention run" if erasures.erased else ""
        self.stdout.write(f"audit chain intact: {result.checked} {noun} verified{erased}")
