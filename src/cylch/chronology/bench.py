"""`cylch bench chronology`: the server time to show one family's chronology in a big hub.

Each database runs in its own process on a database made for the run and removed after it (a
SQLite file in a temporary directory; a PostgreSQL database ``cylch_bench_chronology_<pid>``),
so a benchmark can never touch a real hub. The database holds N events (ten million by
default) about many people and households, recorded by organisations all over Wales, and one
family: a child, her mother, her father who lives in another authority, a brother, a
half-sister at home, a half-sister who lives with her own mother elsewhere and the mother's
partner, with 2,000 events from eight organisations over five years, interleaved with everyone
else's as they would have arrived.

Measured warm, after warm-ups, the way the hub is configured (a SQLite connection is closed
after every request, a PostgreSQL one kept): the ``chronology()`` selector alone, the page
through Django's test client signed in as the child's allocated social worker, and the API with
a bearer token. ``/healthz`` (middleware, session, ``SELECT 1``) is timed the same way as a
floor, so each figure also reads as a ratio that does not depend on the machine. The slowest
requests are those a full garbage collection falls in: the run records how many objects the
process tracks and what one full collection costs, and, apart from the figures and last, the
page again with nothing frozen (the server freezes its start-up objects: ``cylch.core.runtime``).

The load is a benchmark's, not the hub's: rows go straight in (``COPY``, ``executemany``)
rather than through ``record_event``. Every code comes from the taxonomy with its own
sensitivity and subject, every ``details`` is a variant checked once against the code's schema,
every fingerprint is unique, and corrections supersede earlier events; but background events
have no agency record and background people no relationships. While loading, the event table's
secondary indexes (and, on PostgreSQL, its unique and foreign-key constraints) are dropped and
then rebuilt exactly as the migrations made them (PostgreSQL validates the foreign keys as they
come back); SQLite loads with foreign keys off and no journal.
"""

from __future__ import annotations

import cProfile
import gc
import hashlib
import io
import json
import math
import os
import pstats
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cylch.core.benchrun import run_worker

EVENTS_PER_PERSON = 20  # background people: one per 20 events, 2.5 to a household
HOUSEHOLD_SHARE = 0.08  # events about a household as a whole (domestic abuse notices ...)
CORRECTION_SHARE = 0.01  # events that correct an earlier one
SPAN_DAYS = 6 * 365  # the background reaches back six years
FAMILY_SPAN_DAYS = 5 * 365
CHUNK = 100_000

HOME_LA, AWAY_LA = "cardiff", "swansea"
# key, given name, family name, sex, age in years, share of the family's events, where they live
MEMBERS = [
    ("child", "Cadi", "Prosser", "female", 8, 0.30, "home"),
    ("brother", "Siôn", "Bevan", "male", 11, 0.14, "home"),
    ("half_sister", "Mali", "Lloyd", "female", 3, 0.10, "home"),
    ("half_sister_away", "Ela", "Bevan", "female", 14, 0.08, "away"),
    ("mother", "Lowri", "Prosser", "female", 33, 0.14, "home"),
    ("father", "Rhys", "Bevan", "male", 36, 0.08, "away"),
    ("partner", "Gethin", "Lloyd", "male", 31, 0.06, "home"),
]
FAMILY_HOUSEHOLD_SHARE = 0.10
# The eight organisations that know the family, by kind, for each side of it.
FAMILY_ORGS = {
    "home": {
        "la_childrens_services": f"{HOME_LA}-cs",
        "gp_practice": f"gp-{HOME_LA}-01",
        "health_visiting": "cav-health-visiting",
        "school": f"school-{HOME_LA}-01",
        "police": "police-south-wales",
        "housing": f"{HOME_LA}-housing",
        "emergency_department": "cav-emergency-department",
    },
    "away": {
        "la_childrens_services": f"{AWAY_LA}-cs",
        "police": "police-south-wales",
        "emergency_department": "cav-emergency-department",
    },
}
SUMMARIES = [
    "",
    "",
    "Seen with mother; no concerns raised at the visit.",
    "Did not attend; letter sent and a further appointment offered.",
    "Information shared with the safeguarding lead.",
    "Discussed at the team meeting; to be kept under review.",
    "Reported by a neighbour; officers attended.",
    "Home visit completed. Plan agreed with the family.",
    "Concern passed on by the class teacher.",
    "Telephone call with the parent about attendance.",
]
RECORDERS = [("", ""), ("", ""), ("Sara Jenkins", "Health visitor"), ("PC Tom Davies", "Police officer"),
             ("Huw Roberts", "Designated safeguarding person"), ("Eleri Price", "Social worker")]  # fmt: skip
SOURCES = ["api", "api", "api", "csv", "fhir", "web"]


def _log(message: str) -> None:
    print(f"[bench chronology {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- percentiles ------------------------------------------------------------------------------


def percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_ms[max(0, math.ceil(p / 100 * len(sorted_ms)) - 1)]


def summarise(seconds: list[float], first: float | None = None) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    out = {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "max_ms": round(ms[-1], 2),
        "mean_ms": round(sum(ms) / len(ms), 2),
    }
    if first is not None:
        out["first_ms"] = round(first * 1000, 2)
    return out


def _timed(call, *, requests: int, warmup: int, after=None) -> dict:
    """Time ``call`` ``requests`` times after ``warmup`` untimed calls; ``after`` runs untimed
    after each call (closing connections as the request cycle would)."""
    first = None
    for i in range(warmup):
        t0 = time.perf_counter()
        call()
        if i == 0:
            first = time.perf_counter() - t0
        if after:
            after()
    times = []
    collections = [g["collections"] for g in gc.get_stats()]
    for _ in range(requests):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
        if after:
            after()
    out = summarise(times, first)
    # Full (generation 2) collections walk every object in the process: they make the tail.
    out["gc_collections"] = [g["collections"] - c for g, c in zip(gc.get_stats(), collections, strict=True)]
    return out


# --- details that satisfy each code's schema -------------------------------------------------


def _fill(schema: dict, rng: random.Random, *, minimal: bool = False):
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return _fill(schema[key][0], rng, minimal=minimal)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        out = {}
        required = set(schema.get("required") or [])
        for name, spec in (schema.get("properties") or {}).items():
            if name in required or (not minimal and rng.random() < 0.6):
                out[name] = _fill(spec, rng, minimal=minimal)
        return out
    if kind == "array":
        items = schema.get("items") or {"type": "string"}
        if "enum" in items:
            k = max(schema.get("minItems", 1), min(len(items["enum"]), rng.randint(1, 3)))
            return sorted(rng.sample(items["enum"], k=min(k, len(items["enum"]))))
        return [_fill(items, rng, minimal=minimal) for _ in range(schema.get("minItems", 1))]
    if kind == "integer":
        lo = schema.get("minimum", 0)
        return rng.randint(lo, schema.get("maximum", lo + 10))
    if kind == "number":
        lo = schema.get("minimum", 0)
        return round(rng.uniform(lo, schema.get("maximum", lo + 10)), 1)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    fmt = schema.get("format")
    if fmt == "date":
        return (date(2024, 1, 1) + timedelta(days=rng.randrange(700))).isoformat()
    if fmt == "date-time":
        return "2025-03-01T09:00:00Z"
    if fmt == "uuid":
        return str(_uuid4(rng))
    text = rng.choice(["Seen at home.", "Reported by the school.", "Parent spoken to.", "See the visit notes."])
    return text[: schema.get("maxLength", len(text))].ljust(schema.get("minLength", 0), ".")


def details_variants(code, rng: random.Random, k: int = 4) -> list[str]:
    """Up to ``k`` different ``details`` (as JSON) that the code's own schema accepts."""
    found: list[str] = []
    for attempt in range(k * 4):
        candidate = _fill(code.details_schema, rng, minimal=attempt == k * 4 - 1)
        text = json.dumps(candidate, ensure_ascii=False, sort_keys=True)
        if code.validator.is_valid(candidate) and text not in found:
            found.append(text)
        if len(found) == k:
            break
    if not found:
        raise RuntimeError(f"could not make details that {code.code}'s schema accepts")
    return found


def _uuid4(rng: random.Random):
    from uuid import UUID

    return UUID(int=rng.getrandbits(128), version=4)


def _uuid4_hex(getrandbits) -> str:
    x = getrandbits(128)
    x = (x & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    x = (x & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    return f"{x:032x}"


# --- bulk writing -----------------------------------------------------------------------------


class Writer:
    """Rows straight into a table: ``COPY`` on PostgreSQL, ``executemany`` on SQLite."""

    def __init__(self):
        from django.db import connection

        connection.ensure_connection()
        self.connection = connection
        self.postgres = connection.vendor == "postgresql"
        self.tz = "+00" if self.postgres else ""  # SQLite keeps UTC without an offset

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        cols = ", ".join(f'"{c}"' for c in columns)
        if self.postgres:
            with self.connection.cursor() as cur, cur.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            from django.db import transaction

            with transaction.atomic():
                self.connection.connection.executemany(
                    f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(columns))})', rows
                )


def _columns(model) -> tuple[str, ...]:
    return tuple(f.column for f in model._meta.concrete_fields)


def _check_columns(model, columns: tuple[str, ...]) -> None:
    if set(columns) != set(_columns(model)):
        raise RuntimeError(f"{model.__name__} columns changed: {sorted(set(_columns(model)) ^ set(columns))}")


class Indexes:
    """The event table's secondary indexes (and, on PostgreSQL, its unique and foreign-key
    constraints), taken off for the load and put back exactly as the migrations made them."""

    def __init__(self, writer: Writer, table: str):
        self.w, self.table = writer, table
        self.indexes: list[tuple[str, str]] = []
        self.constraints: list[tuple[str, str, str]] = []

    def drop(self) -> None:
        with self.w.connection.cursor() as cur:
            if self.w.postgres:
                cur.execute(
                    "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC, conname",
                    [self.table],
                )
                self.constraints = list(cur.fetchall())
                cur.execute(
                    "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                    "WHERE indrelid = %s::regclass AND NOT indisprimary AND indexrelid NOT IN "
                    "(SELECT conindid FROM pg_constraint WHERE conrelid = %s::regclass)",
                    [self.table, self.table],
                )
                self.indexes = list(cur.fetchall())
                for name, _kind, _definition in self.constraints:
                    cur.execute(f'ALTER TABLE "{self.table}" DROP CONSTRAINT "{name}"')
            else:
                cur.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                    [self.table],
                )
                self.indexes = list(cur.fetchall())
            for name, _definition in self.indexes:
                cur.execute(f'DROP INDEX "{name}"' if not self.w.postgres else f"DROP INDEX {name}")

    def restore(self) -> None:
        with self.w.connection.cursor() as cur:
            if self.w.postgres:
                cur.execute("SET maintenance_work_mem = '512MB'")
            for name, definition in self.indexes:
                _log(f"index {name}")
                cur.execute(definition)
            for name, _kind, definition in sorted(self.constraints, key=lambda c: c[1] != "u"):
                _log(f"constraint {name}")
                cur.execute(f'ALTER TABLE "{self.table}" ADD CONSTRAINT "{name}" {definition}')
            if self.w.postgres:
                cur.execute("RESET maintenance_work_mem")


# --- the hub ----------------------------------------------------------------------------------


@dataclass
class Family:
    child: object
    members: dict[str, object]
    households: dict[str, object]
    orgs: dict[str, dict[str, object]]
    social_worker: object
    rows: list[dict] = field(default_factory=list)  # events, in arrival order
    visible_ids: set[int] = field(default_factory=set)  # after the load: what the chronology holds
    corrections: int = 0


# Where everyone lives: household key, address, town, postcode, authority, who (from_date: the
# oldest child's birth, or the move two years ago).
HOUSEHOLDS = [
    ("former", "27 Heol y Parc", "Cardiff", "CF11 9AB", HOME_LA, ["mother", "child", "brother"]),
    (
        "home",
        "4 Clos y Coed",
        "Llanrumney",
        "CF3 4QE",
        HOME_LA,
        ["mother", "child", "brother", "partner", "half_sister"],
    ),
    ("father", "Flat 9, 2 Mill Lane", "Swansea", "SA1 3RD", AWAY_LA, ["father"]),
    ("ela", "16 Bryn Road", "Morriston", "SA6 8BQ", AWAY_LA, ["half_sister_away", "ela_mother"]),
]
# person, kind, relative, parental responsibility, lives with
RELATIONSHIPS = [
    ("mother", "parent", "child", True, True),
    ("mother", "parent", "brother", True, True),
    ("mother", "parent", "half_sister", True, True),
    ("father", "parent", "child", True, False),
    ("father", "parent", "brother", True, False),
    ("father", "parent", "half_sister_away", True, False),
    ("partner", "parent", "half_sister", True, True),
    ("ela_mother", "parent", "half_sister_away", True, True),
    ("mother", "partner", "partner", False, True),
    ("child", "sibling", "brother", False, True),
    ("child", "half_sibling", "half_sister", False, True),
    ("child", "half_sibling", "half_sister_away", False, False),
]


def _build_family(directory, users, today: date) -> Family:
    """The family through the identity services, as a loader would. The half-sister's mother
    shares her home but is not the child's family: her events must stay out of the chronology."""
    from cylch.identity.models import AllocationKind, Person
    from cylch.identity.names import search_key
    from cylch.identity.services import allocation_create, household_add_member, household_create, relationship_add

    people = {}
    for key, given, family, sex, age, *_rest in [*MEMBERS, ("ela_mother", "Nia", "Bevan", "female", 38)]:
        born = date(today.year - age, 3 + age % 9, 1 + (age * 7) % 27)
        people[key] = Person.objects.create(
            given_name=given, family_name=family, sex=sex, date_of_birth=born, search_name=search_key(given, family)
        )
    households = {}
    moved = today - timedelta(days=2 * 365)
    for key, address, town, postcode, la, who in HOUSEHOLDS:
        households[key] = household_create(
            address_line=address, town=town, postcode=postcode, local_authority=directory.las[la]
        )
        since = moved if key in ("home", "father") else people["half_sister_away"].date_of_birth
        for person in who:
            household_add_member(household=households[key], person=people[person], from_date=since)
    for person, kind, relative, pr, lives in RELATIONSHIPS:
        relationship_add(
            person=people[person], kind=kind, relative=people[relative], parental_responsibility=pr, lives_with=lives
        )
    social_worker = users["social-worker"]
    allocation_create(
        person=people["child"],
        organisation=directory.orgs[FAMILY_ORGS["home"]["la_childrens_services"]],
        kind=AllocationKind.ALLOCATED_SOCIAL_WORKER,
        practitioner=social_worker,
        from_date=today - timedelta(days=400),
    )
    orgs = {side: {kind: directory.orgs[code] for kind, code in kinds.items()} for side, kinds in FAMILY_ORGS.items()}
    return Family(people["child"], people, households, orgs, social_worker)


def _pool(codes, subjects: set[str]) -> list:
    return [c for c in codes if c.subject in subjects]


def _family_events(fam: Family, n: int, rng: random.Random, start: date, end_day: int) -> None:
    """``n`` event rows about the family (1% of them corrections), in arrival order, and a few
    about the half-sister's mother, who shares her home but is not the child's family."""
    from cylch.core import taxonomy
    from cylch.events.services import fingerprint

    codes = list(taxonomy.codes().values())
    variants = {c.code: details_variants(c, rng) for c in codes}
    by_subject = {"child": _pool(codes, {"child", "any"}), "adult": _pool(codes, {"adult", "any"}),
                  "household": _pool(codes, {"household"})}  # fmt: skip
    corrections = n // 100
    originals = n - corrections
    first_day = max(0, end_day - FAMILY_SPAN_DAYS)
    where = {key: side for key, *_rest, side in MEMBERS}
    where["ela_mother"] = "away"
    keys = [m[0] for m in MEMBERS] + ["household", "ela_mother"]
    weights = [m[5] for m in MEMBERS] + [FAMILY_HOUSEHOLD_SHARE, 0.05]
    current_home = {"mother": "home", "child": "home", "brother": "home", "partner": "home", "half_sister": "home",
                    "father": "father", "half_sister_away": "ela", "ela_mother": "ela"}  # fmt: skip
    rows = []
    ours = 0
    while ours < originals:
        key = rng.choices(keys, weights)[0]
        day = rng.randrange(first_day, end_day)
        when = datetime.combine(start + timedelta(days=day), datetime.min.time(), tzinfo=UTC) + timedelta(
            seconds=rng.randrange(7 * 3600, 22 * 3600)
        )
        if key == "household":
            hh = rng.choices(["home", "former", "father", "ela"], [70, 10, 15, 5])[0]
            person, side, pool = None, "away" if hh in ("father", "ela") else "home", by_subject["household"]
            household = fam.households[hh]
        else:
            person = fam.members[key]
            if person.date_of_birth and when.date() < person.date_of_birth:
                continue
            age = (when.date() - person.date_of_birth).days // 365
            side, household = where[key], fam.households[current_home[key]]
            pool = by_subject["child"] if age < 16 else by_subject["adult"]
        orgs = fam.orgs[side]
        code = rng.choice(pool)
        kind = next((k for k in code.recorded_by if k in orgs), None)
        if kind is None:
            continue
        org = orgs[kind]
        details = json.loads(rng.choice(variants[code.code]))
        summary = rng.choice(SUMMARIES)
        subject = str(person.public_id) if person else f"household:{household.public_id}"
        recorder = rng.choice(RECORDERS)
        rows.append({
            "ref": len(rows), "day": day, "when": when, "code": code.code, "sensitivity": code.sensitivity,
            "person": person.pk if person else None, "household": household.pk, "org": org, "summary": summary,
            "details": details, "recorder": recorder, "subject": subject,
            "fingerprint": fingerprint(code=code.code, occurred_at=when, subject=subject, summary=summary, details=details),
            "outsider": key == "ela_mother",
        })  # fmt: skip
        ours += key != "ela_mother"
    for original in rng.sample([r for r in rows if not r["outsider"]], corrections):
        summary = (original["summary"] or "Entry") + " (corrected: wrong date of the visit)"
        rows.append({
            **original, "ref": len(rows), "day": min(end_day - 1, original["day"] + rng.randint(1, 30)),
            "summary": summary, "supersedes_ref": original["ref"],
            "fingerprint": fingerprint(code=original["code"], occurred_at=original["when"], subject=original["subject"],
                                       summary=summary, details=original["details"], supersedes=str(original["ref"])),
        })  # fmt: skip
    rows.sort(key=lambda r: (r["day"], r["ref"]))
    fam.rows, fam.corrections = rows, corrections


def _background_people(
    writer: Writer, directory, rng: random.Random, persons: int, today: date
) -> tuple[int, int, int]:
    """People and households straight into their tables. Returns (first person id, first
    household id, households)."""
    from django.db.models import Max

    from cylch.demo import people as names
    from cylch.demo import places
    from cylch.identity.models import Household, HouseholdMembership, Person

    households = max(1, int(persons / 2.5))
    person_base = (Person.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    hh_base = (Household.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    ms_base = (HouseholdMembership.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S") + writer.tz
    las = [(directory.las[la[0]].pk, la[6], la[7]) for la in places.LOCAL_AUTHORITIES]
    hh_cols = ("id", "public_id", "created_at", "modified_at", "created_by_id", "address_line", "town", "postcode",
               "uprn", "local_authority_id", "merged_into_id", "merged_at", "merge_detail")  # fmt: skip
    _check_columns(Household, hh_cols)
    bits = rng.getrandbits
    for start in range(0, households, CHUNK):
        rows = []
        for i in range(start, min(households, start + CHUNK)):
            la, postcodes, towns = las[i % len(las)]
            rows.append((hh_base + i, _uuid4_hex(bits), now, now, None, f"{1 + i % 97} {rng.choice(places.STREETS)}",
                         rng.choice(towns), f"{rng.choice(postcodes)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}",
                         "", la, None, None, "{}"))  # fmt: skip
        writer.write(Household._meta.db_table, hh_cols, rows)
    p_cols = ("id", "public_id", "created_at", "modified_at", "created_by_id", "given_name", "family_name",
              "other_names", "date_of_birth", "sex", "nhs_number", "upn", "is_unborn", "expected_date_of_delivery",
              "date_of_death", "search_name", "merged_into_id")  # fmt: skip
    _check_columns(Person, p_cols)
    m_cols = ("id", "household_id", "person_id", "from_date", "to_date")
    _check_columns(HouseholdMembership, m_cols)
    for start in range(0, persons, CHUNK):
        rows, memberships = [], []
        for i in range(start, min(persons, start + CHUNK)):
            child = i % 5 < 2  # _Stream.day_rows picks codes by the same rule
            age = rng.randint(6, 17) if child else rng.randint(22, 80)
            female = rng.random() < 0.5
            given = rng.choice(names.GIRLS if female else names.BOYS)
            family = rng.choice(names.FAMILY)
            dob = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28)).isoformat()
            rows.append((person_base + i, _uuid4_hex(bits), now, now, None, given, family, "", dob,
                         "female" if female else "male", "", "", False, None, None, f"{given} {family}".lower(), None))  # fmt: skip
            memberships.append((ms_base + i, hh_base + i * households // persons, person_base + i, dob, None))
        writer.write(Person._meta.db_table, p_cols, rows)
        writer.write(HouseholdMembership._meta.db_table, m_cols, memberships)
    return person_base, hh_base, households


class _Stream:
    """Background event rows in arrival order, with the family's spliced in on their day."""

    def __init__(self, writer, directory, rng, *, persons, person_base, hh_base, households, start: date):
        from cylch.core import taxonomy

        self.w, self.rng = writer, rng
        self.persons, self.person_base, self.hh_base, self.households = persons, person_base, hh_base, households
        self.active = max(1, persons // 5)  # a fifth of the people have four fifths of the events
        by_kind: dict[str, list[tuple[int, str]]] = {}
        for org in directory.orgs.values():
            by_kind.setdefault(org.kind, []).append((org.pk, org.safeguarding_email))
        pools: dict[str, tuple[list, list]] = {"child": ([], []), "adult": ([], []), "household": ([], [])}
        for code in taxonomy.codes().values():
            orgs = [o for kind in code.recorded_by for o in by_kind.get(kind, [])]
            if not orgs:
                continue
            entry = (code.code, code.sensitivity, details_variants(code, rng), orgs)
            weight = 3 if code.soft else 1
            for subject, fits in (
                ("child", {"child", "any"}),
                ("adult", {"adult", "any"}),
                ("household", {"household"}),
            ):
                if code.subject in fits:
                    pools[subject][0].append(entry)
                    pools[subject][1].append(weight)
        self.pools = {k: (entries, list(_cumulative(weights))) for k, (entries, weights) in pools.items()}
        days = SPAN_DAYS + 40
        self.dates = [(start + timedelta(days=d)).isoformat() for d in range(days)]
        self.clock = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
        from cylch.events.models import Event

        self.next_id = (Event.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        self.recent: list[tuple] = []
        self.written = 0
        self.family_ids: dict[int, int] = {}  # family row ref -> event id

    def stamp(self, day: int, second: int) -> str:
        return f"{self.dates[day]} {self.clock[second]}{self.w.tz}"

    def day_rows(self, day: int, n: int) -> list[tuple]:
        rng = self.rng
        rand, randrange, choice, bits = rng.random, rng.randrange, rng.choice, rng.getrandbits
        persons, active, hh_base, person_base = self.persons, self.active, self.hh_base, self.person_base
        households = self.households
        kinds = ["household" if rand() < HOUSEHOLD_SHARE else "person" for _ in range(n)]
        out = []
        for kind in kinds:
            if self.recent and rand() < CORRECTION_SHARE:
                out.append(self.correction(day))
                continue
            if kind == "household":
                person = None
                household = hh_base + int(rand() ** 2 * households)
                pool = self.pools["household"]
            else:
                # a fifth of the people, scattered over the ids, have four fifths of the events
                idx = int(rand() * active) * 7919 % persons if rand() < 0.8 else int(rand() * persons)
                person = person_base + idx
                household = hh_base + idx * households // persons
                pool = self.pools["child" if idx % 5 < 2 else "adult"]
            code, sensitivity, variants, orgs = rng.choices(pool[0], cum_weights=pool[1])[0]
            org, email = choice(orgs)
            second = randrange(6 * 3600, 86400)
            delay = randrange(300, 240_000)
            name, role = choice(RECORDERS)
            row = self.row(code, person, household, org, name, role, email, self.stamp(day, second),
                           self.stamp(day + (second + delay) // 86400, (second + delay) % 86400), sensitivity,
                           choice(SUMMARIES), choice(variants), None, bits)  # fmt: skip
            out.append(row)
            if len(self.recent) < 20_000:
                self.recent.append(row)
            else:
                self.recent[randrange(20_000)] = row
        return out

    def row(self, code, person, household, org, name, role, email, occurred, recorded, sensitivity, summary,
            details, supersedes, bits, fp: str | None = None, public_id: str | None = None) -> tuple:  # fmt: skip
        pk = self.next_id
        self.next_id += 1
        public_id = public_id or _uuid4_hex(bits)
        fp = fp or hashlib.sha256(f"{public_id}|{code}|{occurred}|{summary}|{details}".encode()).hexdigest()
        ext = f"ext-{pk:010d}" if pk % 10 < 7 else None
        return (pk, public_id, code, person, household, None, org, None, name, role, email, occurred, recorded,
                sensitivity, summary, details, ext, fp, supersedes, SOURCES[pk % len(SOURCES)])  # fmt: skip

    def correction(self, day: int) -> tuple:
        i = self.rng.randrange(len(self.recent))
        orig = self.recent[i]
        self.recent[i] = self.recent[-1]
        self.recent.pop()  # one correction per original
        recorded = self.stamp(day, self.rng.randrange(6 * 3600, 86400))
        summary = (orig[14] or "Entry") + " (corrected)"
        return self.row(orig[2], orig[3], orig[4], orig[6], orig[8], orig[9], orig[10], orig[11], recorded, orig[13],
                        summary, orig[15], orig[0], self.rng.getrandbits)  # fmt: skip

    def family_row(self, r: dict) -> tuple:
        org = r["org"]
        second = r["when"].hour * 3600 + r["when"].minute * 60 + r["when"].second
        arrival = max(r["day"], (r["when"].date() - date.fromisoformat(self.dates[0])).days)
        recorded = self.stamp(arrival, min(86399, second + 3600) if arrival == r["day"] else second)
        supersedes = self.family_ids[r["supersedes_ref"]] if "supersedes_ref" in r else None
        row = self.row(r["code"], r["person"], r["household"], org.pk, r["recorder"][0], r["recorder"][1],
                       org.safeguarding_email, self.stamp((r["when"].date() - date.fromisoformat(self.dates[0])).days, second),
                       recorded, r["sensitivity"], r["summary"], json.dumps(r["details"], ensure_ascii=False), supersedes,
                       self.rng.getrandbits, fp=r["fingerprint"])  # fmt: skip
        self.family_ids[r["ref"]] = row[0]
        return row


def _cumulative(weights):
    total = 0
    for w in weights:
        total += w
        yield total


def _load_events(writer: Writer, stream: _Stream, fam: Family, background: int) -> dict:
    from django.db import connection

    from cylch.events.models import Event

    table = Event._meta.db_table
    from cylch.demo.fastinsert import COLUMNS

    columns = ("id", *COLUMNS)  # _Stream.row's order
    _check_columns(Event, columns)
    indexes = Indexes(writer, table)
    indexes.drop()
    per_day, extra = divmod(background, SPAN_DAYS)
    family_by_day: dict[int, list[dict]] = {}
    for r in fam.rows:
        family_by_day.setdefault(r["day"], []).append(r)
    t0 = time.perf_counter()
    pending: list[tuple] = []
    for day in range(SPAN_DAYS):
        pending.extend(stream.day_rows(day, per_day + (1 if day < extra else 0)))
        pending.extend(stream.family_row(r) for r in family_by_day.get(day, []))
        if len(pending) >= CHUNK:
            writer.write(table, columns, pending)
            stream.written += len(pending)
            pending = []
            if stream.written // CHUNK % 10 == 0:  # about every million
                _log(f"events {stream.written:,} ({stream.written / (time.perf_counter() - t0):,.0f}/s)")
    writer.write(table, columns, pending)
    stream.written += len(pending)
    rows_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    indexes.restore()
    if writer.postgres:  # ids were given explicitly: move the sequences past them
        from django.core.management.color import no_style

        from cylch.identity.models import Household, HouseholdMembership, Person

        with connection.cursor() as cur:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Event, Person, Household, HouseholdMembership]):
                cur.execute(sql)
    index_s = time.perf_counter() - t1
    superseded = {stream.family_ids[r["supersedes_ref"]] for r in fam.rows if "supersedes_ref" in r}
    fam.visible_ids = {stream.family_ids[r["ref"]] for r in fam.rows if not r["outsider"]} - superseded
    return {"rows_seconds": round(rows_s, 1), "index_seconds": round(index_s, 1)}


def _analyze(writer: Writer) -> float:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        if writer.postgres:
            cur.execute("VACUUM (ANALYZE)")  # what autovacuum would have done by now
        else:
            cur.execute("ANALYZE")
    return round(time.perf_counter() - t0, 1)


def _marks(fam: Family, rng: random.Random) -> int:
    """About one in thirty of the family's entries marked significant by the allocated team."""
    from django.utils import timezone

    from cylch.chronology.models import Significance

    org = fam.orgs["home"]["la_childrens_services"]
    chosen = rng.sample(sorted(fam.visible_ids), max(1, len(fam.visible_ids) // 30))
    Significance.objects.bulk_create(
        Significance(event_id=pk, organisation=org, marked_by=fam.social_worker, note="Turning point for Cadi",
                     marked_at=timezone.now())
        for pk in chosen
    )  # fmt: skip
    return len(chosen)


def _db_size_mb() -> float:
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database())")
            return round(cur.fetchone()[0] / 2**20, 1)
    return round(Path(settings.DATABASES["default"]["NAME"]).stat().st_size / 2**20, 1)


# --- measuring --------------------------------------------------------------------------------


def _explain(sql: str) -> list[str]:
    from django.db import connection

    try:
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                return [r[0] for r in cur.fetchall()]
            cur.execute(f"EXPLAIN QUERY PLAN {sql}")
            return [" | ".join(str(c) for c in r) for r in cur.fetchall()]
    except Exception as exc:  # a plan is a diagnostic: never fail the run for it
        return [f"could not explain: {exc}"]


def _captured(queries) -> dict:
    """Count and time of the queries, as Django's debug cursor records them: time spent in
    ``execute``. SQLite hands rows over as they are fetched, so part of its work is not in it."""
    ranked = sorted(queries, key=lambda q: float(q["time"]), reverse=True)
    return {
        "queries": len(queries),
        "sql_ms": round(sum(float(q["time"]) for q in queries) * 1000, 1),
        "slowest": [{"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"][:300]} for q in ranked[:4]],
    }


def _profile(call, top: int = 25) -> list[str]:
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    lines = [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return lines[:1] + lines[start:]


def _heap() -> dict:
    """The objects the collector tracks in this process and what one full collection of them
    costs: the price of the requests a full collection falls in."""
    gc.collect()
    t0 = time.perf_counter()
    gc.collect()
    return {"tracked_objects": len(gc.get_objects()), "full_collection_ms": round((time.perf_counter() - t0) * 1000, 1)}


def _measure(fam: Family, *, requests: int, warmup: int) -> dict:
    from django.conf import settings
    from django.core.paginator import Paginator
    from django.db import close_old_connections, connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from cylch.access.selectors import Viewer, access_person
    from cylch.access.services import api_token_create
    from cylch.chronology.selectors import chronology
    from cylch.chronology.views import GROUPS_PER_PAGE

    settings.DEMO_MODE = True  # the social worker is a demo account: no second factor to redirect to
    child = fam.child
    access = access_person(Viewer.for_user(fam.social_worker), child.public_id)
    chron = chronology(access, whole_family=True)
    got = [e.pk for e in chron.entries]
    on_page = sum(g.count for g in Paginator(chron.groups, GROUPS_PER_PAGE).page(1).object_list)
    check = {
        "family_events": sum(1 for r in fam.rows if not r["outsider"]),
        "outsider_events": sum(1 for r in fam.rows if r["outsider"]),
        "corrections": fam.corrections,
        "expected_entries": len(fam.visible_ids),
        "chronology_entries": len(got),
        "same_events": set(got) == fam.visible_ids and len(got) == len(set(got)),
        "withheld": chron.withheld,
        "groups": len(chron.groups),
        "entries_on_first_page": on_page,
        "relationship": access.relationship.value,
    }

    def selector():
        # The selector's share of a page: the entries, their groups, and the events of the
        # first page's entries (the rest are never fetched for the page).
        chron = chronology(access, whole_family=True)
        chron.hydrate(
            e for group in Paginator(chron.groups, GROUPS_PER_PAGE).page(1).object_list for e in group.entries
        )

    # A host the hub allows ("testserver" is only allowed in a test run, which also instruments
    # template rendering and would slow the page down).
    host = next((h for h in settings.ALLOWED_HOSTS if h and "*" not in h), "localhost")
    client = Client(HTTP_HOST=host)
    client.force_login(fam.social_worker)
    page_url = reverse("chronology:chronology", kwargs={"public_id": child.public_id})
    entry_ids = re.compile(r'id="entry-([0-9a-f-]{36})"')

    def page():
        response = client.get(page_url)
        if response.status_code != 200:
            raise RuntimeError(f"chronology page answered {response.status_code}")
        return response

    html = page().content.decode()
    check["page_status"] = 200
    check["page_entries"] = len(set(entry_ids.findall(html)))
    summary = re.search(r'id="chronology-summary">\s*(\d+) entr', html)
    check["page_total"] = int(summary.group(1)) if summary else None

    _token, plain = api_token_create(organisation=fam.orgs["home"]["la_childrens_services"], name="Chronology bench")
    api_client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {plain}")
    api_url = f"/api/v1/persons/{child.public_id}/chronology?whole_family=true&limit=100"

    def api():
        response = api_client.get(api_url)
        if response.status_code != 200:
            raise RuntimeError(f"chronology API answered {response.status_code}")
        return response

    body = api().json()
    check["api_count"] = body["count"]
    check["api_items"] = len(body["items"])

    def healthz():
        if client.get("/healthz").status_code != 200:
            raise RuntimeError("/healthz failed")

    def select_1():
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    # The hub's request cycle: close the connection after a request if CONN_MAX_AGE says so
    # (SQLite: every time; PostgreSQL: kept). The test client skips this, so do it here.
    cycle = close_old_connections
    # As the hub's server runs: start-up settled and frozen (cylch.core.runtime, called by wsgi.py).
    from cylch.core.runtime import settle

    frozen = settle()
    heap = _heap()
    _log("measuring: floor, selector, page, API")
    floor = _timed(healthz, requests=requests, warmup=warmup, after=cycle)
    select1 = _timed(select_1, requests=requests, warmup=warmup)
    selector_t = _timed(selector, requests=requests, warmup=warmup)
    page_t = _timed(page, requests=requests, warmup=warmup, after=cycle)
    api_t = _timed(api, requests=requests, warmup=warmup, after=cycle)
    with CaptureQueriesContext(connection) as q:
        page()
    page_q = _captured(q.captured_queries)
    cycle()
    with CaptureQueriesContext(connection) as q:
        selector()
    selector_q = _captured(q.captured_queries)
    event_queries = [x["sql"] for x in q.captured_queries if 'FROM "events_event"' in x["sql"]]
    with CaptureQueriesContext(connection) as q:
        api()
    api_q = _captured(q.captured_queries)
    cycle()
    plans = [_explain(sql) for sql in event_queries]
    profile = _profile(page)
    cycle()
    # For comparison, not how the hub runs: the page with nothing frozen, so every full
    # collection walks the whole heap. Measured last so it cannot change the figures above.
    gc.unfreeze()
    try:
        page_unfrozen = _timed(page, requests=requests, warmup=warmup, after=cycle)
    finally:
        gc.freeze()
    for t in (selector_t, page_t, api_t):
        t["ratio_to_floor_p50"] = round(t["p50_ms"] / floor["p50_ms"], 1)
    return {
        "check": check,
        "floor_healthz": floor,
        "select_1": select1,
        "selector": {**selector_t, **selector_q},
        "page": {**page_t, **page_q},
        "api": {**api_t, **api_q},
        "gc_heap": heap,
        "frozen_at_start": frozen,
        "page_without_gc_freeze": page_unfrozen,
        "load_average": [round(x, 2) for x in os.getloadavg()],  # others on the machine show up here
        "selector_event_query_plans": plans,
        "page_profile_tottime": profile,
    }


def _source() -> str:
    """The commit the measured code came from (``-dirty`` when the tree had changes)."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=Path(__file__).parent, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def worker(events: int, family_events: int, *, requests: int = 50, warmup: int = 5, seed: int = 2026) -> dict:
    """Runs inside the bench database's process: build, load, measure."""
    from django.core.management import call_command
    from django.db import connection

    from cylch.chronology.views import GROUPS_PER_PAGE
    from cylch.demo.organisations import build_directory, create_demo_users

    if family_events * 2 > events:
        raise ValueError("the family's events are part of the total: give at least twice as many events")
    call_command("migrate", verbosity=0)
    _log(f"{connection.vendor}: {events:,} events, the family's {family_events:,} among them")
    rng = random.Random(seed)
    today = date.today()
    start = today - timedelta(days=SPAN_DAYS + 4)  # the newest entry is a few days old
    persons = max(500, events // EVENTS_PER_PERSON)
    t0 = time.perf_counter()
    writer = Writer()
    if not writer.postgres:
        with connection.cursor() as cur:
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "foreign_keys=OFF", "cache_size=-1000000"):
                cur.execute(f"PRAGMA {pragma}")
    directory = build_directory(
        rng, schools_per_la=max(3, min(40, persons // 2500)), gps_per_la=max(2, min(30, persons // 6000))
    )
    users = create_demo_users(directory)
    fam = _build_family(directory, users, today)
    _family_events(fam, family_events, rng, start, SPAN_DAYS)
    _log(f"{persons:,} background people")
    person_base, hh_base, households = _background_people(writer, directory, rng, persons, today)
    people_s = time.perf_counter() - t0
    stream = _Stream(writer, directory, rng, persons=persons, person_base=person_base, hh_base=hh_base,
                     households=households, start=start)  # fmt: skip
    load = _load_events(writer, stream, fam, events - len(fam.rows))
    if not writer.postgres:
        with connection.cursor() as cur:
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                cur.execute(f"PRAGMA {pragma}")
    marks = _marks(fam, rng)
    _log("analyze")
    analyze_s = _analyze(writer)
    load_s = time.perf_counter() - t0
    total = stream.written
    connection.close()  # measure on a connection opened the hub's way (WAL, foreign keys on)
    _log(f"loaded {total:,} events in {load_s:.0f} s")
    measured = _measure(fam, requests=requests, warmup=warmup)
    return {
        "database": connection.vendor,
        "source": _source(),
        "events": total,
        "persons": persons + len(fam.members),
        "households": households + len(fam.households),
        "family_members": len(MEMBERS),
        "significance_marks": marks,
        "database_mb": _db_size_mb(),
        "load": {
            "seconds": round(load_s, 1),
            "people_seconds": round(people_s, 1),
            **load,
            "analyze_seconds": analyze_s,
            "events_per_second": round(total / load["rows_seconds"]),
        },
        "requests": requests,
        "warmup": warmup,
        "groups_per_page": GROUPS_PER_PAGE,
        **measured,
    }


# --- the parent process -----------------------------------------------------------------------


def run(database: str, events: int, family_events: int, postgres: str, *, requests: int = 50, warmup: int = 5) -> dict:
    """Run the worker in a fresh process on a database made for this run, removed after it."""
    args = ["bench", "chronology-worker", "--events", str(events), "--family-events", str(family_events),
            "--requests", str(requests), "--warmup", str(warmup)]  # fmt: skip
    return run_worker(database, postgres, args, name="cylch_bench_chronology")


def table(results: list[dict]) -> str:
    """The figures as a Markdown table, one row per database and measurement."""
    lines = [
        "| database | events | load s | measured | p50 ms | p95 ms | max ms | × floor (p50) | queries |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for key, label in (("floor_healthz", "floor: /healthz"), ("selector", "chronology() selector"),
                           ("page", f"page ({r['groups_per_page']} groups)"), ("api", "API (100 entries)")):  # fmt: skip
            t = r[key]
            lines.append(
                f"| {r['database']} | {r['events']:,} | {r['load']['seconds']:,.0f} | {label} | {t['p50_ms']:.1f} "
                f"| {t['p95_ms']:.1f} | {t['max_ms']:.1f} | {t.get('ratio_to_floor_p50', 1.0):.1f} "
                f"| {t.get('queries', '')} |"
            )
        if "page_without_gc_freeze" in r:
            t = r["page_without_gc_freeze"]
            lines.append(
                f"| {r['database']} | {r['events']:,} | | page, nothing frozen (not the hub's setup) | {t['p50_ms']:.1f} "
                f"| {t['p95_ms']:.1f} | {t['max_ms']:.1f} | | |"
            )
    checks = [
        f"{r['database']}: {r['check']['chronology_entries']:,} entries "
        f"({r['check']['family_events']:,} family events, {r['check']['corrections']} corrected), "
        f"{r['check']['withheld']} withheld, {r['check']['page_entries']} on the first page"
        + (
            f"; {r['gc_heap']['tracked_objects']:,} tracked objects, a full collection "
            f"{r['gc_heap']['full_collection_ms']} ms"
            if "gc_heap" in r
            else ""
        )
        for r in results
    ]
    return "\n".join([*lines, "", *checks])
