"""The subject access document: everything Cylch holds about one person, item by item, each
marked where it names or is about someone else so that a reviewer can redact it before release
(docs/governance.md, "People's rights").

Sections, in order: who they are (the person, their agency records and anyone merged into
them), where they live and with whom, their relationships, who works with them, the entries on
their spine (every version, a correction beside the original) and about their household,
significance marks, the child's story, reports about them (and their files), child protection
records about them and meetings they were invited to, alerts, reviews, decisions held for a
manager, corrections they asked for, legal holds, emergency access to their record, and the
audit entries about them (their record, and every record in this document).

An item is ``third_party`` when it has a reason (``REASONS``): it names or is about someone
else, identifies a report maker, was recorded by another organisation that children's services
would not see in full, is about the household, is a file to read, or concerns legal
proceedings. Practitioners named in their work are listed on each item (``practitioners``) but
do not make it third party: they are usually released (the ICO's guidance on subject access),
and the reviewer decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.policy import Level
from cylch.access.selectors import PersonAccess
from cylch.core import taxonomy

REASONS = {
    "other_person": _("Names or is about someone else: a relative, someone in the household, another child."),
    "report_maker": _(
        "Identifies who made a report: release it only with their consent or a recorded decision that it is reasonable."
    ),
    "other_organisation": _(
        "Recorded by another organisation and not shown in full to children's services: ask them before release "
        "(health records: the serious-harm test; police: the crime exemption)."
    ),
    "household": _("About the household as a whole, not only this person."),
    "document": _("A file: read it before release."),
    "legal": _("About legal proceedings: it may be exempt."),
}

NOTE = _(
    "Prepared for review. Items marked third_party must be checked, and redacted where needed, before anything "
    "is released."
)

SECTIONS = {
    "identity": _("Who they are"),
    "homes": _("Where they live and with whom"),
    "relationships": _("Relationships"),
    "work": _("Who works with them"),
    "entries": _("Entries on their record"),
    "marks": _("Entries marked significant"),
    "story": _("The child's story"),
    "reports": _("Reports to children's services"),
    "documents": _("Files attached to reports"),
    "protection": _("Child protection"),
    "alerts": _("Alerts"),
    "reviews": _("Safeguarding reviews"),
    "approvals": _("Decisions held for a manager's approval"),
    "rectifications": _("Corrections they asked for"),
    "rights_requests": _("Requests they made about their record"),
    "holds": _("Legal holds"),
    "break_glass": _("Emergency access to their record"),
    "audit": _("Who read, changed or exported their record"),
}


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).isoformat(timespec="minutes") if timezone.is_aware(value) else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    return value


@dataclass
class Item:
    section: str
    kind: str
    id: str
    date: str
    title: str
    fields: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # other people it names or is about
    practitioners: list[str] = field(default_factory=list)

    @property
    def third_party(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section, "kind": self.kind, "id": self.id, "date": self.date, "title": self.title,
            "third_party": self.third_party, "third_party_reasons": self.reasons, "names": self.names,
            "practitioners": self.practitioners, "fields": self.fields,
        }  # fmt: skip


@dataclass
class Document:
    person_id: str
    person_name: str
    made_at: datetime
    made_by: str
    language: str
    items: list[Item]

    def sections(self) -> list[tuple[str, str, list[Item]]]:
        return [(k, str(t), [i for i in self.items if i.section == k]) for k, t in SECTIONS.items()]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": "cylch-subject-access",
            "version": 1,
            "person": {"id": self.person_id, "name": self.person_name},
            "made_at": _value(self.made_at),
            "made_by": self.made_by,
            "language": self.language,
            "note": str(NOTE),
            "third_party_reasons": {k: str(v) for k, v in REASONS.items()},
            "counts": {"items": len(self.items), "third_party": sum(i.third_party for i in self.items)},
            "sections": [
                {"key": k, "title": title, "items": [i.as_dict() for i in items]} for k, title, items in self.sections()
            ],
        }


class Builder:
    """Collects the items for one person (with everyone merged into them) as one viewer exports."""

    def __init__(self, access: PersonAccess, language: str) -> None:
        from cylch.identity.models import HouseholdMembership, Person, Relationship

        self.access, self.language = access, language
        self.person = access.person
        ids, frontier = {self.person.pk}, [self.person.pk]
        while frontier:
            frontier = list(Person.objects.filter(merged_into_id__in=frontier).values_list("pk", flat=True))
            ids.update(frontier)
        self.ids = ids
        self.household_ids = set(
            HouseholdMembership.objects.filter(person_id__in=ids).values_list("household_id", flat=True)
        )
        others = {
            *Relationship.objects.filter(person_id__in=ids).values_list("relative_id", flat=True),
            *Relationship.objects.filter(relative_id__in=ids).values_list("person_id", flat=True),
            *HouseholdMembership.objects.filter(household_id__in=self.household_ids).values_list(
                "person_id", flat=True
            ),
        } - ids
        own = {n.lower() for n in (self.person.given_name, self.person.family_name) if n}
        self.others = {p.pk: p for p in Person.objects.filter(pk__in=others)}
        words = {n for p in self.others.values() for n in (p.given_name, f"{p.given_name} {p.family_name}".strip())}
        words = sorted((w for w in words if len(w) >= 3 and w.lower() not in own), key=len, reverse=True)
        self._mentions = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.I) if words else None
        self.items: list[Item] = []
        self.record_ids: set[str] = {str(self.person.public_id)}

    # --- helpers -----------------------------------------------------------------------------

    def add(self, section: str, kind: str, record_id: Any, when: Any, title: Any, fields: dict[str, Any], *,
            reasons: list[str] | None = None, names: list[str] | None = None,
            practitioners: list[str] | None = None, scan: bool = True) -> Item:  # fmt: skip
        """One item; the text of its fields is searched for the names of relatives and household members."""
        reasons, names = list(reasons or []), list(names or [])
        clean = {str(k): _value(v) for k, v in fields.items() if v not in ("", None, [], {})}
        if scan and self._mentions is not None:
            found = {m.group(0) for v in clean.values() for m in self._mentions.finditer(str(v))}
            names.extend(sorted(found - set(names)))
        if names and "other_person" not in reasons:
            reasons.append("other_person")
        item = Item(section, kind, str(record_id), _value(when) or "", str(title), clean, reasons, names,
                    sorted({p for p in practitioners or [] if p}))  # fmt: skip
        self.items.append(item)
        self.record_ids.add(str(record_id))
        return item

    def label(self, code: str) -> str:
        found = taxonomy.get(code)
        return found.label(self.language) if found else code

    def org(self, organisation) -> str:
        return organisation.name(self.language) if organisation is not None else ""

    @staticmethod
    def who(user) -> str:
        return (user.get_full_name() or user.username) if user is not None else ""

    # --- the sections --------------------------------------------------------------------------

    def build(self) -> list[Item]:
        for section in (self.identity, self.homes, self.work, self.entries, self.story, self.reports, self.protection,
                        self.alerts, self.reviews, self.approvals, self.rectifications, self.rights_requests, self.holds,
                        self.break_glass, self.audit):  # fmt: skip
            section()
        self.items.sort(key=lambda i: (list(SECTIONS).index(i.section), i.date or "", i.id))
        return self.items

    def identity(self) -> None:
        from cylch.identity.models import Person, PersonLink

        for person in Person.objects.filter(pk__in=self.ids).order_by("pk"):
            self.add("identity", "person", person.public_id, person.created_at, person.display_name, {
                "given_name": person.given_name, "family_name": person.family_name, "other_names": person.other_names,
                "date_of_birth": person.date_of_birth, "sex": person.get_sex_display(), "nhs_number": person.nhs_number,
                "unique_pupil_number": person.upn, "unborn": person.is_unborn or None,
                "expected_date_of_delivery": person.expected_date_of_delivery, "date_of_death": person.date_of_death,
                "merged_into": person.merged_into.public_id if person.merged_into_id else None,
            }, scan=False)  # fmt: skip
        links = PersonLink.objects.filter(person_id__in=self.ids, active=True).select_related(
            "agency_record__organisation", "confirmed_by"
        )
        for link in links.order_by("created_at"):
            rec = link.agency_record
            self.add("identity", "agency_record", rec.public_id, rec.created_at, self.org(rec.organisation), {
                "organisation": self.org(rec.organisation), "their_reference": rec.local_id,
                "given_name": rec.given_name, "family_name": rec.family_name, "other_names": rec.other_names,
                "date_of_birth": rec.date_of_birth, "sex": rec.get_sex_display(), "address": rec.address_line,
                "town": rec.town, "postcode": rec.postcode, "nhs_number": rec.nhs_number, "unique_pupil_number": rec.upn,
                "other_identifiers": rec.extra, "linked_by": link.get_method_display(), "linked_at": link.created_at,
            }, practitioners=[self.who(link.confirmed_by)], scan=False)  # fmt: skip

    def homes(self) -> None:
        from cylch.identity.models import HouseholdMembership, Relationship

        memberships = HouseholdMembership.objects.filter(person_id__in=self.ids).select_related("household")
        for m in memberships.order_by("from_date", "pk"):
            home = m.household
            others = (
                HouseholdMembership.objects.filter(household=home)
                .exclude(person_id__in=self.ids)
                .select_related("person")
            )
            names = [o.person.display_name for o in others]
            self.add("homes", "household", home.public_id, m.from_date, str(home), {
                "address": home.address_line, "town": home.town, "postcode": home.postcode,
                "from": m.from_date, "until": m.to_date, "others_living_there": names,
            }, names=names, scan=False)  # fmt: skip
        relationships = Relationship.objects.filter(person_id__in=self.ids).select_related("relative")
        for r in relationships.order_by("pk"):
            name = r.relative.display_name
            self.add("relationships", "relationship", f"relationship:{r.pk}", r.from_date,
                     f"{r.get_kind_display()} {name}",
                     {"is": r.get_kind_display(), "of": name, "parental_responsibility": r.parental_responsibility,
                      "lives_with": r.lives_with, "from": r.from_date, "until": r.to_date}, names=[name], scan=False)  # fmt: skip
        inward = Relationship.objects.filter(relative_id__in=self.ids).select_related("person")
        for r in inward.order_by("pk"):
            name = r.person.display_name
            self.add("relationships", "relationship", f"relationship:{r.pk}", r.from_date,
                     f"{name}: {r.get_kind_display()}",
                     {"who": name, "is": r.get_kind_display(), "parental_responsibility": r.parental_responsibility,
                      "lives_with": r.lives_with, "from": r.from_date, "until": r.to_date}, names=[name], scan=False)  # fmt: skip

    def work(self) -> None:
        from cylch.identity.models import Allocation
        from cylch.rules.models import LeadCoordinatorProposal

        for a in Allocation.objects.filter(person_id__in=self.ids).select_related("organisation", "practitioner"):
            self.add("work", "allocation", a.public_id, a.from_date, a.get_kind_display(), {
                "organisation": self.org(a.organisation), "practitioner": self.who(a.practitioner),
                "from": a.from_date, "until": a.to_date}, practitioners=[self.who(a.practitioner)])  # fmt: skip
        proposals = LeadCoordinatorProposal.objects.filter(person_id__in=self.ids).select_related(
            "organisation", "practitioner"
        )
        for p in proposals:
            self.add("work", "lead_coordinator_proposal", p.public_id, p.created_at, str(_("Lead coordinator proposed")), {
                "organisation": self.org(p.organisation), "practitioner": self.who(p.practitioner),
                "status": p.get_status_display(), "decided_at": p.decided_at,
            }, practitioners=[self.who(p.practitioner)])  # fmt: skip

    def entries(self) -> None:
        from django.db.models import Q

        from cylch.chronology.models import Significance
        from cylch.events.models import Event
        from cylch.identity.models import HouseholdMembership

        # Entries about a household as a whole, from the time the person lived there.
        about = Q(person_id__in=self.ids)
        for household, since, until in HouseholdMembership.objects.filter(person_id__in=self.ids).values_list(
            "household_id", "from_date", "to_date"
        ):
            stay = Q(household_id=household, person__isnull=True)
            if since:
                stay &= Q(occurred_at__date__gte=since)
            if until:
                stay &= Q(occurred_at__date__lte=until)
            about |= stay
        events = list(Event.objects.filter(about).select_related("organisation").order_by("occurred_at", "pk"))
        corrected_by = {e.supersedes_id: e for e in events if e.supersedes_id}
        for e in events:
            reasons = []
            if e.person_id is None:
                reasons.append("household")
            if self.access.level_for(sensitivity=e.sensitivity, organisation_id=e.organisation_id) != Level.CONTENT:
                reasons.append("other_organisation")
            later = corrected_by.get(e.pk)
            self.add("entries", "entry", e.public_id, e.occurred_at, self.label(e.code), {
                "code": e.code, "what": self.label(e.code), "when": e.occurred_at, "recorded_at": e.recorded_at,
                "recorded_by": self.org(e.organisation), "recorder": e.recorder_name, "recorder_role": e.recorder_role,
                "recorder_contact": e.recorder_contact, "sensitivity": e.sensitivity, "summary": e.summary,
                "details": e.details, "source": e.get_source_display(),
                "corrects": str(e.supersedes.public_id) if e.supersedes_id else None,
                "corrected_by": str(later.public_id) if later else None,
            }, reasons=reasons, practitioners=[e.recorder_name])  # fmt: skip
        marks = Significance.objects.filter(event_id__in=[e.pk for e in events]).select_related(
            "event", "organisation", "marked_by"
        )
        for m in marks:
            self.add("marks", "significance", f"significance:{m.pk}", m.marked_at, self.label(m.event.code), {
                "entry": str(m.event.public_id), "marked_by": self.org(m.organisation), "note": m.note,
                "removed_at": m.removed_at}, practitioners=[self.who(m.marked_by)])  # fmt: skip

    def story(self) -> None:
        from cylch.chronology.models import ChildStory

        for s in ChildStory.objects.filter(child_id__in=self.ids).select_related("organisation", "written_by"):
            self.add("story", "story", f"story:{s.pk}", s.written_at, str(_("The child's story")), {
                "summary": s.summary, "written_by": self.org(s.organisation)}, practitioners=[self.who(s.written_by)])  # fmt: skip

    def reports(self) -> None:
        from cylch.reports.models import Report, ReportSubject

        report_ids = ReportSubject.objects.filter(person_id__in=self.ids).values_list("report_id", flat=True)
        reports = Report.objects.filter(pk__in=report_ids).select_related("maker_organisation").order_by("received_at")
        for r in reports.prefetch_related("subjects__person", "injuries", "attachments", "challenges__steps"):
            subjects = list(r.subjects.all())
            others = [s.person.display_name for s in subjects if s.person_id not in self.ids]
            mine = [s for s in subjects if s.person_id in self.ids]
            injuries = [{"side": i.side, "where": i.location, "size": i.size, "description": i.description}
                        for i in r.injuries.all() if i.subject in mine]  # fmt: skip
            maker = {"maker_name": r.maker_name, "maker_role": r.maker_role, "maker_email": r.maker_email,
                     "maker_phone": r.maker_phone, "maker_organisation": self.org(r.maker_organisation)}  # fmt: skip
            self.add("reports", "report", r.public_id, r.received_at, r.reference, {
                "reference": r.reference, "received_at": r.received_at, "channel": r.get_channel_display(),
                "as": ", ".join(s.get_role_display() + (f" ({s.relationship_to_child})" if s.relationship_to_child else "")
                                for s in mine),
                "concerns": [self.label(c) for c in r.concern_codes], "what_happened": r.what_happened,
                "when_it_happened": r.when_happened, "child_words": r.child_words, "actions_taken": r.actions_taken,
                "immediate_danger": r.immediate_danger, "injuries": injuries, "others_named": others,
                "status": r.get_status_display(), "outcome": r.get_outcome_display() if r.outcome else "",
                "rationale": r.rationale, "support_offered": r.support_offered, "decided_at": r.decided_at,
                "maker_told_at": r.feedback_sent_at, **maker,
            }, reasons=["report_maker"] if any(maker.values()) else [], names=others)  # fmt: skip
            for a in r.attachments.all():
                self.add("documents", "attachment", f"attachment:{a.pk}", a.uploaded_at, a.original_name, {
                    "report": r.reference, "file": a.original_name, "type": a.content_type, "bytes": a.size,
                    "sha256": a.sha256}, reasons=["document", "report_maker"], scan=False)  # fmt: skip
            for c in r.challenges.all():
                steps = [{"level": s.get_level_display(), "answered_at": s.answered_at, "response": s.response,
                          "result": s.get_result_display() if s.result else ""} for s in c.steps.all()]  # fmt: skip
                self.add("reports", "challenge", c.public_id, c.created_at, str(_("“I remain concerned”")), {
                    "report": r.reference, "reason": c.reason, "status": c.get_status_display(), "steps": steps,
                }, practitioners=[self.who(c.raised_by)])  # fmt: skip

    def protection(self) -> None:
        from cylch.protection import models as p

        episodes = p.Episode.objects.filter(child_id__in=self.ids).select_related("organisation", "social_worker")
        for ep in episodes.order_by("opened_on"):
            dates = [{"what": d.get_kind_display(), "due": d.due_on, "met": d.met_on, "cancelled": d.cancelled_on}
                     for d in ep.deadlines.all()]  # fmt: skip
            self.add("protection", "episode", ep.public_id, ep.opened_on, str(_("Child protection process")), {
                "stage": ep.get_stage_display(), "opened_on": ep.opened_on, "closed_on": ep.closed_on,
                "why_closed": ep.close_reason, "children_services": self.org(ep.organisation),
                "social_worker": self.who(ep.social_worker), "statutory_dates": dates,
            }, practitioners=[self.who(ep.social_worker)])  # fmt: skip
            for m in ep.meetings.select_related("chair").prefetch_related("invitees", "challenges", "corrections"):
                invited = [i for i in m.invitees.all() if i.person_id not in self.ids]
                names = [i.display_name for i in invited if i.kind != p.InviteeKind.AGENCY and i.display_name]
                agencies = [i.display_name for i in invited if i.kind == p.InviteeKind.AGENCY]
                self.add("protection", "meeting", m.public_id, m.held_at or m.scheduled_for, m.get_kind_display(), {
                    "kind": m.get_kind_display(), "scheduled_for": m.scheduled_for, "held_at": m.held_at,
                    "format": m.get_format_display() if m.format else "", "information_shared": m.information_shared,
                    "decision": m.get_decision_display() if m.decision else "", "reasons": m.reasons,
                    "immediate_action": m.immediate_action, "categories": m.category_labels, "progress": m.progress,
                    "risk_of_future_harm": m.risk_of_future_harm, "record": m.record,
                    "record_translated": m.record_translated, "people_invited": names, "agencies_invited": agencies,
                    "agency_reports": [{"from": i.display_name, "text": i.report_text} for i in invited if i.report_text],
                    "challenges": [{"kind": c.get_kind_display(), "by": c.raised_by, "text": c.text,
                                    "response": c.response} for c in m.challenges.all()],
                    "corrections": [{"text": c.text, "answer": c.answer} for c in m.corrections.all()],
                }, names=names, practitioners=[self.who(m.chair)])  # fmt: skip
            for e in ep.enquiries.all():
                self.add("protection", "enquiry", e.public_id, e.started_on, str(_("Section 47 enquiry")), {
                    "started_on": e.started_on, "concluded_on": e.concluded_on,
                    "outcome": e.get_outcome_display() if e.outcome else "", "findings": e.findings,
                    "seen_alone": e.child_seen_alone})  # fmt: skip
            for a in ep.assessments.prefetch_related("contributions__organisation", "contributions__author"):
                contributions = [{"from": self.org(c.organisation), "by": self.who(c.author), "text": c.text}
                                 for c in a.contributions.all()]  # fmt: skip
                self.add("protection", "assessment", a.public_id, a.completed_on or a.created_at,
                         str(_("Consolidated assessment")),
                         {"trigger": a.get_trigger_display(), "analysis": a.analysis, "completed_on": a.completed_on,
                          "contributions": contributions},
                         practitioners=[c["by"] for c in contributions])  # fmt: skip
            for plan in ep.plans.prefetch_related("actions__updates", "actions__owner_organisation"):
                actions = [{"action": x.text, "owner": x.owner_name or self.org(x.owner_organisation), "due": x.due_on,
                            "status": x.get_status_display(), "updates": [u.note for u in x.updates.all()]}
                           for x in plan.actions.all()]  # fmt: skip
                self.add("protection", "plan", plan.public_id, plan.created_at, plan.get_kind_display(), {
                    "status": plan.get_status_display(), "version": plan.version, "worries": plan.worries,
                    "what_needs_to_change": plan.outcomes, "what_the_child_can_do": plan.child_can_do,
                    "contingency": plan.contingency, "actions": actions, "ended_on": plan.ended_on})  # fmt: skip
            for reg in ep.registrations.all():
                self.add("protection", "registration", reg.public_id, reg.registered_on,
                         str(_("On the child protection register")), {
                             "registered_on": reg.registered_on, "categories": reg.category_labels,
                             "reasons": reg.reasons, "ended_on": reg.ended_on,
                             "why_ended": reg.get_end_reason_display() if reg.end_reason else "",
                             "explanation": reg.end_explanation, "needs_after": reg.eligible_needs,
                             "contingency": reg.contingency})  # fmt: skip
            for v in ep.visits.select_related("by"):
                self.add("protection", "visit", v.public_id, v.visited_on, str(_("Visit")), {
                    "visited_on": v.visited_on, "seen": v.seen, "seen_alone": v.seen_alone, "at_home": v.at_home,
                    "note": v.note}, practitioners=[self.who(v.by)])  # fmt: skip
        invited = p.Invitee.objects.filter(person_id__in=self.ids).select_related("meeting__episode__child")
        for i in invited.exclude(meeting__episode__child_id__in=self.ids):
            child = i.meeting.episode.child.display_name
            self.add("protection", "invitation", i.public_id, i.meeting.held_at or i.meeting.scheduled_for,
                     f"{i.meeting.get_kind_display()}: {child}", {
                         "meeting": i.meeting.get_kind_display(), "about": child, "why_invited": i.get_why_display(),
                         "invited_at": i.invited_at, "attended": i.attended,
                         "reports_shared_with_you": i.report_shared_with_parents_at}, names=[child])  # fmt: skip

    def alerts(self) -> None:
        from cylch.rules.models import Alert

        alerts = Alert.objects.filter(children__in=self.ids).distinct().prefetch_related("children", "steps__actor")
        for a in alerts.order_by("raised_at"):
            others = [c.display_name for c in a.children.all() if c.pk not in self.ids]
            steps = [{"when": s.at, "what": s.action, "note": s.note} for s in a.steps.all()]
            self.add("alerts", "alert", a.public_id, a.raised_at, a.rule_id, {
                "rule": a.rule_id, "pack": a.pack, "severity": a.get_severity_display(), "status": a.get_status_display(),
                "what_it_found": a.counts, "outcome": a.get_outcome_display() if a.outcome else "",
                "outcome_note": a.outcome_note, "closed_at": a.closed_at, "steps": steps, "other_children": others,
            }, reasons=["household"] if a.household_id else [], names=others,
                practitioners=[self.who(s.actor) for s in a.steps.all()])  # fmt: skip

    def reviews(self) -> None:
        from cylch.reviews.models import Referral

        for r in Referral.objects.filter(child_id__in=self.ids).select_related("review"):
            review = getattr(r, "review", None)
            self.add("reviews", "review_referral", r.public_id, r.referred_on, str(_("Referral for a review")), {
                "incident": r.get_incident_display(), "incident_on": r.incident_on, "referred_on": r.referred_on,
                "summary": r.summary, "decided": r.decided_type, "decided_on": r.decided_on,
                "decision_reasons": r.decision_reasons,
                "review": review.type_name if review else "", "review_due": review.completion_due_on if review else None,
                "review_completed": review.completed_on if review else None,
            }, reasons=["document"] if review else [])  # fmt: skip

    def approvals(self) -> None:
        from django.db.models import Q

        from cylch.governance.models import ApprovalRequest

        mine = (Q(report__subjects__person_id__in=self.ids) | Q(enquiry__episode__child_id__in=self.ids)
                | Q(alert__children__in=self.ids))  # fmt: skip
        for a in ApprovalRequest.objects.filter(mine).distinct().select_related("requested_by", "decided_by"):
            self.add("approvals", "approval", a.public_id, a.requested_at, a.get_kind_display(), {
                "decision": a.get_kind_display(), "proposed": a.outcome_label, "state": a.get_state_display(),
                "decided_at": a.decided_at, "reasons": a.reasons},
                practitioners=[self.who(a.requested_by), self.who(a.decided_by)])  # fmt: skip

    def rectifications(self) -> None:
        from cylch.governance.models import Rectification

        for r in Rectification.objects.filter(person_id__in=self.ids).select_related(
            "original", "correction", "recorded_by"
        ):
            self.add("rectifications", "rectification", r.public_id, r.recorded_at, self.label(r.original.code), {
                "asked_by": r.requested_by_name, "who_asked": r.get_requester_relationship_display(),
                "asked_on": r.requested_on, "what_was_wrong": r.reason, "entry": str(r.original.public_id),
                "correction": str(r.correction.public_id)}, practitioners=[self.who(r.recorded_by)])  # fmt: skip

    def rights_requests(self) -> None:
        from cylch.governance.models import RightsRequest

        for r in RightsRequest.objects.filter(person_id__in=self.ids).select_related("recorded_by", "answered_by"):
            self.add("rights_requests", "rights_request", r.public_id, r.received_on, r.get_kind_display(), {
                "asked_by": r.requested_by_name, "who_asked": r.get_requester_relationship_display(),
                "received_on": r.received_on, "due_on": r.due_on, "extended_to": r.extended_to,
                "extension_reason": r.extension_reason, "what_was_asked": r.details, "answered_on": r.answered_on,
                "answer": r.answer}, practitioners=[self.who(r.recorded_by), self.who(r.answered_by)])  # fmt: skip

    def holds(self) -> None:
        from cylch.governance.models import LegalHold

        for h in LegalHold.objects.filter(person_id__in=self.ids):
            self.add("holds", "legal_hold", h.public_id, h.created_at, str(_("Legal hold")), {
                "reason": h.reason, "reference": h.reference, "released_at": h.released_at}, reasons=["legal"])  # fmt: skip

    def break_glass(self) -> None:
        from cylch.access.models import BreakGlass

        for g in BreakGlass.objects.filter(person_id__in=self.ids).select_related("user__organisation"):
            self.add("break_glass", "break_glass", g.public_id, g.started_at, str(_("Emergency access")), {
                "by": self.who(g.user), "organisation": self.org(g.user.organisation), "reason": g.reason,
                "from": g.started_at, "until": g.expires_at}, practitioners=[self.who(g.user)])  # fmt: skip

    def audit(self) -> None:
        """Entries whose object is this person or any record in the document, or that name them."""
        from django.db.models import Q

        from cylch.access.models import AuditEntry
        from cylch.governance.retention_records import chunks

        person_ids = [str(pk) for pk in self._public_ids()]
        seen: set[int] = set()
        queries = [Q(detail__person__in=person_ids)] + [Q(object_id__in=ids) for ids in chunks(sorted(self.record_ids))]
        for query in queries:
            for e in AuditEntry.objects.filter(query).exclude(object_type="retention").order_by("seq"):
                if e.seq in seen:
                    continue
                seen.add(e.seq)
                erased = e.redacted_at is not None
                self.add("audit", "audit_entry", f"audit:{e.seq}", e.at, e.get_action_display(), {
                    "when": e.at, "action": e.get_action_display(), "who": e.actor_label,
                    "organisation": e.organisation_code, "what": e.object_type, "purpose": e.purpose,
                    "content_erased": erased or None}, practitioners=[e.actor_label], scan=False)  # fmt: skip

    def _public_ids(self) -> list[Any]:
        from cylch.identity.models import Person

        return list(Person.objects.filter(pk__in=self.ids).values_list("public_id", flat=True))


def build(access: PersonAccess, *, made_by: str, language: str) -> Document:
    """The document for the person ``access`` opens, as that viewer exports it."""
    items = Builder(access, language).build()
    person = access.person
    return Document(str(person.public_id), person.display_name, timezone.now(), made_by, language, items)
