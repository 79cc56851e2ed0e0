"""Homes held twice: a few families whose one home is two households, as real data has them.

It happens when two agencies write one address differently and each was given a household, or
when a report made a household of its own before ``household_at`` looked for the one already
held. Each home here is two households at one address, with the family's members split across
them, so that ``duplicate_households`` finds it and the households page
(``/matching/households/``) has something for the front door to decide (docs/demo.md,
"Homes held twice"). Three are in Cardiff, where the demo's front door works; one is in
Swansea, which Cardiff's front door must not be shown.

The families are ordinary background families (``PopulationBuilder.family``) given these
addresses. They are written after the history, from the build's own generator, so they add to
the population without changing anyone drawn before them, and their records were all matched
in the past (no stray duplicate person).
"""

from __future__ import annotations

from dataclasses import dataclass

from cylch.demo.population import Individual, PopulationBuilder
from cylch.identity.models import Household
from cylch.identity.postcodes import stored_postcode


@dataclass(frozen=True)
class Spelling:
    """An address as one agency wrote it."""

    line: str
    postcode: str
    uprn: str = ""


@dataclass(frozen=True)
class Home:
    la: str
    town: str
    first: Spelling  # the household the family's agencies placed them in
    second: Spelling  # the other one, where some of the family are held
    why: str  # how it came to be held twice (for the reader; the page shows the households)


HOMES = [
    Home(
        "cardiff",
        "Cardiff",
        Spelling("Flat 2, 14 Heol y Bont", "CF24 4LR"),
        Spelling("FLAT 2, 14 HEOL-Y-BONT", "cf244lr"),
        "a report to the front door made the children a household at the address as a police "
        "notice gave it, before reports looked for the household already held",
    ),
    Home(
        "cardiff",
        "Cardiff",
        Spelling("Fflat 1, 3 Clos y Coed", "CF5 2QT", uprn="100100418207"),
        Spelling("3 Clos y Coed, Fflat 1", "CF5 2QT", uprn="100100418207"),
        "housing and the school put the flat number at either end of the line; both households "
        "carry the property's UPRN from the council's address register, which says they are one",
    ),
    Home(
        "cardiff",
        "Cardiff",
        Spelling("7 Rhodfa'r Môr", "CF10 4PY"),
        Spelling("7 Rhodfar Mor", "CF10 4PY"),
        "a system that cannot store the circumflex or the apostrophe wrote the street as it could",
    ),
    Home(
        "swansea",
        "Swansea",
        Spelling("Tŷ Gwyn, 22 Heol y Nant", "SA5 8LD"),
        Spelling("Ty Gwyn 22 Heol Y Nant", "SA5 8LD"),
        "the same, in Swansea: not for Cardiff's front door",
    ),
]


def _at(ind: Individual, household: Household, spelling: Spelling, town: str) -> None:
    ind.household, ind.address, ind.postcode, ind.town = household, spelling.line, spelling.postcode, town


def _second_household(pb: PopulationBuilder, home: Home) -> Household:
    return Household(
        public_id=pb.uuid(),
        address_line=home.second.line,
        town=home.town,
        postcode=stored_postcode(home.second.postcode),
        uprn=home.second.uprn,
        local_authority=pb.d.las[home.la],
    )


def build(pb: PopulationBuilder, writer, *, events_per_person: float) -> int:
    """Write the families of ``HOMES``, each split across its two households; returns how many
    homes. Of the members other than the first parent (the unborn stay with her), the later
    half live in the second household: a partner, or the children."""
    for home in HOMES:
        members, rels, away = pb.family(home.la)
        first = members[0].household
        first.address_line, first.town, first.postcode, first.uprn = (
            home.first.line,
            home.town,
            stored_postcode(home.first.postcode),
            home.first.uprn,
        )
        second = _second_household(pb, home)
        movable = [m for m in members[1:] if not m.person.is_unborn]
        moved = {id(m) for m in movable[len(movable) // 2 :]}
        for ind in members:
            ind.resolved = True
            if id(ind) in moved:
                _at(ind, second, home.second, home.town)
            else:
                _at(ind, first, home.first, home.town)
        for ind in away:
            ind.resolved = True
        writer.add_family(members, rels, away)
    writer.flush(events_per_person)
    return len(HOMES)
