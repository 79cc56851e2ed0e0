"""`cylch backup --out FILE`: one archive of the hub (database, uploaded files, manifest); docs/backup.md."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cylch.core.backup import BackupError, backup_create, operator_label


class Command(BaseCommand):
    help = (
        "Write one archive of the hub: a consistent copy of the database (safe while the hub runs), the "
        "uploaded files and a manifest with checksums. Restore it with `cylch restore FILE`."
    )

    # Disaster tools: a failing check elsewhere in the hub (it may be why you restore) must not stop them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, required=True, help="the archive to write (an existing file is never overwritten)")  # fmt: skip

    def handle(self, *args, **opts):
        try:
            result = backup_create(out=opts["out"], actor_label=operator_label("backup"))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        uploads = sum(1 for name in manifest["members"] if name.startswith("uploads/"))
        self.stdout.write(
            f"backup written: {result.path} ({result.path.stat().st_size:,} bytes, sha256 {result.sha256})\n"
            f"  {manifest['engine']}: {sum(manifest['rows'].values()):,} rows in {len(manifest['rows'])} tables, "
            f"audit chain to entry #{manifest['audit_head']['seq']}, {uploads} uploaded file(s)"
        )
