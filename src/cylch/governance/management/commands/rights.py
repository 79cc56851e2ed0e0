"""`cylch rights access PERSON_ID --as USERNAME --out FILE`: the subject access file from the
command line, made as (and audited to) a team manager of the person's local authority
(docs/governance.md, "People's rights").

    cylch rights access 6f1c… --as aled.manager --out sar.pdf [--format csv] [--protect]

With --protect the file is an AES-256 ZIP (``FILE`` with ``.zip``) and its password is printed
once: send it by a different route from the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cylch.governance import rights


class Command(BaseCommand):
    help = "People's rights: `cylch rights access PERSON_ID --as USERNAME --out FILE` writes the subject access file."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        access = sub.add_parser("access", help="everything held about a person, for review before release")
        access.add_argument("person_id", help="the person's id (as in their record's address)")
        access.add_argument("--as", dest="username", required=True, help="the team manager answering the request")
        access.add_argument("--out", required=True, help="where to write the file (it must not exist)")
        access.add_argument("--format", choices=rights.FORMATS, default="pdf")
        access.add_argument("--protect", action="store_true", help="an AES-256 ZIP; the password is printed once")

    def handle(self, *args, **opts):
        from cylch.access.models import User
        from cylch.access.selectors import PersonNotFound

        user = User.objects.filter(username=opts["username"], is_active=True).first()
        if user is None or not rights.may_answer_requests(user):
            raise CommandError(f"{opts['username']} is not a team manager of a local authority's children's services")
        try:
            access = rights.person_for_rights(user, opts["person_id"])
        except PersonNotFound as exc:
            raise CommandError(
                f"no person {opts['person_id']} that {user.username}'s authority is involved with"
            ) from exc
        out = Path(opts["out"])
        target = out.with_suffix(".zip") if opts["protect"] else out
        if target.exists():
            raise CommandError(f"{target} exists: choose a new file name")
        try:
            # The audit entry and the file together: a file that cannot be written leaves no entry.
            with transaction.atomic():
                made = rights.subject_access_export(
                    access.person, user=user, fmt=opts["format"], protect=opts["protect"]
                )
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(made.body)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except OSError as exc:
            raise CommandError(f"could not write {target}: {exc.strerror}") from exc
        self.stdout.write(f"wrote {target} ({len(made.body)} bytes); audit entry #{made.audit.seq}")
        if made.password:
            self.stdout.write(f"password (shown once; send it by a different route from the file): {made.password}")
        self.stdout.write("Review every item marked third_party before anything is released.")
