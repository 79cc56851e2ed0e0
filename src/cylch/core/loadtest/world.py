"""The hub a load run drives, and the plan the load generator follows.

Runs inside a Django process on the load run's own database (``cylch bench load-prepare``):
migrate, build the demo, run the rules over it once so there are open alerts to acknowledge,
make a bearer token for each agency system in the mix, and write the plan: which organisation
sends what, whose chronologies each system and practitioner reads (people their organisation
recorded events about, so the reads are of records they may open), the names practitioners
search for, and the alerts each children's services system can see. The load generator reads
only this file: it never imports Django.
"""

from __future__ import annotations

import json
import random
import time
from datetime import date
from pathlib import Path

# The agency systems in the mix: (organisation kind, what it does). Senders push events and
# make reports; children's services systems read chronologies and acknowledge alerts.
SENDER_KINDS = ("gp_practice", "school", "police", "health_visiting")
READER_KIND = "la_childrens_services"
# Demo practitioners who search and read chronologies in the browser (casework roles).
PRACTITIONERS = ("social-worker", "team-manager", "health-visitor", "gp", "school-safeguarding-lead", "police-ppn")
PEOPLE_PER_READER = 200
RECORDS_PER_SENDER = 400
CONCERN_CODES = (
    "social_care.neglect.concern",
    "social_care.abuse.emotional.concern",
    "social_care.abuse.physical.concern",
)


def _people_recorded_by(org, limit: int) -> list[str]:
    """The people an organisation recorded most events about: records it may open, with substance."""
    from django.db.models import Count

    from cylch.events.models import Event

    rows = (
        Event.objects.filter(organisation=org, person__isnull=False, person__merged_into__isnull=True)
        .values("person__public_id")
        .annotate(n=Count("id"))
        .order_by("-n", "person__public_id")[:limit]
    )
    return [str(r["person__public_id"]) for r in rows]


def _codes(rng: random.Random) -> dict[str, dict[str, list]]:
    """For each sending kind, its person codes by subject (child, adult, any), each with a few
    ``details`` its schema accepts."""
    from cylch.chronology.bench import details_variants
    from cylch.core import taxonomy

    out: dict[str, dict[str, list]] = {}
    for kind in SENDER_KINDS:
        by_subject: dict[str, list] = {"child": [], "adult": [], "any": []}
        for c in sorted(taxonomy.codes().values(), key=lambda c: c.code):
            if kind in c.recorded_by and c.subject in by_subject and not c.code.startswith("process."):
                by_subject[c.subject].append([c.code, [json.loads(d) for d in details_variants(c, rng, k=3)]])
        out[kind] = by_subject
    return out


def _subject(record, person: tuple) -> dict:
    """The sender's record of the person as its system sends it, and (under ``_``, not sent)
    the linked person's birth date, which decides the codes that suit them."""
    born, unborn = person
    subject = {"local_id": record.local_id, "_born": born.isoformat() if born else None, "_unborn": unborn}
    for name in ("given_name", "family_name", "sex", "postcode", "nhs_number", "upn"):
        value = getattr(record, name)
        if value:
            subject[name] = value
    if record.date_of_birth:
        subject["date_of_birth"] = record.date_of_birth.isoformat()
    return subject


def _analyse() -> None:
    """Give the planner its statistics after the bulk build, as autovacuum would on a live hub
    (it may be off, as on the development machines): without them PostgreSQL guessed a sixth of
    the events and chose plans production would not."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def prepare(persons: int, plan_path: Path, *, seed: int = 2026) -> dict:
    """Build the hub and write the plan. Returns what was built."""
    from django.core.management import call_command
    from django.db.models import Count

    from cylch.access.models import Organisation, User
    from cylch.access.services import api_token_create
    from cylch.core import taxonomy
    from cylch.demo.builder import build
    from cylch.demo.organisations import DEMO_PASSWORD
    from cylch.events.bench import people_of
    from cylch.identity.models import AgencyRecord, Person
    from cylch.rules.models import OPEN_STATUSES, Alert
    from cylch.rules.services import run_batch

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    stats = build(persons=persons, seed=seed, progress=False)
    batch = run_batch()
    _analyse()
    rng = random.Random(seed)
    codes = _codes(rng)
    unknown = [c for c in CONCERN_CODES if c not in taxonomy.codes()]
    if unknown:
        raise RuntimeError(f"concern codes not in the taxonomy: {unknown}")

    senders = []
    for kind in SENDER_KINDS:
        org = (
            Organisation.objects.filter(kind=kind)
            .annotate(n=Count("agency_records"))
            .filter(n__gt=0)
            .order_by("-n", "code")
            .first()
        )
        if org is None:
            continue
        records = list(AgencyRecord.objects.filter(organisation=org).order_by("pk")[:RECORDS_PER_SENDER])
        person = people_of(records)
        _token, plain = api_token_create(organisation=org, name=f"Load run: {org.code}")
        senders.append(
            {
                "org": org.code,
                "kind": kind,
                "token": plain,
                "subjects": [_subject(r, person[r.pk]) for r in records if r.pk in person],
                "codes": codes[kind],
            }
        )

    readers = []
    owners = (
        Alert.objects.filter(status__in=OPEN_STATUSES, owner_organisation__kind=READER_KIND)
        .values("owner_organisation")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    reader_orgs = [Organisation.objects.get(pk=row["owner_organisation"]) for row in owners[:3]]
    if not reader_orgs:
        reader_orgs = list(Organisation.objects.filter(kind=READER_KIND).order_by("code")[:1])
    for org in reader_orgs:
        _token, plain = api_token_create(organisation=org, name=f"Load run: {org.code}")
        people = _people_recorded_by(org, PEOPLE_PER_READER)
        open_alerts = Alert.objects.filter(owner_organisation=org, status__in=OPEN_STATUSES).count()
        readers.append({"org": org.code, "token": plain, "people": people, "open_alerts": open_alerts})

    practitioners = []
    for user in User.objects.filter(username__in=PRACTITIONERS, is_demo=True).select_related("organisation"):
        people = _people_recorded_by(user.organisation, PEOPLE_PER_READER)
        if not people:
            continue
        named = Person.objects.filter(public_id__in=people[:100]).exclude(family_name="")
        searches = [
            {
                "name": f"{p.given_name} {p.family_name}".strip(),
                "dob": p.date_of_birth.isoformat() if p.date_of_birth and i % 2 else "",
            }
            for i, p in enumerate(named.order_by("public_id"))
        ]
        practitioners.append(
            {"username": user.username, "password": DEMO_PASSWORD, "people": people, "searches": searches}
        )

    children = [
        {"given_name": p.given_name, "family_name": p.family_name, "date_of_birth": p.date_of_birth.isoformat()}
        for p in Person.objects.filter(date_of_birth__gt=date(date.today().year - 16, 1, 1), merged_into__isnull=True)
        .exclude(family_name="")
        .order_by("pk")[:300]
    ]
    las = sorted(
        {
            code
            for code in Organisation.objects.filter(kind=READER_KIND).values_list("local_authority__code", flat=True)
            if code
        }
    )
    plan = {
        "senders": senders,
        "readers": readers,
        "practitioners": practitioners,
        "reports": {"children": children, "concern_codes": list(CONCERN_CODES), "local_authorities": las},
    }
    plan_path.write_text(json.dumps(plan))
    return {
        "persons": stats.persons,
        "events": stats.events,
        "open_alerts": Alert.objects.filter(status__in=OPEN_STATUSES).count(),
        "alerts_raised_by_batch": batch.raised,
        "senders": [s["org"] for s in senders],
        "readers": [r["org"] for r in readers],
        "practitioners": [p["username"] for p in practitioners],
        "seconds": round(time.perf_counter() - t0, 1),
    }
