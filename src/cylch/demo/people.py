"""Name pools and the ways agency records of the same person disagree."""

from __future__ import annotations

import random
from datetime import date

from cylch.identity.names import WELSH_ENGLISH_VARIANTS

GIRLS = [
    "Alys",
    "Cerys",
    "Ffion",
    "Seren",
    "Mali",
    "Nia",
    "Lowri",
    "Megan",
    "Elin",
    "Catrin",
    "Sioned",
    "Gwen",
    "Efa",
    "Mair",
    "Non",
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Lily",
    "Freya",
    "Ella",
    "Grace",
    "Ruby",
    "Sophie",
    "Chloe",
    "Evie",
    "Poppy",
    "Millie",
    "Jessica",
    "Hannah",
    "Emily",
    "Sian",
    "Angharad",
]
BOYS = [
    "Dafydd",
    "Rhys",
    "Osian",
    "Gruffudd",
    "Tomos",
    "Ioan",
    "Cai",
    "Elis",
    "Harri",
    "Gethin",
    "Owain",
    "Iwan",
    "Steffan",
    "Huw",
    "Aled",
    "Sion",
    "Jac",
    "Oliver",
    "Noah",
    "Jack",
    "Leo",
    "Oscar",
    "Harry",
    "Charlie",
    "George",
    "Jacob",
    "Alfie",
    "Freddie",
    "Thomas",
    "Joshua",
    "Dylan",
    "Ethan",
    "Callum",
    "Liam",
]
FAMILY = [
    "Jones",
    "Williams",
    "Davies",
    "Evans",
    "Thomas",
    "Roberts",
    "Lewis",
    "Hughes",
    "Morgan",
    "Griffiths",
    "Edwards",
    "Owen",
    "Price",
    "Jenkins",
    "Phillips",
    "James",
    "Rees",
    "Lloyd",
    "Powell",
    "Morris",
    "Pritchard",
    "Parry",
    "Prydderch",
    "Bevan",
    "Llywelyn",
    "Vaughan",
    "Pugh",
    "Watkins",
    "Howells",
    "Smith",
    "Brown",
    "Taylor",
    "Walker",
    "Wright",
    "Green",
    "Hall",
    "Baker",
    "Clarke",
    "Harris",
    "Cooper",
    "Ap Rhys",
    "Gruffydd",
    "Meredith",
    "Bowen",
    "Probert",
    "Protheroe",
    "Kowalski",
    "Nowak",
    "Ahmed",
    "Khan",
]


def nhs_number(rng: random.Random) -> str:
    """A random NHS number with a valid modulus 11 check digit (in the unallocated 9xx range)."""
    while True:
        first = "9" + "".join(str(rng.randrange(10)) for _ in range(8))
        total = sum(int(d) * w for d, w in zip(first, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return first + str(check)


UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def upn(rng: random.Random, la_number: int, school_number: int, year: int) -> str:
    body = f"{la_number:03d}{school_number:04d}{year % 100:02d}{rng.randrange(1000):03d}"
    total = sum(int(ch) * w for w, ch in enumerate(body, start=2))
    return UPN_LETTERS[total % 23] + body


def typo(rng: random.Random, name: str) -> str:
    """One keyboard slip: a dropped, doubled or swapped letter."""
    if len(name) < 4:
        return name
    i = rng.randrange(1, len(name) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return name[:i] + name[i + 1 :]
    if kind == 1:
        return name[:i] + name[i] + name[i:]
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def english_form(rng: random.Random, given: str) -> str:
    forms = WELSH_ENGLISH_VARIANTS.get(given.lower())
    return rng.choice(forms).title() if forms else given


def swapped(d: date | None) -> date | None:
    """Day and month swapped, as happens when a US-style form meets a UK date."""
    if d is None or d.day > 12 or d.day == d.month:
        return d
    return date(d.year, d.day, d.month)
