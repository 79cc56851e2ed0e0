"""WSGI entry point for production servers (waitress, gunicorn)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cylch.settings")
application = get_wsgi_application()

from cylch.core.runtime import settle  # noqa: E402  (needs Django set up)

settle()
