"""`cylch bench intake`: events per second stored through the intake service, rules evaluated,
against a floor of the same rows copied into a plain table, on SQLite and PostgreSQL.

What is timed is what ``POST /api/v1/events`` does after parsing: ``record_event_batch`` for one
organisation's batch (all or nothing, one transaction), with each event's subject named by the
sender's own record of the person, the rules evaluated once for the batch over every scope its
new events touch (``evaluate_events``, then the register and lead-coordinator checks, from the
``batch_recorded`` signal) and one audit entry per batch. The senders are the demo's GP practices, schools, police and health visitors,
each sending events about the people it holds records for, in batches of ``--batch`` (100: a
system sending as things happen, not a nightly file); one event in twenty is about someone the
sender has not sent before, so it makes a new record that the linkage model matches against the
index. ``--senders`` processes send at once, each for its own organisations, as separate agency
systems would (PostgreSQL uses both cores; SQLite writes one transaction at a time).

The floor is the cheapest way the same rows could reach the same database: the event rows the
run stored, read back and written again into a plain table (no index, constraint or trigger)
with ``COPY`` on PostgreSQL and ``executemany`` on SQLite, one statement and one commit per
batch as the intake commits per batch. Its ratio (floor rate ÷ intake rate) says how many times
dearer the hub's intake is than moving the bytes, whatever the machine. As many events of the
same mix are then sent with the rules switched off, so the rules' share of the time is measured,
and one batch is profiled to say where the time goes.
"""

from __future__ import annotations

import cProfile
import io
import multiprocessing
import os
import pstats
import random
import re
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta

from cylch.core.benchrun import run_worker

AIM_EVENTS_PER_SECOND = 5000  # issue 10: sustained into PostgreSQL on 2 cores, rules evaluated
SENDER_KINDS = ("gp_practice", "school", "police", "health_visiting")
NEW_SUBJECT_SHARE = 0.05
GIVEN = ["Alys", "Bethan", "Cai", "Dylan", "Elin", "Ffion", "Gruffydd", "Harri", "Iolo", "Megan", "Osian", "Seren"]
FAMILY = ["Bowen", "Davies", "Evans", "Griffiths", "Howells", "Jenkins", "Morgan", "Parry", "Pugh", "Rees"]
SUMMARIES = ["", "", "Seen with mother.", "Did not attend; letter sent.", "Shared with the safeguarding lead."]


def _log(message: str) -> None:
    print(f"[bench intake {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Sender:
    """One organisation's system and the events it will send, already cut into batches."""

    org_id: int
    code: str
    kind: str
    batches: list[list[dict]]


def _codes_by_kind(rng: random.Random) -> dict[str, list[tuple[object, list[dict]]]]:
    """For each sending kind, the codes it records about a person, each with details its schema accepts."""
    import json

    from cylch.chronology.bench import details_variants
    from cylch.core import taxonomy

    out: dict[str, list[tuple[object, list[dict]]]] = {}
    for kind in SENDER_KINDS:
        codes = [
            c
            for c in taxonomy.codes().values()
            if kind in c.recorded_by and c.subject in ("child", "adult", "any") and not c.code.startswith("process.")
        ]
        out[kind] = [
            (c, [json.loads(d) for d in details_variants(c, rng, k=3)]) for c in sorted(codes, key=lambda c: c.code)
        ]
    return out


def _fits(code, born: date | None, on: date, unborn: bool = False) -> bool:
    """The code suits the person's age on the day, as ``check_subject`` will insist. The age is
    the linked person's, not the sender's record's (a record can carry a mistyped birth date)."""
    if unborn:
        return code.subject != "adult"
    if born is None or code.subject == "any":
        return True
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return age < 18 if code.subject == "child" else age >= 16


def people_of(records) -> dict[int, tuple[date | None, bool]]:
    """Each record's linked person's date of birth and whether they are unborn."""
    from cylch.identity.models import PersonLink

    rows = PersonLink.objects.filter(active=True, agency_record__in=[r.pk for r in records]).values_list(
        "agency_record_id", "person__date_of_birth", "person__is_unborn"
    )
    return {rec: (born, unborn) for rec, born, unborn in rows}


def _subject(record) -> dict:
    """The sender's own record of the person, as its system would send it again."""
    subject = {"local_id": record.local_id}
    for name in ("given_name", "family_name", "sex", "postcode", "address_line", "town", "nhs_number", "upn"):
        value = getattr(record, name)
        if value:
            subject[name] = value
    if record.date_of_birth:
        subject["date_of_birth"] = record.date_of_birth.isoformat()
    return subject


def plan(events: int, batch: int, *, tag: str, rng: random.Random, senders_wanted: int = 12) -> list[Sender]:
    """``events`` events cut into batches, spread over the organisations that hold the most records."""
    from django.db.models import Count
    from django.utils import timezone

    from cylch.access.models import Organisation
    from cylch.identity.models import AgencyRecord

    codes = _codes_by_kind(rng)
    orgs = list(
        Organisation.objects.filter(kind__in=SENDER_KINDS)
        .annotate(n=Count("agency_records"))
        .filter(n__gt=0)
        .order_by("-n", "code")[:senders_wanted]
    )
    if not orgs:
        raise RuntimeError("the demo has no agency records to send events about")
    records = {o.pk: list(AgencyRecord.objects.filter(organisation=o).order_by("pk")) for o in orgs}
    person = people_of([r for rs in records.values() for r in rs])
    records = {k: [r for r in rs if r.pk in person] for k, rs in records.items()}
    now = timezone.now()
    senders = [Sender(o.pk, o.code, o.kind, []) for o in orgs]
    n_batches = max(1, -(-events // batch))
    for b in range(n_batches):
        sender = senders[b % len(senders)]
        size = min(batch, events - b * batch)
        items = []
        for i in range(size):
            seq = f"{tag}-{b}-{i}"
            occurred = now - timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 1440))
            unborn = False
            if rng.random() < NEW_SUBJECT_SHARE:
                born = date.today() - timedelta(days=rng.randint(200, 14 * 365))
                subject = {
                    "local_id": f"new-{seq}",
                    "given_name": rng.choice(GIVEN),
                    "family_name": rng.choice(FAMILY),
                    "date_of_birth": born.isoformat(),
                    "sex": rng.choice(["female", "male"]),
                }
            else:
                record = rng.choice(records[sender.org_id])
                (born, unborn), subject = person[record.pk], _subject(record)
            on = timezone.localtime(occurred).date()
            fitting = [c for c in codes[sender.kind] if _fits(c[0], born, on, unborn)]
            code, variants = rng.choice(fitting)
            items.append(
                {
                    "external_id": f"intake-{seq}",
                    "code": code.code,
                    "occurred_at": occurred.isoformat(),
                    "subject": subject,
                    "summary": rng.choice(SUMMARIES),
                    "details": rng.choice(variants),
                }
            )
        sender.batches.append(items)
    return [s for s in senders if s.batches]


def _send(senders: list[Sender]) -> tuple[int, int]:
    """Send every batch of these senders, in order. Returns (events stored, new people)."""
    from cylch.access.models import Organisation
    from cylch.events.services import record_event_batch

    stored = new_persons = 0
    orgs = {o.pk: o for o in Organisation.objects.filter(pk__in=[s.org_id for s in senders])}
    for sender in senders:
        for items in sender.batches:
            result = record_event_batch(organisation=orgs[sender.org_id], items=items)
            stored += len(result.created)
            new_persons += result.new_persons
    return stored, new_persons


def _child(senders, barrier, queue) -> None:  # runs in a forked process
    from django.db import connections

    try:
        barrier.wait()
        t0 = time.perf_counter()
        stored, new = _send(senders)
        queue.put((stored, new, time.perf_counter() - t0, None))
    except Exception as exc:  # hand the failure back rather than hang the parent
        queue.put((0, 0, 0.0, f"{exc!r} {getattr(exc, 'errors', '')}"[:2000]))
    finally:
        connections.close_all()


def send_in_parallel(senders: list[Sender], processes: int) -> dict:
    """Send the batches from ``processes`` forked processes at once (each its own organisations)
    and time the whole from the moment all are ready to the moment the last finishes."""
    from django.db import connections

    groups = [senders[i::processes] for i in range(processes)]
    groups = [g for g in groups if g]
    connections.close_all()  # a forked child must open its own connection
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(len(groups) + 1), ctx.Queue()
    children = [ctx.Process(target=_child, args=(g, barrier, queue)) for g in groups]
    for child in children:
        child.start()
    barrier.wait()
    t0 = time.perf_counter()
    results = [queue.get() for _ in children]
    wall = time.perf_counter() - t0
    for child in children:
        child.join()
    failures = [r[3] for r in results if r[3]]
    if failures:
        raise RuntimeError(f"a sender failed: {failures[0]}")
    stored = sum(r[0] for r in results)
    return {
        "events": stored,
        "batches": sum(len(s.batches) for s in senders),
        "new_persons": sum(r[1] for r in results),
        "seconds": round(wall, 3),
        "events_per_second": round(stored / wall, 1),
        "senders": len(groups),
        "organisations": len(senders),
    }


def _stored_rows(tag: str) -> tuple[list[str], list[tuple]]:
    """The event rows a timed run stored, exactly as stored, in the order they were written."""
    from django.db import connection

    from cylch.events.models import Event

    columns = [f.column for f in Event._meta.concrete_fields]
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(chr(34) + c + chr(34) for c in columns)} FROM events_event "
            "WHERE external_id LIKE %s ORDER BY id",
            [f"intake-{tag}-%"],
        )
        return columns, list(cur.fetchall())


def floor_copy(tag: str, batch: int) -> dict:
    """The same rows into a plain table: ``COPY`` (PostgreSQL) or ``executemany`` (SQLite), one
    statement and one commit per batch."""
    from django.db import connection, transaction

    columns, rows = _stored_rows(tag)
    if not rows:
        raise RuntimeError("the timed run stored no events to copy")
    cols = ", ".join(f'"{c}"' for c in columns)
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_intake_floor")
        if postgres:
            cur.execute("CREATE TABLE bench_intake_floor (LIKE events_event)")  # columns only: no index or constraint
        else:
            cur.execute(f"CREATE TABLE bench_intake_floor AS SELECT {cols} FROM events_event WHERE 0")
    if postgres:
        # The row values as psycopg reads them (dicts for JSON) go back through its dumpers.
        from psycopg.types.json import Jsonb

        rows = [tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in row) for row in rows]
    else:
        rows = [tuple(v.isoformat(" ") if hasattr(v, "isoformat") else v for v in row) for row in rows]
    chunks = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    connection.ensure_connection()
    raw = connection.connection
    t0 = time.perf_counter()
    for chunk in chunks:
        with transaction.atomic():
            if postgres:
                with raw.cursor() as cur, cur.copy(f"COPY bench_intake_floor ({cols}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
            else:
                raw.executemany(
                    f"INSERT INTO bench_intake_floor ({cols}) VALUES ({', '.join('?' * len(columns))})", chunk
                )
    seconds = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM bench_intake_floor")
        copied = cur.fetchone()[0]
        cur.execute("DROP TABLE bench_intake_floor")
    if copied != len(rows):
        raise RuntimeError(f"the floor copied {copied} of {len(rows)} rows")
    return {
        "rows": copied,
        "seconds": round(seconds, 3),
        "rows_per_second": round(copied / seconds, 1),
        "method": "COPY FROM STDIN" if postgres else "executemany INSERT",
    }


def _query_kind(sql: str) -> str:
    """A statement's verb and first table: ``SELECT identity_agencyrecord``."""
    verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return verb
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?([a-z_0-9]+)"?', sql, re.IGNORECASE)
    return f"{verb} {table.group(1) if table else '?'}"


def profile_batch(sender: Sender) -> dict:
    """One batch, with rules, under cProfile and with its queries captured: where the time goes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cylch.access.models import Organisation
    from cylch.events.services import record_event_batch

    org = Organisation.objects.get(pk=sender.org_id)
    items = sender.batches[0]
    profiler = cProfile.Profile()
    with CaptureQueriesContext(connection) as q:
        t0, cpu0 = time.perf_counter(), time.process_time()
        profiler.enable()
        record_event_batch(organisation=org, items=items)
        profiler.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if os.environ.get("CYLCH_BENCH_INTAKE_PSTATS"):  # the whole profile, for `python -m pstats`
        profiler.dump_stats(os.environ["CYLCH_BENCH_INTAKE_PSTATS"])
    stats = pstats.Stats(profiler)
    by_function = {
        f"{func[0].rsplit('/src/', 1)[-1]}:{func[2]}": (cc, nc, tt, ct)
        for func, (cc, nc, tt, ct, _) in stats.stats.items()
    }

    def cumulative(name: str) -> float:
        return round(sum(v[3] for k, v in by_function.items() if k.endswith(":" + name) and "cylch/" in k) * 1000, 1)

    stages = {
        name: cumulative(name)
        for name in (
            "record_event_batch",
            "read_item",
            "agency_records_upsert",
            "agency_record_upsert",
            "_online_match",
            "_event_for",
            "_insert",
            "on_batch",
            "evaluate_events",
            "load_around",
            "_apply_findings",
            "_store_raised",
            "on_alert_sent",
            "apply_finding",
            "tell_social_worker",
            "tell_social_workers",
            "lead_coordinator_checks",
            "place",
            "audit_record",
        )
    }
    sql_ms = sum(float(x["time"]) for x in q.captured_queries) * 1000
    kinds: dict[str, list[float]] = {}
    for x in q.captured_queries:
        kinds.setdefault(_query_kind(x["sql"]), []).append(float(x["time"]))
    by_kind = sorted(kinds.items(), key=lambda kv: -len(kv[1]))
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    lines = [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    n = len(items)
    return {
        "events": n,
        "wall_ms_profiled": round(wall * 1000, 1),
        # This process's CPU time (the profiler's own cost included; not the database server's):
        # unlike the wall time, it hardly moves with what else the machine is doing.
        "cpu_ms_profiled": round(cpu * 1000, 1),
        "cpu_ms_per_event": round(cpu * 1000 / n, 2),
        "queries": len(q.captured_queries),
        "queries_per_event": round(len(q.captured_queries) / n, 1),
        "sql_ms": round(sql_ms, 1),
        "sql_share": round(sql_ms / (wall * 1000), 2),
        "queries_by_kind": [
            {"query": k, "per_event": round(len(v) / n, 2), "ms": round(sum(v) * 1000, 1)} for k, v in by_kind[:15]
        ],
        "stages_cumulative_ms": stages,
        "top_tottime": lines[start : start + 21],
    }


def worker(persons: int, events: int, batch: int, senders: int, *, seed: int = 2026) -> dict:
    """Runs inside the bench database's process: build the demo, then send and time."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from cylch.demo.builder import build
    from cylch.events.models import Event
    from cylch.rules.models import Alert

    call_command("migrate", verbosity=0)
    _log(f"{connection.vendor}: building a demo of {persons:,} people")
    t0 = time.perf_counter()
    stats = build(persons=persons, seed=seed, progress=False)
    build_s = time.perf_counter() - t0
    rng = random.Random(seed)
    warm = plan(min(events, 2 * batch), batch, tag="warm", rng=rng)
    with_rules = plan(events, batch, tag="rules", rng=rng)
    without = plan(events, batch, tag="plain", rng=rng)
    profiled = plan(batch, batch, tag="profile", rng=rng)[0]
    settings.CYLCH_RULES_ON_RECORD = True
    _send(warm)  # taxonomy, rule packs, linkage model and query plans loaded before timing
    # As the hub's server runs (wsgi.py): start-up settled and frozen, so the senders' full
    # collections do not walk the demo build's and the libraries' objects (about 140 ms per
    # 3,000 events when they did).
    from cylch.core.runtime import settle

    settle()
    alerts_before, events_before = Alert.objects.count(), Event.objects.count()
    _log(f"{events:,} events in batches of {batch} from {senders} sender(s), rules evaluated")
    timed = send_in_parallel(with_rules, senders)
    timed["alerts_raised"] = Alert.objects.count() - alerts_before
    timed["events_in_hub_before"] = events_before
    settings.CYLCH_RULES_ON_RECORD = False
    _log("the same, rules switched off")
    plain = send_in_parallel(without, senders)
    settings.CYLCH_RULES_ON_RECORD = True
    _log("floor: the stored rows again into a plain table")
    floor = floor_copy("rules", batch)
    _log("one batch profiled")
    profile = profile_batch(profiled)
    rate = timed["events_per_second"]
    return {
        "database": connection.vendor,
        "persons": stats.persons,
        "events_in_population": stats.events,
        "build_seconds": round(build_s, 1),
        "batch_size": batch,
        "new_subject_share": NEW_SUBJECT_SHARE,
        "intake": timed,
        "rules_off": plain,
        "rules_share_of_time": round(1 - plain["seconds"] / timed["seconds"] * timed["events"] / plain["events"], 2),
        "floor": floor,
        # How many times dearer the intake is than the floor (floor rate ÷ intake rate).
        "ratio_to_floor": round(floor["rows_per_second"] / rate, 1),
        "aim": {
            "events_per_second": AIM_EVENTS_PER_SECOND,
            "met": rate >= AIM_EVENTS_PER_SECOND,
            "share_of_aim": round(rate / AIM_EVENTS_PER_SECOND, 3),
        },
        "profile": profile,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def run(database: str, persons: int, events: int, batch: int, senders: int, postgres: str) -> dict:
    """Run the worker in a fresh process on a database made for this run, removed after it."""
    args = [
        "bench",
        "intake-worker",
        "--persons",
        str(persons),
        "--events",
        str(events),
        "--batch",
        str(batch),
        "--senders",
        str(senders),
    ]
    return run_worker(database, postgres, args, name="cylch_bench_intake")


def table(results: list[dict]) -> str:
    """The figures as a Markdown table, one row per database."""
    lines = [
        "| database | events | batch | senders | events/s (rules) | events/s (no rules) | rules' share | floor rows/s | × floor | aim 5,000/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        t, p, f = r["intake"], r["rules_off"], r["floor"]
        aim = "met" if r["aim"]["met"] else f"{r['aim']['share_of_aim']:.0%} of it"
        lines.append(
            f"| {r['database']} | {t['events']:,} | {r['batch_size']} | {t['senders']} | {t['events_per_second']:,.0f} "
            f"| {p['events_per_second']:,.0f} | {r['rules_share_of_time']:.0%} | {f['rows_per_second']:,.0f} "
            f"| {r['ratio_to_floor']:.1f} | {aim} |"
        )
    for r in results:
        prof = r["profile"]
        lines.append(
            f"\n{r['database']}: one batch of {prof['events']} profiled: {prof['queries_per_event']} queries per event, "
            f"{prof.get('cpu_ms_per_event', '?')} ms of CPU per event, "
            f"SQL {prof['sql_share']:.0%} of the time; cumulative ms: "
            + ", ".join(f"{k} {v}" for k, v in prof["stages_cumulative_ms"].items() if v)
        )
    return "\n".join(lines)
