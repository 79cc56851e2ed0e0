from django.core.management.base import BaseCommand

from cylch.access.models import Organisation


class Command(BaseCommand):
    help = "List each organisation's code, kind and name."

    def add_arguments(self, parser):
        parser.add_argument("--kind", help="only organisations of this kind (e.g. school, police)")
        parser.add_argument("--welsh", action="store_true", help="show Welsh names")

    def handle(self, *args, **opts):
        qs = Organisation.objects.order_by("kind", "code")
        if opts["kind"]:
            qs = qs.filter(kind=opts["kind"])
        rows = list(qs.values_list("code", "kind", "name_cy" if opts["welsh"] else "name_en"))
        if not rows:
            self.stderr.write("No organisations yet: run `cylch demo --build-only` or load your own.")
            return
        width_code = max(len(r[0]) for r in rows)
        width_kind = max(len(r[1]) for r in rows)
        self.stdout.write(f"{'CODE'.ljust(width_code)}  {'KIND'.ljust(width_kind)}  NAME")
        for code, kind, name in rows:
            self.stdout.write(f"{code.ljust(width_code)}  {kind.ljust(width_kind)}  {name}")
