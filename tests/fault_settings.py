"""Settings for the processes ``tests/test_faults.py`` kills, where they differ from the hub's own:
the outbox lease read from ``CYLCH_OUTBOX_LEASE_SECONDS`` (a killed worker's message comes back in
seconds rather than five minutes), and Django's database connection health checks when
``CYLCH_DB_CONN_HEALTH_CHECKS=1``. (Once ``cylch/settings.py`` reads these itself, this can go.)"""

import os

from cylch.settings import *  # noqa: F403  (the hub's settings, unchanged but for the lease)

CYLCH_OUTBOX_LEASE_SECONDS = int(os.environ.get("CYLCH_OUTBOX_LEASE_SECONDS", "300"))
# Django's connection health checks, to compare with the hub's default (docs/faults.md).
if os.environ.get("CYLCH_DB_CONN_HEALTH_CHECKS") == "1":
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
