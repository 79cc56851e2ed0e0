"""Serve the hub with waitress (a production-grade pure-Python WSGI server)."""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Cylch on http://127.0.0.1:PORT (waitress)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args, **opts):
        from waitress import serve

        # WhiteNoise serves the app's own static files; it warns if STATIC_ROOT is missing.
        settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
        from cylch.wsgi import application

        self.stdout.write(f"Cylch is running on http://{opts['host']}:{opts['port']}/ (press Ctrl+C to stop)")
        if settings.DEMO_MODE:
            self.stdout.write("Demo mode: every demo account uses the password 'cylch-demo'.")
        serve(
            application,
            host=opts["host"],
            port=opts["port"],
            threads=opts["threads"],
            ident="cylch",
            # Behind the TLS proxy: keep X-Forwarded-*; Django trusts only the headers its settings name.
            clear_untrusted_proxy_headers=False,
        )
