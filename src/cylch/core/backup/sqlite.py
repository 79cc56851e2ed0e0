"""SQLite: copied with the online backup API, restored by renaming a checked copy over the file.

The backup API copies the database in one read transaction, so the copy is consistent while the hub
keeps writing in WAL mode. A restore stages the copy beside the hub's file (same directory, so the
final rename is atomic) and checks that nothing else has the database open first: SQLite refuses to
leave WAL mode while another connection is open, and a process still writing to the old file after
the rename would lose its writes.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

from cylch.core.backup.archive import DUMP_MEMBER
from cylch.core.backup.base import BackupError, Snapshot, data_tables, describe, quote, same_owner


def _path() -> Path:
    return Path(settings.DATABASES[DEFAULT_DB_ALIAS]["NAME"])


def _tables(conn: sqlite3.Connection) -> dict[str, str]:
    names = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return {name: quote(name) for (name,) in names.fetchall()}


def _settle(path: Path) -> None:
    """Fold the write-ahead log into the file and leave WAL mode, so the file stands alone. Fails
    (``database is locked``) while another connection has the database open."""
    conn = sqlite3.connect(path, timeout=1.0)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    finally:
        conn.close()
    if mode != "delete":
        raise sqlite3.OperationalError(f"the journal mode stayed {mode}")


def snapshot(work: Path) -> Snapshot:
    source = _path()
    if not source.is_file():
        raise BackupError(f"There is no database at {source}: check DATABASE_URL and CYLCH_VAR_DIR.")
    dump = work / DUMP_MEMBER["sqlite"]
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(dump)
    try:
        src.backup(dst)  # in one step: one read transaction, so one consistent state
        src.close()
        dst.execute("PRAGMA journal_mode=DELETE")
        problems = [row[0] for row in dst.execute("PRAGMA integrity_check(10)").fetchall()]
        if problems != ["ok"]:
            raise BackupError(
                f"The database {source} fails SQLite's integrity check ({'; '.join(problems)}); no archive was "
                "written. Restore the latest good archive (docs/backup.md)."
            )
        rows, migrations, head = describe(dst, _tables(dst))
    finally:
        src.close()
        dst.close()
    return Snapshot(dump, rows, migrations, head, {"sqlite_version": sqlite3.sqlite_version})


def holds_data() -> list[str]:
    target = _path()
    if not target.exists():
        return []
    conn = sqlite3.connect(target, timeout=30)
    try:
        return data_tables(conn, _tables(conn))
    finally:
        conn.close()


def work_dir() -> Path:
    """Where a restore extracts the dump: beside the database, so the final rename stays on one file system."""
    directory = _path().parent
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def stage(dump: Path, manifest: dict[str, Any], stamp: str) -> str:
    target = _path()
    staged = target.with_name(f"{target.name}.restore-{stamp}")
    os.replace(dump, staged)
    return str(staged)


def count(staged: str) -> dict[str, int]:
    conn = sqlite3.connect(staged)
    try:
        return describe(conn, _tables(conn))[0]
    finally:
        conn.close()


def swap(staged: str, stamp: str) -> str:
    """Rename the checked copy over the hub's file; keep the old one (a hard link) as ``.replaced-<stamp>``."""
    target = _path()
    _settle(Path(staged))
    if not target.exists():
        os.replace(staged, target)
        return ""
    try:
        _settle(target)
    except sqlite3.OperationalError as exc:
        raise BackupError(
            f"The database {target} is in use ({exc}): stop the web server and the worker, then run the restore again."
        ) from exc
    for sidecar in ("-wal", "-shm"):  # emptied by the checkpoint; they must not meet the new file
        Path(f"{target}{sidecar}").unlink(missing_ok=True)
    kept = target.with_name(f"{target.name}.replaced-{stamp}")
    try:
        os.link(target, kept)
    except OSError:  # a file system without hard links
        shutil.copy2(target, kept)
    same_owner(Path(staged), target)
    os.replace(staged, target)  # atomic: the hub finds the old file or the new one, never neither
    return str(kept)


def discard(staged: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{staged}{suffix}").unlink(missing_ok=True)
