"""Two years of synthetic process history, so the board's measures have something to show.

The scenario families show the process one child at a time; the board looks at hundreds. This
module writes, for Cardiff and four other authorities (and a handful of cases in three more, to
show small numbers suppressed), about two years of what the services would have recorded:

- **the front door**: reports received, decided (some with no further action, and some of
  those children reported again within the year), the report maker told on time or late, and
  "I remain concerned" challenges resolved at each level;
- **alerts**: raised across the two years, acknowledged on time or late, and closed with what
  was done (history alerts are written here; the rules batch that runs after the build raises
  today's alerts as before);
- **child protection**: strategy discussions with or without health and education, section 47
  enquiries, initial conferences on time or late, registrations by category, decisions and
  records circulated, core groups, review conferences, de-registrations, a few
  re-registrations, statutory visits (seen alone or not) and who attended what.

It is a loader, so it writes rows with ``bulk_create`` rather than replaying every step through
the services (hundreds of episodes through the services would take minutes). The rows are
those the services would write: every statutory date is a ``Deadline`` reckoned by
``cylch.protection.timescales`` on the working-day calendar, met or not; invitees carry whether
they attended; each registration is a ``Registration`` row; visits, meetings, decisions and
reports are on the event spine with the details the services give them.

Everything comes from the builder's seeded generator and its as-of date, never the wall clock:
each authority's rates start somewhere in a plausible range and drift better or worse over the
two years, and the same seed and date write the same history. The children are real people of
the demo, living in the authority's households, so the drill-down opens real records.
"""

from __future__ import annotations

import contextlib
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth.hashers import make_password
from django.db.models import Q
from django.utils import timezone

from cylch.access.models import User
from cylch.access.roles import OrganisationKind as K
from cylch.access.roles import Role
from cylch.core import taxonomy
from cylch.core.calendar import add_working_days, is_working_day
from cylch.demo import people
from cylch.demo.fastinsert import insert_events
from cylch.demo.population import PopulationBuilder
from cylch.events.models import Source
from cylch.events.services import fingerprint
from cylch.identity.models import HouseholdMembership, PersonLink, Relationship
from cylch.protection.models import Deadline as DeadlineRow
from cylch.protection.models import (
    Decision,
    DueKind,
    Enquiry,
    Episode,
    Invitee,
    InviteeKind,
    Meeting,
    MeetingKind,
    Plan,
    PlanKind,
    PlanStatus,
    Registration,
    Stage,
    Visit,
    Why,
)
from cylch.protection.timescales import add_months, timescale
from cylch.reports import reference as refs
from cylch.reports.models import (
    Challenge,
    ChallengeStatus,
    ChallengeStep,
    Channel,
    Level,
    Outcome,
    Report,
    ReportSubject,
    Status,
    SubjectRole,
)
from cylch.rules.models import Alert, AlertOutcome, AlertStatus, AlertStep
from cylch.rules.pack import all_packs
from cylch.rules.routing import acknowledge_by

# Authority: relative volume. The first five carry the history; the last three have a handful
# of cases a quarter, so their figures show as "fewer than 5".
AUTHORITIES = {
    "cardiff": 1.4,
    "swansea": 1.0,
    "rhondda-cynon-taf": 1.0,
    "caerphilly": 0.8,
    "carmarthenshire": 0.7,
    "newport": 0.12,
    "wrexham": 0.12,
    "gwynedd": 0.1,
}
# Per quarter at volume 1.
REPORTS_PER_QUARTER = 20  # besides those that lead to a strategy discussion
EPISODES_PER_QUARTER = 18
ALERTS_PER_QUARTER = 18

# Each authority starts somewhere in the range and drifts better or worse over the two years.
RATES = {
    "feedback": (0.60, 0.95),
    "re_report": (0.15, 0.35),
    "challenge": (0.20, 0.35),
    "alert_ack": (0.55, 0.90),
    "health": (0.50, 0.90),
    "education": (0.30, 0.70),
    "icpc": (0.70, 0.95),
    "core_group": (0.65, 0.92),
    "review": (0.70, 0.95),
    "decisions": (0.60, 0.92),
    "record": (0.45, 0.85),
    "gp_invited": (0.75, 0.95),
    "gp_report": (0.40, 0.80),
    "seen_alone": (0.55, 0.85),
    "re_register": (0.12, 0.22),
}
ATTENDANCE = {
    K.POLICE: (0.55, 0.85),
    K.GP_PRACTICE: (0.15, 0.45),
    K.SCHOOL: (0.70, 0.95),
    K.HEALTH_VISITING: (0.60, 0.90),
}
CATEGORIES = (["neglect", "emotional", "physical", "sexual", "financial"], [45, 33, 18, 6, 1])
OTHER_OUTCOMES = (
    [
        Outcome.NO_FURTHER_ACTION,
        Outcome.INFORMATION_ADVICE,
        Outcome.EARLY_HELP,
        Outcome.ASSESSMENT,
        Outcome.ALREADY_OPEN,
    ],
    [42, 20, 15, 15, 8],
)
MAKERS = [K.SCHOOL, K.POLICE, K.GP_PRACTICE, K.HEALTH_VISITING, K.EMERGENCY_DEPARTMENT]
WHAT = {
    K.SCHOOL: "Arrived hungry and unkempt again; said there was no food at home.",
    K.POLICE: "Domestic abuse call-out; the child was in the house.",
    K.GP_PRACTICE: "Missed appointments and an unexplained bruise seen at a visit.",
    K.HEALTH_VISITING: "No access twice; the home was cold when seen.",
    K.EMERGENCY_DEPARTMENT: "Attended with an injury; the account changed between staff.",
}
# The front door's kind of concern for what each maker saw (WHAT).
CONCERN = {
    K.SCHOOL: "social_care.neglect.concern",
    K.POLICE: "social_care.domestic_abuse.exposure",
    K.GP_PRACTICE: "social_care.abuse.physical.concern",
    K.HEALTH_VISITING: "social_care.neglect.concern",
    K.EMERGENCY_DEPARTMENT: "social_care.abuse.physical.concern",
}


@dataclass
class Child:
    pk: int
    household: int
    la: str
    dob: date
    public_id: str = ""
    gp: int | None = None
    school: int | None = None
    parents: list[tuple[int, str, str]] = field(default_factory=list)  # (person pk, name, kind)
    busy_until: date = date.min
    reported: list[date] = field(default_factory=list)
    registration_ended: date | None = None
    episodes: int = 0
    name: tuple[str, str] = ("", "")  # given, family: as a report names the child


class History:
    def __init__(self, pb: PopulationBuilder, exclude: set[int]):
        self.pb, self.rng, self.as_of = pb, pb.rng, pb.as_of
        first = quarter_start(self.as_of)
        for _ in range(7):
            first = quarter_start(first - timedelta(days=1))
        self.shown_from = first  # the first of the dashboard's 8 quarters
        self.start = first - timedelta(days=273)  # a lead-in: registrations already running
        self.exclude = exclude
        self.rates = {la: {k: _drift(self.rng, *r) for k, r in RATES.items()} for la in AUTHORITIES}
        self.attend = {la: {k: _drift(self.rng, *r) for k, r in ATTENDANCE.items()} for la in AUTHORITIES}
        self.refs: set[str] = set()
        self.events: list[tuple] = []
        self.reports: list[Report] = []
        self.subjects: list[ReportSubject] = []
        self.challenges: list[tuple[Challenge, list[ChallengeStep]]] = []
        self.episodes: list[Episode] = []
        self.meetings: list[Meeting] = []
        self.invitees: list[Invitee] = []
        self.enquiries: list[Enquiry] = []
        self.registrations: list[Registration] = []
        self.deadlines: list[DeadlineRow] = []
        self.plans: list[Plan] = []
        self.visits: list[Visit] = []
        self.written: dict[str, int] = {}  # how many of each thing run() wrote

    # --- helpers ---------------------------------------------------------------------------
    def rate(self, la: str, key: str, day: date) -> float:
        if la not in self.rates:  # an authority only the rules' alerts reach (demo/catch_up.py)
            self.rates[la] = {k: _drift(self.rng, *r) for k, r in RATES.items()}
        a, b = self.rates[la][key]
        t = min(1.0, max(0.0, (day - self.start).days / max(1, (self.as_of - self.start).days)))
        return a + (b - a) * t

    def chance(self, la: str, key: str, day: date) -> bool:
        return self.rng.random() < self.rate(la, key, day)

    def moment(self, day: date, lo: int = 9, hi: int = 17) -> datetime:
        return timezone.make_aware(datetime.combine(day, time(self.rng.randrange(lo, hi), self.rng.randrange(60))))

    def working_day(self, lo: date, hi: date) -> date:
        day = lo + timedelta(days=self.rng.randrange(max(1, (hi - lo).days)))
        while not is_working_day(day):
            day += timedelta(days=1)
        return day

    def reference(self) -> str:
        while True:
            data = "".join(self.rng.choice(refs.ALPHABET) for _ in range(refs.DATA_LENGTH))
            ref = refs.display(data + refs.check_character(data))
            if ref not in self.refs:
                self.refs.add(ref)
                return ref

    def event(
        self,
        code: str,
        child: Child,
        org_id: int,
        when: datetime,
        details: dict,
        summary: str = "",
        external_id: str = "",
    ) -> None:
        ec = taxonomy.get(code)
        if ec is None:
            raise LookupError(code)
        public_id = self.pb.uuid()
        digest = fingerprint(code=code, occurred_at=when, subject=child.public_id, summary=summary, details=details)
        recorded = min(when + timedelta(minutes=self.rng.randrange(5, 600)), self.end_moment)
        self.events.append((
            public_id, code, child.pk, child.household, None, org_id, None, "", "", "", when, recorded,
            ec.sensitivity, summary, details, external_id or f"history-{public_id.hex[:16]}", digest, None, Source.DEMO,
        ))  # fmt: skip

    def deadline(self, episode: Episode, kind: str, starts: date, *, met: date | None, key: str = "",
                 due: date | None = None, cancelled: date | None = None, reason: str = "") -> date:  # fmt: skip
        rule = timescale(kind)
        due = due or rule.due(starts)
        if met is not None and met > self.as_of:
            met = None
        if cancelled is not None and cancelled > self.as_of:
            cancelled = None
        self.deadlines.append(
            DeadlineRow(
                episode=episode,
                kind=kind,
                key=key,
                starts_on=starts,
                due_on=due,
                rule=rule.describe(),
                met_on=met,
                cancelled_on=cancelled if met is None else None,
                cancel_reason=reason if met is None and cancelled else "",
            )
        )
        return due

    def on_or_late(self, due: date, on_time: bool, late_max: int = 15) -> date:
        """The day something due on ``due`` happened: by it, or some working days after."""
        if on_time:
            return max(add_working_days(due, -self.rng.randrange(0, 3)), due - timedelta(days=6))
        late = add_working_days(due, self.rng.randint(1, late_max))
        # Nothing in the history is left overdue: what fell due before the as-of date was done,
        # late, by then (the scenario children carry the overdue dates the lists should show).
        return min(late, self.today) if due < self.today else late

    # --- the run -----------------------------------------------------------------------------
    def run(self) -> dict[str, int]:
        self.end_moment = timezone.make_aware(datetime.combine(self.as_of, time(23, 0)))
        self.today = self.as_of
        while not is_working_day(self.today):
            self.today -= timedelta(days=1)
        self.load_children()
        self.load_people()
        days = (self.as_of - self.start).days
        quarters = days / 91.25
        for la, volume in AUTHORITIES.items():
            if la not in self.pb.d.las:
                continue
            for _ in range(round(EPISODES_PER_QUARTER * volume * quarters)):
                self.episode(la, self.working_day(self.start, self.as_of))
            for _ in range(round(REPORTS_PER_QUARTER * volume * quarters)):
                self.front_door_report(la, self.working_day(self.start, self.as_of + timedelta(days=1)))
        self.write()
        alerts = 0
        for la, volume in AUTHORITIES.items():
            if la in self.pb.d.las:
                alerts += self.alerts(
                    la, round(ALERTS_PER_QUARTER * volume * (self.as_of - self.shown_from).days / 91.25)
                )
        return {"reports": len(self.reports), "episodes": len(self.episodes), "registrations": len(self.registrations),
                "alerts": alerts, "events": len(self.events)}  # fmt: skip

    def load_children(self) -> None:
        """Children of the background population living in each authority, born before the
        history starts and under 18 until the as-of date."""
        youngest, oldest = self.start - timedelta(days=60), self.as_of - timedelta(days=17 * 365)
        rows = (
            HouseholdMembership.objects.filter(
                to_date__isnull=True, person__is_unborn=False, person__date_of_birth__lte=youngest,
                person__date_of_birth__gt=oldest,
            )
            .exclude(person_id__in=self.exclude)
            .order_by("person_id")
            .values_list("person_id", "household_id", "household__local_authority__code", "person__date_of_birth",
                         "person__public_id", "person__given_name", "person__family_name")
        )  # fmt: skip
        self.children: dict[int, Child] = {}
        self.by_la: dict[str, list[Child]] = defaultdict(list)
        for pk, household, la, dob, public_id, given, family in rows:
            if pk in self.children:
                continue
            c = Child(pk, household, la, dob, str(public_id), name=(given, family))
            self.children[pk] = c
            self.by_la[la].append(c)
        kinds = {K.GP_PRACTICE: "gp", K.SCHOOL: "school"}
        for person_id, org_id, kind in PersonLink.objects.filter(
            person_id__in=list(self.children), active=True, agency_record__organisation__kind__in=list(kinds)
        ).values_list("person_id", "agency_record__organisation_id", "agency_record__organisation__kind"):
            setattr(self.children[person_id], kinds[kind], org_id)
        for child_id, parent_id, given, family, kind in (
            Relationship.objects.filter(relative_id__in=list(self.children), kind__in=["parent", "grandparent"])
            .filter(Q(parental_responsibility=True) | Q(lives_with=True))
            .order_by("pk")
            .values_list("relative_id", "person_id", "person__given_name", "person__family_name", "kind")
        ):
            self.children[child_id].parents.append((parent_id, f"{given} {family}".strip(), kind))

    def load_people(self) -> None:
        """One children's services worker and one school safeguarding lead per authority, who
        chaired, visited, decided and challenged in the history. They cannot sign in."""
        d, rng = self.pb.d, self.rng
        unusable = make_password(None)
        made = []
        for la in AUTHORITIES:
            if la not in d.las:
                continue
            for suffix, org, role, title in [
                ("cs", d.orgs[f"{la}-cs"], Role.SOCIAL_WORKER, "Senior practitioner"),
                ("school", d.schools[la][0], Role.SCHOOL_SAFEGUARDING_LEAD, "Designated safeguarding person"),
            ]:
                sex = rng.choice(["f", "m"])
                made.append(User(
                    username=f"history-{la}-{suffix}", password=unusable, is_active=False,
                    first_name=rng.choice(people.GIRLS if sex == "f" else people.BOYS),
                    last_name=rng.choice(people.FAMILY), organisation=org, role=role, job_title=title,
                    email=f"history-{la}-{suffix}@demo.cylch.invalid",
                ))  # fmt: skip
        User.objects.bulk_create(made)
        self.users = {u.username: u for u in User.objects.filter(username__startswith="history-")}
        self.orgs_by_pk = {o.pk: o for o in d.orgs.values()}

    def worker(self, la: str) -> User:
        name = f"history-{la}-cs"
        if name not in self.users:  # an authority only the rules' alerts reach (demo/catch_up.py)
            sex = self.rng.choice(["f", "m"])
            self.users[name] = User.objects.create(
                username=name, password=make_password(None), is_active=False,
                first_name=self.rng.choice(people.GIRLS if sex == "f" else people.BOYS),
                last_name=self.rng.choice(people.FAMILY), organisation=self.pb.d.orgs[f"{la}-cs"],
                role=Role.SOCIAL_WORKER, job_title="Senior practitioner", email=f"{name}@demo.cylch.invalid",
            )  # fmt: skip
        return self.users[name]

    def pick_child(self, la: str, day: date) -> Child | None:
        """A child free of the process on ``day``: now and then one whose registration ended
        in the year before (a re-registration in the making), otherwise one new to it."""
        pool = self.by_la.get(la) or []
        if not pool:
            return None
        if self.chance(la, "re_register", day):
            again = [c for c in pool if c.registration_ended and day - timedelta(days=330) <= c.registration_ended
                     < day - timedelta(days=20) and c.busy_until < day]  # fmt: skip
            if again:
                return self.rng.choice(again)
        fresh = [c for c in pool if c.episodes == 0 and c.busy_until < day]
        quiet = [c for c in fresh if not any(abs((day - d).days) < 365 for d in c.reported)]
        fresh = quiet or fresh
        if fresh:
            return self.rng.choice(fresh)
        # A small demo has few children: reuse those longest out of the process.
        free = [c for c in pool if c.busy_until < day - timedelta(days=60)]
        return self.rng.choice(free) if free else None

    # --- the front door -------------------------------------------------------------------------
    def new_report(self, la: str, child: Child, received: datetime, outcome: str) -> Report:
        d, rng = self.pb.d, self.rng
        maker_kind = rng.choice(MAKERS)
        maker = (
            (self.orgs_by_pk.get(child.school) if maker_kind == K.SCHOOL else None)
            or (self.orgs_by_pk.get(child.gp) if maker_kind == K.GP_PRACTICE else None)
            or d.service(la, maker_kind)
        )
        received_on = timezone.localtime(received).date()
        child.reported.append(received_on)
        decided = received + timedelta(hours=rng.randrange(2, 26))
        due = add_working_days(received_on, 7)
        sent = None
        if outcome != "pending":
            if self.chance(la, "feedback", received_on):
                sent_day = add_working_days(received_on, rng.randint(1, 7))
            else:
                sent_day = add_working_days(received_on, rng.randint(8, 25)) if rng.random() < 0.9 else None
            if sent_day is not None:
                sent = max(decided, self.moment(sent_day))
                if sent > self.end_moment:
                    sent = None
        pending = outcome == "pending" or decided > self.end_moment
        cs = d.orgs[f"{la}-cs"]
        public_id, reference = self.pb.uuid(), self.reference()
        maker_name = f"{rng.choice(people.GIRLS)} {rng.choice(people.FAMILY)}"
        rng.choice(range(3))  # the draw once spent on the concern (now the maker's): the demo's later draws stay
        report = Report(
            public_id=public_id, reference=reference, channel=Channel.PRACTITIONER, language="en",
            received_at=received, maker_organisation=maker, maker_name=maker_name,
            maker_role="Safeguarding lead", maker_email=maker.safeguarding_email if maker else "",
            concern_codes=[CONCERN.get(maker_kind, "social_care.neglect.concern")],
            what_happened=WHAT.get(maker_kind, WHAT[K.SCHOOL]), local_authority=d.las[la],
            status=Status.RECEIVED if pending else Status.DECIDED,
            decision_due_at=timezone.make_aware(datetime.combine(add_working_days(received_on, 1), time(17, 0))),
            feedback_due_on=due, outcome="" if pending else outcome,
            rationale="" if pending else "Decided on the report, the child's history and checks with the agencies.",
            decided_by=None if pending else self.worker(la), decided_at=None if pending else decided,
            feedback_sent_at=None if pending else sent, created_at=received, modified_at=sent or decided,
        )  # fmt: skip
        self.reports.append(report)
        given, family = child.name
        self.subjects.append(ReportSubject(report=report, role=SubjectRole.CHILD, person_id=child.pk,
                                           given_name=given, family_name=family))  # fmt: skip
        kind = maker.kind if maker else "member_of_public"
        # Keyed as the report's own entries are (reports.services), so that what lists reports
        # known only from the spine (reports.selectors) knows these are this report's.
        key = f"report:{report.reference}:{child.public_id}"
        self.event("process.report.received", child, cs.pk, received,
                   {"channel": "online_portal", "report_maker_kind": kind, "language": "en"}, report.what_happened,
                   external_id=f"{key}:received")  # fmt: skip
        if not pending:
            self.event("process.report.decision", child, cs.pk, decided,
                       {"outcome": outcome, "rationale_recorded": True, "history_reviewed": True},
                       external_id=f"{key}:decision")  # fmt: skip
            if sent is not None:
                self.event("process.report.feedback_sent", child, cs.pk, sent, {"method": "email", "language": "en"},
                           external_id=f"{key}:feedback")  # fmt: skip
        return report

    def front_door_report(self, la: str, day: date, child: Child | None = None, depth: int = 0) -> None:
        rng = self.rng
        pool = self.by_la.get(la) or []
        if child is None:
            if not pool:
                return
            # Mostly a child not reported in the year either side, so that re-reports are the
            # ones made on purpose below, not chance.
            for _ in range(30):
                child = rng.choice(pool)
                if not any(abs((day - d).days) < 365 for d in child.reported):
                    break
            # A small demo runs out of children not reported in the year: the last one drawn is
            # reported anyway (else its front doors fall quiet after the first year).
        received = self.moment(day, 8, 19)
        if received > self.end_moment:
            return
        outcome = rng.choices(*OTHER_OUTCOMES)[0]
        if day >= add_working_days(self.as_of, -1) and rng.random() < 0.5:
            outcome = "pending"
        report = self.new_report(la, child, received, outcome)
        if outcome in (Outcome.NO_FURTHER_ACTION, Outcome.INFORMATION_ADVICE) and report.decided_at:
            if self.chance(la, "challenge", day):
                self.challenge(la, report)
            if depth < 2 and self.chance(la, "re_report", day):
                again = timezone.localtime(report.decided_at).date() + timedelta(days=rng.randrange(10, 350))
                if again <= self.as_of:
                    self.front_door_report(la, again, child, depth + 1)

    def challenge(self, la: str, report: Report) -> None:
        """The report maker remains concerned: resolved at some level, or still open if recent."""
        rng = self.rng
        raised = report.decided_at + timedelta(hours=rng.randrange(4, 72))
        if raised > self.end_moment:
            return
        ends = rng.choices(["practitioner", "manager", "senior"], [55, 33, 12])[0]
        levels = [Level.PRACTITIONER, Level.MANAGER, Level.SENIOR][
            : ["practitioner", "manager", "senior"].index(ends) + 1
        ]
        days = {Level.PRACTITIONER: 2, Level.MANAGER: 5, Level.SENIOR: 10}
        steps, at = [], raised
        resolved = True
        for i, level in enumerate(levels):
            answered = self.moment(add_working_days(timezone.localtime(at).date(), rng.randint(1, days[level] + 2)))
            if answered > self.end_moment:
                steps.append(ChallengeStep(level=level, started_at=at))
                resolved = False
                break
            last = i == len(levels) - 1
            steps.append(ChallengeStep(
                level=level, started_at=at, answered_by=self.worker(la), answered_at=answered,
                response="We looked again with the report maker." if last else "The decision stands; taken further.",
                result=(rng.choice([ChallengeStep.Result.DECISION_STANDS, ChallengeStep.Result.DECISION_CHANGED])
                        if last else ChallengeStep.Result.ESCALATED),
            ))  # fmt: skip
            at = answered
        level = steps[-1].level
        c = Challenge(
            public_id=self.pb.uuid(), report=report, raised_by=self.users[f"history-{la}-school"],
            reason="The child is still coming in hungry and frightened; I remain concerned.", level=level,
            status=ChallengeStatus.RESOLVED if resolved else ChallengeStatus.OPEN,
            due_on=add_working_days(timezone.localtime(steps[-1].started_at).date(), days[level]),
            created_at=raised, modified_at=at,
        )  # fmt: skip
        self.challenges.append((c, steps))

    # --- child protection -----------------------------------------------------------------------
    def episode(self, la: str, strategy_day: date) -> None:
        rng, d = self.rng, self.pb.d
        if strategy_day >= self.as_of:
            return
        child = self.pick_child(la, strategy_day)
        if child is None:  # a small demo: a child of another history authority
            others = [o for o in AUTHORITIES if o != la and self.by_la.get(o)]
            self.rng.shuffle(others)
            child = next((c for c in (self.pick_child(o, strategy_day) for o in others) if c), None)
            if child is None:
                return
            la = child.la
        child.episodes += 1
        cs = d.orgs[f"{la}-cs"]
        police = d.service(la, K.POLICE)
        worker = self.worker(la)
        received_day = add_working_days(strategy_day, -rng.randint(0, 2))
        report = self.new_report(la, child, self.moment(received_day, 8, 12), Outcome.STRATEGY_DISCUSSION)
        ep = Episode(
            public_id=self.pb.uuid(), child_id=child.pk, local_authority=d.las[la], organisation=cs, report=report,
            opened_on=received_day, stage=Stage.STRATEGY, created_at=report.decided_at, modified_at=report.decided_at,
        )  # fmt: skip
        self.episodes.append(ep)
        under_five = (strategy_day - child.dob).days < 5 * 365
        health = self.orgs_by_pk.get(child.gp) or d.service(la, K.GP_PRACTICE) or d.gps[la][0]
        if under_five and rng.random() < 0.5:
            health = d.service(la, K.HEALTH_VISITING) or health
        school = self.orgs_by_pk.get(child.school)
        held = self.moment(strategy_day)
        strategy = self.meeting(ep, MeetingKind.STRATEGY, held, worker)
        present = [cs, police]
        parts = [(cs, True), (police, True)]
        parts.append((health, self.chance(la, "health", strategy_day)))
        if school is not None or rng.random() < 0.3:
            school = school or d.schools[la][0]
            parts.append((school, self.chance(la, "education", strategy_day)))
        for org, took_part in parts:
            self.invitees.append(Invitee(
                public_id=self.pb.uuid(), meeting=strategy, kind=InviteeKind.AGENCY, organisation=org,
                mandatory=org.kind in (K.LA_CHILDRENS_SERVICES, K.POLICE), attended=took_part,
                why=Why.TOOK_PART if took_part else "", removed_reason="" if took_part else "Not available at the time",
            ))  # fmt: skip
            if took_part and org not in present:
                present.append(org)
        s47 = rng.random() < 0.78
        strategy.decision = (
            Decision.SECTION_47 if s47 else rng.choice([Decision.ASSESSMENT, Decision.NO_FURTHER_ACTION])
        )
        strategy.reasons = "Reasonable cause to suspect significant harm." if s47 else "Needs, not risk of harm."
        self.event("process.strategy_discussion.held", child, cs.pk, held,
                   {"format": "discussion", "agencies_present": sorted({o.kind for o in present}),
                    "decision": strategy.decision, "reasons_recorded": True})  # fmt: skip
        if not s47:
            return self.close(ep, child, strategy_day, f"strategy discussion: {strategy.decision}")
        ep.stage = Stage.ENQUIRY
        icpc_due = timescale(DueKind.ICPC).due(strategy_day)
        concluded = add_working_days(strategy_day, rng.randint(3, 9))
        at_risk = rng.random() < 0.7
        if concluded > self.as_of:
            self.enquiries.append(Enquiry(public_id=self.pb.uuid(), episode=ep, strategy=strategy,
                                          started_on=strategy_day, joint_with_police=True, created_at=held,
                                          modified_at=held))  # fmt: skip
            self.deadline(ep, DueKind.ICPC, strategy_day, met=None)
            child.busy_until = date.max
            return
        outcome = Enquiry.Outcome.AT_RISK if at_risk else rng.choice(
            [Enquiry.Outcome.NOT_SUBSTANTIATED, Enquiry.Outcome.NO_CONTINUING_RISK])  # fmt: skip
        self.enquiries.append(Enquiry(
            public_id=self.pb.uuid(), episode=ep, strategy=strategy, started_on=strategy_day, joint_with_police=True,
            concluded_on=concluded, outcome=outcome, findings="Seen, and the agencies' information weighed.",
            child_seen_alone=rng.random() < 0.8, created_at=held, modified_at=self.moment(concluded),
        ))  # fmt: skip
        if not at_risk:
            self.deadline(ep, DueKind.ICPC, strategy_day, met=None, cancelled=concluded, reason="process closed")
            return self.close(ep, child, concluded, "section 47: no continuing risk")
        ep.stage = Stage.CONFERENCE_DUE
        day = self.on_or_late(icpc_due, self.chance(la, "icpc", icpc_due))
        day = max(day, add_working_days(concluded, 1))
        if day > self.as_of:
            self.deadline(ep, DueKind.ICPC, strategy_day, met=None)
            self.conference(ep, child, la, MeetingKind.INITIAL, icpc_due, None, present)
            child.busy_until = date.max
            return
        self.deadline(ep, DueKind.ICPC, strategy_day, met=day)
        icpc = self.conference(ep, child, la, MeetingKind.INITIAL, icpc_due, day, present)
        if rng.random() < 0.18:
            icpc.decision = Decision.NOT_REGISTER
            self.event("process.icpc.held", child, cs.pk, icpc.held_at,
                       {"outcome": "not_registered", "format": "virtual"})  # fmt: skip
            return self.close(ep, child, day, "initial conference: not registered")
        k = 1 if rng.random() < 0.7 else 2
        cats = sorted(set(rng.choices(*CATEGORIES, k=k)))
        icpc.decision, icpc.categories = Decision.REGISTER, cats
        self.event("process.icpc.held", child, cs.pk, icpc.held_at, {"outcome": "registered", "format": "virtual"})
        self.register(ep, child, la, icpc, day, cats, present)

    def meeting(self, ep: Episode, kind: str, held: datetime | None, chair: User | None, scheduled=None) -> Meeting:
        m = Meeting(
            public_id=self.pb.uuid(), episode=ep, kind=kind, scheduled_for=scheduled or held, held_at=held,
            format="virtual" if held else "", chair=chair if held else None,
            created_at=ep.created_at, modified_at=held or ep.created_at,
        )  # fmt: skip
        self.meetings.append(m)
        return m

    def conference(self, ep, child: Child, la: str, kind: str, due: date, day: date | None, present) -> Meeting:
        """A conference held on ``day`` (or set for its due date): invitees, reports, attendance,
        and the decisions and record circulated on time or late."""
        rng, d = self.rng, self.pb.d
        held = self.moment(day, 10, 15) if day else None
        scheduled = held or _due_moment(due)
        m = self.meeting(ep, kind, held, self.worker(la), scheduled=scheduled)
        m.reasons = "The agencies' reports and the family's views were heard." if held else ""
        when = day or due
        report_due = add_working_days(timezone.localtime(scheduled).date(), -3)
        invited_at = self.moment(add_working_days(when, -rng.randint(6, 10)))
        invited_at = min(invited_at, self.end_moment)
        agencies = [self.pb.d.orgs[f"{la}-cs"], d.service(la, K.POLICE)]
        gp = self.orgs_by_pk.get(child.gp) or d.gps[la][0]
        if self.chance(la, "gp_invited", when):
            agencies.append(gp)
        school = self.orgs_by_pk.get(child.school)
        if school is not None:
            agencies.append(school)
        if (when - child.dob).days < 5 * 365:
            agencies.append(d.service(la, K.HEALTH_VISITING))
        for org in present:
            if org not in agencies and org.kind != K.GP_PRACTICE:
                agencies.append(org)
        for org in agencies:
            if org is None:
                continue
            is_cs, is_gp = org.kind == K.LA_CHILDRENS_SERVICES, org.kind == K.GP_PRACTICE
            report_in = None
            if held is not None and (
                (is_gp and self.chance(la, "gp_report", when)) or (not is_gp and rng.random() < 0.8)
            ):
                report_in = min(self.moment(add_working_days(day, -rng.randint(1, 5))), held - timedelta(hours=1))
            attend_rate = 1.0 if is_cs else self.attend[la].get(org.kind, (0.6, 0.8))
            if isinstance(attend_rate, tuple):
                a, b = attend_rate
                attend_rate = a + (b - a) * min(
                    1.0, max(0.0, (when - self.start).days / (self.as_of - self.start).days)
                )
            self.invitees.append(Invitee(
                public_id=self.pb.uuid(), meeting=m, kind=InviteeKind.AGENCY, organisation=org,
                mandatory=is_cs or is_gp, why=Why.CHILDRENS_SERVICES if is_cs else Why.GP if is_gp else Why.KNOWS_CHILD,
                invited_at=invited_at, attended=(rng.random() < attend_rate) if held else None,
                report_requested=True, report_due_on=report_due, report_received_at=report_in,
            ))  # fmt: skip
        if gp not in agencies:  # the GP not invited: the list says so
            self.invitees.append(Invitee(public_id=self.pb.uuid(), meeting=m, kind=InviteeKind.AGENCY, mandatory=True,
                                         why=Why.GP, report_requested=True, report_due_on=report_due))  # fmt: skip
        for pk, name, rel in child.parents[:2]:
            self.invitees.append(Invitee(
                public_id=self.pb.uuid(), meeting=m, kind=InviteeKind.PARENT, person_id=pk, name=name, mandatory=True,
                why=Why.CARER if rel == "grandparent" else Why.PARENT, invited_at=invited_at,
                attended=(rng.random() < 0.75) if held else None,
            ))  # fmt: skip
        if held is not None:
            key = str(m.public_id)
            for kind_, rate in ((DueKind.DECISIONS_SUMMARY, "decisions"), (DueKind.FULL_RECORD, "record")):
                due_c = timescale(kind_).due(day)
                self.deadline(ep, kind_, day, key=key, met=self.on_or_late(due_c, self.chance(la, rate, due_c), 20))
        return m

    def register(self, ep: Episode, child: Child, la: str, icpc: Meeting, day: date, cats, present) -> None:
        """On the register from ``day``: core groups, reviews and visits until a review
        conference removes the child (or the as-of date comes first)."""
        rng, d = self.rng, self.pb.d
        cs = d.orgs[f"{la}-cs"]
        ep.stage = Stage.REGISTERED
        reg = Registration(
            public_id=self.pb.uuid(), child_id=child.pk, episode=ep, local_authority=d.las[la], registered_on=day,
            categories=cats, conference=icpc, reasons="Likely to suffer significant harm without a plan.",
            created_at=icpc.held_at, modified_at=icpc.held_at,
        )  # fmt: skip
        self.registrations.append(reg)
        self.event("process.register.registered", child, cs.pk, icpc.held_at,
                   {"categories": cats, "conference_type": "initial"})  # fmt: skip
        plan = Plan(public_id=self.pb.uuid(), episode=ep, kind=PlanKind.CSPP, status=PlanStatus.OUTLINE, version=1,
                    worries="We are worried about the harm described at the conference.",
                    outcomes="The child is safe and well cared for at home.", created_at=icpc.held_at,
                    modified_at=icpc.held_at)  # fmt: skip
        self.plans.append(plan)
        members = [o for o in present if o.kind != K.GP_PRACTICE] + [
            o for o in (self.orgs_by_pk.get(child.school), self.orgs_by_pk.get(child.gp)) if o is not None
        ]
        # Reviews: the first at 3 months, then every 6; each may end the registration.
        end: date | None = None
        end_meeting = None
        reviews: list[tuple[date, date | None]] = []  # (due, held)
        due, kind_, n = add_months(day, 3), DueKind.RCPC_FIRST, 0
        last = day
        while True:
            held = self.on_or_late(due, self.chance(la, "review", due), 20)
            if held > self.as_of:
                self.deadline(ep, kind_, last, met=None, due=due)
                self.conference(ep, child, la, MeetingKind.REVIEW, due, None, members)
                break
            self.deadline(ep, kind_, last, met=held, due=due)
            m = self.conference(ep, child, la, MeetingKind.REVIEW, due, held, members)
            n += 1
            stop = rng.random() < (0.3 if n == 1 else 0.5 if n == 2 else 0.7)
            m.decision = Decision.DEREGISTER if stop else Decision.REMAIN
            m.categories = [] if stop else cats
            self.event("process.rcpc.held", child, cs.pk, m.held_at,
                       {"outcome": "deregistered" if stop else "remain_registered", "format": "virtual"})  # fmt: skip
            reviews.append((due, held))
            if stop:
                end, end_meeting = held, m
                break
            last, due, kind_ = held, add_months(held, 6), DueKind.RCPC_NEXT
        until = end or self.as_of
        # Core groups: the first within 10 working days, then every 6 weeks.
        due, kind_, last = timescale(DueKind.CORE_GROUP_FIRST).due(day), DueKind.CORE_GROUP_FIRST, day
        while True:
            first = kind_ == DueKind.CORE_GROUP_FIRST
            held_day = self.on_or_late(due, self.chance(la, "core_group", due) if first else rng.random() < 0.85, 10)
            if end is not None and held_day >= end:
                self.deadline(ep, kind_, last, met=None, due=due, cancelled=end,
                              reason="removed from the register: review_conference_decision")  # fmt: skip
                break
            if held_day > self.as_of:
                self.deadline(ep, kind_, last, met=None, due=due)
                self.meeting(ep, MeetingKind.CORE_GROUP, None, None, scheduled=_due_moment(due))
                break
            self.deadline(ep, kind_, last, met=held_day, due=due)
            m = self.meeting(ep, MeetingKind.CORE_GROUP, self.moment(held_day), self.worker(la))
            attended_kinds = set()
            for org in dict.fromkeys(members):
                rate = 1.0 if org.kind == K.LA_CHILDRENS_SERVICES else self.attend[la].get(org.kind, (0.6, 0.8))[1]
                went = rng.random() < rate
                if went:
                    attended_kinds.add(org.kind)
                self.invitees.append(Invitee(public_id=self.pb.uuid(), meeting=m, kind=InviteeKind.AGENCY,
                                             organisation=org, why=Why.OWNS_ACTION, attended=went))  # fmt: skip
            self.event("process.core_group.held", child, cs.pk, m.held_at,
                       {"agencies_present": sorted(attended_kinds), "chaired_by": "la_childrens_services",
                        "plan_progress": rng.choice(["good", "some", "some", "none"])})  # fmt: skip
            last, due, kind_ = held_day, held_day + timedelta(weeks=6), DueKind.CORE_GROUP_NEXT
        # Statutory visits: every two weeks or so, seen alone or not.
        visit_day, last_alone, last_home = day, day, day
        while True:
            visit_day = add_working_days(visit_day, rng.randint(6, 13))
            if visit_day > until or visit_day > self.as_of:
                break
            alone = self.chance(la, "seen_alone", visit_day)
            home = rng.random() < 0.6
            worker = self.worker(la)
            self.visits.append(Visit(public_id=self.pb.uuid(), episode=ep, visited_on=visit_day, seen=True,
                                     seen_alone=alone, at_home=home, by=worker, created_at=self.moment(visit_day),
                                     modified_at=self.moment(visit_day)))  # fmt: skip
            self.event("social_care.visit.statutory", child, cs.pk, self.moment(visit_day),
                       {"child_seen": True, "seen_alone": alone, "location": "home" if home else "other"})  # fmt: skip
            # The visiting dates are kept for children still registered (they drive today's
            # lists); a finished registration keeps its visits, not each date they met.
            if alone:
                if end is None:
                    self.deadline(ep, DueKind.VISIT_ALONE, last_alone, met=visit_day)
                last_alone = visit_day
            if home:
                if end is None:
                    self.deadline(ep, DueKind.VISIT_HOME, last_home, met=visit_day)
                last_home = visit_day
        if end is None:  # still registered: the next visits are due, none overdue
            soon = add_working_days(self.today, 1)
            if min(timescale(DueKind.VISIT_ALONE).due(last_alone), timescale(DueKind.VISIT_HOME).due(last_home)) < soon:
                visit_day = self.today
                self.visits.append(Visit(public_id=self.pb.uuid(), episode=ep, visited_on=visit_day, seen=True,
                                         seen_alone=True, at_home=True, by=self.worker(la),
                                         created_at=self.moment(visit_day), modified_at=self.moment(visit_day)))  # fmt: skip
                self.event("social_care.visit.statutory", child, cs.pk, self.moment(visit_day, 9, 12),
                           {"child_seen": True, "seen_alone": True, "location": "home"})  # fmt: skip
                for kind_, since in ((DueKind.VISIT_ALONE, last_alone), (DueKind.VISIT_HOME, last_home)):
                    self.deadline(ep, kind_, since, met=visit_day)
                last_alone = last_home = visit_day
            for kind_, since in ((DueKind.VISIT_ALONE, last_alone), (DueKind.VISIT_HOME, last_home)):
                self.deadline(ep, kind_, since, met=None)
            child.busy_until = date.max
            return
        reg.ended_on, reg.end_reason, reg.end_meeting = end, Registration.EndReason.REVIEW_CONFERENCE, end_meeting
        reg.eligible_needs = "Care and support plan: family support worker weekly."
        reg.contingency = "A new report goes straight to the allocated worker."
        reg.end_explanation = "The plan's outcomes were met and held for three months."
        reg.modified_at = end_meeting.held_at
        plan.status, plan.ended_on = PlanStatus.ENDED, end
        self.event("process.register.deregistered", child, cs.pk, end_meeting.held_at,
                   {"reason": "review_conference_decision", "eligible_needs_recorded": True,
                    "contingency_plan_recorded": True, "ongoing_support": "care_and_support_plan"})  # fmt: skip
        child.registration_ended = end
        self.close(ep, child, end, "removed from the register by a review conference")

    def close(self, ep: Episode, child: Child, day: date, reason: str) -> None:
        ep.stage, ep.closed_on, ep.close_reason = Stage.CLOSED, day, reason
        child.busy_until = day

    # --- alerts ------------------------------------------------------------------------------
    def alerts(self, la: str, n: int, window: tuple[date, date] | None = None) -> int:
        """History alerts for children in the authority: raised across the two years (or on
        working days from ``window[0]`` up to, not including, ``window[1]``), each acknowledged
        on time or late and closed with an outcome (the latest still open)."""
        rng, d = self.rng, self.pb.d
        pool = self.by_la.get(la) or []
        rules = [(pack, rule) for pack in all_packs() for rule in pack.rules if rule.scope in ("child", "household")]
        if not pool or not rules:
            return 0
        cs = d.orgs[f"{la}-cs"]
        rows: list[tuple[Alert, int, list[AlertStep]]] = []
        for _ in range(n):
            pack, rule = rng.choice(rules)
            child = rng.choice(pool)
            lo, hi = window or (self.shown_from, self.as_of + timedelta(days=1))
            raised = self.moment(self.working_day(lo, hi), 0, 24)
            if raised > self.end_moment:
                continue
            a = Alert(
                public_id=self.pb.uuid(), rule_id=rule.id, pack=pack.label, scope_key=f"history:{self.pb.uuid().hex}",
                household_id=child.household, local_authority=d.las[la], severity=rule.severity,
                status=AlertStatus.RAISED, owner_organisation=cs,
            )  # fmt: skip
            steps = [AlertStep(alert=a, at=raised, action="raised", detail={"owner": cs.code, "part": "front_door"})]
            steps += self.work_alert(a, la, rule, raised)
            rows.append((a, child.pk, steps))
        Alert.objects.bulk_create([a for a, _c, _s in rows], batch_size=2000)
        Alert.children.through.objects.bulk_create(
            [Alert.children.through(alert_id=a.pk, person_id=c) for a, c, _s in rows], batch_size=5000
        )
        AlertStep.objects.bulk_create([s for _a, _c, steps in rows for s in steps], batch_size=5000)
        return len(rows)

    def work_alert(self, a: Alert, la: str, rule, raised: datetime) -> list[AlertStep]:
        """``a`` raised at ``raised``, then acknowledged on time or late, given an outcome and
        closed, as far as the demo's day allows. Sets its times; returns the steps after "raised"."""
        rng = self.rng
        deadline = acknowledge_by(rule.acknowledge, raised)
        span = max(deadline - raised, timedelta(hours=1))
        on_time = self.chance(la, "alert_ack", timezone.localtime(raised).date())
        ack = raised + (span * rng.uniform(0.1, 0.95) if on_time else span + timedelta(hours=rng.randrange(2, 120)))
        a.raised_at = a.evidence_updated_at = a.last_notified_at = raised
        a.acknowledge_by = deadline
        if ack > self.end_moment:
            return []
        worker = self.worker(la)
        a.status, a.acknowledged_at, a.acknowledged_by = AlertStatus.ACKNOWLEDGED, ack, worker
        steps = [AlertStep(alert=a, at=ack, actor=worker, action="acknowledged")]
        actioned = ack + timedelta(hours=rng.randrange(2, 24 * 12))
        if actioned > self.end_moment:
            return steps
        a.outcome = rng.choices(list(AlertOutcome.values), [22, 14, 24, 10, 20, 10])[0]
        a.status, a.actioned_at, a.actioned_by = AlertStatus.ACTIONED, actioned, worker
        steps.append(AlertStep(alert=a, at=actioned, actor=worker, action="outcome", detail={"outcome": a.outcome}))
        closed = actioned + timedelta(hours=rng.randrange(1, 72))
        if closed <= self.end_moment:
            a.status, a.closed_at, a.closed_by = AlertStatus.CLOSED, closed, worker
            steps.append(AlertStep(alert=a, at=closed, actor=worker, action="closed"))
        return steps

    # --- writing -------------------------------------------------------------------------------
    def write(self) -> None:
        with _stamps_as_given(Report, Challenge, Episode, Meeting, Enquiry, Registration, Plan, Visit):
            Report.objects.bulk_create(self.reports, batch_size=2000)
            ReportSubject.objects.bulk_create(self.subjects, batch_size=5000)
            Challenge.objects.bulk_create([c for c, _s in self.challenges])
            for c, steps in self.challenges:
                for s in steps:
                    s.challenge = c
            ChallengeStep.objects.bulk_create([s for _c, steps in self.challenges for s in steps])
            Episode.objects.bulk_create(self.episodes, batch_size=2000)
            Meeting.objects.bulk_create(self.meetings, batch_size=2000)
            Invitee.objects.bulk_create(self.invitees, batch_size=5000)
            Enquiry.objects.bulk_create(self.enquiries, batch_size=2000)
            Registration.objects.bulk_create(self.registrations, batch_size=2000)
            DeadlineRow.objects.bulk_create(self.deadlines, batch_size=5000)
            Plan.objects.bulk_create(self.plans, batch_size=2000)
            Visit.objects.bulk_create(self.visits, batch_size=5000)
        insert_events(self.events)


@contextlib.contextmanager
def _stamps_as_given(*models) -> Iterator[None]:
    """Let ``created_at`` and ``modified_at`` keep the history's own moments, not the wall clock."""
    fields = [m._meta.get_field(name) for m in models for name in ("created_at", "modified_at")]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    try:
        for f in fields:
            f.auto_now = f.auto_now_add = False
        yield
    finally:
        for f, now, add in saved:
            f.auto_now, f.auto_now_add = now, add


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _drift(rng: random.Random, lo: float, hi: float) -> tuple[float, float]:
    """Where an authority starts in the range, and where it has drifted to by the as-of date."""
    start = rng.uniform(lo, hi)
    end = min(hi, max(lo - 0.05, start + rng.uniform(-0.15, 0.2)))
    return start, end


def _due_moment(day: date) -> datetime:
    while not is_working_day(day):
        day -= timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(10, 0)))


def build(pb: PopulationBuilder, *, exclude: set[int]) -> History:
    """Write the history; ``exclude`` holds the scenario families' people, whose stories are told
    already. Returns the history, ``written`` saying how many of each thing were written."""
    history = History(pb, exclude)
    history.written = history.run()
    return history


__all__ = ["AUTHORITIES", "build"]
