"""Two Cardiff children in the statutory child protection process, written through the
protection services by the demo's own practitioners.

- **Elis Bevan** (7) is on the register under neglect and emotional abuse: a strategy
  discussion, a section 47 enquiry, an initial conference about seven weeks before the demo's
  "today", decisions circulated on time, a plan with four agencies' actions and their progress,
  the first core group held on time and the next one due, statutory visits (seeing him alone
  is overdue), and the first review conference set.
- **Ruby Walsh** (10) is waiting for her initial conference: the strategy discussion was eight
  working days ago, the enquiry found her at continuing risk, invitations are out, the GP's
  report is in and the school's is not.

The families are made with the other scenarios (their people and history go in with
``bulk_create``); the process runs once they are in the database. Each step runs as of its
own moment in the story: ``timezone.now()`` is held at that moment, so the services' own
checks ("held in the past", "due from today") and timestamps agree with the build's as-of
date, whatever the wall clock says. The rows the services create take their public ids from
the build's seed, so the same seed and date still build the same data.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from unittest import mock

from django.apps import apps
from django.db import models
from django.utils import timezone

from cylch.access.models import User
from cylch.access.selectors import Viewer, access_person
from cylch.chronology.voice import story_save
from cylch.core.calendar import add_working_days, is_working_day
from cylch.demo.population import Individual, PopulationBuilder
from cylch.demo.scenarios import Family, _school
from cylch.protection import meetings, plans, services, timescales
from cylch.protection.models import Decision, Document, DueKind, Enquiry, InviteeKind, MeetingKind, PlanKind


@dataclass
class Bevans:
    elis: Individual
    mali: Individual
    jade: Individual
    rhys: Individual


@dataclass
class Walshes:
    ruby: Individual


@dataclass
class Children:
    bevans: Bevans
    walshes: Walshes


# --- the families (bulk, with the other scenarios) ---------------------------------------------


def families(pb: PopulationBuilder, writer) -> Children:
    """The two families and what agencies recorded about them before the process began."""
    as_of = pb.as_of
    conference = _initial_conference_day(as_of)
    strategy = add_working_days(conference, -15)

    def ago(day: date) -> int:
        return (as_of - day).days

    # 7. The Bevan household: Elis, hungry and frightened at home; his mum's partner shouts.
    school = _school(pb, 0)
    f = Family(pb, writer, "Bevan")
    jade = f.person("Jade", 28, "female")
    liam = f.person("Liam", 32, "male", family="Cole")
    elis = f.person("Elis", 7, "male", school=school)
    mali = f.person("Mali", None, "female", family="Cole", born_days_ago=430)
    rhys = f.person("Rhys", 30, "male", elsewhere=True)
    f.rel(jade, "parent", elis, True)
    f.rel(jade, "parent", mali, True)
    f.rel(liam, "parent", mali, True)
    f.rel(liam, "partner_of_parent", elis, False)
    f.rel(rhys, "parent", elis, True, lives=False)
    f.rel(elis, "half_sibling", mali)
    f.rel(mali, "half_sibling", elis)
    f.rel(jade, "partner", liam)
    f.rel(liam, "partner", jade)
    dsp = ("Sioned Evans", "Designated safeguarding person")
    hv = ("Bethan Morgan", "Health visitor")
    for days in (ago(strategy) + 160, ago(strategy) + 45):
        f.event(
            jade,
            "police.ppn.domestic_abuse",
            "police-south-wales",
            days,
            hour=23,
            details={
                "risk_level": "standard",
                "child_present": True,
                "children_in_household": True,
                "repeat_victim": days < ago(strategy) + 100,
                "relationship": "intimate_partner",
                "shared_with_childrens_services": True,
            },
            summary="Shouting heard by neighbours; Liam had left before officers arrived. Children in bed.",
            recorder=("PC Rhys Owen", "Response officer"),
        )
    f.event(
        elis,
        "education.presentation.concern",
        school.code,
        ago(strategy) + 70,
        details={"indicators": ["hungry", "unkempt"]},
        summary="Elis ate two breakfasts at breakfast club and asked to take toast home for Mali.",
        recorder=dsp,
    )
    f.event(
        mali,
        "health.home_visit.no_access",
        "cav-health-visiting",
        ago(strategy) + 30,
        details={"visit_type": "developmental_review", "announced": True, "card_left": True},
        recorder=hv,
    )
    f.event(
        elis,
        "voice.lived_experience",
        school.code,
        ago(strategy) + 2,
        details={
            "seen_alone": True,
            "location": "school",
            "method": "conversation",
            "language": "cy",
            "trusted_adults": ["teacher", "grandparent"],
        },
        summary="Elis said: “Dw i ddim yn lico mynd adre pan mae Liam yn gweiddi. Dw i'n cuddio yn y stafell gyda Mali.” "
        "(I don't like going home when Liam is shouting. I hide in the bedroom with Mali.)",
        recorder=dsp,
    )
    f.event(
        elis,
        "social_care.neglect.concern",
        school.code,
        ago(strategy) + 1,
        summary="Elis came in without a coat in the rain, hungry; he said there was no breakfast because the money had run out.",
        recorder=dsp,
    )
    f.event(
        elis,
        "voice.lived_experience",
        "cardiff-cs",
        ago(add_working_days(strategy, 3)),
        details={"seen_alone": True, "location": "school", "method": "play_or_creative", "language": "en"},
        summary="Drawing his house, Elis said: “There's no food in the cupboard on Fridays. I make Mali a jam "
        "sandwich. Nain gives us tea on Sundays.”",
        recorder=("Dafydd Price", "Social worker"),
    )
    f.done()

    # 8. The Walsh household: Ruby's bruises and what she said about them.
    f = Family(pb, writer, "Walsh")
    amy = f.person("Amy", 33, "female")
    dean = f.person("Dean", 36, "male", family="Hartley")
    ruby = f.person("Ruby", 10, "female", school=school)
    f.rel(amy, "parent", ruby, True)
    f.rel(dean, "partner_of_parent", ruby, False)
    f.rel(amy, "partner", dean)
    f.rel(dean, "partner", amy)
    ruby_strategy = add_working_days(as_of, -8)
    f.event(
        ruby,
        "voice.disclosure.harm",
        school.code,
        ago(ruby_strategy) + 1,
        details={"harm_types": ["physical_abuse"], "disclosed_to": "school", "words_recorded_verbatim": True},
        summary="Ruby said: “Dean grabbed my arm to make me go upstairs. He does it when Mum's at work.”",
        recorder=dsp,
    )
    f.done()
    return Children(Bevans(elis, mali, jade, rhys), Walshes(ruby))


def _initial_conference_day(as_of: date) -> date:
    """Elis's conference: a working day about seven weeks ago whose first review conference,
    3 calendar months on, also falls on a working day."""
    day = as_of - timedelta(weeks=7)
    while not (is_working_day(day) and is_working_day(timescales.timescale(DueKind.RCPC_FIRST).due(day))):
        day -= timedelta(days=1)
    return day


# --- replaying the process through the services ---------------------------------------------


class Clock:
    """What ``timezone.now()`` says while the process is replayed."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def at(self, day: date, hour: int = 10, minute: int = 0) -> datetime:
        self.now = timezone.make_aware(datetime.combine(day, time(hour, minute))).astimezone(UTC)
        return self.now


@contextmanager
def replay(seed: int) -> Iterator[Clock]:
    """Hold the clock where the story is, and draw new public ids from ``seed``."""
    clock = Clock()
    ids = random.Random(seed)
    fields = [
        f
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if isinstance(f, models.UUIDField) and f.default is uuid.uuid4
    ]

    def seeded_uuid() -> uuid.UUID:
        return uuid.UUID(int=ids.getrandbits(128), version=4)

    def set_default(value) -> None:
        for f in fields:
            f.default = value
            f.__dict__.pop("_get_default", None)  # Field caches the callable it will call

    set_default(seeded_uuid)
    try:
        with mock.patch.object(timezone, "now", lambda: clock.now):
            yield clock
    finally:
        set_default(uuid.uuid4)


def run(pb: PopulationBuilder, users: dict[str, User], children: Children) -> None:
    """Take both children through the process, each step on its day."""
    with replay(pb.rng.getrandbits(64)) as clock:
        _registered(pb, users, children.bevans, clock)
        _conference_due(pb, users, children.walshes, clock)


def _orgs(pb: PopulationBuilder) -> dict[str, object]:
    o = pb.d.orgs
    return {
        "cs": o["cardiff-cs"],
        "police": o["police-south-wales"],
        "gp": pb.d.gps["cardiff"][0],
        "school": _school(pb, 0),
        "hv": o["cav-health-visiting"],
        "llwybr": o["third-llwybr"],
    }


def _registered(pb: PopulationBuilder, users: dict[str, User], fam: Bevans, clock: Clock) -> None:
    sw, chair = users["social-worker"], users["conference-chair"]
    org = _orgs(pb)
    as_of = pb.as_of
    child = fam.elis.person
    strategy_day = add_working_days(_initial_conference_day(as_of), -15)

    def visit(day: date, *, alone: bool, home: bool, note: str) -> None:
        clock.at(day, 15)
        services.record_visit(episode, user=sw, visited_on=day, seen=True, seen_alone=alone, at_home=home, note=note)

    clock.at(strategy_day, 9, 30)
    episode = services.open_episode(child=child, user=sw)
    clock.at(strategy_day, 14)
    services.record_strategy(
        episode.meetings.get(kind=MeetingKind.STRATEGY),
        user=sw,
        data=services.StrategyInput(
            held_at=clock.at(strategy_day, 11),
            format="virtual",
            participants=[
                services.Participant(org["cs"], "Dafydd Price"),
                services.Participant(org["police"], "DS Kate Rowlands"),
                services.Participant(org["gp"], "Dr Gareth Lloyd"),
                services.Participant(org["school"], "Sioned Evans"),
                services.Participant(
                    org["hv"],
                    took_part=False,
                    why_not="Health visitor on a home visit; the team shared Mali's records by email",
                ),
            ],
            information_shared=(
                "School: Elis hungry most mornings, asks for food to take home for his sister, said he hides when "
                "Liam shouts. Police: two domestic abuse notices at the address, children present. GP: Elis's "
                "immunisations incomplete; Jade seen for low mood. Health visiting: Mali's review missed, no access."
            ),
            decision=Decision.SECTION_47,
            reasons="Reasonable cause to suspect Elis is suffering significant harm through neglect, and emotional "
            "harm from living with domestic abuse.",
            immediate_action="Social worker and police to see Elis at school today; Nain (maternal grandmother) "
            "to collect the children after school this week.",
        ),
    )
    enquiry = episode.enquiries.get()

    concluded = add_working_days(strategy_day, 6)
    clock.at(concluded, 16)
    services.conclude_enquiry(
        enquiry,
        user=sw,
        outcome=Enquiry.Outcome.AT_RISK,
        findings="Elis was seen alone twice. The kitchen had no food; Elis and Mali share a mattress. Jade said Liam "
        "shouts when he has been drinking and has pushed her; Elis hides in the bedroom with Mali. Jade wants help "
        "and agreed to Nain collecting the children until the conference.",
        concluded_on=concluded,
        child_seen_alone=True,
    )
    safety = episode.plans.get(kind=PlanKind.SAFETY)
    plans.save_plan(safety, user=sw, text=_SAFETY_TEXT, note="Interim safety plan agreed with Jade and Nain")
    icpc = episode.meetings.get(kind=MeetingKind.INITIAL)
    clock.at(concluded, 16, 30)
    meetings.send_invitations(icpc, user=sw)

    conference_day = timezone.localtime(icpc.scheduled_for).date()
    assessment = episode.assessments.get()
    for who, days_before, text in [
        ("health-visitor", 6, "Mali is behind with her 15-month review and immunisations. Jade is warm with both "
                              "children but tired and low; the flat was cold and there was little food."),
        ("school-safeguarding-lead", 6, "Attendance 88%. Elis is often late, hungry and unkempt; he is bright and "
                                        "loves reading. He talks about Nain and his sister Mali with warmth."),
        ("gp", 5, "Elis's pre-school booster is outstanding. Jade is on sertraline for low mood. Liam is not "
                  "registered with the practice."),
    ]:  # fmt: skip
        clock.at(add_working_days(conference_day, -days_before), 12)
        services.add_contribution(assessment, user=users[who], text=text)
    reports = {
        "health-visitor": (5, "Health visiting report: Mali's development is slightly delayed in speech; two "
                              "visits missed since the summer; advice given on routines and meals."),
        "gp": (4, "GP report: immunisations incomplete for both children; Jade's mental health is managed in "
                  "primary care; no injuries recorded."),
        "police-ppn": (4, "Police report: two standard-risk domestic abuse notices in six months; no charges; "
                          "Liam known for a public order offence."),
        "school-safeguarding-lead": (3, "School report: hunger, lateness and worry; Elis's own words attached; "
                                        "breakfast club offered and taken up."),
        "social-worker": (3, "Children's services report: the section 47 findings, the consolidated assessment "
                             "and a draft outline plan, shared with Jade and Rhys."),
    }  # fmt: skip
    for who, (days_before, text) in reports.items():
        invitee = icpc.invitees.filter(organisation=users[who].organisation, removed_at__isnull=True).first()
        if invitee is None:
            continue
        clock.at(add_working_days(conference_day, -days_before), 11)
        meetings.submit_report(invitee, user=users[who], text=text)
    clock.at(add_working_days(conference_day, -2), 15)
    services.complete_assessment(
        assessment,
        user=sw,
        analysis="Elis's needs for food, warmth and routine are not met, and he is frightened at home. Jade loves "
        "her children and wants help; her low mood and Liam's behaviour get in the way. Without a plan the "
        "neglect and the emotional harm will continue.",
    )
    meetings.share_with_parents(icpc, user=sw, at=clock.at(add_working_days(conference_day, -2), 16))
    clock.at(add_working_days(conference_day, -1), 17)
    story_save(
        access=access_person(Viewer.for_user(sw), child.public_id),
        user=sw,
        summary="Elis is seven and in Year 2 at his Welsh-medium school, where he loves reading and looks after his "
        "little sister Mali. At home there is often not enough food, and he hides in the bedroom with Mali when "
        "his mum's partner Liam shouts. He feels safe with Nain and with his teacher. He wants Liam to stop "
        "shouting and to have breakfast at home.",
    )

    # The initial conference, on its statutory date.
    held = clock.at(conference_day, 10)
    attended = {
        i.pk: not (i.kind == InviteeKind.PARENT and i.person_id != fam.jade.person.pk)
        for i in icpc.invitees.filter(removed_at__isnull=True)
    }
    clock.at(conference_day, 15)
    meetings.record_conference(
        icpc,
        user=chair,
        data=meetings.ConferenceInput(
            held_at=held,
            format="hybrid",
            language="en",
            attended=attended,
            decision=Decision.REGISTER,
            categories=["neglect", "emotional"],
            reasons="Elis is likely to suffer significant harm through neglect and emotional abuse from living "
            "with domestic abuse; a multi-agency plan is needed to keep him safe.",
            record="Present: Jade Bevan, children's services, police, GP, school, health visiting. Rhys Bevan was "
            "invited and did not attend. The conference heard Elis's words and each agency's report. Jade "
            "accepted the worries and asked for help with food and with Liam.",
        ),
    )
    # The care and support protection plan and its actions, the day after; decisions out in 2 working days.
    day_after = add_working_days(conference_day, 1)
    clock.at(day_after, 11)
    plan = episode.plans.get(kind=PlanKind.CSPP, ended_on__isnull=True)
    plans.save_plan(plan, user=sw, text=_PLAN_TEXT, note="Plan written with Jade after the conference")
    actions = {}
    for key, owner, name, weeks, text in [
        ("school", org["school"], "Sioned Evans", 12,
         "Breakfast club place every day; Sioned checks in with Elis each morning and tells the social worker the "
         "same day if he is absent, hungry or upset."),
        ("hv", org["hv"], "Bethan Morgan", 8,
         "Weekly home visits to help Jade with routines, meals and shopping on a budget, and to catch up Mali's "
         "review and immunisations."),
        ("cs", org["cs"], "Dafydd Price", 6,
         "Three sessions of direct work with Elis about what life at home is like and who he can tell; his words "
         "go into the plan."),
        ("llwybr", org["llwybr"], "Nia Protheroe", 10,
         "Offer Jade domestic abuse support and a safety plan of her own; weekly contact."),
    ]:  # fmt: skip
        actions[key] = plans.add_action(plan, user=sw, text=text, owner=owner, owner_name=name,
                                        due_on=day_after + timedelta(weeks=weeks))  # fmt: skip
    decisions_day = add_working_days(conference_day, 2)
    clock.at(decisions_day, 12)
    meetings.circulate(icpc, Document.DECISIONS, user=sw, on=decisions_day)

    # The first core group, within 10 working days, chaired by children's services and minuted by the school.
    core = episode.meetings.get(kind=MeetingKind.CORE_GROUP, held_at__isnull=True)
    # Held within its 10 working days, and late enough that the next one (6 weeks on) is due soon.
    core_day = _last_working_day(min(as_of - timedelta(days=38), add_working_days(conference_day, 10)))
    clock.at(add_working_days(conference_day, 3), 9)
    meetings.schedule(core, user=sw, when=clock.at(core_day, 13, 30))
    meetings.ensure_core_group_invitees(core)
    visit(
        add_working_days(conference_day, 3), alone=True, home=True, note="Seen alone in his bedroom; new bed delivered."
    )
    held = clock.at(core_day, 13, 30)
    clock.at(core_day, 16)
    meetings.record_core_group(
        core,
        user=sw,
        data=meetings.CoreGroupInput(
            held_at=held,
            format="in_person",
            attended={
                i.pk: i.organisation_id != org["gp"].pk and i.person_id != fam.rhys.person.pk
                for i in core.invitees.all()
            },
            chaired_by=org["cs"],
            minuted_by=org["school"],
            progress="some",
            notes="Elis has been at breakfast club every day. Two health visits done; the fridge had food. Jade "
            "has not yet called Llwybr; Nia will call her. Liam moved to his brother's last week.",
            updates={
                actions["school"].pk: ("on_track", "At breakfast club 8 of 8 days."),
                actions["hv"].pk: ("on_track", "Two visits; meal plan made with Jade."),
                actions["cs"].pk: ("on_track", "First session done at school."),
                actions["llwybr"].pk: ("delayed", "Jade missed the first call; Nia will try again this week."),
            },
        ),
    )
    record_day = add_working_days(conference_day, 12)
    clock.at(record_day, 12)
    meetings.circulate(icpc, Document.RECORD, user=sw, on=record_day)
    # Seen alone for the last time about a month ago: the next is overdue.
    visit(add_working_days(conference_day, 13), alone=True, home=False,
          note="Seen alone at school; worried about Liam coming back.")  # fmt: skip
    clock.at(core_day + timedelta(days=10), 15)
    plans.update_action(actions["llwybr"], user=users["third-sector-worker"], status="on_track",
                        note="Jade met Nia at the children's centre; weekly calls agreed.")  # fmt: skip
    clock.at(as_of - timedelta(days=12), 12)
    plans.update_action(actions["cs"], user=sw, status="done",
                        note="Three sessions done. Elis drew his safe people: Nain, Miss Evans and Mali.")  # fmt: skip
    visit(_last_working_day(as_of - timedelta(days=8)), alone=False, home=True,
          note="Seen at home; Jade stayed in the room and Elis was quiet. See him alone at school next.")  # fmt: skip
    clock.at(as_of - timedelta(days=5), 12)
    plans.update_action(actions["hv"], user=users["health-visitor"], status="on_track",
                        note="Mali's review done; immunisations booked. The flat is warm now.")  # fmt: skip
    plans.update_action(actions["school"], user=users["school-safeguarding-lead"], status="on_track",
                        note="Attendance up to 96% since the conference; Elis is calmer.")  # fmt: skip


_PLAN_TEXT = plans.PlanText(
    worries="We are worried that Elis often goes hungry and cold, and that he is frightened at home when Liam "
    "shouts and pushes his mum. If nothing changes he could be hurt, and he will keep feeling that he has to look "
    "after Mali on his own.",
    outcomes="Elis has breakfast and tea every day and a warm bed of his own. Elis and Mali live without shouting "
    "and violence at home. Elis tells us he feels safe.",
    child_can_do="Tell Miss Evans at school, or Nain, when something at home frightens him. If Liam is shouting, "
    "take Mali to the bedroom and use the phone Nain gave him to call her, or 999.",
    contingency="If Elis is absent, hungry or upset at school, the school calls the social worker that day. If "
    "Liam returns to the home or there is another police call-out, a strategy discussion is held within one "
    "working day.",
)


_SAFETY_TEXT = plans.PlanText(
    worries=_PLAN_TEXT.worries,
    outcomes="",
    child_can_do=_PLAN_TEXT.child_can_do,
    contingency="Until the conference Nain collects Elis and Mali from school and nursery and they have tea at "
    "hers. If Liam comes to the flat Jade calls 999 and then the social worker.",
)


def _last_working_day(day: date) -> date:
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def _conference_due(pb: PopulationBuilder, users: dict[str, User], fam: Walshes, clock: Clock) -> None:
    sw = users["social-worker"]
    org = _orgs(pb)
    child = fam.ruby.person
    strategy_day = add_working_days(pb.as_of, -8)

    clock.at(strategy_day, 9, 15)
    episode = services.open_episode(child=child, user=sw)
    clock.at(strategy_day, 13)
    services.record_strategy(
        episode.meetings.get(kind=MeetingKind.STRATEGY),
        user=sw,
        data=services.StrategyInput(
            held_at=clock.at(strategy_day, 11, 30),
            format="virtual",
            participants=[
                services.Participant(org["cs"], "Dafydd Price"),
                services.Participant(org["police"], "DS Kate Rowlands"),
                services.Participant(org["gp"], "Dr Gareth Lloyd"),
                services.Participant(org["school"], "Sioned Evans"),
            ],
            information_shared="School: finger-mark bruising on Ruby's upper arm; Ruby said Dean grabbed her. "
            "GP: no injuries recorded before. Police: Dean Hartley has a caution for assault (2019).",
            decision=Decision.SECTION_47,
            reasons="A disclosure and an injury consistent with it: reasonable cause to suspect significant harm.",
            immediate_action="Joint visit with police today; Dean agreed to stay at his mother's during the enquiry.",
        ),
    )
    concluded = add_working_days(strategy_day, 5)
    clock.at(concluded, 15)
    services.conclude_enquiry(
        episode.enquiries.get(),
        user=sw,
        outcome=Enquiry.Outcome.AT_RISK,
        findings="Ruby repeated her account when seen alone. Amy believes her but wants Dean to come home. Ruby is "
        "at continuing risk of physical harm.",
        concluded_on=concluded,
        child_seen_alone=True,
    )
    plans.save_plan(
        episode.plans.get(kind=PlanKind.SAFETY),
        user=sw,
        text=plans.PlanText(
            worries="We are worried that Dean hurts Ruby when her mum is at work, and that Ruby will be hurt again.",
            outcomes="",
            child_can_do="Tell Miss Evans or her mum; ring Nan (number in her school bag) if Dean comes to the house.",
            contingency="Dean stays at his mother's and does not come to the house until the conference. If he does, "
            "Amy calls 999 and the social worker; a strategy discussion is held the same day.",
        ),
        note="Interim safety plan agreed with Amy",
    )
    icpc = episode.meetings.get(kind=MeetingKind.INITIAL)
    clock.at(concluded, 16, 30)
    # Police took part in the strategy discussion, so they are on the list: children's services name the officer.
    meetings.add_invitee(icpc, user=sw, organisation=org["police"], name="DS Kate Rowlands")
    meetings.send_invitations(icpc, user=sw)
    gp = icpc.invitees.get(organisation=org["gp"], removed_at__isnull=True)
    clock.at(add_working_days(pb.as_of, -1), 11)
    meetings.submit_report(
        gp,
        user=users["gp"],
        text="GP report: Ruby is up to date with immunisations; seen twice this year for asthma. No injuries "
        "recorded before. Amy is registered here; Dean is not.",
    )
