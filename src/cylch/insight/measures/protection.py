"""The statutory process: who takes part, timeliness from the kept deadlines, conferences'
invitations and reports, attendance, visits and the register (RR KLOE 1-6)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.roles import HEALTH_KINDS, OrganisationKind
from cylch.events.models import Event
from cylch.insight.measures.base import COUNT, Measure, Unit
from cylch.protection.models import (
    CATEGORY_CHOICES,
    Deadline,
    DueKind,
    Invitee,
    InviteeKind,
    Meeting,
    MeetingKind,
    Registration,
)

CONFERENCES = [MeetingKind.INITIAL, MeetingKind.REVIEW, MeetingKind.TRANSFER]


def _day(moment) -> date:
    return timezone.localtime(moment).date()


def _held(kinds, since: date, until: date):
    return Meeting.objects.filter(
        kind__in=kinds, held_at__date__gte=since - timedelta(days=1), held_at__date__lte=until + timedelta(days=1)
    )


def _attended_kinds(meeting_ids) -> dict[int, set[str]]:
    out: dict[int, set[str]] = defaultdict(set)
    for meeting_id, kind in Invitee.objects.filter(
        meeting_id__in=meeting_ids, attended=True, organisation__isnull=False
    ).values_list("meeting_id", "organisation__kind"):
        out[meeting_id].add(kind)
    return out


def _strategy_units(since: date, until: date, *, health: bool):
    rows = list(_held([MeetingKind.STRATEGY], since, until).values("pk", "public_id", "held_at", "episode__local_authority_id",
                                                                   "episode__child_id"))  # fmt: skip
    present = _attended_kinds([r["pk"] for r in rows])
    for r in rows:
        day = _day(r["held_at"])
        if since <= day <= until:
            kinds = present[r["pk"]]
            took_part = bool(kinds & HEALTH_KINDS) if health else OrganisationKind.SCHOOL in kinds
            yield Unit(r["episode__local_authority_id"], day, took_part, f"meeting:{r['public_id']}",
                       child_id=r["episode__child_id"])  # fmt: skip


def strategy_health_units(since, until, as_of):
    return _strategy_units(since, until, health=True)


def strategy_education_units(since, until, as_of):
    return _strategy_units(since, until, health=False)


def deadline_units(*kinds: str):
    """Units for a statutory date: every deadline that fell due in the period and was met, or
    was past on ``as_of``; in the numerator when met by its date. A deadline met after ``as_of``
    was not met then. Cancelled deadlines (the process ended) are not counted. Not grouped by
    kind: the board compares authorities."""

    def units(since: date, until: date, as_of: date):
        for d in Deadline.objects.filter(kind__in=kinds, due_on__gte=since, due_on__lte=until, cancelled_on__isnull=True).values(
            "pk", "due_on", "met_on", "episode__local_authority_id", "episode__child_id", "episode__public_id"
        ):  # fmt: skip
            met = d["met_on"] if d["met_on"] is not None and d["met_on"] <= as_of else None
            if met is None and d["due_on"] >= as_of:
                continue  # not yet due: neither on time nor late
            yield Unit(d["episode__local_authority_id"], d["due_on"], bool(met and met <= d["due_on"]),
                       f"episode:{d['episode__public_id']}", child_id=d["episode__child_id"])  # fmt: skip

    return units


def _conference_units(since: date, until: date, test):
    rows = list(_held(CONFERENCES, since, until).values("pk", "public_id", "held_at", "episode__local_authority_id",
                                                        "episode__child_id"))  # fmt: skip
    gps: dict[int, list[dict]] = defaultdict(list)
    for inv in Invitee.objects.filter(
        meeting_id__in=[r["pk"] for r in rows], organisation__kind=OrganisationKind.GP_PRACTICE, removed_at__isnull=True
    ).values("meeting_id", "invited_at", "report_received_at"):
        gps[inv["meeting_id"]].append(inv)
    for r in rows:
        day = _day(r["held_at"])
        if since <= day <= until:
            yield Unit(r["episode__local_authority_id"], day, test(gps[r["pk"]], r["held_at"]), f"meeting:{r['public_id']}",
                       child_id=r["episode__child_id"])  # fmt: skip


def gp_invited_units(since, until, as_of):
    return _conference_units(since, until, lambda gps, held: any(g["invited_at"] for g in gps))


def gp_report_units(since, until, as_of):
    return _conference_units(
        since, until, lambda gps, held: any(g["report_received_at"] and g["report_received_at"] <= held for g in gps)
    )


def attendance_units(since: date, until: date, as_of: date):
    """Every agency invited to a conference or core group held in the period: attended or not,
    grouped by the kind of agency."""
    rows = {
        r["pk"]: r
        for r in _held([*CONFERENCES, MeetingKind.CORE_GROUP], since, until).values(
            "pk", "held_at", "episode__local_authority_id", "public_id"
        )
    }
    for inv in Invitee.objects.filter(
        meeting_id__in=list(rows), kind=InviteeKind.AGENCY, organisation__isnull=False, removed_at__isnull=True
    ).values("meeting_id", "attended", "organisation__kind"):
        r = rows[inv["meeting_id"]]
        day = _day(r["held_at"])
        if since <= day <= until:
            yield Unit(r["episode__local_authority_id"], day, bool(inv["attended"]), f"meeting:{r['public_id']}",
                       group=inv["organisation__kind"])  # fmt: skip


def seen_alone_units(since: date, until: date, as_of: date):
    """Statutory visits in which the child was seen: seen alone or not. Read from the spine, so
    visits recorded by any children's services system count, not only those recorded here."""
    qs = Event.objects.filter(
        code="social_care.visit.statutory", occurred_at__date__gte=since - timedelta(days=1),
        occurred_at__date__lte=until + timedelta(days=1), superseded_by__isnull=True,
    ).filter(Q(details__child_seen=True) | Q(details__child_seen__isnull=True))  # fmt: skip
    for e in qs.values("public_id", "occurred_at", "details", "household__local_authority_id", "person_id"):
        day = _day(e["occurred_at"])
        if since <= day <= until and (e["details"] or {}).get("child_seen", True):
            yield Unit(e["household__local_authority_id"], day, (e["details"] or {}).get("seen_alone") is True,
                       f"event:{e['public_id']}", child_id=e["person_id"])  # fmt: skip


def register_units(since: date, until: date, as_of: date):
    """Children on the register at the period's end, by category (a child under two categories
    counts in both; the total counts each child once)."""
    current = Registration.objects.filter(registered_on__lte=until).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=until)
    )
    for r in current.values("public_id", "local_authority_id", "categories", "child_id"):
        for category in r["categories"]:
            yield Unit(r["local_authority_id"], until, True, f"registration:{r['public_id']}", group=category,
                       child_id=r["child_id"])  # fmt: skip


LENGTH_BANDS = [
    (91, "under_3_months", _("Under 3 months")),
    (183, "3_to_6_months", _("3 to 6 months")),
    (365, "6_to_12_months", _("6 to 12 months")),
    (730, "1_to_2_years", _("1 to 2 years")),
    (None, "2_years_or_more", _("2 years or more")),
]


def length_units(since: date, until: date, as_of: date):
    """Registrations that ended in the period, by how long they lasted (RR 1.2: children kept on
    the register to keep services)."""
    for r in Registration.objects.filter(ended_on__gte=since, ended_on__lte=until).values(
        "public_id", "local_authority_id", "registered_on", "ended_on", "child_id"
    ):
        days = (r["ended_on"] - r["registered_on"]).days
        band = next(key for limit, key, _label in LENGTH_BANDS if limit is None or days < limit)
        yield Unit(r["local_authority_id"], r["ended_on"], True, f"registration:{r['public_id']}", group=band,
                   child_id=r["child_id"])  # fmt: skip


def re_registration_units(since: date, until: date, as_of: date):
    """Registrations that began in the period; in the numerator when the child's previous
    registration ended within the 12 months before. A transfer between authorities is not a
    re-registration."""
    starts = list(Registration.objects.filter(registered_on__gte=since, registered_on__lte=until).values(
        "pk", "public_id", "child_id", "registered_on", "local_authority_id"))  # fmt: skip
    ended: dict[int, list] = defaultdict(list)
    for r in Registration.objects.filter(child_id__in={s["child_id"] for s in starts}, ended_on__isnull=False).values(
        "pk", "child_id", "ended_on", "end_reason"
    ):
        ended[r["child_id"]].append(r)
    for s in starts:
        again = any(
            e["pk"] != s["pk"] and e["end_reason"] != Registration.EndReason.TRANSFERRED
            and s["registered_on"] - timedelta(days=365) <= e["ended_on"] <= s["registered_on"]
            for e in ended[s["child_id"]]
        )  # fmt: skip
        yield Unit(
            s["local_authority_id"], s["registered_on"], again, f"registration:{s['public_id']}", child_id=s["child_id"]
        )


def _agency_kinds() -> dict[str, str]:
    return dict(OrganisationKind.choices)


MEASURES = [
    Measure(
        id="strategy-with-health",
        section="protection",
        title=_("Strategy discussions with health taking part"),
        numerator=_("Strategy discussions in which a health service took part"),
        denominator=_("Strategy discussions held in the period"),
        rules=_(
            "By the date held. Health: GP, midwifery, health visiting, school nursing, hospital and emergency "
            "departments, mental health and substance misuse services, health boards."
        ),
        source=_("RR KLOE 2 (most discussions heard only police and children's services)"),
        why=_(
            "Most strategy discussions heard only the police and children's services; health often knew the child best."
        ),
        units=strategy_health_units,
    ),
    Measure(
        id="strategy-with-education",
        section="protection",
        title=_("Strategy discussions with education taking part"),
        numerator=_("Strategy discussions in which a school took part"),
        denominator=_("Strategy discussions held in the period"),
        rules=_("By the date held."),
        source=_("RR KLOE 2"),
        why=_("Schools see children every day, but were often not part of the discussion."),
        units=strategy_education_units,
    ),
    Measure(
        id="icpc-in-time",
        section="protection",
        title=_("Initial conferences within 15 working days"),
        numerator=_("Initial conferences held within 15 working days of the last strategy discussion"),
        denominator=_("Initial conferences that fell due in the period (held, or now overdue)"),
        rules=_(
            "By the date the conference was due. A conference not needed in the end (the enquiry found no "
            "continuing risk) is not counted."
        ),
        source=_("RR KLOE 2; Wales Safeguarding Procedures"),
        why=_("A child at risk should not wait for the conference that decides on a plan."),
        by_due_date=True,
        units=deadline_units(DueKind.ICPC),
    ),
    Measure(
        id="core-group-in-time",
        section="protection",
        title=_("First core groups within 10 working days of the conference"),
        numerator=_("First core groups held within 10 working days of the conference that registered the child"),
        denominator=_("First core groups that fell due in the period (held, or now overdue)"),
        rules=_("By the date due."),
        source=_("Wales Safeguarding Procedures; RR KLOE 5"),
        why=_("The plan starts working only when the core group meets."),
        by_due_date=True,
        units=deadline_units(DueKind.CORE_GROUP_FIRST),
    ),
    Measure(
        id="review-in-time",
        section="protection",
        title=_("Review conferences on time"),
        numerator=_(
            "Review conferences held by their date (3 months after the initial conference, then every 6 months)"
        ),
        denominator=_("Review conferences that fell due in the period (held, or now overdue)"),
        rules=_("By the date due; first and later reviews together."),
        source=_("RR 5.1; Wales Safeguarding Procedures"),
        why=_("Reviews on time check that the plan is keeping the child safe."),
        by_due_date=True,
        units=deadline_units(DueKind.RCPC_FIRST, DueKind.RCPC_NEXT),
    ),
    Measure(
        id="decisions-circulated-in-time",
        section="protection",
        title=_("Outline plan and decisions sent to everyone invited within 5 working days"),
        numerator=_(
            "Conferences whose outline plan and summary of decisions went to every invitee within 5 working days"
        ),
        denominator=_("Conferences whose 5 working days fell in the period (sent, or now overdue)"),
        rules=_("By the date due. Cylch sends to every invitee, attended or not, and records each delivery."),
        source=_("RR 1.4, KLOE 5"),
        why=_("Agencies cannot act on decisions they have not been sent."),
        by_due_date=True,
        units=deadline_units(DueKind.DECISIONS_SUMMARY),
    ),
    Measure(
        id="record-circulated-in-time",
        section="protection",
        title=_("Full conference record sent within 20 working days"),
        numerator=_("Conferences whose full record went to every invitee within 20 working days"),
        denominator=_("Conferences whose 20 working days fell in the period (sent, or now overdue)"),
        rules=_("By the date due."),
        source=_("RR KLOE 5 (minutes not distributed)"),
        why=_("Conference records were often not sent out, so agencies worked from memory."),
        by_due_date=True,
        units=deadline_units(DueKind.FULL_RECORD),
    ),
    Measure(
        id="gp-invited",
        section="protection",
        title=_("Conferences with the GP invited"),
        numerator=_("Conferences to which the child's GP practice was invited"),
        denominator=_("Initial, review and transfer conferences held in the period"),
        rules=_("By the date held."),
        source=_("RR 1.4"),
        why=_("GPs were often not invited to conferences about their patients."),
        units=gp_invited_units,
    ),
    Measure(
        id="gp-report-received",
        section="protection",
        title=_("Conferences with the GP's written report"),
        numerator=_("Conferences for which the GP practice's written report arrived before the conference"),
        denominator=_("Initial, review and transfer conferences held in the period"),
        rules=_("By the date held."),
        source=_("RR 1.8"),
        why=_("Without the GP's report, the conference lacks the child's health history."),
        units=gp_report_units,
    ),
    Measure(
        id="attendance-by-agency",
        section="protection",
        title=_("Attendance at conferences and core groups, by agency"),
        numerator=_("Agencies that attended"),
        denominator=_("Agencies invited to conferences and core groups held in the period"),
        rules=_(
            "By the date of the meeting; each agency invited to each meeting counts once; grouped by kind of agency."
        ),
        source=_("RR 2.2, KLOE 5 (inconsistent attendance)"),
        why=_("Agencies attended conferences and core groups unevenly, so plans missed what they knew."),
        units=attendance_units,
        groups=_agency_kinds,
    ),
    Measure(
        id="seen-alone",
        section="protection",
        title=_("Children seen alone at statutory visits"),
        numerator=_("Statutory visits at which the child was seen alone"),
        denominator=_("Statutory visits at which the child was seen"),
        rules=_(
            "By the date of the visit; every statutory visit recorded on the spine, by any children's services system."
        ),
        source=_("RR KLOE 3"),
        why=_("Children's own words were often missing; a child seen alone can say what is happening."),
        units=seen_alone_units,
    ),
    Measure(
        id="register-by-category",
        section="register",
        title=_("Children on the child protection register, by category"),
        numerator=_("Children on the register at the end of the period"),
        denominator=None,
        rules=_(
            "As at the last day of the period. A child registered under two categories is counted under each; "
            "the total counts each child once."
        ),
        source=_("RR KLOE 1"),
        why=_("How many children are on the register, and why, across Wales."),
        units=register_units,
        kind=COUNT,
        snapshot=True,
        groups=dict(CATEGORY_CHOICES),
    ),
    Measure(
        id="registration-length",
        section="register",
        title=_("How long registrations lasted"),
        numerator=_("Registrations that ended in the period, by length"),
        denominator=None,
        rules=_("By the date the registration ended."),
        source=_("RR 1.2 (children kept on the register to keep services)"),
        why=_("Children were sometimes kept on the register to keep services going."),
        units=length_units,
        kind=COUNT,
        groups={key: label for _limit, key, label in LENGTH_BANDS},
    ),
    Measure(
        id="re-registrations-12m",
        section="register",
        title=_("Re-registrations within 12 months"),
        numerator=_("Registrations of a child whose previous registration ended in the 12 months before"),
        denominator=_("Registrations that began in the period"),
        rules=_("By the date registered. A move between authorities (a transfer) is not a re-registration."),
        source=_("RR 1.2 (support stopping abruptly at de-registration)"),
        why=_("Support stopping abruptly when a child comes off the register can bring them back onto it."),
        units=re_registration_units,
        higher_is_better=False,
    ),
]
