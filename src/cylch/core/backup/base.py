"""What the engines share: the error, what a snapshot records, and reading a database through DB-API."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What `migrate` alone puts in a new database: rows there do not make a database "hold data".
BOOKKEEPING_TABLES = frozenset({"django_migrations", "django_content_type", "auth_permission", "access_audithead"})


class BackupError(Exception):
    """A backup or restore was refused or failed. The message says why and what to do; nothing was half-done."""


@dataclass(frozen=True)
class Snapshot:
    """What a database held at the moment it was copied, and where the copy is."""

    dump: Path
    rows: dict[str, int]
    migrations: dict[str, list[str]]
    audit_head: dict[str, Any]
    database: dict[str, Any]


def quote(*parts: str) -> str:
    """A quoted (optionally schema-qualified) identifier; the same in SQLite and PostgreSQL."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def describe(conn, tables: dict[str, str]) -> tuple[dict[str, int], dict[str, list[str]], dict[str, Any]]:
    """Row counts, applied migrations and the audit head, through a DB-API connection (sqlite3 or
    psycopg) in whatever transaction it holds. ``tables`` maps a table's label to its quoted name."""
    rows = {label: conn.execute(f"SELECT COUNT(*) FROM {quoted}").fetchone()[0] for label, quoted in tables.items()}
    migrations: dict[str, list[str]] = {}
    if "django_migrations" in tables:
        for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY app, name").fetchall():
            migrations.setdefault(app, []).append(name)
    head: dict[str, Any] = {"seq": 0, "hash": ""}
    if "access_audithead" in tables:
        found = conn.execute("SELECT last_seq, last_hash FROM access_audithead WHERE id = 1").fetchone()
        if found:
            head = {"seq": found[0], "hash": found[1]}
    return rows, migrations, head


def data_tables(conn, tables: dict[str, str]) -> list[str]:
    """The tables holding rows that a fresh ``migrate`` would not have put there."""
    return [
        label
        for label, quoted in tables.items()
        if label not in BOOKKEEPING_TABLES and conn.execute(f"SELECT 1 FROM {quoted} LIMIT 1").fetchone()
    ]


def same_owner(path: Path, model: Path, *, mode: bool = True) -> None:
    """Give a restored file or directory the owner (and mode) of the one it replaces, so the hub's
    account can still open it when root ran the restore."""
    found = model.stat()
    if mode:
        os.chmod(path, found.st_mode & 0o777)
    with contextlib.suppress(PermissionError):  # not root: the hub's own account ran it, the file is ours
        os.chown(path, found.st_uid, found.st_gid)
