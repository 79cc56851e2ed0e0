"""The demo's places, organisations and sign-in accounts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password

from cylch.access.models import BoardArea, LocalAuthority, Organisation, User
from cylch.access.roles import OrganisationKind as K
from cylch.access.roles import Role
from cylch.demo import places

DEMO_PASSWORD = "cylch-demo"
SCENARIO_LA = "cardiff"


@dataclass
class Directory:
    """Everything the population builder needs to find the right organisation quickly."""

    boards: dict[str, BoardArea] = field(default_factory=dict)
    las: dict[str, LocalAuthority] = field(default_factory=dict)
    orgs: dict[str, Organisation] = field(default_factory=dict)
    la_meta: dict[str, tuple] = field(default_factory=dict)
    schools: dict[str, list[Organisation]] = field(default_factory=dict)
    gps: dict[str, list[Organisation]] = field(default_factory=dict)
    la_numbers: dict[str, int] = field(default_factory=dict)

    def service(self, la_code: str, kind: str) -> Organisation | None:
        """The organisation of ``kind`` that serves people living in ``la_code``."""
        _c, _en, _cy, _board, hb, police, *_ = self.la_meta[la_code]
        if kind == K.LA_CHILDRENS_SERVICES:
            return self.orgs[f"{la_code}-cs"]
        if kind == K.HOUSING:
            return self.orgs[f"{la_code}-housing"]
        if kind == K.POLICE:
            return self.orgs[f"police-{police}"]
        if kind == K.THIRD_SECTOR:
            return self.orgs["third-llwybr"]
        return self.orgs.get(f"{hb}-{kind.replace('_', '-')}")


def build_directory(rng: random.Random, *, schools_per_la: int, gps_per_la: int) -> Directory:
    d = Directory()
    d.boards = {
        code: BoardArea.objects.create(code=code, name_en=en, name_cy=cy) for code, en, cy in places.BOARD_AREAS
    }
    for number, (code, en, cy, board, *_rest) in enumerate(places.LOCAL_AUTHORITIES, start=660):
        d.las[code] = LocalAuthority.objects.create(code=code, name_en=en, name_cy=cy, board_area=d.boards[board])
        d.la_meta[code] = places.LOCAL_AUTHORITIES[number - 660]
        d.la_numbers[code] = number

    orgs: list[Organisation] = []

    def org(
        code, en, cy, kind, la=None, board=None, parent=None, role_en="Safeguarding lead", role_cy="Arweinydd diogelu"
    ):
        o = Organisation(
            code=code,
            name_en=en,
            name_cy=cy,
            kind=kind,
            local_authority=d.las.get(la) if la else None,
            board_area=d.boards[board] if board else (d.las[la].board_area if la else None),
            parent=parent,
            safeguarding_email=f"safeguarding@{code}.demo.cylch.invalid",
            safeguarding_phone=f"0300 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
            contact_role_en=role_en,
            contact_role_cy=role_cy,
        )
        orgs.append(o)
        return o

    # Health boards are parents of their services, so save them first.
    for code, en, cy, board in places.HEALTH_BOARDS:
        org(f"hb-{code}", en, cy, K.HEALTH_BOARD, board=board)
    Organisation.objects.bulk_create(orgs)
    d.orgs.update({o.code: o for o in Organisation.objects.all()})
    orgs.clear()

    for code, en, cy, board in places.HEALTH_BOARDS:
        parent = d.orgs[f"hb-{code}"]
        for kind, suffix_en, prefix_cy in places.HEALTH_SERVICES:
            org(
                f"{code}-{kind.replace('_', '-')}",
                f"{en.replace(' University Health Board', '').replace(' Teaching Health Board', '')} {suffix_en}",
                f"{prefix_cy} {cy.replace('Bwrdd Iechyd Prifysgol ', '').replace('Bwrdd Iechyd Addysgu ', '')}",
                kind,
                board=board,
                parent=parent,
            )
    for code, en, cy, board in places.POLICE_FORCES:
        org(
            f"police-{code}",
            en,
            cy,
            K.POLICE,
            board=board,
            role_en="Public protection unit",
            role_cy="Uned diogelu'r cyhoedd",
        )
    for code, en, cy in places.THIRD_SECTOR:
        org(f"third-{code}", en, cy, K.THIRD_SECTOR, board="cardiff-vale")
    for code, en, cy in places.BOARD_AREAS:
        org(
            f"board-{code}",
            f"{en} Regional Safeguarding Board",
            f"Bwrdd Diogelu Rhanbarthol {cy}",
            K.SAFEGUARDING_BOARD,
            board=code,
            role_en="Board business unit",
            role_cy="Uned fusnes y bwrdd",
        )
    org("nisb", "National Independent Safeguarding Board", "Bwrdd Diogelu Annibynnol Cenedlaethol", K.NATIONAL_BOARD)

    for code, en, cy, _board, hb, _police, _postcodes, towns in places.LOCAL_AUTHORITIES:
        org(
            f"{code}-cs",
            f"{en} Children's Services",
            f"Gwasanaethau Plant {cy}",
            K.LA_CHILDRENS_SERVICES,
            la=code,
            role_en="Duty team (front door)",
            role_cy="Tîm dyletswydd (drws ffrynt)",
        )
        org(
            f"{code}-housing",
            f"{en} Housing Services",
            f"Gwasanaethau Tai {cy}",
            K.HOUSING,
            la=code,
            role_en="Housing safeguarding officer",
            role_cy="Swyddog diogelu tai",
        )
        for i in range(schools_per_la):
            town = towns[i % len(towns)]
            tref = places.town_cy(town)
            if i % 3 == 0:  # a Welsh-medium school: its Welsh name in both languages
                org(
                    f"school-{code}-{i + 1:02d}",
                    f"Ysgol Gymraeg {tref}",
                    f"Ysgol Gymraeg {tref}",
                    K.SCHOOL,
                    la=code,
                    role_en="Designated safeguarding person",
                    role_cy="Person diogelu dynodedig",
                )
            elif i % 3 == 1:
                org(
                    f"school-{code}-{i + 1:02d}",
                    f"{town} Primary School",
                    f"Ysgol Gynradd {tref}",
                    K.SCHOOL,
                    la=code,
                    role_en="Designated safeguarding person",
                    role_cy="Person diogelu dynodedig",
                )
            else:
                org(
                    f"school-{code}-{i + 1:02d}",
                    f"{town} High School",
                    f"Ysgol Uwchradd {tref}",
                    K.SCHOOL,
                    la=code,
                    role_en="Designated safeguarding person",
                    role_cy="Person diogelu dynodedig",
                )
        for i in range(gps_per_la):
            town = towns[(i + 1) % len(towns)]
            org(
                f"gp-{code}-{i + 1:02d}",
                f"{town} Medical Centre {i + 1}",
                f"Canolfan Feddygol {places.town_cy(town)} {i + 1}",
                K.GP_PRACTICE,
                la=code,
                parent=d.orgs[f"hb-{hb}"],
                role_en="Practice safeguarding lead",
                role_cy="Arweinydd diogelu'r practis",
            )
    Organisation.objects.bulk_create(orgs)
    d.orgs = {o.code: o for o in Organisation.objects.select_related("local_authority").all()}
    for la in d.las:
        d.schools[la] = sorted((o for c, o in d.orgs.items() if c.startswith(f"school-{la}-")), key=lambda o: o.code)
        d.gps[la] = sorted((o for c, o in d.orgs.items() if c.startswith(f"gp-{la}-")), key=lambda o: o.code)
    return d


# username (= role slug), role, organisation code, full name, safeguarding lead?
DEMO_USERS = [
    (Role.HEALTH_VISITOR, "cav-health-visiting", "Bethan Morgan", True),
    (Role.MIDWIFE, "cav-midwifery", "Rhian Hughes", True),
    (Role.GP, f"gp-{SCENARIO_LA}-01", "Dr Gareth Lloyd", True),
    (Role.SCHOOL_NURSE, "cav-school-nursing", "Carys Bowen", True),
    (Role.ED_CLINICIAN, "cav-emergency-department", "Dr Priya Shah", True),
    (Role.CAMHS_PRACTITIONER, "cav-camhs", "Owain Pritchard", True),
    (Role.ADULT_MENTAL_HEALTH_PRACTITIONER, "cav-adult-mental-health", "Helen Walker", True),
    (Role.SCHOOL_SAFEGUARDING_LEAD, f"school-{SCENARIO_LA}-01", "Sioned Evans", True),
    (Role.POLICE_PPN, "police-south-wales", "DC Mark Jenkins", True),
    (Role.HOUSING_OFFICER, f"{SCENARIO_LA}-housing", "Lee Thomas", True),
    (Role.THIRD_SECTOR_WORKER, "third-llwybr", "Nia Protheroe", True),
    (Role.FRONT_DOOR, f"{SCENARIO_LA}-cs", "Ffion Rees", False),
    (Role.SOCIAL_WORKER, f"{SCENARIO_LA}-cs", "Dafydd Price", False),
    (Role.TEAM_MANAGER, f"{SCENARIO_LA}-cs", "Catrin Edwards", True),
    (Role.CONFERENCE_CHAIR, f"{SCENARIO_LA}-cs", "Alun Vaughan", False),
    (Role.BOARD_ANALYST, "board-cardiff-vale", "Sam Clarke", False),
    (Role.REVIEW_PANEL, "board-cardiff-vale", "Gareth Morgan", False),
    (Role.ADMIN, f"{SCENARIO_LA}-cs", "System Administrator", False),
]


def create_demo_users(d: Directory) -> dict[str, User]:
    password = make_password(DEMO_PASSWORD)
    users = []
    for role, org_code, full_name, lead in DEMO_USERS:
        first, _, last = full_name.rpartition(" ")
        users.append(
            User(
                username=role.value,
                password=password,
                first_name=first,
                last_name=last,
                email=f"{role.value}@demo.cylch.invalid",
                organisation=d.orgs[org_code],
                role=role,
                job_title=str(role.label),
                is_safeguarding_lead=lead,
                is_demo=True,
                is_staff=role == Role.ADMIN,
                is_superuser=role == Role.ADMIN,
            )
        )
    # The national board reads every board's reviews (a second review-panel account).
    users.append(
        User(username="national-review-panel", password=password, first_name="Eleri", last_name="Meredith",
             email="national-review-panel@demo.cylch.invalid", organisation=d.orgs["nisb"], role=Role.REVIEW_PANEL,
             job_title=str(Role.REVIEW_PANEL.label), is_demo=True)
    )  # fmt: skip
    User.objects.bulk_create(users)
    return {u.username: u for u in User.objects.filter(is_demo=True)}
