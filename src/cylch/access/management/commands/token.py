from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cylch.access.models import Organisation
from cylch.access.services import api_token_create


class Command(BaseCommand):
    help = "API tokens for organisation systems: `cylch token create --organisation CODE --name NAME`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token and print it (it is shown only once)")
        create.add_argument("--organisation", required=True, help="organisation code (see `cylch organisations`)")
        create.add_argument("--name", required=True, help="the system the token is for, e.g. 'GP system feed'")

    def handle(self, *args, **opts):
        org = Organisation.objects.filter(code=opts["organisation"]).first()
        if org is None:
            raise CommandError(f"No organisation with code {opts['organisation']!r}. `cylch organisations` lists them.")
        try:
            _token, plain = api_token_create(organisation=org, name=opts["name"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(plain)
