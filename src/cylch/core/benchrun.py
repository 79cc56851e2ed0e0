"""Run a benchmark worker in its own process on a database made for the run and removed after.

A benchmark can then never touch a real hub, and each database starts cold and alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def postgres_url(base: str, name: str) -> str:
    """``base`` (a server URL ending in a database name) pointed at database ``name``."""
    return base.rsplit("/", 1)[0] + "/" + name


def run_worker(database: str, postgres: str, args: list[str], *, name: str) -> dict:
    """``cylch <args>`` in a fresh process on a throwaway ``database`` ("sqlite" or
    "postgresql"); returns the JSON the worker prints last."""
    env = dict(os.environ, CYLCH_TESTING="1", CYLCH_DEMO="1")
    env.pop("CYLCH_DB_CONN_MAX_AGE", None)  # the hub's default
    db_name = f"{name}_{os.getpid()}"
    if database == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix=f"{name}-")
        env["DATABASE_URL"] = f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
        cleanup = tmp.cleanup
    elif database == "postgresql":
        import psycopg

        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db_name}"')
        env["DATABASE_URL"] = postgres_url(postgres, db_name)

        def cleanup():
            with psycopg.connect(postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    else:
        raise ValueError(f"unknown database {database!r}: sqlite or postgresql")
    try:
        out = subprocess.run(
            [sys.executable, "-m", "cylch.cli", *args], env=env, check=True, stdout=subprocess.PIPE, text=True
        )
    finally:
        cleanup()
    return json.loads(out.stdout.strip().splitlines()[-1])
