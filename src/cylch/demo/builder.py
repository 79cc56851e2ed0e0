"""Build the synthetic Wales demo: places, organisations, demo accounts, named scenario families
and a seeded background population with two years of events."""

from __future__ import annotations

import random
import time as clock
from dataclasses import dataclass, field
from datetime import date

from django.db import connection, transaction
from tqdm import tqdm

from cylch.access.audit import audit_record
from cylch.demo import catch_up, history, homes_twice, protection_scenarios, rights_requests, scenarios
from cylch.demo import reviews as demo_reviews
from cylch.demo.fastinsert import insert_events
from cylch.demo.organisations import build_directory, create_demo_users
from cylch.demo.population import CHUNK, LA_WEIGHTS, Individual, PopulationBuilder
from cylch.events.models import Source
from cylch.events.services import fingerprint, fingerprint_subject
from cylch.identity.models import (
    AgencyRecord,
    Household,
    HouseholdMembership,
    LinkMethod,
    Person,
    PersonLink,
    Relationship,
)
from cylch.identity.names import search_key

SIZES = {"small": 800, "standard": 5000, "large": 300_000}


@dataclass
class BuildStats:
    persons: int = 0
    households: int = 0
    agency_records: int = 0
    events: int = 0
    organisations: int = 0
    seconds: float = 0.0
    history: dict[str, int] = field(default_factory=dict)


class Writer:
    """Collects a chunk of generated rows and writes them in a fixed order with bulk_create."""

    def __init__(self, pb: PopulationBuilder, stats: BuildStats):
        self.pb = pb
        self.stats = stats
        self.reset()

    def reset(self):
        self.individuals: list[Individual] = []
        self.relationships: list[tuple[Individual, str, Individual, bool, bool]] = []
        self.events: list[tuple[Individual, object]] = []

    def add_family(self, inds, rels, away):
        self.individuals.extend(inds)
        self.individuals.extend(away)
        for a, kind, b, pr, lives in rels:
            self.relationships.append((inds[a], kind, inds[b], pr, lives))
        mothers = {b for a, kind, b, _pr, _l in rels if a == 0 and kind == "parent"}
        partners = {b for a, kind, b, _pr, _l in rels if a == 1 and kind == "parent"}
        for absent in away:
            for b in sorted(mothers - partners):
                self.relationships.append((absent, "parent", inds[b], self.pb.rng.random() < 0.6, False))

    def flush(self, mean_events: float) -> None:
        pb, rng = self.pb, self.pb.rng
        if not self.individuals:
            return
        households = {id(i.household): i.household for i in self.individuals}
        Household.objects.bulk_create(households.values(), batch_size=CHUNK)
        Person.objects.bulk_create([i.person for i in self.individuals], batch_size=CHUNK)
        HouseholdMembership.objects.bulk_create(
            [
                HouseholdMembership(
                    household=i.household, person=i.person, from_date=i.person.date_of_birth or pb.start
                )
                for i in self.individuals
            ],
            batch_size=CHUNK,
        )
        rels = []
        seen = set()
        for a, kind, b, pr, lives in self.relationships:
            for x, y in ((a, b), (b, a)) if kind in {"sibling", "half_sibling", "partner"} else ((a, b),):
                key = (x.person.pk, kind, y.person.pk)
                if key not in seen:
                    seen.add(key)
                    rels.append(
                        Relationship(
                            person=x.person, kind=kind, relative=y.person, parental_responsibility=pr, lives_with=lives
                        )
                    )
        Relationship.objects.bulk_create(rels, batch_size=CHUNK)
        events = []
        for ind in self.individuals:
            pb.standard_records(ind)
            events.extend(pb.background_events(ind, mean_events))
        events.extend(e for _ind, e in self.events)
        records = [r for ind in self.individuals for r in ind.records.values() if r.pk is None]
        AgencyRecord.objects.bulk_create(records, batch_size=CHUNK)
        # Link each record: deterministically on a trusted identifier; otherwise most were matched
        # by a person in the past (clerical), and some were never matched (a duplicate person).
        owner = {}
        for ind in self.individuals:
            for rec in ind.records.values():
                owner[rec.pk] = ind
        duplicates: list[tuple[AgencyRecord, Person]] = []
        links = []
        for rec in records:
            ind = owner[rec.pk]
            if rec.nhs_number:
                links.append(PersonLink(agency_record=rec, person=ind.person, method=LinkMethod.NHS_NUMBER))
            elif rec.upn:
                links.append(PersonLink(agency_record=rec, person=ind.person, method=LinkMethod.UPN))
            elif ind.resolved or rng.random() < 0.8:
                links.append(PersonLink(agency_record=rec, person=ind.person, method=LinkMethod.CLERICAL))
            else:
                dup = Person(
                    public_id=pb.uuid(),
                    given_name=rec.given_name,
                    family_name=rec.family_name,
                    date_of_birth=rec.date_of_birth,
                    sex=rec.sex,
                    search_name=search_key(rec.given_name, rec.family_name),
                    is_unborn=ind.person.is_unborn,
                    expected_date_of_delivery=ind.person.expected_date_of_delivery,
                )
                duplicates.append((rec, dup))
        Person.objects.bulk_create([p for _r, p in duplicates], batch_size=CHUNK)
        dup_person = {rec.pk: p for rec, p in duplicates}
        links.extend(PersonLink(agency_record=rec, person=p, method=LinkMethod.NEW_PERSON) for rec, p in duplicates)
        PersonLink.objects.bulk_create(links, batch_size=CHUNK)
        rows = []
        for e in events:
            person = dup_person.get(e.record.pk, e.ind.person)
            digest = fingerprint(
                code=e.code,
                occurred_at=e.occurred_at,
                subject=fingerprint_subject(e.record, person, None),
                summary=e.summary,
                details=e.details,
            )
            rows.append((
                e.public_id, e.code, person.pk, e.ind.household.pk, e.record.pk, e.organisation_id,
                None, e.recorder_name, e.recorder_role, e.recorder_contact, e.occurred_at, e.recorded_at,
                e.sensitivity, e.summary, e.details, e.external_id, digest, None, Source.DEMO,
            ))  # fmt: skip
        insert_events(rows)
        self.stats.persons += len(self.individuals) + len(duplicates)
        self.stats.households += len(households)
        self.stats.agency_records += len(records)
        self.stats.events += len(events)
        self.reset()


def build(
    *,
    seed: int = 2026,
    persons: int = 5000,
    as_of: date | None = None,
    events_per_person: float = 6.0,
    progress: bool = True,
) -> BuildStats:
    """Build the whole demo in one transaction: all or nothing."""
    started = clock.monotonic()
    as_of = as_of or date.today()
    rng = random.Random(seed)
    stats = BuildStats()
    schools = max(3, min(40, persons // 2500))
    gps = max(2, min(30, persons // 6000))
    with transaction.atomic():
        directory = build_directory(rng, schools_per_la=schools, gps_per_la=gps)
        stats.organisations = len(directory.orgs)
        users = create_demo_users(directory)
        pb = PopulationBuilder(rng, directory, as_of=as_of, progress=progress)
        writer = Writer(pb, stats)
        scenarios.build_all(pb, writer, users)
        in_process = protection_scenarios.families(pb, writer)
        writer.flush(0)
        # The process is written through its services, which need the families in the database.
        protection_scenarios.run(pb, users, in_process)
        # The scenario families' stories are told; the history uses the background population.
        scenario_people = set(Person.objects.values_list("pk", flat=True))
        las, weights = zip(*LA_WEIGHTS.items(), strict=True)
        bar = tqdm(total=persons, unit="person", desc="Demo population", disable=not progress, initial=stats.persons)
        while stats.persons < persons:
            pending = 0
            while pending < CHUNK and stats.persons + pending < persons:
                inds, rels, away = pb.family(rng.choices(las, weights)[0])
                writer.add_family(inds, rels, away)
                pending += len(inds) + len(away)
            before = stats.persons
            writer.flush(events_per_person)
            bar.update(stats.persons - before)
        bar.close()
        # Two years of the process across several authorities, for the board's measures.
        past = history.build(pb, exclude=scenario_people)
        stats.history = dict(past.written)
        stats.events += stats.history["events"]
        # A few homes held as two households, for the households page; after the history, so
        # the population and history drawn before them stay as they were.
        homes_twice.build(pb, writer, events_per_person=events_per_person)
        # Requests people made about their records, for the team manager's list.
        stats.history["rights_requests"] = rights_requests.build(as_of=as_of, users=users)
        # The national repository of (fictional) coded reviews, and reviews in progress.
        stats.history |= demo_reviews.build(as_of=as_of, seed=seed)
        # The rules add everything up once, dated as a running hub would show them; last, so
        # every draw before it stays as it was.
        stats.history |= catch_up.settle(past, scenario_people)
        stats.seconds = round(clock.monotonic() - started, 1)
        audit_record(
            action="write",
            actor_label="cylch demo",
            object_type="demo",
            object_id=seed,
            purpose="synthetic demo built",
            detail={
                "seed": seed,
                "as_of": as_of.isoformat(),
                "persons": stats.persons,
                "events": stats.events,
                "agency_records": stats.agency_records,
                "history": stats.history,
            },
        )
    with connection.cursor() as cur:  # the planner's statistics for what was just written in bulk
        cur.execute("ANALYZE")
    return stats
