"""Nothing lost (docs/faults.md): SIGKILL the web server in the middle of intake, SIGKILL
``cylch worker`` in the middle of sending email, restart PostgreSQL (fast, and as a crash) under
load, and resend writes while their first send is still being served; then prove that every
acknowledged event and report is stored exactly once, nothing is half-stored, every due email
went out (at most one duplicate per kill, with the same Message-ID), and the audit chain verifies.

Everything is real and in processes of its own: gunicorn with two workers, ``cylch worker``, an
aiosmtpd server in this process, and a private PostgreSQL cluster (initdb and pg_ctl into a
temporary directory, on a free port: the shared server is never restarted). The hubs are cloned
from one migrated template database. Without PostgreSQL's server binaries the web server and
worker tests run on SQLite and the restart test is skipped.

The bounded form (``make test``, CI) makes one or two faults per test. ``CYLCH_FAULT_FULL=1``
(``make soak``) makes more faults over longer streams and runs the web server and worker tests
on SQLite as well. ``CYLCH_FAULT_SEED`` replays a run's choices (not its timing);
``CYLCH_FAULT_RESULTS=FILE`` appends each test's figures to FILE as one JSON line.
"""

from __future__ import annotations

import http.client
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest

pytestmark = pytest.mark.load

ROOT = Path(__file__).resolve().parents[1]
FULL = os.environ.get("CYLCH_FAULT_FULL", "") == "1"
SEED = int(os.environ.get("CYLCH_FAULT_SEED") or secrets.randbits(32))
REQUEST_TIMEOUT = 60  # seconds: a request unanswered for this long counts as a hang
# Sizes: writes the client sends (one in four a report, the rest batches of BATCH events), the
# faults in each test, and the emails queued for the worker.
if FULL:
    INTAKE_OPS, BATCH, SERVER_KILLS, RESTARTS = 600, 10, 8, ["fast", "immediate"] * 4
    EMAILS, WORKER_KILLS = 300, ["window", "random"] * 5
    ENGINES = ("postgresql", "sqlite")
    GIVE_UP = 3600  # seconds: a client that has not finished by then stops (and the test fails)
else:
    INTAKE_OPS, BATCH, SERVER_KILLS, RESTARTS = 48, 5, 1, ["fast", "immediate"]
    EMAILS, WORKER_KILLS = 30, ["window", "random"]
    ENGINES = ("any",)  # PostgreSQL when its binaries are here, else SQLite
    GIVE_UP = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def record(figures: dict) -> None:
    """Print a test's figures (``pytest -s`` shows them) and append them to CYLCH_FAULT_RESULTS."""
    line = json.dumps(figures, sort_keys=True)
    print(f"\nFAULTS {line}")
    if os.environ.get("CYLCH_FAULT_RESULTS"):
        with open(os.environ["CYLCH_FAULT_RESULTS"], "a") as out:
            out.write(line + "\n")


# --- a PostgreSQL cluster of the tests' own -------------------------------------------------------


def pg_bindir() -> Path | None:
    """PostgreSQL's server binaries: CYLCH_FAULT_PG_BIN, else version 15's, else the newest found."""
    found = [Path(os.environ["CYLCH_FAULT_PG_BIN"])] if os.environ.get("CYLCH_FAULT_PG_BIN") else []
    found.append(Path("/usr/lib/postgresql/15/bin"))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    found += sorted(versions, key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()], reverse=True)
    if shutil.which("pg_ctl"):
        found.append(Path(shutil.which("pg_ctl")).parent)
    return next((d for d in found if (d / "initdb").is_file() and (d / "pg_ctl").is_file()), None)


def pg_user() -> tuple[int, int] | None:
    """Who runs the cluster: this user, or ``postgres`` when the tests run as root (initdb refuses
    root). Raises LookupError when running as root and there is no ``postgres`` user."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise LookupError("the tests run as root and there is no 'postgres' user to run PostgreSQL as") from None
    return user.pw_uid, user.pw_gid


class Cluster:
    """initdb and pg_ctl into a temporary directory, listening on 127.0.0.1 on a free port. The
    directory is made with mkdtemp rather than under pytest's tmp_path, which the ``postgres`` user
    cannot enter when the tests run as root."""

    def __init__(self, bindir: Path, ids: tuple[int, int] | None):
        self.bindir, self.ids = bindir, ids
        self.root = Path(tempfile.mkdtemp(prefix="cylch-faults-pg-"))
        self.data, self.log = self.root / "data", self.root / "postgres.log"
        self.port = free_port()
        try:
            if ids:
                os.chown(self.root, *ids)
            self.pg("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n")
                conf.write(f"unix_socket_directories = '{self.root}'\n")
            self.pg("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start")
        except BaseException:
            self.close()
            raise

    def pg(self, program: str, *args) -> subprocess.CompletedProcess:
        user = {"user": self.ids[0], "group": self.ids[1]} if self.ids else {}
        done = subprocess.run([str(self.bindir / program), *map(str, args)], cwd=self.root, capture_output=True,
                              text=True, timeout=180, check=False, **user)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(map(str, args))} failed: {done.stdout}{done.stderr}")
        return done

    def restart(self, mode: str) -> None:
        """``pg_ctl restart -m fast`` (sessions ended, a clean shutdown) or ``-m immediate`` (no
        shutdown at all, as after a crash: the server recovers from its WAL on start)."""
        self.pg("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "120", "-m", mode, "restart")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.pg("pg_ctl", "-D", self.data, "-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


# --- hubs: a database with the Prydderch household and API tokens, served by real processes ----

# Run in the hub's own process: migrate, the household and its agencies, a token for the GP
# practice (event batches) and one for the school (reports).
SETUP = """
import json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
from cylch.access.services import api_token_create
from tests.factories import prydderch_household
family = prydderch_household()
orgs = {}
for name in ("gp", "school"):
    org = getattr(family.orgs, name)
    _token, plain = api_token_create(organisation=org, name="fault tests")
    orgs[name] = {"token": plain, "id": org.pk, "code": org.code}
print(json.dumps(orgs))
"""


@dataclass
class Hub:
    engine: str
    url: str
    var: Path
    orgs: dict

    def env(self, **extra: str) -> dict[str, str]:
        """A hub process's environment: the demo hub's settings (plain http on loopback), nothing
        inherited from the test run's own CYLCH_ or Django settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CYLCH_", "DJANGO_")) and k != "DATABASE_URL"}
        env.update(DATABASE_URL=self.url, CYLCH_DEMO="1", CYLCH_VAR_DIR=str(self.var), PYTHONPATH=str(ROOT),
                   DJANGO_SETTINGS_MODULE="cylch.settings")  # fmt: skip
        env.update(extra)
        return env

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        if self.engine == "postgresql":
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                return list(conn.execute(sql, params).fetchall())
        conn = sqlite3.connect(self.url.removeprefix("sqlite:///"))
        try:
            return list(conn.execute(sql.replace("%s", "?"), params).fetchall())
        finally:
            conn.close()

    def audit_verify(self) -> tuple[bool, str]:
        """``cylch audit verify``: exit status and what it said."""
        done = subprocess.run([sys.executable, "-m", "cylch.cli", "audit", "verify"], env=self.env(), cwd=ROOT,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        said = (done.stdout + done.stderr).strip()
        return done.returncode == 0, said.splitlines()[-1] if said else f"exit {done.returncode}"


class Hubs:
    """Templates built once per module (migrating takes tens of seconds), cloned for each test."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self._cluster: Cluster | None = None
        self.cluster_problem = ""
        self._templates: dict[str, Hub] = {}
        self.bindir, self.ids = pg_bindir(), None
        if self.bindir is None:
            self.cluster_problem = "PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
        else:
            try:
                self.ids = pg_user()
            except LookupError as exc:
                self.cluster_problem = str(exc)

    @property
    def cluster(self) -> Cluster:
        """The private cluster, started on first use; the test is skipped if it cannot be run here."""
        if self._cluster is None:
            if self.cluster_problem:
                pytest.skip(self.cluster_problem)
            self._cluster = Cluster(self.bindir, self.ids)
        return self._cluster

    def has_postgresql(self) -> bool:
        return not self.cluster_problem

    def _template(self, engine: str) -> Hub:
        if engine not in self._templates:
            var = self.workdir / f"template-{engine}"
            var.mkdir()
            if engine == "postgresql":
                self.cluster.execute('CREATE DATABASE "cylch_faults_template"')
                url = self.cluster.url("cylch_faults_template")
            else:
                url = f"sqlite:///{var / 'cylch.sqlite3'}"
            hub = Hub(engine, url, var, {})
            done = subprocess.run([sys.executable, "-c", SETUP], env=hub.env(), cwd=ROOT, capture_output=True,
                                  text=True, timeout=600, check=False)  # fmt: skip
            assert done.returncode == 0, done.stderr[-3000:]
            hub.orgs = json.loads(done.stdout.strip().splitlines()[-1])
            self._templates[engine] = hub
        return self._templates[engine]

    def new(self, engine: str) -> Hub:
        """A fresh hub cloned from the engine's template ("any": PostgreSQL if it is here)."""
        if engine == "any":
            engine = "postgresql" if self.has_postgresql() else "sqlite"
        template = self._template(engine)
        name = f"cylch_faults_{secrets.token_hex(4)}"
        var = self.workdir / name
        var.mkdir()
        if engine == "postgresql":
            self.cluster.execute(f'CREATE DATABASE "{name}" TEMPLATE "cylch_faults_template"')
            return Hub(engine, self.cluster.url(name), var, template.orgs)
        for suffix in ("", "-wal", "-shm"):
            source = template.var / f"cylch.sqlite3{suffix}"
            if source.exists():
                shutil.copyfile(source, var / source.name)
        return Hub(engine, f"sqlite:///{var / 'cylch.sqlite3'}", var, template.orgs)

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.close()


@pytest.fixture(scope="module")
def hubs(tmp_path_factory):
    made = Hubs(tmp_path_factory.mktemp("faults"))
    try:
        yield made
    finally:
        made.close()


def group_pids(pgid: int) -> list[int]:
    """Live (not zombie) processes in a process group."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


class WebServer:
    """gunicorn serving ``cylch.wsgi`` with two sync workers, in a process group of its own."""

    def __init__(self, hub: Hub, **env: str):
        self.hub, self.env, self.port = hub, env, free_port()
        self.log = hub.var / "gunicorn.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "gunicorn", "cylch.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
               "--workers", "2", "--timeout", str(REQUEST_TIMEOUT), "--graceful-timeout", "5",
               "--error-logfile", "-", "--log-level", "warning"]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.hub.env(**self.env), cwd=ROOT, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

        def ready() -> bool:
            assert self.proc.poll() is None, f"gunicorn exited: {self.tail()}"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                ok = conn.getresponse().status == 200
                conn.close()
            except OSError:
                return False
            return ok and len(group_pids(self.proc.pid)) >= 3  # the arbiter and both workers

        wait_until(ready, 120, "gunicorn to answer /healthz", interval=0.1)

    def kill(self) -> None:
        """SIGKILL the arbiter and its workers at once, and wait until none is left."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        wait_until(lambda: not group_pids(self.proc.pid), 30, "gunicorn's workers to die")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def errors(self) -> list[str]:
        """The last line of each traceback in the server's log."""
        found, inside = [], False
        for line in self.log.read_text(errors="replace").splitlines() if self.log.exists() else []:
            if line.startswith("Traceback (most recent call last):"):
                inside = True
            elif inside and line and not line.startswith(" "):
                found.append(line[:300])
                inside = False
        return found


# --- the client: numbered event batches and reports, resent until acknowledged --------------------

GIVEN = ["Alys", "Gethin", "Nia", "Osian", "Cerys", "Ifan", "Megan", "Dafydd", "Elin", "Rhys", "Seren", "Tomos"]
FAMILY = ["Prys", "Hughes", "Jenkins", "Morgan", "Rowlands", "Evans", "Pugh", "Lloyd", "Bowen", "Price"]


@dataclass
class Op:
    """One write: a batch of events or a report, sent with the same body (and ids) until a 2xx."""

    n: int
    kind: str  # "events" or "report"
    path: str
    token: str
    body: bytes
    external_ids: list[str]
    acks: list[tuple[int, dict]] = field(default_factory=list)
    failures: int = 0  # sends that got no answer or a server error
    refused: str = ""  # a 4xx: the client cannot put it right by resending, so the test fails


def make_ops(hub: Hub, tag: str, count: int, rng: random.Random) -> list[Op]:
    """``count`` writes, one in four a report from the school's system, the rest event batches from
    the GP practice's: new people, so each write stands alone."""
    ops = []
    for n in range(count):
        if n % 4 == 3:
            ext = f"{tag}-r{n}"
            body = {
                "external_id": ext,
                "children": [
                    {
                        "given_name": rng.choice(GIVEN),
                        "family_name": rng.choice(FAMILY),
                        "date_of_birth": f"2018-0{1 + n % 9}-1{n % 10}",
                    }
                ],
                "concern_codes": ["social_care.neglect.concern"],
                "what_happened": f"Arrived hungry again this week (fault test {n}).",
                "local_authority": "ceredigion",
            }
            ops.append(
                Op(n, "report", "/api/v1/reports", hub.orgs["school"]["token"], json.dumps(body).encode(), [ext])
            )
            continue
        people = [
            {"local_id": f"{tag}-{n}-{j}", "given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY),
             "date_of_birth": f"2022-0{1 + (n + j) % 9}-2{j}"}
            for j in range(3)
        ]  # fmt: skip
        events = [
            {"external_id": f"{tag}-{n}-e{i}", "code": "health.appointment.was_not_brought",
             "occurred_at": f"2025-0{1 + i % 9}-1{n % 10}T09:{i:02d}:00Z", "subject": people[i % 3],
             "details": {"service": "health_visiting", "rebooked": True}, "summary": "Not brought to the review"}
            for i in range(BATCH)
        ]  # fmt: skip
        body = json.dumps({"events": events}).encode()
        ops.append(Op(n, "events", "/api/v1/events", hub.orgs["gp"]["token"], body, [e["external_id"] for e in events]))
    return ops


class Client:
    """Four threads sending the writes in order, each resent with the same body after no answer or a
    5xx (a short random pause between), until acknowledged. With ``abandon``, that share of first
    sends hang up without reading the answer (a client whose timeout ran out): the write is stored
    all the same, and the resend, often while the first is still being served, must be answered
    with the stored one."""

    def __init__(self, port: int, ops: list[Op], seed: int, threads: int = 4, abandon: float = 0.0):
        self.port, self.ops, self.abandon = port, ops, abandon
        self.todo = deque(ops)
        self.lock = threading.Lock()
        self.inflight = self.acked = 0
        self.outcomes: Counter[str] = Counter()
        self.failed: list[tuple[float, float]] = []  # when each unanswered or 5xx send began and ended
        self.give_up_at = time.monotonic() + GIVE_UP
        self.threads = [
            threading.Thread(target=self._run, args=(random.Random(seed + i),), daemon=True) for i in range(threads)
        ]

    def start(self) -> Client:
        for t in self.threads:
            t.start()
        return self

    def join(self) -> None:
        for t in self.threads:
            t.join(GIVE_UP + 60)

    def _run(self, rng: random.Random) -> None:
        while True:
            with self.lock:
                if not self.todo:
                    return
                op = self.todo.popleft()
            self._send(op, rng)

    def _send(self, op: Op, rng: random.Random) -> None:
        headers = {"Authorization": f"Bearer {op.token}", "Content-Type": "application/json"}
        while time.monotonic() < self.give_up_at:
            status, data, began = 0, b"", time.monotonic()
            with self.lock:
                self.inflight += 1
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
            try:
                conn.request("POST", op.path, body=op.body, headers=headers)
                if not op.failures and rng.random() < self.abandon:
                    outcome = "abandoned"
                else:
                    response = conn.getresponse()
                    status, data = response.status, response.read()
                    outcome = f"{status // 100}xx"
            except TimeoutError:
                outcome = "timeout"
            except (OSError, http.client.HTTPException):
                outcome = "no answer"
            finally:
                conn.close()
                with self.lock:
                    self.inflight -= 1
                    self.outcomes[outcome] += 1
            if 200 <= status < 300:
                op.acks.append((status, json.loads(data)))
                with self.lock:
                    self.acked += 1
                return
            if 400 <= status < 500:
                op.refused = f"{status}: {data[:500]!r}"
                return
            op.failures += 1
            with self.lock:
                self.failed.append((began, time.monotonic()))
            if outcome != "abandoned":  # an impatient client resends at once
                time.sleep(rng.uniform(0.05, 0.3))

    def when(self, acked: int, timeout: float = 300) -> int:
        """Wait until ``acked`` writes were acknowledged and a request is in flight; return how many are."""
        wait_until(lambda: self.acked >= acked and self.inflight > 0, timeout, f"{acked} acknowledgements")
        return self.inflight


def send_once(port: int, op: Op) -> int:
    """Send a write once; its status, or 0 for no answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("POST", op.path, body=op.body, headers={"Authorization": f"Bearer {op.token}",
                     "Content-Type": "application/json"})  # fmt: skip
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


def fault_points(rng: random.Random, ops: int, faults: int) -> list[int]:
    """After how many acknowledgements each fault comes: spread over the middle of the stream."""
    return sorted(rng.sample(range(ops // 10, ops * 8 // 10), faults))


# --- what must hold afterwards ----------------------------------------------------------------------


def check_intake(hub: Hub, ops: list[Op], tag: str) -> dict:
    """Compare what the client was told with what the database holds. Returns the figures; asserts
    no loss, no duplicate, nothing half-stored, every write audited once, and the chain intact."""
    gp, school = hub.orgs["gp"]["id"], hub.orgs["school"]["id"]
    events = hub.query(
        "SELECT external_id, public_id FROM events_event WHERE organisation_id = %s AND external_id LIKE %s",
        (gp, f"{tag}-%"),
    )
    reports = hub.query(
        "SELECT external_id, reference FROM reports_report WHERE maker_organisation_id = %s AND external_id LIKE %s",
        (school, f"{tag}-%"),
    )
    stored_events: dict[str, list[str]] = {}
    for ext, public_id in events:
        stored_events.setdefault(ext, []).append(str(uuid.UUID(str(public_id))))
    stored_reports: dict[str, list[str]] = {}
    for ext, reference in reports:
        stored_reports.setdefault(ext, []).append(reference)
    stored = stored_events | stored_reports
    problems: list[str] = []
    lost = duplicates = half = unacked_stored = confirmed_on_retry = 0
    acked_events = acked_reports = 0
    known = set()
    for op in ops:
        known.update(op.external_ids)
        if op.refused:
            problems.append(f"write {op.n} was refused: {op.refused}")
        counts = [len(stored.get(ext, [])) for ext in op.external_ids]
        duplicates += sum(max(0, c - 1) for c in counts)
        if not op.acks:
            if len(set(counts)) > 1:
                half += 1
                problems.append(f"write {op.n} (never acknowledged) is half-stored: {counts}")
            unacked_stored += bool(counts[0])
            continue
        if op.failures:  # an answer lost to the fault; was the write stored all the same?
            status, body = op.acks[0]
            confirmed_on_retry += status == 200 if op.kind == "report" else body["unchanged"] == BATCH
        if op.kind == "events":
            acked_events += len(op.external_ids)
            told = {}
            for _status, body in op.acks:
                for row in body["events"]:
                    told.setdefault(row["external_id"], set()).add(row["id"])
        else:
            acked_reports += 1
            told = {op.external_ids[0]: {body["reference"] for _status, body in op.acks}}
        for ext in op.external_ids:
            rows = stored.get(ext, [])
            if not rows:
                lost += 1
                problems.append(f"{ext} was acknowledged and is not stored")
            elif len(told.get(ext, ())) != 1 or told[ext] != {rows[0]}:
                problems.append(f"{ext}: acknowledged as {sorted(told.get(ext, ()))}, stored as {rows}")
    if duplicates:
        problems.append(f"{duplicates} writes are stored more than once")
    strays = set(stored) - known
    if strays:
        problems.append(f"stored but never sent: {sorted(strays)[:5]}")

    # Each stored report is whole: its child's three events (received, the concern, acknowledged),
    # its acknowledgement email queued once, and one audit entry.
    references = {rows[0] for ext, rows in stored_reports.items()}
    parts = Counter(ext.split(":")[1] for (ext,) in hub.query(
        "SELECT external_id FROM events_event WHERE external_id LIKE %s", ("report:%",)))  # fmt: skip
    emails = Counter(key.split(":")[1] for (key,) in hub.query(
        "SELECT dedupe_key FROM notify_outboxmessage WHERE dedupe_key LIKE %s", ("report:%:report_acknowledged",)))  # fmt: skip
    audited = Counter(ref for (ref,) in hub.query(
        "SELECT object_id FROM access_auditentry WHERE object_type = %s AND purpose = %s", ("report", "report received")))  # fmt: skip
    for ref in sorted(references):
        if (parts[ref], emails[ref], audited[ref]) != (3, 1, 1):
            half += 1
            problems.append(f"report {ref}: {parts[ref]} events, {emails[ref]} emails, {audited[ref]} audit entries")
    # Each stored event is named as created by exactly one audited batch.
    created: Counter[str] = Counter()
    for (detail,) in hub.query("SELECT detail FROM access_auditentry WHERE object_type = %s", ("event_batch",)):
        detail = json.loads(detail) if isinstance(detail, str) else detail
        created.update(detail.get("created", []))
    for ext, rows in stored_events.items():
        if created[rows[0]] != 1:
            problems.append(f"event {ext} appears in {created[rows[0]]} audited batches")
    chain_ok, said = hub.audit_verify()
    if not chain_ok:
        problems.append(f"cylch audit verify: {said}")
    assert not problems, "\n".join(problems[:40])
    return {
        "writes": len(ops), "acknowledged_events": acked_events, "acknowledged_reports": acked_reports,
        "stored_events": len(stored_events), "stored_reports": len(stored_reports), "lost": lost,
        "duplicates": duplicates, "half_stored": half, "unacknowledged_but_stored": unacked_stored,
        "confirmed_on_resend": confirmed_on_retry, "audit": said,
    }  # fmt: skip


# --- 1. the web server killed mid-intake --------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_nothing_acknowledged_is_lost_or_doubled_when_the_web_server_is_killed(hubs, engine):
    """gunicorn (arbiter and both workers) is SIGKILLed while writes are in flight and started again;
    the client resends what was not answered. Every acknowledged event and report is stored exactly
    once with the id it was acknowledged with, a write never acknowledged is stored whole or not at
    all, every write is audited once, and the audit chain verifies."""
    rng = random.Random(SEED)
    hub = hubs.new(engine)
    server = WebServer(hub)
    server.start()
    began = time.monotonic()
    ops = make_ops(hub, "kill", INTAKE_OPS, rng)
    client = Client(server.port, ops, SEED).start()
    in_flight = []
    try:
        for at in fault_points(rng, len(ops), SERVER_KILLS):
            in_flight.append(client.when(at))
            server.kill()
            time.sleep(rng.uniform(0, 1))  # the client meets a closed port meanwhile
            server.start()
        client.join()
    finally:
        server.stop()
    figures = check_intake(hub, ops, "kill")
    assert all(op.acks for op in ops), "the client did not finish"
    # gunicorn died, so the client met closed connections, never a server error.
    assert client.outcomes["5xx"] == 0, server.errors()
    record({"test": "web server killed mid-intake", "engine": hub.engine, "seed": SEED, "kills": SERVER_KILLS,
            "in_flight_at_kills": in_flight, "outcomes": dict(client.outcomes), **figures,
            "seconds": round(time.monotonic() - began)})  # fmt: skip


@pytest.mark.parametrize("engine", ENGINES)
def test_a_resend_racing_its_original_is_answered_with_the_stored_write(hubs, engine):
    """A client hangs up before its answer (its timeout ran out) and resends at once, while the
    first send is still being served: the write is stored once, and the resend is answered with it,
    not with an error. (On SQLite, writes are serialised and there is no race.)"""
    rng = random.Random(SEED + 3)
    hub = hubs.new(engine)
    server = WebServer(hub)
    server.start()
    ops = make_ops(hub, "race", 16, rng)
    client = Client(server.port, ops, SEED + 3, abandon=1.0).start()
    try:
        client.join()
    finally:
        server.stop()
    figures = check_intake(hub, ops, "race")
    assert all(op.acks for op in ops), "the client did not finish"
    record({"test": "resend racing its original", "engine": hub.engine, "seed": SEED + 3,
            "outcomes": dict(client.outcomes), **figures,
            "server_errors_logged": dict(Counter(e.split(":")[0] for e in server.errors()))})  # fmt: skip
    assert client.outcomes["5xx"] == 0, server.errors()


# --- 2. the worker killed mid-delivery ---------------------------------------------------------------

# Run in the hub's own process: reports from the school's system, each acknowledged to its maker by
# email through the outbox (report_submit -> notify_address), as the API would make them.
QUEUE = """
import sys
import django
django.setup()
from cylch.access.models import LocalAuthority, Organisation
from cylch.reports.services import SubjectIn, report_submit
school = Organisation.objects.get(pk=int(sys.argv[1]))
ceredigion = LocalAuthority.objects.get(code="ceredigion")
for i in range(int(sys.argv[2])):
    report_submit(channel="api", children=[SubjectIn(given_name="Plentyn", family_name=f"Rhif{chr(65 + i % 26)}",
                  date_of_birth=f"2017-0{1 + i % 9}-1{i % 10}")], concern_codes=["social_care.neglect.concern"],
                  what_happened=f"Worker fault test {i}.", maker_organisation=school, maker_name="School system",
                  maker_email=f"dsl{i}@school.example", external_id=f"worker-{i}", local_authority=ceredigion)
"""


def message_id(public_id) -> str:
    """The Message-ID the outbox gives a row (a UUID, which SQLite keeps as 32 hex digits)."""
    return f"<{uuid.UUID(str(public_id))}@cylch>"


@dataclass
class Accepted:
    message_id: str
    rcpt_tos: tuple[str, ...]
    subject: str
    body: str


class Mailbox:
    """An SMTP handler that keeps what it accepts and can kill the worker at the moment of
    acceptance: after it has the message, before the worker reads the 250 (the crash window)."""

    def __init__(self):
        self.accepted: list[Accepted] = []
        self.lock = threading.Lock()
        self.kill_at: tuple[int, subprocess.Popen] | None = None

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        with self.lock:
            self.accepted.append(Accepted(str(message["Message-ID"]), tuple(envelope.rcpt_tos), str(message["Subject"]),
                                          message.get_body(("plain",)).get_content()))  # fmt: skip
            if self.kill_at and len(self.accepted) >= self.kill_at[0]:
                worker = self.kill_at[1]
                self.kill_at = None
                worker.kill()
                worker.wait(30)
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)


@pytest.fixture
def mailbox():
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()


@pytest.mark.parametrize("engine", ENGINES)
def test_every_due_email_goes_when_the_worker_is_killed_mid_delivery(hubs, engine, mailbox):
    """``cylch worker`` is SIGKILLed while sending: once at the instant the mail server accepts a
    message (before the worker can record it), once at a random moment; it is started again each
    time. Every due email reaches the server; the only duplicates are messages accepted in the
    instant before a kill, at most one per kill, with the same Message-ID, recipients and content
    (at least once, and a mail system that drops a repeated Message-ID sees exactly once)."""
    rng = random.Random(SEED + 2)
    hub = hubs.new(engine)
    began = time.monotonic()
    queued = subprocess.run([sys.executable, "-c", QUEUE, str(hub.orgs["school"]["id"]), str(EMAILS)], env=hub.env(),
                            cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert queued.returncode == 0, queued.stderr[-3000:]
    due = {message_id(public_id) for (public_id,) in hub.query(
        "SELECT public_id FROM notify_outboxmessage WHERE status = %s", ("pending",))}  # fmt: skip
    assert len(due) >= EMAILS
    env = hub.env(DJANGO_SETTINGS_MODULE="tests.fault_settings", CYLCH_OUTBOX_LEASE_SECONDS="3",
                  CYLCH_EMAIL_URL=f"smtp://127.0.0.1:{mailbox.port}")  # fmt: skip
    log = hub.var / "worker.log"

    def start() -> subprocess.Popen:
        with open(log, "ab") as out:
            return subprocess.Popen([sys.executable, "-m", "cylch.cli", "worker", "--interval", "0.5"], env=env,
                                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    in_window: list[str] = []  # the Message-ID the server had accepted when each window kill came
    step = max(1, EMAILS // (2 * len(WORKER_KILLS)))
    for kind in WORKER_KILLS:
        worker = start()
        target = mailbox.count() + rng.randint(1, step)
        if kind == "window":
            with mailbox.lock:
                mailbox.kill_at = (target, worker)
            worker.wait(300)
            in_window.append(mailbox.accepted[target - 1].message_id)
        else:
            wait_until(lambda t=target: mailbox.count() >= t, 300, "the worker to send", interval=0.001)
            time.sleep(rng.uniform(0, 0.05))
            worker.kill()
            worker.wait(30)
        assert worker.returncode == -signal.SIGKILL, log.read_text()[-2000:]
    worker = start()
    try:

        def all_sent() -> bool:
            assert worker.poll() is None, log.read_text()[-2000:]
            return not hub.query("SELECT 1 FROM notify_outboxmessage WHERE status <> %s", ("sent",))

        wait_until(all_sent, 300, "every email to be recorded as sent", interval=0.2)
    finally:
        worker.kill()
        worker.wait(30)
    got = Counter(m.message_id for m in mailbox.accepted)
    outbox = {message_id(public_id) for (public_id,) in hub.query("SELECT public_id FROM notify_outboxmessage")}
    assert due <= outbox and set(got) == outbox, (due - set(got), set(got) - outbox)  # every one sent, none foreign
    repeated = {mid: n for mid, n in got.items() if n > 1}
    assert sum(n - 1 for n in repeated.values()) <= len(WORKER_KILLS), repeated
    for mid in repeated:  # the same email again, which a mail system can drop by its Message-ID
        copies = {(m.rcpt_tos, m.subject, m.body) for m in mailbox.accepted if m.message_id == mid}
        assert len(copies) == 1, copies
    chain_ok, said = hub.audit_verify()
    assert chain_ok, said
    record({"test": "worker killed mid-delivery", "engine": hub.engine, "seed": SEED + 2, "kills": WORKER_KILLS,
            "due": len(due), "emails_in_outbox": len(outbox), "accepted_by_server": sum(got.values()),
            "lost": len(outbox - set(got)), "duplicates": sum(n - 1 for n in repeated.values()),
            "duplicates_from_window_kills": sum(got[mid] - 1 for mid in set(in_window)), "audit": said,
            "seconds": round(time.monotonic() - began)})  # fmt: skip


# --- 3. PostgreSQL restarted under load ---------------------------------------------------------------


def quiet_restart(server: WebServer, cluster: Cluster, ops: list[Op]) -> list[int]:
    """Restart PostgreSQL with no request in flight, then resend acknowledged writes one at a time:
    the statuses. A gunicorn worker whose kept connection is younger than CONN_MAX_AGE still holds
    it, though the restart ended it."""
    cluster.restart("fast")
    return [send_once(server.port, op) for op in ops]


def quiet_restart_fresh(hub: Hub, cluster: Cluster, ops: list[Op], **env: str) -> list[int]:
    """``quiet_restart`` on a newly started server whose workers have each just connected."""
    server = WebServer(hub, **env)
    server.start()
    try:
        for op in ops[:4]:
            send_once(server.port, op)
        return quiet_restart(server, cluster, ops)
    finally:
        server.stop()


def test_nothing_acknowledged_is_lost_when_postgresql_restarts_under_load(hubs):
    """A private PostgreSQL is restarted while writes are in flight: once with ``-m fast`` (sessions
    ended, clean shutdown), once with ``-m immediate`` (no shutdown: crash recovery from the WAL).
    While it is away the server answers 5xx (it does not hang, nor drop connections), the client
    resends, and every acknowledged write is stored exactly once, whole, audited, in an intact
    chain. After a restart with no traffic, each web worker fails at most one request (on the
    connection it kept, which the restart ended) and then serves again."""
    rng = random.Random(SEED + 1)
    hub = hubs.new("postgresql")
    server = WebServer(hub)
    server.start()
    began = time.monotonic()
    ops = make_ops(hub, "restart", INTAKE_OPS, rng)
    client = Client(server.port, ops, SEED + 1).start()
    in_flight, away = [], []
    try:
        for at, mode in zip(fault_points(rng, len(ops), len(RESTARTS)), RESTARTS, strict=True):
            in_flight.append(client.when(at))
            away.append((time.monotonic(),))
            hubs.cluster.restart(mode)
            away[-1] += (time.monotonic(),)
        client.join()
        quiet = quiet_restart(server, hubs.cluster, [op for op in ops if op.kind == "events"][:6])
        assert server.proc.poll() is None, "gunicorn died"
    finally:
        server.stop()
    extra = {}
    if FULL:  # on new servers, with the hub's settings and with Django's connection health checks
        probe = [op for op in ops if op.kind == "events"][:6]
        extra["quiet_restart_new_server"] = quiet_restart_fresh(hub, hubs.cluster, probe)
        extra["quiet_restart_health_checks"] = quiet_restart_fresh(
            hub, hubs.cluster, probe, DJANGO_SETTINGS_MODULE="tests.fault_settings", CYLCH_DB_CONN_HEALTH_CHECKS="1"
        )
    figures = check_intake(hub, ops, "restart")
    assert all(op.acks for op in ops), "the client did not finish"
    assert client.outcomes["timeout"] == 0 and client.outcomes["no answer"] == 0, dict(client.outcomes)
    assert client.outcomes["5xx"] > 0, "no request met the database away: the restarts missed the stream"
    # Server errors that did not overlap a restart: a worker's first use of a connection a restart ended.
    after_back = sum(1 for sent, answered in client.failed if not any(s <= answered and sent <= e for s, e in away))
    assert set(quiet) <= {200, 500} and quiet.count(500) <= 2 and quiet[-1] == 200, quiet
    if FULL:
        fresh = extra["quiet_restart_new_server"]
        assert set(fresh) <= {200, 500} and fresh.count(500) <= 2 and fresh[-1] == 200, fresh
        assert extra["quiet_restart_health_checks"] == [200] * len(probe), extra
    record({"test": "PostgreSQL restarted under load", "engine": hub.engine, "seed": SEED + 1,
            "restarts": RESTARTS, "in_flight_at_restarts": in_flight, "outcomes": dict(client.outcomes),
            "database_away_seconds": [round(end - start, 1) for start, end in away],
            "server_errors_logged": dict(Counter(e.split(":")[0] for e in server.errors())),
            "errors_outside_restarts": after_back, "quiet_restart": quiet, **extra, **figures,
            "seconds": round(time.monotonic() - began)})  # fmt: skip
