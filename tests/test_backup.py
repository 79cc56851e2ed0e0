"""Backup and restore (`cylch backup`, `cylch restore`, docs/backup.md).

The round trips run the real commands in a subprocess on a hub of their own (a SQLite file in
tmp_path; a scratch PostgreSQL database), never on the test database: back up a hub holding the
Prydderch household and a report with a photograph, change it, restore, and find the hub as the
archive recorded it. Every refusal is checked: a damaged, truncated, tampered, foreign or
too-new archive, a hub that holds data or is in use, and a restored audit chain that does not verify.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from cylch.core import backup

# Hubs of its own (a SQLite file, a scratch PostgreSQL database) whatever the settings name: run
# once, in the SQLite pass of make test.
pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parents[1]
PG_SERVER = os.environ.get("CYLCH_BACKUP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

# Run in the hub's own process: migrate, then the household, a report and its photograph, written
# through the services as the hub writes them.
POPULATE = """
import sys
import django
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
from cylch.reports.attachments import attachment_add
from cylch.reports.services import SubjectIn, report_submit
from tests.factories import prydderch_household
family = prydderch_household()
report = report_submit(channel="practitioner", children=[SubjectIn(person=family.alys)], what_happened="Bruise on cheek.",
                       concern_codes=["social_care.abuse.physical.concern"], maker=family.staff.school_lead)
attachment_add(report=report, uploaded=SimpleUploadedFile("bruise.png", bytes.fromhex(sys.argv[1])))
"""
# A change made after the backup, which the restore must undo.
CHANGE = "UPDATE identity_person SET given_name = 'Changed' WHERE given_name = 'Alys'"
ALYS = "SELECT COUNT(*) FROM identity_person WHERE given_name = 'Alys'"


def hub_env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, CYLCH_TESTING="1", CYLCH_DEMO="1", DATABASE_URL=database_url, CYLCH_VAR_DIR=str(var_dir),
               DJANGO_SETTINGS_MODULE="cylch.settings", PYTHONPATH=str(ROOT), **extra)  # fmt: skip
    for name in ("CYLCH_UPLOAD_DIR", "CYLCH_PG_BIN", "CYLCH_DB_CONN_MAX_AGE"):
        if name not in extra:
            env.pop(name, None)
    return env


def cylch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cylch.cli", *map(str, args)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180, check=False)  # fmt: skip


def populate(env: dict[str, str]) -> subprocess.Popen:
    """Start building a hub (it is waited for by ``built``)."""
    return subprocess.Popen([sys.executable, "-c", POPULATE, PNG.hex()], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def built(build: subprocess.Popen) -> None:
    _out, err = build.communicate(timeout=300)
    assert build.returncode == 0, err[-3000:]


def manifest_of(archive: Path) -> dict:
    with zipfile.ZipFile(archive) as zf:
        return json.loads(zf.read("manifest.json"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rewrite(archive: Path, out: Path, *, members: dict[str, bytes] | None = None, manifest: dict | None = None) -> Path:
    """A copy of ``archive`` with some members' bytes or the manifest replaced (a valid ZIP: only the
    manifest's checksums can tell)."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest).encode()
            dst.writestr(name, (members or {}).get(name, data))
    return out


def sqlite_rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        with conn:  # commits a change
            return conn.execute(sql).fetchall()
    finally:
        conn.close()


# --- SQLite -------------------------------------------------------------------------------------------


@dataclass
class Hubs:
    sqlite: Path
    pg_build: subprocess.Popen | None = None
    pg: tuple[str, str, Path] | None = None  # database name, URL, var dir
    pg_unreachable: str = ""


@pytest.fixture(scope="module")
def hubs(tmp_path_factory):
    """A SQLite hub and a scratch PostgreSQL database ``cylch_backup_test_<random>``, each migrated and
    holding the household, one report and its photograph. Both are built at once: PostgreSQL's
    migrations mostly wait on the server. Every database made from the scratch name is dropped at the end."""
    import psycopg

    root = tmp_path_factory.mktemp("hubs")
    (root / "sqlite").mkdir()
    found = Hubs(root / "sqlite")
    sqlite_build = populate(hub_env(f"sqlite:///{found.sqlite / 'cylch.sqlite3'}", found.sqlite))
    try:
        psycopg.connect(PG_SERVER, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        found.pg_unreachable = f"PostgreSQL is unreachable at {PG_SERVER}: {exc}"
    else:
        name = f"cylch_backup_test_{secrets.token_hex(4)}"
        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        found.pg = (name, PG_SERVER.rsplit("/", 1)[0] + "/" + name, root / "pg")
        found.pg[2].mkdir()
        found.pg_build = populate(hub_env(found.pg[1], found.pg[2]))
    try:
        built(sqlite_build)
        yield found
    finally:
        if found.pg:
            found.pg_build.communicate(timeout=300)
            with psycopg.connect(PG_SERVER, autocommit=True) as conn:
                left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [found.pg[0] + "%"])
                for (db,) in left.fetchall():
                    conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')


@pytest.fixture
def sqlite_hub(hubs, tmp_path) -> tuple[Path, dict[str, str]]:
    """A copy of the SQLite hub for one test."""
    var = tmp_path / "hub"
    shutil.copytree(hubs.sqlite, var)
    return var, hub_env(f"sqlite:///{var / 'cylch.sqlite3'}", var)


@pytest.fixture(scope="module")
def backed_up(hubs, tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """A copy of the SQLite hub and an archive of it. The round trip goes on to change and restore
    that hub; the other tests only read or tamper with copies of the archive."""
    var = tmp_path_factory.mktemp("backed-up") / "hub"
    shutil.copytree(hubs.sqlite, var)
    env = hub_env(f"sqlite:///{var / 'cylch.sqlite3'}", var)
    archive = var.parent / "cylch.zip"
    reader = sqlite3.connect(var / "cylch.sqlite3", isolation_level=None)  # the running hub, mid-request
    reader.execute("BEGIN")
    reader.execute(ALYS).fetchone()
    done = cylch(env, "backup", "--out", archive)
    reader.execute("COMMIT")
    reader.close()
    assert done.returncode == 0, done.stderr
    assert "backup written" in done.stdout
    return var, env, archive


@pytest.fixture
def sqlite_archive(backed_up) -> Path:
    return backed_up[2]


def test_sqlite_round_trip(backed_up, tmp_path):
    """A backup taken while the hub is reading lists every member with its checksum and is recorded
    in the audit log; a restore refuses a hub holding data (or in use), then with --replace brings back
    exactly what the archive recorded, files included, and the chain verifies; a new machine with no
    database restores it without --replace."""
    var, env, archive = backed_up
    db = var / "cylch.sqlite3"
    assert oct(archive.stat().st_mode & 0o777) == oct(0o600)
    manifest = manifest_of(archive)
    (stored,) = [name for name in manifest["members"] if name.startswith("uploads/")]
    assert manifest["engine"] == "sqlite" and manifest["version"] == 1
    assert manifest["rows"]["reports_report"] == 1 and manifest["rows"]["access_user"] >= 8
    assert manifest["rows"]["access_auditentry"] == manifest["audit_head"]["seq"] > 0
    assert "0003_audit_head" in manifest["migrations"]["access"]
    with zipfile.ZipFile(archive) as zf:
        assert zf.read(stored) == PNG
        for name, member in manifest["members"].items():
            assert hashlib.sha256(zf.read(name)).hexdigest() == member["sha256"], name
    (last,) = sqlite_rows(db, "SELECT purpose, object_id FROM access_auditentry ORDER BY seq DESC LIMIT 1")
    assert last == ("backup taken", sha256(archive))

    sqlite_rows(db, CHANGE)
    before = sha256(db)
    refused = cylch(env, "restore", archive)
    assert refused.returncode == 1 and "already holds data" in refused.stderr and "--replace" in refused.stderr
    assert sha256(db) == before

    reader = sqlite3.connect(db)  # a worker that has read the database and is still connected
    reader.execute(ALYS).fetchall()
    busy = cylch(env, "restore", archive, "--replace")
    reader.close()
    assert busy.returncode == 1 and "is in use" in busy.stderr, busy.stderr
    assert sha256(db) == before and not list(var.glob("cylch.sqlite3.restore-*"))

    done = cylch(env, "restore", archive, "--replace")
    assert done.returncode == 0, done.stderr
    assert "audit chain intact" in done.stdout and "kept as" in done.stdout
    restored = dict(sqlite_rows(db, "SELECT name, 0 FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))  # fmt: skip
    for table in restored:
        (count,) = sqlite_rows(db, f'SELECT COUNT(*) FROM "{table}"')[0]
        assert count == manifest["rows"][table] + (table == "access_auditentry"), table
    (last,) = sqlite_rows(db, "SELECT purpose, object_id, actor_label FROM access_auditentry ORDER BY seq DESC LIMIT 1")
    assert last[:2] == ("restored from backup", sha256(archive)) and "(cylch restore)" in last[2]
    assert (var / "uploads" / stored.removeprefix("uploads/")).read_bytes() == PNG
    assert sqlite_rows(db, ALYS) == [(1,)]
    (kept,) = var.glob("cylch.sqlite3.replaced-*")
    assert sqlite_rows(kept, ALYS) == [(0,)]
    verified = cylch(env, "audit", "verify")
    assert verified.returncode == 0 and "audit chain intact" in verified.stdout

    fresh = tmp_path / "new-machine"
    done = cylch(hub_env(f"sqlite:///{fresh / 'db' / 'cylch.sqlite3'}", fresh), "restore", archive)
    assert done.returncode == 0, done.stderr
    assert sqlite_rows(fresh / "db" / "cylch.sqlite3", "SELECT COUNT(*) FROM reports_report") == [(1,)]
    assert (fresh / "uploads" / stored.removeprefix("uploads/")).read_bytes() == PNG


def test_a_changed_byte_in_the_dump_is_refused_before_anything_is_touched(sqlite_archive, sqlite_hub, tmp_path):
    """One byte changed in the database member, in a well-formed archive: the restore names the
    member and the checksum, and the hub's database is as it was."""
    var, env = sqlite_hub
    with zipfile.ZipFile(sqlite_archive) as zf:
        dump = bytearray(zf.read("database.sqlite3"))
    dump[len(dump) // 2] ^= 0x01
    tampered = rewrite(sqlite_archive, tmp_path / "tampered.zip", members={"database.sqlite3": bytes(dump)})
    before = sha256(var / "cylch.sqlite3")
    done = cylch(env, "restore", tampered, "--replace")
    assert done.returncode == 1
    assert "database.sqlite3 does not match its SHA-256" in done.stderr and "Nothing was restored" in done.stderr
    assert sha256(var / "cylch.sqlite3") == before and sorted(p.name for p in var.iterdir()) == ["cylch.sqlite3", "uploads"]  # fmt: skip


def test_a_restored_copy_whose_audit_chain_is_broken_is_reported_and_not_put_in_place(sqlite_hub, tmp_path):
    """An audit row edited in the hub before the backup: the archive is taken (a backup must not
    fail on what it copies), but its restore stops at the chain check, names the entry, keeps the
    copy for investigation and leaves the target hub without a database, as it was."""
    var, env = sqlite_hub
    sqlite_rows(var / "cylch.sqlite3", "UPDATE access_auditentry SET purpose = 'nothing to see' WHERE seq = 2")
    archive = tmp_path / "broken.zip"
    assert cylch(env, "backup", "--out", archive).returncode == 0

    target = tmp_path / "other"
    done = cylch(hub_env(f"sqlite:///{target / 'cylch.sqlite3'}", target), "restore", archive)
    assert done.returncode == 1
    assert "audit chain is broken at entry #2: entry #2 was altered" in done.stderr and "kept as" in done.stderr
    assert not (target / "cylch.sqlite3").exists()
    (kept,) = target.glob("cylch.sqlite3.restore-*")
    assert sqlite_rows(kept, "SELECT purpose FROM access_auditentry WHERE seq = 2") == [("nothing to see",)]


# --- archives that are refused before anything is touched (no database involved) --------------------


def test_a_byte_flipped_in_the_file_names_the_damaged_member(sqlite_archive, tmp_path):
    """Damage on disk (a byte inside the compressed database member) is caught by the ZIP's CRC or
    the manifest's SHA-256, and the message names the member."""
    raw = bytearray(sqlite_archive.read_bytes())
    with zipfile.ZipFile(sqlite_archive) as zf:
        info = zf.getinfo("database.sqlite3")
    raw[info.header_offset + 200] ^= 0xFF  # inside the compressed data of the database member
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(backup.BackupError, match=r"the member database\.sqlite3 (is damaged|does not match)"):
        backup.archive_verify(damaged)


def test_a_truncated_or_missing_archive_is_refused_clearly(sqlite_archive, tmp_path):
    """Half an archive, no file, or a file that is not a ZIP: each gets a message saying which."""
    cut = tmp_path / "cut.zip"
    cut.write_bytes(sqlite_archive.read_bytes()[: sqlite_archive.stat().st_size // 2])
    with pytest.raises(backup.BackupError, match="is truncated or is not a Cylch backup archive"):
        backup.archive_verify(cut)
    with pytest.raises(backup.BackupError, match="no such file"):
        backup.archive_verify(tmp_path / "absent.zip")
    (tmp_path / "notes.zip").write_bytes(b"not an archive at all")
    with pytest.raises(backup.BackupError, match="is truncated or is not a Cylch backup archive"):
        backup.archive_verify(tmp_path / "notes.zip")


def test_a_member_the_manifest_does_not_list_is_refused(sqlite_archive, tmp_path):
    """An extra file, or one whose path would climb out of the upload directory, is not restored."""
    for name in ("uploads/extra.png", "uploads/../../etc/cron.d/x"):
        with zipfile.ZipFile(sqlite_archive) as src, zipfile.ZipFile(tmp_path / "extra.zip", "w") as dst:
            for member in src.namelist():
                dst.writestr(member, src.read(member))
            dst.writestr(name, PNG)
        with pytest.raises(backup.BackupError, match="unexpected: " + name.replace(".", r"\.")):
            backup.archive_verify(tmp_path / "extra.zip")
        (tmp_path / "extra.zip").unlink()


def test_an_archive_of_another_engine_or_from_newer_code_is_refused(sqlite_archive):
    """A SQLite archive on a PostgreSQL hub, or one listing a migration this code lacks, is refused by name."""
    manifest = backup.archive_verify(sqlite_archive).manifest
    with pytest.raises(backup.BackupError, match="holds a SQLite database but this hub runs on PostgreSQL"):
        backup.manifest_check(manifest, engine="postgresql")
    backup.manifest_check(manifest, engine="sqlite")
    newer = {**manifest, "migrations": {**manifest["migrations"], "access": [*manifest["migrations"]["access"], "0099_future"]}}  # fmt: skip
    with pytest.raises(backup.BackupError, match=r"newer Cylch: this code lacks the migrations access\.0099_future"):
        backup.manifest_check(newer, engine="sqlite")


def test_an_archive_of_an_unknown_format_version_is_refused(sqlite_archive, tmp_path):
    """An archive written by a later format of `cylch backup` is not guessed at."""
    manifest = {**manifest_of(sqlite_archive), "version": 2}
    with pytest.raises(backup.BackupError, match="backup format version 2; this Cylch reads version 1"):
        backup.archive_verify(rewrite(sqlite_archive, tmp_path / "v2.zip", manifest=manifest))


# --- PostgreSQL ---------------------------------------------------------------------------------------


@pytest.fixture
def pg_hub(hubs) -> tuple[str, str, Path]:
    if hubs.pg is None:
        pytest.skip(hubs.pg_unreachable)
    if hubs.pg_build.returncode is None:
        built(hubs.pg_build)
    return hubs.pg


def pg_one(url: str, query: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()[0]


def test_postgresql_round_trip(pg_hub, tmp_path):
    """pg_dump of one snapshot, restored with pg_restore into a new database that is renamed into
    place: a hub holding data is refused without --replace and kept under a 'replaced' name with it;
    the restored hub has exactly the archive's rows and files, and its chain verifies. A server with
    no database of that name yet gets one."""
    import psycopg

    name, url, var = pg_hub
    env = hub_env(url, var)
    archive = tmp_path / "cylch-pg.zip"
    done = cylch(env, "backup", "--out", archive)
    assert done.returncode == 0, done.stderr
    manifest = manifest_of(archive)
    assert manifest["engine"] == "postgresql" and manifest["database"]["server_version"] // 10000 >= 13
    assert manifest["rows"]["reports_report"] == 1 and manifest["rows"]["access_auditentry"] == manifest["audit_head"]["seq"]  # fmt: skip
    with zipfile.ZipFile(archive) as zf:
        assert zf.read("database.pgdump").startswith(b"PGDMP")

    with psycopg.connect(url) as conn:
        conn.execute(CHANGE)
    refused = cylch(env, "restore", archive)
    assert refused.returncode == 1 and "already holds data" in refused.stderr
    assert pg_one(url, ALYS) == 0

    done = cylch(env, "restore", archive, "--replace")
    assert done.returncode == 0, done.stderr
    assert f"audit chain intact ({manifest['audit_head']['seq']} entries)" in done.stdout
    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        for table in tables:
            count = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            assert count == manifest["rows"][table] + (table == "access_auditentry"), table
        last = conn.execute("SELECT purpose, object_id FROM access_auditentry ORDER BY seq DESC LIMIT 1").fetchone()
        assert last == ("restored from backup", sha256(archive))
        (kept,) = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [name + "_replaced_%"]
        ).fetchone()
    assert pg_one(url, ALYS) == 1 and pg_one(PG_SERVER.rsplit("/", 1)[0] + "/" + kept, ALYS) == 0
    (stored,) = [n for n in manifest["members"] if n.startswith("uploads/")]
    assert (var / "uploads" / stored.removeprefix("uploads/")).read_bytes() == PNG

    new_url = url + "_fresh"
    done = cylch(hub_env(new_url, tmp_path / "fresh"), "restore", archive)
    assert done.returncode == 0, done.stderr
    assert pg_one(new_url, "SELECT COUNT(*) FROM reports_report") == 1


def test_client_tools_of_another_postgresql_version_are_refused(pg_hub, tmp_path):
    """A pg_dump whose major version is not the server's (a stand-in script saying 14) is refused by
    name before it runs, and no archive is written."""
    _name, url, var = pg_hub
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 14.11'\n")
    (fake / "pg_dump").chmod(0o755)
    done = cylch(hub_env(url, var, CYLCH_PG_BIN=str(fake)), "backup", "--out", tmp_path / "x.zip")
    assert done.returncode == 1
    assert "pg_dump is PostgreSQL 14 but the server is PostgreSQL" in done.stderr and "CYLCH_PG_BIN" in done.stderr
    assert not list(tmp_path.glob("*.zip")) and not list(tmp_path.glob(".x.zip*"))
