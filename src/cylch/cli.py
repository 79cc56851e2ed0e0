"""The ``cylch`` console script: a thin wrapper over Django management commands.

``cylch demo --build-only`` runs ``manage.py demo --build-only``; ``cylch audit verify`` runs
the ``audit`` command with its ``verify`` sub-command. Anything Django offers works too
(``cylch migrate``, ``cylch createsuperuser``).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cylch.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "demo":
        os.environ.setdefault("CYLCH_DEMO", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["cylch", *args] if args else ["cylch", "help"])


if __name__ == "__main__":
    main()
