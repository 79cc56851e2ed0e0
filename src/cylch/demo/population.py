"""The synthetic population: households, people, the records agencies hold, and two years of events.

Everything comes from one seeded ``random.Random``, including the public ids, so the same
seed and the same ``as_of`` date build the same data. Rows are written with ``bulk_create``
in chunks: a large build (hundreds of thousands of people) takes minutes.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cylch.access.roles import OrganisationKind as K
from cylch.core import taxonomy
from cylch.demo import people, places
from cylch.demo.organisations import Directory
from cylch.identity.linkage.features import surname_key
from cylch.identity.models import (
    AgencyRecord,
    Household,
    Person,
)
from cylch.identity.names import search_key
from cylch.identity.postcodes import stored_postcode

CHUNK = 5000
LA_WEIGHTS = {
    "cardiff": 12,
    "swansea": 8,
    "rhondda-cynon-taf": 8,
    "carmarthenshire": 6,
    "caerphilly": 6,
    "flintshire": 5,
    "newport": 5,
    "bridgend": 5,
    "neath-port-talbot": 5,
    "vale-of-glamorgan": 4,
    "wrexham": 4,
    "powys": 4,
    "gwynedd": 4,
    "pembrokeshire": 4,
    "conwy": 4,
    "denbighshire": 3,
    "monmouthshire": 3,
    "torfaen": 3,
    "ceredigion": 2,
    "blaenau-gwent": 2,
    "anglesey": 2,
    "merthyr-tydfil": 2,
}


@dataclass(slots=True)
class EventRow:
    """An event waiting to be written: cheaper than a model instance at millions of rows."""

    public_id: uuid.UUID
    code: str
    sensitivity: str
    ind: Individual
    record: AgencyRecord
    organisation_id: int
    recorder_name: str
    recorder_role: str
    recorder_contact: str
    occurred_at: datetime
    recorded_at: datetime
    summary: str
    details: dict
    external_id: str


@dataclass
class Individual:
    """The truth about one synthetic person, before agencies get their spelling wrong."""

    person: Person
    la: str
    household: Household
    address: str
    postcode: str
    town: str
    school: Any = None
    gp: Any = None
    records: dict[str, AgencyRecord] = field(default_factory=dict)
    resolved: bool = False  # scenario people: every agency record already matched to them


class PopulationBuilder:
    def __init__(self, rng: random.Random, directory: Directory, *, as_of: date, progress):
        self.rng = rng
        self.d = directory
        self.as_of = as_of
        self.progress = progress
        self.start = as_of - timedelta(days=730)
        self.ext_counter = 0
        self.codes_child, self.codes_adult, self.codes_household = self._code_pools()

    # ---- ids and dates -------------------------------------------------------------------
    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def dob_for_age(self, age_years: int) -> date:
        return self.as_of - timedelta(days=age_years * 365 + self.rng.randrange(365))

    def moment(self, start: date | None = None, end: date | None = None) -> datetime:
        start = start or self.start
        end = end or self.as_of
        day = start + timedelta(days=self.rng.randrange(max(1, (end - start).days)))
        return datetime.combine(day, time(self.rng.randrange(8, 19), self.rng.randrange(60)), tzinfo=UTC)

    # ---- people and households ------------------------------------------------------------
    def new_person(
        self,
        given: str,
        family: str,
        dob: date | None,
        sex: str,
        *,
        unborn_edd: date | None = None,
        with_nhs: bool = True,
    ) -> Person:
        p = Person(
            public_id=self.uuid(),
            given_name=given,
            family_name=family,
            date_of_birth=dob,
            sex=sex,
            nhs_number=people.nhs_number(self.rng) if with_nhs and not unborn_edd else "",
            is_unborn=unborn_edd is not None,
            expected_date_of_delivery=unborn_edd,
        )
        p.search_name = search_key(given, family)
        return p

    def household_for(self, la: str) -> tuple[Household, str, str, str]:
        meta = self.d.la_meta[la]
        postcode_area, towns = meta[6], meta[7]
        town = self.rng.choice(towns)
        address = f"{self.rng.randrange(1, 180)} {self.rng.choice(places.STREETS)}"
        postcode = f"{self.rng.choice(postcode_area)} {self.rng.randrange(1, 10)}{self.rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{self.rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
        h = Household(
            public_id=self.uuid(),
            address_line=address,
            town=town,
            postcode=stored_postcode(postcode),
            local_authority=self.d.las[la],
        )
        return h, address, postcode, town

    def family(self, la: str) -> tuple[list[Individual], list[tuple[int, str, int, bool, bool]], list[Individual]]:
        """One household of a random shape; returns its members, relationships (by index) and
        any parent living elsewhere."""
        rng = self.rng
        shape = rng.choices(["couple", "single", "blended", "grandparent", "young", "pregnant"], [45, 28, 10, 5, 6, 6])[
            0
        ]
        household, address, postcode, town = self.household_for(la)
        family_name = rng.choice(people.FAMILY)
        members: list[Person] = []
        rels: list[tuple[int, str, int, bool, bool]] = []
        elsewhere: list[Person] = []
        mother_age = rng.randrange(17, 22) if shape == "young" else rng.randrange(22, 46)
        mother = self.new_person(rng.choice(people.GIRLS), family_name, self.dob_for_age(mother_age), "female")
        members.append(mother)
        father = None
        if shape in {"couple", "young", "pregnant"} or (shape == "blended"):
            partner_family = family_name if rng.random() < 0.6 else rng.choice(people.FAMILY)
            father = self.new_person(
                rng.choice(people.BOYS), partner_family, self.dob_for_age(mother_age + rng.randrange(-2, 6)), "male"
            )
            members.append(father)
            rels.append((0, "partner", 1, False, True))
        n_children = {
            "couple": rng.randrange(1, 4),
            "single": rng.randrange(1, 4),
            "blended": rng.randrange(2, 4),
            "grandparent": rng.randrange(1, 3),
            "young": 1,
            "pregnant": rng.randrange(0, 2),
        }[shape]
        if shape == "grandparent":
            mother.date_of_birth = self.dob_for_age(rng.randrange(50, 68))
        child_start = len(members)
        absent_father = None
        if shape in {"single", "blended"} and rng.random() < 0.7:
            absent_father = self.new_person(
                rng.choice(people.BOYS),
                rng.choice(people.FAMILY),
                self.dob_for_age(mother_age + rng.randrange(0, 6)),
                "male",
            )
            elsewhere.append(absent_father)
        for i in range(n_children):
            max_age = min(17, mother_age - 16) if shape != "grandparent" else 16
            age = 0 if shape == "young" else rng.randrange(0, max(1, max_age))
            sex = rng.choice(["female", "male"])
            given = rng.choice(people.GIRLS if sex == "female" else people.BOYS)
            child_family = family_name
            if shape == "blended" and i == n_children - 1 and father is not None:
                child_family = father.family_name  # the new partner's child: a half-sibling
            child = self.new_person(given, child_family, self.dob_for_age(age), sex)
            members.append(child)
        for ci in range(child_start, len(members)):
            if shape == "grandparent":
                rels.append((0, "grandparent", ci, True, True))
            else:
                rels.append((0, "parent", ci, True, True))
            if father is not None:
                is_own = shape != "blended" or ci == len(members) - 1
                rels.append((1, "parent" if is_own else "partner_of_parent", ci, is_own, True))
            for cj in range(child_start, ci):
                half = shape == "blended" and (ci == len(members) - 1) != (cj == len(members) - 1)
                rels.append((ci, "half_sibling" if half else "sibling", cj, False, True))
        if shape == "pregnant":
            edd = self.as_of + timedelta(days=rng.randrange(20, 200))
            unborn = self.new_person("", family_name, None, "unknown", unborn_edd=edd)
            members.append(unborn)
            rels.append((0, "parent", len(members) - 1, True, True))
            if father is not None:
                rels.append((1, "parent", len(members) - 1, True, True))
        individuals = [Individual(p, la, household, address, postcode, town) for p in members]
        for ind in individuals:
            self.enrol(ind)
        away = []
        if absent_father is not None:
            ah, aaddr, apc, atown = self.household_for(la)
            away.append(Individual(absent_father, la, ah, aaddr, apc, atown))
            self.enrol(away[-1])
        return individuals, rels, away

    # ---- what agencies hold ------------------------------------------------------------------
    def record(self, ind: Individual, org, *, nhs: bool, upn: bool = False, noisy: float = 0.1) -> AgencyRecord:
        """The organisation's record of the individual, with the usual disagreements."""
        existing = ind.records.get(org.code)
        if existing is not None:
            return existing
        rng, p = self.rng, ind.person
        given, family, dob = p.given_name, p.family_name, p.date_of_birth
        if rng.random() < noisy:
            given = people.english_form(rng, given) if rng.random() < 0.5 else people.typo(rng, given)
        if rng.random() < noisy / 2:
            family = people.typo(rng, family)
        if rng.random() < noisy / 2:
            dob = people.swapped(dob)
        postcode = ind.postcode if rng.random() > noisy / 2 else ind.postcode[:-1] + rng.choice("ABDEF")
        self.ext_counter += 1
        rec = AgencyRecord(
            public_id=self.uuid(),
            organisation=org,
            local_id=f"{org.code[:6].upper()}{self.ext_counter:07d}",
            given_name=given,
            family_name=family,
            surname_key=surname_key(family),
            date_of_birth=dob,
            sex=p.sex,
            address_line=ind.address,
            town=ind.town,
            postcode=postcode,
            nhs_number=p.nhs_number if nhs and p.nhs_number else "",
            upn=p.upn if (upn or org.kind == K.SCHOOL) else "",
            expected_date_of_delivery=p.expected_date_of_delivery,
        )
        ind.records[org.code] = rec
        return rec

    def enrol(self, ind: Individual, school=None) -> None:
        """Register the individual with a GP and, at school age, a school (which gives a UPN).
        Called before the person is saved, so the pupil number is stored with them."""
        p, rng = ind.person, self.rng
        if p.is_unborn:
            return
        ind.gp = ind.gp or rng.choice(self.d.gps[ind.la])
        age = self.age(p)
        if school is not None or (age is not None and 4 <= age <= 16):
            ind.school = school or ind.school or rng.choice(self.d.schools[ind.la])
            if not p.upn:
                p.upn = people.upn(rng, self.d.la_numbers[ind.la], int(ind.school.code[-2:]), p.date_of_birth.year + 5)

    def standard_records(self, ind: Individual) -> None:
        """GP for everyone; health visiting for the under-fives; school for 4-16; midwifery for the unborn."""
        p, rng = ind.person, self.rng
        age = self.age(p)
        if p.is_unborn:
            self.record(ind, self.d.service(ind.la, K.MIDWIFERY), nhs=False, noisy=0)
            return
        self.record(ind, ind.gp, nhs=rng.random() < 0.97, noisy=0.05)
        if age is not None and age < 5:
            self.record(ind, self.d.service(ind.la, K.HEALTH_VISITING), nhs=rng.random() < 0.95, noisy=0.05)
        if ind.school is not None:
            self.record(ind, ind.school, nhs=rng.random() < 0.4, noisy=0.2)

    def age(self, p: Person) -> int | None:
        if p.date_of_birth is None:
            return None
        b = p.date_of_birth
        return self.as_of.year - b.year - ((self.as_of.month, self.as_of.day) < (b.month, b.day))

    # ---- events ---------------------------------------------------------------------------
    def _code_pools(self):
        child, adult, household = [], [], []
        for c in taxonomy.codes().values():
            if c.domain == "process" or c.clock_starts or c.clock_stops:
                continue
            if not c.soft and c.domain in {"social_care"}:
                continue
            weight = 3 if c.soft else 1
            if c.subject in {"child", "any"}:
                child.append((c, weight))
            if c.subject in {"adult", "any"}:
                adult.append((c, weight))
            if c.subject == "household":
                household.append((c, weight))
        return child, adult, household

    def org_for(self, ind: Individual, code: taxonomy.EventCode):
        for kind in code.recorded_by or ():
            if kind == K.SCHOOL:
                if ind.school is not None:
                    return ind.school
                continue
            if kind == K.GP_PRACTICE:
                if ind.gp is not None:
                    return ind.gp
                continue
            org = self.d.service(ind.la, kind)
            if org is not None:
                return org
        return None

    def details_for(self, schema: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        for name, spec in props.items():
            if name not in required and self.rng.random() < 0.5:
                continue
            value = self._value(spec)
            if value is not None:
                out[name] = value
        return out

    def _value(self, spec: dict[str, Any]):
        rng = self.rng
        if "enum" in spec:
            return rng.choice(spec["enum"])
        kind = spec.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "integer":
            lo = spec.get("minimum", 0)
            hi = spec.get("maximum", lo + 10)
            return rng.randint(lo, hi)
        if kind == "number":
            return round(rng.uniform(spec.get("minimum", 0), spec.get("maximum", 10)), 1)
        if kind == "string":
            if spec.get("format") == "date":
                return (self.start + timedelta(days=rng.randrange(700))).isoformat()
            return None  # free text stays empty in synthetic data rather than nonsense
        if kind == "array" and isinstance(spec.get("items"), dict) and "enum" in spec["items"]:
            return sorted(set(rng.sample(spec["items"]["enum"], k=min(len(spec["items"]["enum"]), rng.randint(1, 2)))))
        return None

    def event(
        self,
        ind: Individual,
        code: taxonomy.EventCode,
        org,
        when: datetime,
        *,
        summary: str = "",
        details: dict | None = None,
        recorder: tuple[str, str] = ("", ""),
    ) -> EventRow:
        details = self.details_for(code.details_schema) if details is None else details
        rec = self.record(
            ind,
            org,
            nhs=org.kind
            in {K.GP_PRACTICE, K.HEALTH_VISITING, K.MIDWIFERY, K.HOSPITAL, K.EMERGENCY_DEPARTMENT, K.CAMHS},
            noisy=0.15,
        )
        self.ext_counter += 1
        ext = f"demo-{self.ext_counter:09d}"
        return EventRow(
            public_id=self.uuid(),
            code=code.code,
            sensitivity=code.sensitivity,
            ind=ind,
            record=rec,
            organisation_id=org.pk,
            recorder_name=recorder[0],
            recorder_role=recorder[1],
            recorder_contact=org.safeguarding_email,
            occurred_at=when,
            recorded_at=min(
                when + timedelta(minutes=self.rng.randrange(5, 4000)),
                datetime.combine(self.as_of, time(23, 0), tzinfo=UTC),
            ),
            summary=summary,
            details=details,
            external_id=ext,
        )

    def background_events(self, ind: Individual, mean: float) -> list[EventRow]:
        """A few unremarkable-to-worrying events, most people having none."""
        p, rng = ind.person, self.rng
        if p.is_unborn:
            return []
        age = self.age(p)
        pool = self.codes_child if age is not None and age < 18 else self.codes_adult
        if not pool:
            return []
        n = min(int(rng.expovariate(1 / mean)) if mean > 0 else 0, int(mean * 8) + 1)
        out = []
        codes, weights = zip(*pool, strict=True)
        born = p.date_of_birth or self.start
        for code in rng.choices(codes, weights, k=n):
            org = self.org_for(ind, code)
            if org is None:
                continue
            out.append(self.event(ind, code, org, self.moment(start=max(self.start, born))))
        return out
