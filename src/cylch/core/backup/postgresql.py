"""PostgreSQL: ``pg_dump --format=custom`` of one exported snapshot; restored into a new database
that is renamed into place.

A restore never empties the hub's database: ``pg_restore --single-transaction`` fills a new
database ``<name>_restore_<stamp>`` on the same server, which is checked and then swapped in by two
``ALTER DATABASE ... RENAME`` in one transaction; the old database stays as ``<name>_replaced_<stamp>``.
Renaming needs no other session on either database, and the account needs CREATEDB and ownership of
the hub's database (docs/backup.md).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

from cylch.core.backup.archive import DUMP_MEMBER
from cylch.core.backup.base import BackupError, Snapshot, data_tables, describe, quote

# How long a swap waits for sessions just closed (ours) to leave the server.
SETTLE_SECONDS = 5.0


def _live() -> str:
    return settings.DATABASES[DEFAULT_DB_ALIAS]["NAME"]


def _params(dbname: str | None = None) -> dict[str, Any]:
    """libpq connection parameters of the hub's database (or of ``dbname`` on the same server)."""
    import psycopg

    db = settings.DATABASES[DEFAULT_DB_ALIAS]
    known = {option.keyword.decode() for option in psycopg.pq.Conninfo.get_defaults()}
    params = {k: v for k, v in (db.get("OPTIONS") or {}).items() if k in known and v not in (None, "")}
    base = {"dbname": dbname or db["NAME"], "user": db.get("USER"), "password": db.get("PASSWORD"), "host": db.get("HOST"), "port": db.get("PORT")}  # fmt: skip
    params.update({k: v for k, v in base.items() if v})
    return params


def _connect(dbname: str | None = None, *, autocommit: bool = False):
    import psycopg

    return psycopg.connect(**_params(dbname), autocommit=autocommit)


@contextmanager
def _maintenance() -> Iterator[Any]:
    """A connection to the server's maintenance database, for creating, renaming and dropping databases."""
    import psycopg

    try:
        conn = _connect("postgres", autocommit=True)
    except psycopg.OperationalError:
        conn = _connect("template1", autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


def _conninfo(dbname: str | None = None) -> str:
    """For the client tools; the password goes in their environment, not on a command line."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**{k: str(v) for k, v in _params(dbname).items() if k != "password"})


def _tables(conn) -> dict[str, str]:
    found = conn.execute(
        "SELECT schemaname, tablename FROM pg_catalog.pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
    ).fetchall()
    return {(table if schema == "public" else f"{schema}.{table}"): quote(schema, table) for schema, table in found}


def _exists(conn, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def _name(live: str, word: str, stamp: str) -> str:
    suffix = f"_{word}_{stamp}"
    return live[: 63 - len(suffix)] + suffix  # PostgreSQL names are at most 63 bytes


def tool(name: str, server_version: int) -> str:
    """The path of ``pg_dump`` or ``pg_restore``, checked to be of the server's major version: a newer
    tool writes archives an older one cannot read, and an older one cannot dump a newer server."""
    directory = os.environ.get("CYLCH_PG_BIN", "")
    path = str(Path(directory) / name) if directory else shutil.which(name)
    server = server_version // 10000
    if not path or not os.access(path, os.X_OK):
        raise BackupError(
            f"{name} was not found: install the PostgreSQL {server} client tools or set CYLCH_PG_BIN to their directory."
        )
    said = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", said)
    if not found:
        raise BackupError(f"{path} --version said {said.strip()!r}: it is not a PostgreSQL client tool.")
    if int(found[1]) != server:
        raise BackupError(
            f"{path} is PostgreSQL {found[1]} but the server is PostgreSQL {server}: use the client tools of the "
            f"server's version (set CYLCH_PG_BIN, for example to /usr/lib/postgresql/{server}/bin)."
        )
    return path


def _run(command: list[str]) -> None:
    env = dict(os.environ)
    password = settings.DATABASES[DEFAULT_DB_ALIAS].get("PASSWORD")
    if password:
        env["PGPASSWORD"] = str(password)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def snapshot(work: Path) -> Snapshot:
    import psycopg

    dump = work / DUMP_MEMBER["postgresql"]
    with _connect() as conn:
        # The counts and pg_dump read one snapshot: exported here and held open until the dump is done.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        server_version = conn.info.server_version
        pg_dump = tool("pg_dump", server_version)
        exported = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        encoding, collate, ctype = conn.execute(
            "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        rows, migrations, head = describe(conn, _tables(conn))
        _run([pg_dump, "--format=custom", f"--snapshot={exported}", "--no-password", f"--file={dump}", f"--dbname={_conninfo()}"])  # fmt: skip
        conn.rollback()
    database = {"server_version": server_version, "encoding": encoding, "collate": collate, "ctype": ctype}
    return Snapshot(dump, rows, migrations, head, database)


def holds_data() -> list[str]:
    with _maintenance() as conn:
        if not _exists(conn, _live()):
            return []
    with _connect() as conn:
        return data_tables(conn, _tables(conn))


def work_dir() -> None:
    """The dump is extracted to the system's temporary directory (``TMPDIR``)."""
    return None


def stage(dump: Path, manifest: dict[str, Any], stamp: str) -> str:
    from psycopg import sql

    staged = _name(_live(), "restore", stamp)
    db = manifest["database"]
    with _maintenance() as conn:
        pg_restore = tool("pg_restore", conn.info.server_version)
        # template0: nothing added to template1 on this server can collide with the dump.
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
                sql.Identifier(staged),
                sql.Literal(db["encoding"]),
                sql.Literal(db["collate"]),
                sql.Literal(db["ctype"]),
            )
        )
    try:
        # Objects belong to the hub's database user; grants made by hand are not carried over.
        _run([pg_restore, "--exit-on-error", "--single-transaction", "--no-owner", "--no-acl", "--no-password", f"--dbname={_conninfo(staged)}", str(dump)])  # fmt: skip
    except BaseException:
        discard(staged)
        raise
    return staged


def count(staged: str) -> dict[str, int]:
    with _connect(staged) as conn:
        return describe(conn, _tables(conn))[0]


def _others(conn, name: str) -> int:
    """Sessions on ``name`` other than ours, after waiting briefly for closed ones to leave."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        found = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
        ).fetchone()[0]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def swap(staged: str, stamp: str) -> str:
    from psycopg import sql

    live = _live()
    with _maintenance() as conn:
        exists = _exists(conn, live)
        others = _others(conn, live) if exists else 0
        if others:
            raise BackupError(
                f"The database {live} has {others} other connection(s): stop the web server, the worker and any other "
                "client, then run the restore again."
            )
        _others(conn, staged)
        kept = _name(live, "replaced", stamp) if exists else ""
        rename = sql.SQL("ALTER DATABASE {} RENAME TO {}")
        with conn.transaction():
            if exists:
                conn.execute(rename.format(sql.Identifier(live), sql.Identifier(kept)))
            conn.execute(rename.format(sql.Identifier(staged), sql.Identifier(live)))
    return kept


def discard(staged: str) -> None:
    from psycopg import sql

    with _maintenance() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(staged)))
