import time

from django.core.management.base import BaseCommand

from cylch.notify.services import deliver_due


class Command(BaseCommand):
    help = "Deliver queued notifications: `cylch notify deliver [--loop]`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        deliver = sub.add_parser("deliver", help="send due emails from the outbox")
        deliver.add_argument("--loop", action="store_true", help="keep running, polling every few seconds")
        deliver.add_argument("--interval", type=float, default=5.0)

    def handle(self, *args, **opts):
        while True:
            sent, failed = deliver_due()
            if sent or failed or not opts["loop"]:
                self.stdout.write(f"sent {sent}, failed {failed}")
            if not opts["loop"]:
                return
            time.sleep(opts["interval"])
