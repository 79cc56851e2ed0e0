"""The Prydderch household and the organisations around it: one named, deterministic fixture
family for every test (like Zulip's hamlet and iago).

The family (ages as of late 2026):

* **Ceri Prydderch**, 32, mother. Partner of Dafydd.
* **Dafydd Morgan**, 35, Ceri's partner; father of Twm, of the unborn baby and of Efa.
* **Alys Prydderch**, 7 (born 9 April 2019, so a day/month swap gives 4 September 2019).
  Pupil at Ysgol Glan-y-Môr. Her father is not on the scene.
* **Twm Prydderch**, 3, son of Ceri and Dafydd. Alys's half-brother.
* **Efa Morgan**, 12, Dafydd's daughter from an earlier relationship; Twm's half-sister. Lives
  with her mother in Carmarthen, in a *different* local authority.
* **Unborn baby Prydderch**, Ceri's pregnancy, due 14 February 2027.

Ceri, Dafydd, Alys, Twm and the unborn baby live at 4 Maes y Felin, Llanbadarn Fawr
(Ceredigion). The organisations: Ceredigion children's services, Meddygfa'r Bont (GP
practice), the Ceredigion health visiting service, Ysgol Glan-y-Môr, Dyfed-Powys Police, Tai
Teifi (housing) and, in Carmarthenshire, Carmarthenshire children's services.

Everything goes through the service functions (``agency_record_upsert``, ``household_create``,
``relationship_add``, ``record_event`` ...) as production code does; only places, organisations
and sign-in accounts, which have no service yet, are created directly. Builders are plain
functions; the ones named by a state (``allocated``, ``corrected_event``,
``confirmed_totp_device``) put an object into that state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cylch.access.models import BoardArea, LocalAuthority, Organisation, User
from cylch.access.roles import ROLE_ORGANISATION_KINDS, OrganisationKind, Role
from cylch.core import taxonomy
from cylch.events.models import Event, Source
from cylch.events.services import event_correct, record_event
from cylch.identity.models import Allocation, AllocationKind, Household, Person
from cylch.identity.services import (
    agency_record_upsert,
    allocation_create,
    household_add_member,
    household_create,
    relationship_add,
)

# --- identifiers, computed here independently of cylch.identity.validators ---------------

UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def nhs_number(first_nine: str) -> str:
    """A valid NHS number starting with ``first_nine`` (modulus 11, weights 10 down to 2)."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    if check == 10:
        raise ValueError(f"no valid NHS number starts with {first_nine}")
    return first_nine + str(check)


def upn(body: str) -> str:
    """A valid unique pupil number for a 12-character body (weights 2..13, sum mod 23)."""
    total = sum(
        (int(ch) if ch.isdigit() else UPN_LETTERS.index(ch)) * weight for weight, ch in enumerate(body, start=2)
    )
    return UPN_LETTERS[total % 23] + body


# Published NHS test numbers for the two children; computed ones for the rest.
NHS = {
    "alys": "9434765919",
    "twm": "9434765870",
    "ceri": nhs_number("943476561"),
    "dafydd": nhs_number("943476562"),
    "efa": nhs_number("943476563"),
}
# Ceredigion is LA 663 in the Welsh numbering; school 2041; allocated 2023; serial 017.
ALYS_UPN = upn("663204123017")


def at(day: date | str, hour: int = 10, minute: int = 0) -> datetime:
    """An aware date-time on a given day (UTC), for ``occurred_at``."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# --- places and organisations ------------------------------------------------------------


@dataclass(frozen=True)
class Places:
    mid_and_west_wales: BoardArea
    ceredigion: LocalAuthority
    carmarthenshire: LocalAuthority


def places() -> Places:
    """Mid and West Wales board area with Ceredigion and Carmarthenshire (idempotent)."""
    board, _ = BoardArea.objects.get_or_create(
        code="mid-west-wales",
        defaults={"name_en": "Mid and West Wales", "name_cy": "Canolbarth a Gorllewin Cymru"},
    )
    ceredigion, _ = LocalAuthority.objects.get_or_create(
        code="ceredigion", defaults={"name_en": "Ceredigion", "name_cy": "Ceredigion", "board_area": board}
    )
    carmarthenshire, _ = LocalAuthority.objects.get_or_create(
        code="carmarthenshire",
        defaults={"name_en": "Carmarthenshire", "name_cy": "Sir Gaerfyrddin", "board_area": board},
    )
    return Places(board, ceredigion, carmarthenshire)


def organisation(
    *,
    code: str,
    kind: str,
    name_en: str = "",
    name_cy: str = "",
    local_authority: LocalAuthority | None = None,
    safeguarding_email: str = "",
    contact_role_en: str = "Safeguarding lead",
    contact_role_cy: str = "Arweinydd diogelu",
) -> Organisation:
    name_en = name_en or code.replace("-", " ").title()
    return Organisation.objects.create(
        code=code,
        kind=kind,
        name_en=name_en,
        name_cy=name_cy or name_en,
        local_authority=local_authority,
        board_area=local_authority.board_area if local_authority else None,
        safeguarding_email=safeguarding_email or f"safeguarding@{code}.example",
        contact_role_en=contact_role_en,
        contact_role_cy=contact_role_cy,
    )


@dataclass(frozen=True)
class Organisations:
    childrens_services: Organisation  # Ceredigion, where the family lives
    gp: Organisation
    health_visiting: Organisation
    school: Organisation
    police: Organisation
    housing: Organisation
    other_la_childrens_services: Organisation  # Carmarthenshire, where Efa lives


def organisations(where: Places) -> Organisations:
    ceredigion, carmarthenshire = where.ceredigion, where.carmarthenshire
    return Organisations(
        childrens_services=organisation(
            code="ceredigion-childrens-services",
            kind=OrganisationKind.LA_CHILDRENS_SERVICES,
            name_en="Ceredigion Children's Services",
            name_cy="Gwasanaethau Plant Ceredigion",
            local_authority=ceredigion,
            contact_role_en="Duty team manager",
            contact_role_cy="Rheolwr tîm dyletswydd",
        ),
        gp=organisation(
            code="meddygfa-r-bont",
            kind=OrganisationKind.GP_PRACTICE,
            name_en="Meddygfa'r Bont",
            name_cy="Meddygfa'r Bont",
            local_authority=ceredigion,
        ),
        health_visiting=organisation(
            code="ceredigion-health-visiting",
            kind=OrganisationKind.HEALTH_VISITING,
            name_en="Ceredigion Health Visiting Service",
            name_cy="Gwasanaeth Ymwelwyr Iechyd Ceredigion",
            local_authority=ceredigion,
        ),
        school=organisation(
            code="ysgol-glan-y-mor",
            kind=OrganisationKind.SCHOOL,
            name_en="Ysgol Glan-y-Môr",
            name_cy="Ysgol Glan-y-Môr",
            local_authority=ceredigion,
            contact_role_en="Designated safeguarding person",
            contact_role_cy="Person diogelu dynodedig",
        ),
        police=organisation(
            code="dyfed-powys-police",
            kind=OrganisationKind.POLICE,
            name_en="Dyfed-Powys Police",
            name_cy="Heddlu Dyfed-Powys",
            local_authority=carmarthenshire,
            contact_role_en="Public protection unit",
            contact_role_cy="Uned amddiffyn y cyhoedd",
        ),
        housing=organisation(
            code="tai-teifi",
            kind=OrganisationKind.HOUSING,
            name_en="Tai Teifi Housing Association",
            name_cy="Cymdeithas Tai Teifi",
            local_authority=ceredigion,
        ),
        other_la_childrens_services=organisation(
            code="carmarthenshire-childrens-services",
            kind=OrganisationKind.LA_CHILDRENS_SERVICES,
            name_en="Carmarthenshire Children's Services",
            name_cy="Gwasanaethau Plant Sir Gaerfyrddin",
            local_authority=carmarthenshire,
        ),
    )


def organisation_for_role(role: str, *, code: str, local_authority: LocalAuthority | None) -> Organisation:
    """An organisation of the kind the role usually works in."""
    kinds = sorted(ROLE_ORGANISATION_KINDS[role])
    preferred = OrganisationKind.LA_CHILDRENS_SERVICES if role in (Role.ADMIN, Role.SYSTEM) else kinds[0]
    kind = preferred if preferred in kinds else kinds[0]
    return organisation(code=code, kind=kind, local_authority=local_authority)


# --- people who sign in ----------------------------------------------------------------


def practitioner(
    *,
    username: str,
    role: str,
    organisation: Organisation | None,
    first_name: str = "",
    last_name: str = "",
    language: str = "en",
    is_safeguarding_lead: bool = False,
    is_demo: bool = False,
    email: str | None = None,
    password: str | None = None,
) -> User:
    """A sign-in account. Without ``password`` the password is unusable (no Argon2 cost)."""
    return User.objects.create_user(
        username=username,
        email=f"{username}@example.cymru" if email is None else email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        organisation=organisation,
        role=role,
        language=language,
        is_safeguarding_lead=is_safeguarding_lead,
        is_demo=is_demo,
    )


def demo_practitioner(**kwargs: Any) -> User:
    """A demo account: may sign in without two-factor authentication on a demo hub."""
    return practitioner(is_demo=True, **kwargs)


def confirmed_totp_device(user: User):
    """An authenticator app the user has finished enrolling."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def current_totp(device) -> str:
    """The code the user's authenticator app shows now."""
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):0{device.digits}d}"


# --- the family ------------------------------------------------------------------------


@dataclass(frozen=True)
class Staff:
    social_worker: User  # Ceredigion children's services
    team_manager: User
    health_visitor: User
    gp: User
    school_lead: User
    police_officer: User
    housing_officer: User
    other_la_social_worker: User  # Carmarthenshire


@dataclass(frozen=True)
class Prydderch:
    places: Places
    orgs: Organisations
    staff: Staff
    ceri: Person
    dafydd: Person
    alys: Person
    twm: Person
    efa: Person
    unborn: Person
    home: Household
    efa_home: Household

    @property
    def children(self) -> list[Person]:
        return [self.alys, self.twm]


def prydderch_staff(orgs: Organisations) -> Staff:
    return Staff(
        social_worker=demo_practitioner(
            username="gwen.social",
            role=Role.SOCIAL_WORKER,
            organisation=orgs.childrens_services,
            first_name="Gwen",
            last_name="Thomas",
        ),
        team_manager=demo_practitioner(
            username="aled.manager",
            role=Role.TEAM_MANAGER,
            organisation=orgs.childrens_services,
            first_name="Aled",
            last_name="Rees",
            is_safeguarding_lead=True,
            language="cy",
        ),
        health_visitor=demo_practitioner(
            username="nia.hv",
            role=Role.HEALTH_VISITOR,
            organisation=orgs.health_visiting,
            first_name="Nia",
            last_name="Hughes",
        ),
        gp=demo_practitioner(
            username="dr.owen",
            role=Role.GP,
            organisation=orgs.gp,
            first_name="Rhodri",
            last_name="Owen",
        ),
        school_lead=demo_practitioner(
            username="bethan.school",
            role=Role.SCHOOL_SAFEGUARDING_LEAD,
            organisation=orgs.school,
            first_name="Bethan",
            last_name="Jenkins",
        ),
        police_officer=demo_practitioner(
            username="pc.delyth",
            role=Role.POLICE_PPN,
            organisation=orgs.police,
            first_name="Delyth",
            last_name="Parry",
        ),
        housing_officer=demo_practitioner(
            username="mark.housing",
            role=Role.HOUSING_OFFICER,
            organisation=orgs.housing,
            first_name="Mark",
            last_name="Evans",
        ),
        other_la_social_worker=demo_practitioner(
            username="sian.carms",
            role=Role.SOCIAL_WORKER,
            organisation=orgs.other_la_childrens_services,
            first_name="Siân",
            last_name="Lewis",
        ),
    )


def prydderch_household() -> Prydderch:
    """Build the whole family, its homes, relationships and the agencies' records of them."""
    where = places()
    orgs = organisations(where)
    staff = prydderch_staff(orgs)

    def gp_record(local_id: str, **data: Any) -> Person:
        return agency_record_upsert(organisation=orgs.gp, local_id=local_id, data=data, actor=staff.gp).person

    ceri = gp_record(
        "GP-1001",
        given_name="Ceri",
        family_name="Prydderch",
        date_of_birth="1994-06-30",
        sex="female",
        nhs_number=NHS["ceri"],
        address_line="4 Maes y Felin",
        town="Llanbadarn Fawr",
        postcode="sy23 3zz",
    )
    dafydd = gp_record(
        "GP-1002",
        given_name="Dafydd",
        family_name="Morgan",
        date_of_birth="1991-02-11",
        sex="male",
        nhs_number=NHS["dafydd"],
        postcode="SY23 3ZZ",
    )
    alys = gp_record(
        "GP-1003",
        given_name="Alys",
        family_name="Prydderch",
        date_of_birth="2019-04-09",
        sex="female",
        nhs_number=NHS["alys"],
        postcode="SY23 3ZZ",
    )
    twm = gp_record(
        "GP-1004",
        given_name="Twm",
        family_name="Prydderch",
        date_of_birth="2023-05-02",
        sex="male",
        nhs_number=NHS["twm"],
        postcode="SY23 3ZZ",
    )
    # The school spells her "Alice" and holds her pupil number; the NHS number links the record.
    agency_record_upsert(
        organisation=orgs.school,
        local_id="PUPIL-2041-017",
        actor=staff.school_lead,
        data={
            "given_name": "Alice",
            "family_name": "Prydderch",
            "date_of_birth": "2019-04-09",
            "upn": ALYS_UPN,
            "nhs_number": NHS["alys"],
        },
    )
    # The health visitor knows Twm, and the unborn baby from the antenatal contact.
    agency_record_upsert(
        organisation=orgs.health_visiting,
        local_id="HV-77-TWM",
        actor=staff.health_visitor,
        data={"given_name": "Twm", "family_name": "Prydderch", "date_of_birth": "2023-05-02", "nhs_number": NHS["twm"]},
    )
    unborn = agency_record_upsert(
        organisation=orgs.health_visiting,
        local_id="HV-77-UNBORN",
        actor=staff.health_visitor,
        data={"family_name": "Prydderch", "expected_date_of_delivery": "2027-02-14"},
    ).person
    efa = agency_record_upsert(
        organisation=orgs.other_la_childrens_services,
        local_id="CARMS-5521",
        actor=staff.other_la_social_worker,
        data={
            "given_name": "Efa",
            "family_name": "Morgan",
            "date_of_birth": "2014-08-21",
            "sex": "female",
            "nhs_number": NHS["efa"],
            "town": "Carmarthen",
        },
    ).person

    home = household_create(
        address_line="4 Maes y Felin",
        town="Llanbadarn Fawr",
        postcode="sy23 3zz",
        local_authority=where.ceredigion,
    )
    for member in (ceri, dafydd, alys, twm, unborn):
        household_add_member(household=home, person=member, from_date=date(2023, 9, 1))
    efa_home = household_create(
        address_line="Flat 2, 18 Heol Awst",
        town="Carmarthen",
        postcode="SA31 1AA",
        local_authority=where.carmarthenshire,
    )
    household_add_member(household=efa_home, person=efa, from_date=date(2016, 1, 4))

    relationship_add(person=ceri, kind="partner", relative=dafydd, lives_with=True)
    for child in (alys, twm, unborn):
        relationship_add(person=ceri, kind="parent", relative=child, parental_responsibility=True, lives_with=True)
    for child in (twm, unborn):
        relationship_add(person=dafydd, kind="parent", relative=child, parental_responsibility=True, lives_with=True)
    relationship_add(person=dafydd, kind="parent", relative=efa, parental_responsibility=True)
    relationship_add(person=alys, kind="half_sibling", relative=twm, lives_with=True)
    relationship_add(person=efa, kind="half_sibling", relative=twm)

    return Prydderch(where, orgs, staff, ceri, dafydd, alys, twm, efa, unborn, home, efa_home)


# --- events ----------------------------------------------------------------------------


def minimal_details(code: str) -> dict[str, Any]:
    """The smallest ``details`` the code's schema accepts (its required fields, simply filled)."""
    schema = taxonomy.get(code).details_schema
    details = _instance(schema)
    assert taxonomy.get(code).validator.is_valid(details), (code, details)
    return details


def _instance(schema: dict[str, Any]) -> Any:
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return _instance(schema[key][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _instance(props.get(name, {"type": "string"})) for name in schema.get("required", [])}
    if kind == "array":
        return [_instance(schema.get("items", {"type": "string"})) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    fmt = schema.get("format")
    if fmt == "date":
        return "2026-10-01"
    if fmt == "date-time":
        return "2026-10-01T09:00:00Z"
    return "x" * max(int(schema.get("minLength", 1)), 1)


def code_with_sensitivity(
    sensitivity: str, *, prefix: str = "", subjects: tuple[str, ...] = ("child", "any", "household")
) -> str:
    """A taxonomy code of that class that may be recorded about a child (the first in code
    order, for determinism)."""
    matches = sorted(
        c.code
        for c in taxonomy.codes().values()
        if c.sensitivity == sensitivity and c.code.startswith(prefix) and c.subject in subjects
    )
    if not matches:
        raise LookupError(f"the taxonomy has no {sensitivity!r} code starting {prefix!r}")
    return matches[0]


def event(
    *,
    organisation: Organisation,
    person: Person,
    code: str,
    occurred_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    summary: str = "",
    sensitivity: str | None = None,
    recorded_by: User | None = None,
    external_id: str | None = None,
) -> Event:
    """Record one event through the recording service (the same path as every writer)."""
    return record_event(
        organisation=organisation,
        person=person,
        code=code,
        occurred_at=occurred_at or at("2026-10-01"),
        details=minimal_details(code) if details is None else details,
        summary=summary or f"{code} about {person.display_name}",
        sensitivity=sensitivity,
        recorded_by=recorded_by,
        external_id=external_id,
        source=Source.WEB,
    ).event


def event_of_sensitivity(sensitivity: str, **kwargs: Any) -> Event:
    """An event whose class is ``sensitivity`` (the taxonomy has codes of every class)."""
    return event(code=code_with_sensitivity(sensitivity), **kwargs)


def corrected_event(original: Event, *, recorded_by: User | None = None, summary: str = "Corrected entry") -> Event:
    """The correction that now stands in for ``original``."""
    return event_correct(original=original, recorded_by=recorded_by, summary=summary).event


def allocated(
    person: Person,
    organisation: Organisation,
    *,
    practitioner: User | None = None,
    kind: str = AllocationKind.NAMED_PRACTITIONER,
) -> Allocation:
    """``organisation`` holds an open allocation for ``person``."""
    return allocation_create(
        person=person, organisation=organisation, kind=kind, practitioner=practitioner, from_date=date(2026, 9, 1)
    )
