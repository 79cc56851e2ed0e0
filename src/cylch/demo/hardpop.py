"""The hardest population the demo generator makes, with the truth kept: for measuring linkage.

Families live together (siblings share a surname, an address and sometimes a birthday as
twins), and each person is known to one to four agencies, each with its own mistakes:
Welsh/English forms of names, typos, first and last names swapped, a new surname, day and
month swapped, a digit wrong, a house move, and no NHS number on 35% of records. Nothing
touches the database: a million records take seconds, so the benchmark can run at scale.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from datetime import date, timedelta

from cylch.demo import people, places

# Wider name pools than the demo's, weighted as real registers are (a few very common names,
# a long tail): Wales has a famously small surname pool, so the head stays heavy.
MORE_GIRLS = [
    "Aeron",
    "Aerona",
    "Anwen",
    "Arwen",
    "Betsan",
    "Bethan",
    "Branwen",
    "Buddug",
    "Carys",
    "Ceinwen",
    "Ceri",
    "Delyth",
    "Dilys",
    "Eirlys",
    "Eleri",
    "Elliw",
    "Enfys",
    "Eira",
    "Ffraid",
    "Gwenllian",
    "Gwawr",
    "Haf",
    "Heledd",
    "Hedd",
    "Lleucu",
    "Llinos",
    "Lowena",
    "Manon",
    "Mererid",
    "Morfudd",
    "Nerys",
    "Rhiannon",
    "Rhian",
    "Sara",
    "Siwan",
    "Tegan",
    "Tesni",
    "Awen",
    "Beca",
    "Cadi",
    "Erin",
    "Nansi",
    "Nel",
    "Lili",
    "Isabelle",
    "Matilda",
    "Harper",
    "Willow",
    "Rosie",
    "Daisy",
    "Phoebe",
    "Florence",
    "Alice",
    "Evelyn",
    "Sienna",
    "Isabella",
    "Charlotte",
    "Scarlett",
    "Maisie",
    "Zara",
    "Layla",
    "Holly",
    "Esme",
    "Maya",
    "Ivy",
    "Mia",
    "Niamh",
    "Imogen",
    "Lucy",
    "Sofia",
    "Eva",
    "Aria",
    "Luna",
    "Hallie",
    "Bonnie",
]
MORE_BOYS = [
    "Aled",
    "Alun",
    "Arwel",
    "Berwyn",
    "Bleddyn",
    "Brynmor",
    "Cadfan",
    "Caradog",
    "Cynan",
    "Deiniol",
    "Dylan",
    "Eifion",
    "Emrys",
    "Emyr",
    "Gareth",
    "Geraint",
    "Glyn",
    "Goronwy",
    "Gwion",
    "Gwyn",
    "Hywel",
    "Idris",
    "Ifor",
    "Islwyn",
    "Llion",
    "Macsen",
    "Meilyr",
    "Meirion",
    "Morgan",
    "Nedw",
    "Peredur",
    "Rhodri",
    "Rhun",
    "Sion",
    "Taliesin",
    "Tudur",
    "Trystan",
    "Wyn",
    "Noah",
    "Oliver",
    "Arthur",
    "Muhammad",
    "George",
    "Leo",
    "Oscar",
    "Theodore",
    "Freddie",
    "Archie",
    "Jack",
    "Henry",
    "Charlie",
    "Alfie",
    "Finley",
    "Louie",
    "Teddy",
    "Thomas",
    "Joshua",
    "Ethan",
    "Mason",
    "Harrison",
    "Logan",
    "Reuben",
    "Tyler",
    "Riley",
    "Ryan",
    "Kai",
    "Luca",
    "Max",
    "Jenson",
    "Zac",
    "Ellis",
    "Jude",
    "Ronnie",
    "Albie",
    "Elijah",
]
MORE_FAMILY = [
    "Jenkins",
    "Rees",
    "Price",
    "Phillips",
    "Lloyd",
    "Harris",
    "Howells",
    "Powell",
    "Bowen",
    "Prosser",
    "Pugh",
    "Gwynne",
    "Vaughan",
    "Parry",
    "Pritchard",
    "Meredith",
    "Watkins",
    "Griffith",
    "Ellis",
    "Hopkins",
    "Mathias",
    "Beynon",
    "Probert",
    "Bevan",
    "Gittins",
    "Gethin",
    "Humphreys",
    "Jarman",
    "Llewellyn",
    "Maddocks",
    "Nicholas",
    "Owens",
    "Powys",
    "Prydderch",
    "Thomas",
    "Walters",
    "Wynne",
    "Ashton",
    "Baker",
    "Bennett",
    "Brown",
    "Carter",
    "Clarke",
    "Cole",
    "Cooper",
    "Cox",
    "Davis",
    "Doyle",
    "Edmunds",
    "Fisher",
    "Foster",
    "Gibbs",
    "Grant",
    "Hall",
    "Harvey",
    "Hill",
    "Holmes",
    "Hunt",
    "Jackson",
    "James",
    "Kelly",
    "Kemp",
    "King",
    "Knight",
    "Lane",
    "Lee",
    "Marsh",
    "Mason",
    "Miller",
    "Mitchell",
    "Moore",
    "Murphy",
    "Nash",
    "Nelson",
    "Norris",
    "Palmer",
    "Parker",
    "Pearce",
    "Perry",
    "Porter",
    "Reid",
    "Richards",
    "Robinson",
    "Rogers",
    "Rowe",
    "Russell",
    "Scott",
    "Shaw",
    "Simpson",
    "Smith",
    "Stevens",
    "Stone",
    "Taylor",
    "Turner",
    "Walker",
    "Ward",
    "Warren",
    "Watson",
    "Webb",
    "West",
    "White",
    "Wilson",
    "Wood",
    "Wright",
    "Young",
    "Ahmed",
    "Ali",
    "Begum",
    "Hussain",
    "Kaur",
    "Khan",
    "Kowalski",
    "Nowak",
    "Patel",
    "Singh",
]
GIRLS = list(dict.fromkeys(people.GIRLS + MORE_GIRLS))
BOYS = list(dict.fromkeys(people.BOYS + MORE_BOYS))
FAMILY = list(dict.fromkeys(people.FAMILY + MORE_FAMILY))


def _zipf(n: int, s: float) -> list[float]:
    return [1 / (rank**s) for rank in range(1, n + 1)]


GIRL_W, BOY_W, FAMILY_W = _zipf(len(GIRLS), 0.7), _zipf(len(BOYS), 0.7), _zipf(len(FAMILY), 0.9)

AGENCIES = ("gp", "health_visiting", "school", "police", "housing", "social_care", "hospital", "midwifery")


def _digit_slip(rng: random.Random, text: str) -> str:
    """One character of an identifier or date changed or two neighbours swapped."""
    chars = list(text)
    positions = [i for i, c in enumerate(chars) if c.isdigit()]
    i = rng.choice(positions)
    if rng.random() < 0.5 and i + 1 < len(chars) and chars[i + 1].isdigit() and chars[i] != chars[i + 1]:
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    else:
        chars[i] = str((int(chars[i]) + rng.randrange(1, 10)) % 10)
    return "".join(chars)


def _address(rng: random.Random) -> tuple[str, str, str]:
    la = rng.choice(places.LOCAL_AUTHORITIES)
    outward = rng.choice(la[6])
    inward = f"{rng.randrange(1, 10)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
    street = f"{rng.randrange(1, 180)} {rng.choice(places.STREETS)}"
    return street, rng.choice(la[7]), f"{outward} {inward}"


def generate(
    records: int, *, seed: int = 2026, as_of: date = date(2026, 11, 1), missing_nhs: float = 0.35
) -> Iterator[dict]:
    """Yield about ``records`` agency records, each with ``id``, ``truth`` and the linkage fields."""
    rng = random.Random(seed)
    made = 0
    person_no = 0
    while made < records:
        # One household: adults and children sharing an address and (mostly) a surname.
        family = rng.choices(FAMILY, FAMILY_W)[0]
        street, town, postcode = _address(rng)
        members = []
        adults = rng.choice((1, 2, 2, 2))
        for a in range(adults):
            sex = "female" if a == 0 else "male"
            age = rng.randrange(19, 70)
            members.append((_given(rng, sex),
                            family if a == 0 or rng.random() < 0.6 else rng.choices(FAMILY, FAMILY_W)[0],
                            as_of - timedelta(days=age * 365 + rng.randrange(365)), sex))  # fmt: skip
        children = rng.choice((0, 1, 1, 2, 2, 3, 4))
        twin_dob = None
        for c in range(children):
            sex = rng.choice(("female", "male"))
            dob = as_of - timedelta(days=rng.randrange(0, 18 * 365))
            if c > 0 and twin_dob is None and rng.random() < 0.015:
                dob = members[-1][2]  # twins: same birthday, same surname, same address
                twin_dob = dob
            taken = {m[0] for m in members}
            given = _given(rng, sex)
            while given in taken:
                given = _given(rng, sex)
            members.append((given, family, dob, sex))  # nobody names two children alike
        for given, surname, dob, sex in members:
            person_no += 1
            nhs = people.nhs_number(rng)
            child = (as_of - dob).days < 18 * 365
            upn = (
                f"{rng.choice('ABCDEFGHJK')}{rng.randrange(10**12):012d}"
                if child and (as_of - dob).days > 4 * 365
                else ""
            )
            n_records = rng.choices((1, 2, 3, 4), (30, 35, 22, 13))[0]
            for agency in rng.sample(AGENCIES, n_records):
                made += 1
                yield _corrupt(rng, made, person_no, agency, given, surname, dob, sex, street, town, postcode,
                               nhs, upn, missing_nhs)  # fmt: skip
                if made >= records:
                    return


def _given(rng: random.Random, sex: str) -> str:
    return rng.choices(GIRLS, GIRL_W)[0] if sex == "female" else rng.choices(BOYS, BOY_W)[0]


def _corrupt(rng, rid, truth, agency, given, surname, dob, sex, street, town, postcode, nhs, upn, missing_nhs) -> dict:
    r = rng.random
    if r() < 0.10:
        given = people.english_form(rng, given)
    if r() < 0.08:
        given = people.typo(rng, given)
    if r() < 0.06:
        surname = people.typo(rng, surname)
    if r() < 0.04:
        surname = rng.choices(FAMILY, FAMILY_W)[0]  # a new surname: marriage, a step-parent's name
    if r() < 0.02:
        given, surname = surname, given
    if r() < 0.04:
        dob = people.swapped(dob)
    elif r() < 0.04:
        with contextlib.suppress(ValueError):  # a slip that makes no date leaves it as it was
            dob = date.fromisoformat(_digit_slip(rng, dob.isoformat()))
    if r() < 0.10:
        street, town, postcode = _address(rng)  # an old or a new address
    elif r() < 0.03:
        postcode = postcode[:-1] + rng.choice("ABDEFGHJ")
    nhs_value = "" if r() < missing_nhs else (_digit_slip(rng, nhs) if r() < 0.01 else nhs)
    # Schools always hold the pupil number; social care and the police sometimes do.
    upn_value = upn if upn and (agency == "school" or (agency in {"social_care", "police"} and r() < 0.4)) else ""
    return {
        "id": f"R{rid:08d}",
        "truth": truth,
        "agency": agency,
        "given_name": given if r() > 0.01 else "",
        "surname": surname,
        "date_of_birth": dob.isoformat() if dob and r() > 0.03 else "",
        "sex": sex if r() > 0.05 else "",
        "postcode": postcode if r() > 0.05 else "",
        "address": street if r() > 0.1 else "",
        "town": town,
        "nhs_number": nhs_value,
        "pupil_number": upn_value,
    }
