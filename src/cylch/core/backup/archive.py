"""The archive: a ZIP file of the database dump, the uploaded files and ``manifest.json``.

Nothing in an archive is trusted until checked: its manifest must be of this format, the members
must be exactly those the manifest lists (an upload's path may not climb out of the upload
directory), and every member must match the size and SHA-256 the manifest gives it.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from cylch.core.backup.base import BackupError

FORMAT = "cylch-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
UPLOADS = "uploads/"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Archive:
    """An archive whose structure and every checksum were verified."""

    path: Path
    sha256: str
    manifest: dict[str, Any]

    @property
    def uploads(self) -> list[str]:
        return sorted(name for name in self.manifest["members"] if name.startswith(UPLOADS))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def add_member(zf: zipfile.ZipFile, name: str, path: Path, *, compress: bool) -> dict[str, Any]:
    """Stream one file into the archive; return its size and SHA-256 for the manifest."""
    info = zipfile.ZipInfo(name, date_time=datetime.now(UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o600 << 16
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as src, zf.open(info, "w", force_zip64=path.stat().st_size > 2**31) as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def copy_member(zf: zipfile.ZipFile, name: str, expected: dict[str, Any], dest: Path | None, path: Path) -> None:
    """Read one member whole, into a new file ``dest`` if given, and check its size and SHA-256
    against the manifest; a member that does not match leaves no file behind."""
    digest, size = hashlib.sha256(), 0
    out = os.fdopen(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") if dest else None
    try:
        with zf.open(name) as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if out:
                    out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        if dest:
            dest.unlink(missing_ok=True)
        raise BackupError(f"{path}: the member {name} is damaged ({exc}); nothing was restored.") from exc
    finally:
        if out:
            out.close()
    if digest.hexdigest() != expected["sha256"] or size != expected["size"]:
        if dest:
            dest.unlink(missing_ok=True)
        raise BackupError(
            f"{path}: the member {name} does not match its SHA-256 in the manifest: the archive was altered or "
            "damaged. Nothing was restored."
        )


def _safe_member(name: str) -> bool:
    """Only the names a backup writes; an upload's path may not climb out of the upload directory."""
    if name == MANIFEST or name in DUMP_MEMBER.values():
        return True
    if not name.startswith(UPLOADS) or "\\" in name:
        return False
    parts = name[len(UPLOADS) :].split("/")
    return not PurePosixPath(name).is_absolute() and all(part not in ("", ".", "..") for part in parts)


def _manifest_parse(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{path}: {MANIFEST} is not valid JSON ({exc}).") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Cylch backup: its {MANIFEST} does not say format {FORMAT!r}.")
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(
            f"{path} is in backup format version {manifest.get('version')!r}; this Cylch reads version {FORMAT_VERSION}."
        )
    engine = manifest.get("engine")
    if engine not in DUMP_MEMBER:
        raise BackupError(f"{path}: {MANIFEST} names an unknown engine {engine!r}.")
    members = manifest.get("members")
    if not isinstance(members, dict) or DUMP_MEMBER[engine] not in members:
        raise BackupError(f"{path}: {MANIFEST} does not list the database member {DUMP_MEMBER[engine]}.")
    for key in ("migrations", "rows", "database", "audit_head"):
        if not isinstance(manifest.get(key), dict):
            raise BackupError(f"{path}: {MANIFEST} has no valid {key!r}.")
    for name, member in members.items():
        valid = (
            isinstance(member, dict) and isinstance(member.get("sha256"), str) and isinstance(member.get("size"), int)
        )
        if not valid:
            raise BackupError(f"{path}: {MANIFEST} gives no valid checksum for {name}.")
    return manifest


def archive_verify(path: Path) -> Archive:
    """Open an archive and check it whole: its manifest, that it holds exactly the members the manifest
    lists, and every member's SHA-256. Reads only."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such file.")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if MANIFEST not in names:
                raise BackupError(f"{path} is not a Cylch backup: it has no {MANIFEST}.")
            manifest = _manifest_parse(zf.read(MANIFEST), path)
            members = manifest["members"]
            unsafe = [name for name in names if not _safe_member(name)]
            extra = sorted(set(names) - set(members) - {MANIFEST} - set(unsafe))
            missing = sorted(set(members) - set(names))
            if unsafe or extra or missing or len(names) != len(set(names)):
                raise BackupError(
                    f"{path} does not hold what its manifest lists (unexpected: {', '.join(unsafe + extra) or 'none'}; "
                    f"missing: {', '.join(missing) or 'none'}; duplicated: {len(names) - len(set(names))})."
                )
            for name, expected in members.items():
                copy_member(zf, name, expected, None, path)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise BackupError(f"{path} is truncated or is not a Cylch backup archive ({exc}).") from exc
    return Archive(path, file_sha256(path), manifest)


def manifest_check(manifest: dict[str, Any], *, engine: str) -> None:
    """Refuse an archive of another engine, or one made by newer code (migrations this code lacks)."""
    from django.db.migrations.loader import MigrationLoader

    if manifest["engine"] != engine:
        made = ENGINE_NAMES[manifest["engine"]]
        raise BackupError(
            f"The archive holds a {made} database but this hub runs on {ENGINE_NAMES[engine]}: restore it on a hub "
            f"whose DATABASE_URL names a {made} database."
        )
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    unknown = sorted(f"{app}.{name}" for app, names in manifest["migrations"].items() for name in names if (app, name) not in known)  # fmt: skip
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise BackupError(
            f"The archive was made by a newer Cylch: this code lacks the migrations {', '.join(unknown[:5])}{more}. "
            "Install the version that made it (or a later one), then restore."
        )
