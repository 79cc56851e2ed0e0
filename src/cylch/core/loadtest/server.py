"""The hub a load run serves and the server that serves it.

``Hub``: a PostgreSQL database made for the run (``cylch_bench_http_<pid>_<random>``, dropped
after it) with the demo builder's population and the plan for the load generator
(``world.prepare``). ``Server``: gunicorn serving ``cylch.wsgi`` for it on a free loopback port
(sync workers, 2 × cores + 1 by default, as gunicorn's documentation suggests), its log kept.
``RssSampler`` reads the workers' resident memory from ``/proc``; ``warm`` has every worker load
what it loads once before anything is measured.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cylch.core.benchrun import postgres_url

DEFAULT_POSTGRES = os.environ.get("CYLCH_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_reachable(url: str = DEFAULT_POSTGRES) -> str | None:
    """None when the server answers, else why not."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except Exception as exc:  # any failure to connect means the same thing here
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the hub: a database of its own with the demo in it ---------------------------------------


@dataclass
class Hub:
    """A PostgreSQL database built by the demo builder, and the plan for the load generator."""

    postgres: str
    name: str
    workdir: Path
    built: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return postgres_url(self.postgres, self.name)

    @property
    def plan(self) -> Path:
        return self.workdir / "plan.json"

    @classmethod
    def create(cls, persons: int, *, postgres: str = DEFAULT_POSTGRES, workdir: Path | None = None) -> Hub:
        import psycopg

        name = f"cylch_bench_http_{os.getpid()}_{secrets.token_hex(3)}"
        hub = cls(postgres, name, Path(workdir or tempfile.mkdtemp(prefix="cylch-load-")))
        hub.workdir.mkdir(parents=True, exist_ok=True)
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cylch.cli",
                    "bench",
                    "load-prepare",
                    "--persons",
                    str(persons),
                    "--plan",
                    str(hub.plan),
                ],
                env=hub.env(CYLCH_TESTING="1"),
                check=True,
                stdout=subprocess.PIPE,
                text=True,
            )
            hub.built = json.loads(out.stdout.strip().splitlines()[-1])
        except BaseException:
            hub.drop()
            raise
        return hub

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process serving this hub: the demo hub's settings over plain http."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CYLCH_") and k != "DATABASE_URL"}
        env.update(DATABASE_URL=self.url, CYLCH_DEMO="1", CYLCH_VAR_DIR=str(self.workdir / "var"), **extra)
        return env

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return list(conn.execute(sql, params).fetchall())

    def counts(self) -> dict[str, int]:
        """Rows that writes add to: events, reports, audit entries, acknowledged alerts."""
        row = self.query(
            "SELECT (SELECT count(*) FROM events_event), (SELECT count(*) FROM reports_report), "
            "(SELECT count(*) FROM access_auditentry), (SELECT count(*) FROM rules_alert WHERE acknowledged_at IS NOT NULL)"
        )[0]
        return dict(zip(("events", "reports", "audit_entries", "alerts_acknowledged"), row, strict=True))

    def verify_audit_chain(self) -> tuple[bool, str]:
        out = subprocess.run(
            [sys.executable, "-m", "cylch.cli", "audit", "verify"], env=self.env(), capture_output=True, text=True
        )
        said = (out.stdout + out.stderr).strip().splitlines()
        return out.returncode == 0, said[-1] if said else f"exit {out.returncode}"

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- the server -------------------------------------------------------------------------------


def _proc_kb(path: str, key: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss_kb(pid: int) -> int:
    return _proc_kb(f"/proc/{pid}/status", "VmRSS:")


def _pss_kb(pid: int) -> int:
    """Proportional set size: pages shared between workers (``--preload``) count once in all,
    where resident memory counts them in every worker."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


class Server:
    """gunicorn serving ``cylch.wsgi`` for a hub on a free loopback port."""

    def __init__(self, hub: Hub, *, workers: int | None = None, threads: int = 1, preload: bool = True):
        self.hub = hub
        self.preload = preload
        self.workers = workers or 2 * (os.cpu_count() or 1) + 1
        self.threads = threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = hub.workdir / f"gunicorn-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def config(self) -> dict:
        return {
            "server": "gunicorn",
            "preload": self.preload,
            "worker_class": "sync" if self.threads == 1 else "gthread",
            "workers": self.workers,
            "threads": self.threads,
            "bind": f"127.0.0.1:{self.port}",
        }

    def start(self, timeout: float = 120) -> Server:
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "cylch.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--timeout",
            "120",
            "--graceful-timeout",
            "10",
            "--error-logfile",
            "-",
            "--log-level",
            "warning",
        ]
        if self.preload:  # settle once in the arbiter; the workers share it (cylch.core.runtime)
            cmd.append("--preload")
        if self.threads > 1:
            cmd += ["--worker-class", "gthread", "--threads", str(self.threads)]
        (self.hub.workdir / "var").mkdir(exist_ok=True)
        # gunicorn's own log and Django's (a server error's traceback) both go to stderr: keep them.
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.hub.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as r:
                    if r.status == 200 and len(self.worker_pids()) == self.workers:
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s: {self.tail()}")

    def errors(self) -> list[str]:
        """The exception line ending each traceback the server logged (a server error's cause)."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []
        found, inside = [], False
        for line in lines:
            if line.startswith("Traceback (most recent call last):"):
                inside = True
            elif inside and line and not line.startswith(" "):
                found.append(line[:300])
                inside = False
            elif line.startswith("DETAIL:") and found:  # PostgreSQL's account of a deadlock or violation
                found[-1] += " " + line[:500]
        return found

    def keep_log(self, directory: Path | None) -> str | None:
        """Copy the server's log out of the run's directory (which is removed with the hub)."""
        if directory is None or not self.log.exists():
            return None
        directory.mkdir(parents=True, exist_ok=True)
        kept = directory / "gunicorn.log"
        shutil.copyfile(self.log, kept)
        return str(kept)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return sorted(int(p) for p in text.split())

    def rss_mb(self) -> dict[int, float]:
        """Resident memory of each worker, MiB."""
        return {pid: round(_rss_kb(pid) / 1024, 1) for pid in self.worker_pids()}

    def pss_mb(self) -> dict[int, float]:
        """Each worker's share of memory, MiB (shared pages divided between their sharers)."""
        return {pid: round(_pss_kb(pid) / 1024, 1) for pid in self.worker_pids()}

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class RssSampler(threading.Thread):
    """The workers' resident memory every ``every`` seconds, while the run lasts."""

    def __init__(self, server: Server, every: float):
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.samples: list[dict] = []
        self.t0 = time.monotonic()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            per = self.server.rss_mb()
            self.samples.append(
                {"t": round(time.monotonic() - self.t0, 1), "workers": per, "total_mb": round(sum(per.values()), 1)}
            )
            self._stop_event.wait(self.every)

    def stop(self) -> list[dict]:
        self._stop_event.set()
        self.join()
        return self.samples


def warm(server: Server, *, per_worker: int = 4) -> dict:
    """Have every worker load what it loads once, before anything is measured.

    The costly one is the linkage model: a worker's first new agency record with a candidate
    in the index loads DuckDB and Splink (about 120 MB, measured). Batches that each carry a
    new record of a known person (same names and date of birth, a new local id, no NHS or
    pupil number, so the model must score it) are sent ``per_worker`` × workers at once: a sync
    worker takes one connection at a time, so while they queue every worker gets several.
    """
    from concurrent.futures import ThreadPoolExecutor

    plan = json.loads(server.hub.plan.read_text())
    jobs = []
    for i in range(per_worker * server.workers):
        sender = plan["senders"][i % len(plan["senders"])]
        # A record whose birth date is its person's, so the code suits whoever it is linked to.
        known = next(s for s in sender["subjects"][i:] + sender["subjects"] if s.get("_born") and s.get("date_of_birth") == s["_born"])  # fmt: skip
        subject = {k: v for k, v in known.items() if k not in ("nhs_number", "upn") and not k.startswith("_")}
        subject["local_id"] = f"warm-{i}"
        age = time.gmtime().tm_year - int(known["_born"][:4])
        codes = sender["codes"]["any"] or (sender["codes"]["child"] if age < 17 else sender["codes"]["adult"])
        code, variants = codes[0]
        event = {
            "external_id": f"warm-ev-{i}",
            "code": code,
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600)),
            "subject": subject,
            "details": variants[0],
        }
        jobs.append((sender["token"], json.dumps({"events": [event]}).encode()))

    def send(job) -> int:
        token, body = job
        req = urllib.request.Request(
            f"{server.url}/api/v1/events",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        statuses = list(pool.map(send, jobs))
    return {
        "requests": len(jobs),
        "ok": sum(1 for s in statuses if s == 200),
        "seconds": round(time.monotonic() - t0, 1),
        "rss_mb": server.rss_mb(),
        "pss_mb": server.pss_mb(),
    }
