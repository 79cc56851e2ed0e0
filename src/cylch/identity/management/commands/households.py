"""`cylch households duplicates [--merge]`: households that are one home, listed and (exact ones) merged.

For a migration from legacy data, where one home may be held as two households (docs/identity.md,
"One home held twice"). Only exact groups are merged (the same address by ``Address.same_as``,
all in one local authority), in one transaction; a run after that finds none, so it can be run
again safely. Everything else is listed for a reviewer (``/matching/households/``).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from cylch.identity.households.merge import duplicate_households, household_merge

REASON = "the same address held twice (cylch households duplicates --merge)"


class Command(BaseCommand):
    help = "Households that look like one home: `duplicates` lists them; with --merge, merges the exact ones."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        dup = sub.add_parser("duplicates", help="list households held twice at one address")
        dup.add_argument("--merge", action="store_true", help="merge the exact ones (one transaction)")
        dup.add_argument("--reason", default=REASON, help="the reason recorded with each merge")

    def handle(self, *args, **opts):
        found = duplicate_households()
        for d in found:
            word = "exact" if d.exact else "for a reviewer"
            self.stdout.write(
                f"{d.other.public_id} ({d.other}; {len(d.other_members)} living there) -> "
                f"{d.keep.public_id} ({d.keep}; {len(d.keep_members)} living there): {word}"
            )
        exact = [d for d in found if d.exact]
        self.stdout.write(f"{len(found)} households look like another home; {len(exact)} exact")
        if not opts["merge"]:
            return
        with transaction.atomic():
            for d in exact:
                household_merge(keep=d.keep, merged=d.other, actor=None, reason=opts["reason"])
        self.stdout.write(f"merged {len(exact)}; {len(found) - len(exact)} left for a reviewer")
