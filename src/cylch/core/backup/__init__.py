"""Backup and restore (`cylch backup`, `cylch restore`): one archive format for SQLite and PostgreSQL,
checked before it replaces anything. ``docs/backup.md`` is the operator's procedure.

An archive (``archive.py``) is a ZIP file of the database dump (``sqlite.py``: the online backup
API; ``postgresql.py``: ``pg_dump --format=custom``), the uploaded files, and a manifest: format
version, engine, applied migrations per app, when, row counts per table, the audit chain's head, and
the SHA-256 of every other member.

A restore never works on the hub's database in place. It checks every member's checksum, the
engine and the migrations, then builds a staged copy beside the hub's database, compares its row
counts with the manifest, applies the migrations the archive lacks (it came from older code) and
verifies the audit chain. Only then is the copy put in place, by renaming, with the replaced
database kept under a ``replaced`` name. A copy that fails a check is kept for investigation and the
hub is left as it was. Each backup and restore appends an audit entry: the backup's to the hub it
copied, once the archive is complete; the restore's to the restored chain, once it has verified.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType

import psycopg
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from cylch.core.backup import postgresql, sqlite
from cylch.core.backup.archive import (
    DUMP_MEMBER,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    UPLOADS,
    Archive,
    add_member,
    archive_verify,
    copy_member,
    file_sha256,
    manifest_check,
)
from cylch.core.backup.base import BackupError, same_owner

__all__ = ["BackupError", "archive_verify", "backup_create", "backup_restore", "manifest_check", "operator_label"]

ENGINES: dict[str, ModuleType] = {"sqlite": sqlite, "postgresql": postgresql}


@dataclass(frozen=True)
class BackupResult:
    path: Path
    sha256: str
    manifest: dict


@dataclass(frozen=True)
class RestoreResult:
    archive: Archive
    replaced_database: str
    replaced_uploads: str
    migrated: list[str]
    audit_entries: int


def hub_engine() -> str:
    """``sqlite`` or ``postgresql``: the engine of the hub's default database."""
    vendor = connections[DEFAULT_DB_ALIAS].vendor
    if vendor not in ENGINES:
        raise BackupError(f"cylch backup supports SQLite and PostgreSQL, not {vendor}.")
    return vendor


def operator_label(command: str) -> str:
    """Who ran a backup or restore, for the audit entry: the operating-system account."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        user = "unknown operator"
    return f"{user} (cylch {command})"


@contextmanager
def _plainly(what: str) -> Iterator[None]:
    """A database or file-system failure (server down, disk full, no permission) as a BackupError
    saying what failed, rather than a traceback."""
    try:
        yield
    except (sqlite3.Error, psycopg.Error, DatabaseError, OSError) as exc:
        raise BackupError(f"The {what} failed: {exc}") from exc


def _upload_root() -> Path:
    from cylch.reports.attachments import upload_dir

    return upload_dir()


def _upload_files(root: Path) -> list[tuple[str, Path]]:
    if not root.is_dir():
        return []
    found = sorted(root.rglob("*"))
    return [(path.relative_to(root).as_posix(), path) for path in found if path.is_file() and not path.is_symlink()]


def _cylch_version() -> str:
    try:
        return metadata.version("cylch")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def backup_create(*, out: Path, actor_label: str = "") -> BackupResult:
    """Write one archive of the hub to ``out`` and record it in the audit log. An existing file is
    never overwritten; the archive is written under a temporary name and renamed when complete."""
    with _plainly("backup"):
        return _backup_create(Path(out), actor_label)


def _backup_create(out: Path, actor_label: str) -> BackupResult:
    from cylch.access.audit import audit_record
    from cylch.access.models import AuditAction

    if out.exists():
        raise BackupError(f"{out} already exists: archives are never overwritten, choose a new name.")
    if not out.parent.is_dir():
        raise BackupError(f"The directory {out.parent} does not exist.")
    engine = hub_engine()
    dump_name = DUMP_MEMBER[engine]
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    # The database copy is made beside the archive: on the disk chosen for backups, not in /tmp.
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".cylch-backup-") as work:
        snapshot = ENGINES[engine].snapshot(Path(work))
        uploads = _upload_files(_upload_root())  # after the database: a file newer than it is harmless
        try:
            with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
                with zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
                    # A custom-format dump is compressed already; the SQLite file is not.
                    members = {dump_name: add_member(zf, dump_name, snapshot.dump, compress=engine == "sqlite")}
                    for rel, path in uploads:
                        members[UPLOADS + rel] = add_member(zf, UPLOADS + rel, path, compress=True)
                    manifest = {
                        "format": FORMAT,
                        "version": FORMAT_VERSION,
                        "engine": engine,
                        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                        "cylch_version": _cylch_version(),
                        "database": snapshot.database,
                        "migrations": snapshot.migrations,
                        "rows": snapshot.rows,
                        "audit_head": snapshot.audit_head,
                        "members": members,
                    }
                    zf.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True), zipfile.ZIP_DEFLATED)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(partial, out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    sha256 = file_sha256(out)
    audit_record(
        action=AuditAction.ADMIN, actor_label=actor_label, object_type="backup", object_id=sha256, purpose="backup taken",
        detail={"archive": out.name, "size": out.stat().st_size, "engine": engine, "rows": sum(snapshot.rows.values()),
                "audit_seq": snapshot.audit_head["seq"], "uploads": len(uploads)},
    )  # fmt: skip
    return BackupResult(out, sha256, manifest)


@contextmanager
def _django_on(name: str) -> Iterator[None]:
    """Point Django's default connection at database ``name`` for a while, as the test runner does
    for its test database, so migrations and the audit verifier run on the staged copy."""
    from django.contrib.contenttypes.models import ContentType

    conn = connections[DEFAULT_DB_ALIAS]
    original = conn.settings_dict["NAME"]
    conn.close()
    conn.settings_dict["NAME"] = name
    ContentType.objects.clear_cache()
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict["NAME"] = original
        ContentType.objects.clear_cache()


def _migrate_pending() -> list[str]:
    """Apply the migrations the restored database lacks (it came from older code); return their names."""
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        call_command("migrate", interactive=False, verbosity=0)
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def _count_problem(expected: dict[str, int], found: dict[str, int]) -> str:
    wrong = [
        f"{table} {found.get(table, 'missing')} (manifest {expected.get(table, 'none')})"
        for table in sorted(set(expected) | set(found))
        if found.get(table) != expected.get(table)
    ]
    return f"the row counts differ from the manifest: {', '.join(wrong[:10])}" if wrong else ""


def _check_staged(ops: ModuleType, staged: str, manifest: dict) -> tuple[list[str], int, str]:
    """Row counts against the manifest (before migrations change them), then the migrations the
    archive lacks, then the audit chain. Returns (migrations applied, entries verified, problem)."""
    from cylch.access.audit import audit_verify

    problem = _count_problem(manifest["rows"], ops.count(staged))
    if problem:
        return [], 0, problem
    with _django_on(staged):
        migrated = _migrate_pending()
        verdict = audit_verify()
    if not verdict.ok:
        return (
            migrated,
            verdict.checked,
            f"its audit chain is broken at entry #{verdict.first_bad_seq}: {verdict.problem}",
        )
    return migrated, verdict.checked, ""


def _stage_uploads(zf: zipfile.ZipFile, archive: Archive, root: Path, stamp: str) -> Path | None:
    """Extract the archive's uploads beside the upload directory, ready to be renamed into place."""
    if not archive.uploads and not _upload_files(root):
        return None
    staged = root.with_name(f"{root.name}.restore-{stamp}")
    staged.mkdir(mode=0o700)
    for name in archive.uploads:
        dest = staged / name[len(UPLOADS) :]
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        copy_member(zf, name, archive.manifest["members"][name], dest, archive.path)
    return staged


def _swap_uploads(staged: Path, root: Path, stamp: str) -> str:
    kept = ""
    if root.is_dir():
        for path in [staged, *staged.rglob("*")]:
            same_owner(path, root, mode=path == staged)
        if any(root.iterdir()):
            kept_path = root.with_name(f"{root.name}.replaced-{stamp}")
            os.replace(root, kept_path)
            kept = str(kept_path)
        else:
            root.rmdir()
    os.replace(staged, root)
    return kept


def backup_restore(*, archive: Path, replace: bool = False, actor_label: str = "") -> RestoreResult:
    """Put the hub back as an archive recorded it. Refuses, before touching anything, unless every
    checksum matches, the engine is the hub's, the code knows every migration in it, and (without
    ``replace``) the hub holds no data. Then stages a copy, checks its row counts and audit chain,
    swaps it in, and records the restore in the restored audit log."""
    with _plainly("restore"):
        return _backup_restore(Path(archive), replace, actor_label)


def _backup_restore(archive: Path, replace: bool, actor_label: str) -> RestoreResult:
    from cylch.access.audit import audit_record
    from cylch.access.models import AuditAction

    engine = hub_engine()
    found = archive_verify(archive)
    manifest_check(found.manifest, engine=engine)
    ops = ENGINES[engine]
    root = _upload_root()
    if not replace:
        held = ops.holds_data()
        if held or _upload_files(root):
            what = ", ".join(held[:5]) + (" ..." if len(held) > 5 else "") if held else "uploaded files"
            raise BackupError(
                f"The hub already holds data ({what}). Nothing was changed. To replace it, run the restore again "
                "with --replace (the current database is kept under a 'replaced' name)."
            )
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    connections.close_all()
    dump_name = DUMP_MEMBER[engine]
    with (
        tempfile.TemporaryDirectory(dir=ops.work_dir(), prefix=".cylch-restore-") as work,
        zipfile.ZipFile(found.path) as zf,
    ):
        dump = Path(work) / dump_name
        # Checked again as it is extracted: the file may have changed since it was verified.
        copy_member(zf, dump_name, found.manifest["members"][dump_name], dump, found.path)
        staged = ops.stage(dump, found.manifest, stamp)
        staged_uploads: Path | None = None
        keep = False
        try:
            staged_uploads = _stage_uploads(zf, found, root, stamp)
            migrated, checked, problem = _check_staged(ops, staged, found.manifest)
            if problem:
                keep = True
                raise BackupError(
                    f"The restored copy failed its check: {problem}. The hub was not changed; the copy is kept "
                    f"as {staged} for investigation."
                )
            replaced = ops.swap(staged, stamp)
        except BaseException:
            if not keep:
                ops.discard(staged)
            if staged_uploads:
                shutil.rmtree(staged_uploads, ignore_errors=True)
            raise
    replaced_uploads = _swap_uploads(staged_uploads, root, stamp) if staged_uploads else ""
    connections.close_all()
    audit_record(
        action=AuditAction.ADMIN, actor_label=actor_label, object_type="backup", object_id=found.sha256,
        purpose="restored from backup",
        detail={"archive": found.path.name, "created_at": found.manifest["created_at"], "engine": engine,
                "audit_entries_verified": checked, "migrated": migrated, "replaced_database": replaced,
                "replaced_uploads": replaced_uploads, "uploads": len(found.uploads)},
    )  # fmt: skip
    return RestoreResult(found, replaced, replaced_uploads, migrated, checked)
