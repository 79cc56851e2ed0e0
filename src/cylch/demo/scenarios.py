"""Named families whose stories follow the patterns the Child Practice Reviews found.

Each is in Cardiff and uses the demo users' organisations, so signing in as ``health-visitor``
or ``front-door`` shows them as a practitioner there would see them. Dates are relative to
the build's ``as_of`` date.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from cylch.core import taxonomy
from cylch.demo.organisations import SCENARIO_LA
from cylch.demo.population import Individual, PopulationBuilder

LA = SCENARIO_LA


class Family:
    def __init__(self, pb: PopulationBuilder, writer, family_name: str):
        self.pb, self.writer = pb, writer
        self.household, self.address, self.postcode, self.town = pb.household_for(LA)
        self.family_name = family_name
        self.members: list[Individual] = []
        self.rels: list[tuple[int, str, int, bool, bool]] = []
        self.away: list[Individual] = []

    def person(
        self,
        given: str,
        age: int | None,
        sex: str,
        *,
        school=None,
        family: str | None = None,
        nhs: bool = True,
        unborn_days: int | None = None,
        born_days_ago: int | None = None,
        elsewhere: bool = False,
    ) -> Individual:
        pb = self.pb
        if born_days_ago is not None:
            dob = pb.as_of - timedelta(days=born_days_ago)
        else:
            dob = pb.dob_for_age(age) if age is not None else None
        edd = pb.as_of + timedelta(days=unborn_days) if unborn_days is not None else None
        p = pb.new_person(given, family or self.family_name, dob, sex, unborn_edd=edd, with_nhs=nhs)
        if elsewhere:
            h, addr, pc, town = pb.household_for(LA)
            ind = Individual(p, LA, h, addr, pc, town)
            self.away.append(ind)
        else:
            ind = Individual(p, LA, self.household, self.address, self.postcode, self.town)
            self.members.append(ind)
        ind.gp = pb.d.gps[LA][0]
        ind.resolved = True
        pb.enrol(ind, school=school)
        return ind

    def rel(self, a: Individual, kind: str, b: Individual, pr: bool = False, lives: bool = True):
        self.writer.relationships.append((a, kind, b, pr, lives))

    def event(
        self,
        ind: Individual,
        code: str,
        org_code: str | None,
        days_ago: int,
        *,
        summary: str = "",
        details: dict | None = None,
        recorder: tuple[str, str] = ("", ""),
        hour: int = 10,
    ):
        pb = self.pb
        event_code = taxonomy.get(code)
        if event_code is None:
            raise LookupError(f"demo scenario uses unknown code {code!r}")
        org = pb.d.orgs[org_code] if org_code else pb.org_for(ind, event_code)
        when = datetime.combine(pb.as_of - timedelta(days=days_ago), time(hour, 15), tzinfo=UTC)
        self.writer.events.append(
            (ind, pb.event(ind, event_code, org, when, summary=summary, details=details or {}, recorder=recorder))
        )

    def done(self):
        self.writer.individuals.extend(self.members)
        self.writer.individuals.extend(self.away)


def _school(pb: PopulationBuilder, n: int = 0):
    return pb.d.schools[LA][n]


def build_all(pb: PopulationBuilder, writer, users) -> None:
    gp = pb.d.gps[LA][0].code
    school = _school(pb, 0).code
    welsh_school = next((s.code for s in pb.d.schools[LA] if s.name_en.startswith("Ysgol Gymraeg")), school)

    # 1. The Prydderch household: a toddler not brought to appointments by four health services,
    #    each of which saw only its own missed appointment (CPR19 in the thematic analysis).
    f = Family(pb, writer, "Prydderch")
    ceri = f.person("Ceri", 29, "female")
    gareth = f.person("Gareth", 33, "male", family="Bowen")
    alys = f.person("Alys", 7, "female", school=_school(pb, 0))
    twm = f.person("Twm", 3, "male")
    unborn = f.person("", None, "unknown", unborn_days=60, nhs=False)
    rhodri = f.person("Rhodri", 31, "male", family="Llywelyn", elsewhere=True)
    f.rel(ceri, "parent", alys, True)
    f.rel(ceri, "parent", twm, True)
    f.rel(ceri, "parent", unborn, True)
    f.rel(gareth, "parent", twm, True)
    f.rel(gareth, "parent", unborn, True)
    f.rel(gareth, "partner_of_parent", alys, False)
    f.rel(rhodri, "parent", alys, True, lives=False)
    f.rel(alys, "half_sibling", twm)
    f.rel(twm, "half_sibling", alys)
    f.rel(ceri, "partner", gareth)
    f.rel(gareth, "partner", ceri)
    for days, org, service, who in [
        (170, gp, "gp", ("Dr Gareth Lloyd", "GP")),
        (150, "cav-health-visiting", "health_visiting", ("Bethan Morgan", "Health visitor")),
        (128, "cav-hospital", "paediatrics", ("Outpatients clerk", "Paediatric outpatients")),
        (110, "cav-hospital", "therapy", ("Speech and language therapy", "Therapist")),
        (96, gp, "immunisation", ("Practice nurse", "Nurse")),
        (75, "cav-health-visiting", "health_visiting", ("Bethan Morgan", "Health visitor")),
        (52, "cav-hospital", "paediatrics", ("Outpatients clerk", "Paediatric outpatients")),
        (30, gp, "gp", ("Dr Gareth Lloyd", "GP")),
    ]:
        f.event(
            twm,
            "health.appointment.was_not_brought",
            org,
            days,
            details={"service": service, "rebooked": True, "follow_up": "letter_sent"},
            summary="Twm was not brought to his appointment. A new appointment letter was sent.",
            recorder=who,
        )
    f.event(
        twm,
        "health.child.development_concern",
        "cav-health-visiting",
        140,
        summary="Speech delay at 2½-year review; referred to speech and language therapy.",
        recorder=("Bethan Morgan", "Health visitor"),
    )
    f.event(
        alys,
        "education.presentation.concern",
        school,
        60,
        details={"indicators": ["hungry", "tired"]},
        summary="Alys arrived hungry on several mornings this term; breakfast club offered.",
        recorder=("Sioned Evans", "Designated safeguarding person"),
    )
    f.event(
        alys,
        "education.wetting",
        school,
        45,
        details={"type": "wetting", "repeated": True, "parent_informed": True},
        summary="Alys wet herself in class twice this week. Mum informed.",
        recorder=("Sioned Evans", "Designated safeguarding person"),
    )
    f.event(
        alys,
        "voice.lived_experience",
        school,
        44,
        details={"seen_alone": True, "location": "school", "method": "conversation", "language": "cy"},
        summary="Alys said: “Mae Mam yn drist ac yn cysgu lot. Dw i'n helpu gyda Twm.” (Mum is sad and sleeps a lot. I help with Twm.)",
        recorder=("Sioned Evans", "Designated safeguarding person"),
    )
    f.event(
        ceri,
        "health.adult_mental_health.concern",
        gp,
        90,
        summary="Low mood since Twm's birth; antidepressants restarted.",
        recorder=("Dr Gareth Lloyd", "GP"),
    )
    f.event(
        unborn,
        "health.pregnancy.concern",
        "cav-midwifery",
        40,
        details={"gestation_weeks": 24, "concerns": ["late_booking", "mental_health"]},
        summary="Booked late at 24 weeks.",
        recorder=("Rhian Hughes", "Midwife"),
    )
    f.done()

    # 2. Nine standard-risk domestic abuse notices at one address in a year, never shared (CPR16).
    f = Family(pb, writer, "Morgan")
    leanne = f.person("Leanne", 27, "female")
    jason = f.person("Jason", 30, "male", family="Price")
    kacey = f.person("Kacey", 5, "female", school=_school(pb, 0))
    tyler = f.person("Tyler", 2, "male", family="Price")
    f.rel(leanne, "parent", kacey, True)
    f.rel(leanne, "parent", tyler, True)
    f.rel(jason, "parent", tyler, True)
    f.rel(jason, "partner_of_parent", kacey)
    f.rel(kacey, "half_sibling", tyler)
    f.rel(tyler, "half_sibling", kacey)
    f.rel(leanne, "partner", jason)
    f.rel(jason, "partner", leanne)
    for i, days in enumerate([350, 310, 262, 220, 181, 140, 98, 55, 12]):
        f.event(
            leanne,
            "police.ppn.domestic_abuse",
            "police-south-wales",
            days,
            hour=22,
            details={
                "risk_level": "standard",
                "child_present": i % 3 != 1,
                "children_in_household": True,
                "repeat_victim": i > 0,
                "relationship": "intimate_partner",
                "shared_with_childrens_services": False,
            },
            summary="Verbal argument reported by neighbour. DASH completed: standard risk.",
            recorder=("PC Rhys Owen", "Response officer"),
        )
    f.event(
        kacey,
        "education.behaviour.change",
        school,
        80,
        details={"indicators": ["withdrawn", "tired"]},
        summary="Kacey very quiet and tired on Mondays.",
        recorder=("Sioned Evans", "Designated safeguarding person"),
    )
    f.event(
        tyler,
        "health.home_visit.no_access",
        "cav-health-visiting",
        70,
        details={"visit_type": "developmental_review", "announced": True, "card_left": True},
        recorder=("Bethan Morgan", "Health visitor"),
    )
    f.done()

    # 3. Young care-leaver parents with a newborn.
    f = Family(pb, writer, "Owen")
    chelsea = f.person("Chelsea", 18, "female")
    kyle = f.person("Kyle", 19, "male", family="Watkins")
    baby = f.person("Nova", None, "female", born_days_ago=21)
    f.rel(chelsea, "parent", baby, True)
    f.rel(kyle, "parent", baby, False)
    f.rel(chelsea, "partner", kyle)
    f.rel(kyle, "partner", chelsea)
    f.event(
        chelsea,
        "social_care.parent.previously_looked_after",
        f"{LA}-cs",
        200,
        details={"leaving_care_support_offered": True},
        recorder=("Leaving care team", "Personal adviser"),
    )
    f.event(
        kyle,
        "social_care.parent.previously_looked_after",
        f"{LA}-cs",
        200,
        details={"leaving_care_support_offered": False},
        recorder=("Leaving care team", "Personal adviser"),
    )
    f.event(
        chelsea,
        "social_care.care_leaver.pathway_plan",
        f"{LA}-cs",
        150,
        summary="Pathway plan review: pregnancy; wants to keep her flat.",
        recorder=("Leaving care team", "Personal adviser"),
    )
    f.event(
        baby,
        "social_care.parent.young_parent",
        "cav-midwifery",
        120,
        details={"age_at_birth": 18, "care_experienced": True},
        recorder=("Rhian Hughes", "Midwife"),
    )
    f.event(
        baby,
        "health.safe_sleep.concern",
        "cav-health-visiting",
        10,
        summary="Baby sleeping on the sofa with dad; safe sleep advice given.",
        recorder=("Bethan Morgan", "Health visitor"),
    )
    f.event(
        baby,
        "health.home_visit.no_access",
        "cav-health-visiting",
        4,
        details={"visit_type": "new_birth", "announced": True, "card_left": True},
        recorder=("Bethan Morgan", "Health visitor"),
    )
    f.done()

    # 4. A teenager whose self-harm was known to CAMHS and the emergency department, not to school.
    f = Family(pb, writer, "Parry")
    mam = f.person("Sian", 44, "female")
    megan = f.person("Megan", 14, "female", school=pb.d.orgs[welsh_school])
    f.rel(mam, "parent", megan, True)
    f.event(
        megan,
        "health.self_harm.incident",
        "cav-emergency-department",
        120,
        hour=23,
        details={"medical_attention": "emergency_department", "repeat": False, "school_informed": False},
        summary="Cuts to forearm. Seen by CAMHS liaison before discharge.",
        recorder=("Dr Priya Shah", "ED registrar"),
    )
    f.event(
        megan,
        "health.camhs.involvement",
        "cav-camhs",
        110,
        details={"status": "waiting_list", "risk_assessment_completed": True},
        recorder=("Owain Pritchard", "CAMHS practitioner"),
    )
    f.event(
        megan,
        "health.self_harm.incident",
        "cav-emergency-department",
        40,
        hour=1,
        details={"medical_attention": "emergency_department", "repeat": True, "school_informed": False},
        summary="Repeat self-harm; overdose of paracetamol.",
        recorder=("Dr Priya Shah", "ED registrar"),
    )
    f.event(megan, "health.suicidal_ideation", "cav-camhs", 35, recorder=("Owain Pritchard", "CAMHS practitioner"))
    f.event(
        megan,
        "education.attendance.concern",
        welsh_school,
        30,
        details={"pattern": "persistent_absence", "attendance_percent": 71.5},
        summary="Presenoldeb Megan wedi gostwng i 71%. Dim esboniad gan y teulu.",
        recorder=("Sioned Evans", "Person diogelu dynodedig"),
    )
    f.event(
        megan,
        "education.behaviour.change",
        welsh_school,
        20,
        details={"indicators": ["withdrawn", "anxious"]},
        summary="Megan yn dawel iawn ac yn gwisgo llewys hir bob amser.",
        recorder=("Sioned Evans", "Person diogelu dynodedig"),
    )
    f.done()

    # 5. A family without heating for nine months.
    f = Family(pb, writer, "Davies")
    dad = f.person("Mark", 38, "male")
    lily = f.person("Lily", 9, "female", school=_school(pb, 0))
    osian = f.person("Osian", 6, "male", school=_school(pb, 0))
    f.rel(dad, "parent", lily, True)
    f.rel(dad, "parent", osian, True)
    f.rel(lily, "sibling", osian)
    f.rel(osian, "sibling", lily)
    for months, days in [(0, 275), (3, 185), (6, 95), (9, 5)]:
        f.event(
            dad,
            "housing.utilities.none",
            f"{LA}-housing",
            days,
            details={
                "utilities": ["heating", "hot_water"],
                "duration_days": months * 30 + 1,
                "landlord_informed": True,
            },
            summary="Boiler broken; landlord not repaired. Family using one electric heater.",
            recorder=("Lee Thomas", "Housing officer"),
        )
    f.event(dad, "housing.financial_hardship", f"{LA}-housing", 150, recorder=("Lee Thomas", "Housing officer"))
    f.event(
        lily,
        "education.presentation.concern",
        school,
        100,
        details={"indicators": ["unsuitable_clothing", "unkempt"]},
        summary="Lily says she keeps her coat on at home because it is cold.",
        recorder=("Sioned Evans", "Designated safeguarding person"),
    )
    f.event(
        osian,
        "health.hospital.attendance",
        "cav-emergency-department",
        60,
        details={
            "attendance_type": "emergency_department",
            "reason": "chest infection",
            "school_nurse_notified": False,
        },
        recorder=("Dr Priya Shah", "ED registrar"),
    )
    f.done()

    # 6. Reports judged below threshold three times.
    f = Family(pb, writer, "Roberts")
    mum = f.person("Kerry", 34, "female")
    jac = f.person("Jac", 9, "male", school=_school(pb, 0))
    f.rel(mum, "parent", jac, True)
    for days, maker, channel, text in [
        (400, "school", "telephone", "School reports Jac often hungry and unkempt."),
        (250, "police", "police_ppn", "Police attended: home conditions very poor, mother intoxicated."),
        (90, "health_visiting", "online_portal", "Health visitor worried about neglect of Jac and home conditions."),
    ]:
        f.event(
            jac,
            "process.report.received",
            f"{LA}-cs",
            days,
            details={"channel": channel, "report_maker_kind": maker, "language": "en"},
            summary=text,
            recorder=("Ffion Rees", "Front-door social worker"),
        )
        f.event(
            jac,
            "process.report.decision",
            f"{LA}-cs",
            days - 1,
            details={"outcome": "no_further_action", "rationale_recorded": True, "history_reviewed": False},
            summary="Below threshold for care and support assessment. No further action.",
            recorder=("Ffion Rees", "Front-door social worker"),
        )
    f.event(
        jac,
        "social_care.neglect.concern",
        school,
        20,
        summary="Jac has had the same uniform, unwashed, for three weeks.",
        recorder=("Sioned Evans", "Designated safeguarding person"),
    )
    f.done()
