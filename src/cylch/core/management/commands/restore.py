"""`cylch restore FILE [--replace]`: put the hub back as an archive recorded it; docs/backup.md."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cylch.core.backup import BackupError, backup_restore, operator_label


class Command(BaseCommand):
    help = (
        "Restore an archive written by `cylch backup`. Every checksum is verified first; the copy is staged, its "
        "row counts and audit chain checked, and only then swapped in. Stop the web server and the worker first."
    )

    # Disaster tools: a failing check elsewhere in the hub (it may be why you restore) must not stop them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path, help="the archive to restore")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="replace a database that already holds data (it is kept under a 'replaced' name)",
        )

    def handle(self, *args, **opts):
        try:
            result = backup_restore(archive=opts["archive"], replace=opts["replace"], actor_label=operator_label("restore"))  # fmt: skip
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.archive.manifest
        lines = [
            f"restored {result.archive.path} (made {manifest['created_at']}, sha256 {result.archive.sha256})",
            f"  checksums verified; row counts match the manifest ({sum(manifest['rows'].values()):,} rows); "
            f"audit chain intact ({result.audit_entries} entries)",
        ]
        if result.migrated:
            lines.append(f"  migrations applied after restore: {', '.join(result.migrated)}")
        if result.replaced_database:
            lines.append(
                f"  the replaced database is kept as {result.replaced_database}: remove it once the hub is checked"
            )
        if result.replaced_uploads:
            lines.append(f"  the replaced uploaded files are kept in {result.replaced_uploads}")
        self.stdout.write("\n".join(lines))
