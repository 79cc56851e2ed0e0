"""Words for the readable subject access file (the PDF): each field's key and each item's kind as
a label in the reader's language, and dates as people write them.

The JSON inside the PDF and the CSV keep the keys and ISO dates (they are data for the reviewer's
tools); only the document a person reads changes. A key without a label here is shown with its
underscores as spaces, so a new field is readable at once and can be given words later.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils import formats
from django.utils.translation import gettext_lazy as _

KINDS = {
    "person": _("Person"),
    "agency_record": _("Agency record"),
    "household": _("Household"),
    "relationship": _("Relationship"),
    "allocation": _("Allocation"),
    "lead_coordinator_proposal": _("Lead coordinator proposal"),
    "entry": _("Entry"),
    "significance": _("Significance mark"),
    "story": _("The child's story"),
    "report": _("Report"),
    "attachment": _("File attached to a report"),
    "challenge": _("“I remain concerned”"),
    "episode": _("Child protection process"),
    "meeting": _("Meeting"),
    "enquiry": _("Section 47 enquiry"),
    "assessment": _("Assessment"),
    "plan": _("Plan"),
    "registration": _("Registration"),
    "visit": _("Visit"),
    "invitation": _("Invitation"),
    "alert": _("Alert"),
    "review_referral": _("Referral for a review"),
    "approval": _("Decision held for approval"),
    "rectification": _("Correction at the person's request"),
    "rights_request": _("Request about their record"),
    "legal_hold": _("Legal hold"),
    "break_glass": _("Emergency access"),
    "audit_entry": _("Audit entry"),
}

FIELDS = {
    "about": _("About"),
    "action": _("Action"),
    "actions": _("Actions"),
    "address": _("Address"),
    "agencies_invited": _("Agencies invited"),
    "agency_reports": _("Agency reports"),
    "analysis": _("Analysis"),
    "answer": _("Answer"),
    "answered_on": _("Answered on"),
    "asked_by": _("Asked by"),
    "asked_on": _("Asked on"),
    "at_home": _("At home"),
    "attended": _("Attended"),
    "by": _("By"),
    "bytes": _("Size (bytes)"),
    "categories": _("Categories"),
    "challenges": _("Challenges"),
    "channel": _("How it came"),
    "child_words": _("The child's words"),
    "children_services": _("Children's services"),
    "closed_at": _("Closed"),
    "closed_on": _("Closed on"),
    "code": _("Code"),
    "completed_on": _("Completed on"),
    "concluded_on": _("Concluded on"),
    "content_erased": _("Content erased"),
    "contingency": _("Contingency plan"),
    "contributions": _("Contributions"),
    "corrected_by": _("Corrected by"),
    "correction": _("Correction"),
    "corrections": _("Corrections"),
    "corrects": _("Corrects"),
    "date_of_birth": _("Date of birth"),
    "date_of_death": _("Date of death"),
    "decided": _("Decided"),
    "decided_at": _("Decided at"),
    "decided_on": _("Decided on"),
    "decision": _("Decision"),
    "decision_reasons": _("Reasons for the decision"),
    "details": _("Details"),
    "due_on": _("Due by"),
    "ended_on": _("Ended on"),
    "entry": _("Entry"),
    "expected_date_of_delivery": _("Expected date of delivery"),
    "explanation": _("Explanation"),
    "extended_to": _("Extended to"),
    "extension_reason": _("Why it was extended"),
    "family_name": _("Family name"),
    "file": _("File"),
    "findings": _("Findings"),
    "format": _("Format"),
    "from": _("From"),
    "given_name": _("Given name"),
    "held_at": _("Held"),
    "immediate_action": _("Immediate action"),
    "incident": _("Incident"),
    "incident_on": _("Incident on"),
    "information_shared": _("Information shared"),
    "invited_at": _("Invited"),
    "is": _("Is"),
    "kind": _("Kind"),
    "linked_at": _("Linked"),
    "linked_by": _("Linked by"),
    "lives_with": _("Lives with"),
    "maker_email": _("Report maker's email"),
    "maker_name": _("Report maker"),
    "maker_organisation": _("Report maker's organisation"),
    "maker_phone": _("Report maker's phone"),
    "maker_role": _("Report maker's role"),
    "maker_told_at": _("Report maker told"),
    "marked_by": _("Marked by"),
    "meeting": _("Meeting"),
    "merged_into": _("Merged into"),
    "needs_after": _("Needs afterwards"),
    "nhs_number": _("NHS number"),
    "note": _("Note"),
    "of": _("Of"),
    "opened_on": _("Opened on"),
    "organisation": _("Organisation"),
    "other_children": _("Other children"),
    "other_identifiers": _("Other identifiers"),
    "other_names": _("Other names"),
    "others_living_there": _("Others living there"),
    "outcome": _("Outcome"),
    "outcome_note": _("Note on the outcome"),
    "pack": _("Rule pack"),
    "parental_responsibility": _("Parental responsibility"),
    "people_invited": _("People invited"),
    "postcode": _("Postcode"),
    "practitioner": _("Practitioner"),
    "progress": _("Progress"),
    "proposed": _("Proposed"),
    "purpose": _("Purpose"),
    "rationale": _("Rationale"),
    "reason": _("Reason"),
    "reasons": _("Reasons"),
    "received_at": _("Received"),
    "received_on": _("Received on"),
    "record": _("Record"),
    "record_translated": _("Record translated"),
    "recorded_at": _("Recorded"),
    "recorded_by": _("Recorded by"),
    "recorder": _("Recorded by"),
    "recorder_contact": _("Recorder's contact"),
    "recorder_role": _("Recorder's role"),
    "reference": _("Reference"),
    "referred_on": _("Referred on"),
    "registered_on": _("Registered on"),
    "released_at": _("Released"),
    "removed_at": _("Removed"),
    "report": _("Report"),
    "reports_shared_with_you": _("Reports shared with you"),
    "response": _("Response"),
    "review": _("Review"),
    "review_completed": _("Review completed"),
    "review_due": _("Review due"),
    "risk_of_future_harm": _("Risk of future harm"),
    "rule": _("Rule"),
    "scheduled_for": _("Arranged for"),
    "seen": _("Seen"),
    "seen_alone": _("Seen alone"),
    "sensitivity": _("Sensitivity"),
    "severity": _("Severity"),
    "sex": _("Sex"),
    "social_worker": _("Social worker"),
    "source": _("Source"),
    "stage": _("Stage"),
    "started_on": _("Started on"),
    "state": _("State"),
    "status": _("Status"),
    "statutory_dates": _("Statutory dates"),
    "steps": _("Steps"),
    "summary": _("Summary"),
    "text": _("Text"),
    "their_reference": _("Their reference"),
    "town": _("Town"),
    "trigger": _("Trigger"),
    "type": _("Type"),
    "unborn": _("Unborn"),
    "unique_pupil_number": _("Unique pupil number"),
    "until": _("Until"),
    "version": _("Version"),
    "visited_on": _("Visited on"),
    "what": _("What"),
    "what_happened": _("What happened"),
    "what_it_found": _("What it found"),
    "what_needs_to_change": _("What needs to change"),
    "what_the_child_can_do": _("What the child can do"),
    "what_was_asked": _("What was asked"),
    "what_was_wrong": _("What was wrong"),
    "when": _("When"),
    "who": _("Who"),
    "who_asked": _("Who asked"),
    "why_closed": _("Why it was closed"),
    "why_ended": _("Why it ended"),
    "why_invited": _("Why invited"),
    "worries": _("Worries"),
    "written_by": _("Written by"),
}


def field_label(key: str) -> str:
    return str(FIELDS.get(key) or key.replace("_", " ").capitalize())


def kind_label(kind: str) -> str:
    return str(KINDS.get(kind) or kind.replace("_", " ").capitalize())


def readable(value: Any) -> Any:
    """An ISO date or time (as the document stores them) as people write it, in the reader's
    language; anything else (lists and mappings too, item by item) as it is."""
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-":
        try:
            if len(value) == 10:
                return formats.date_format(date.fromisoformat(value), "j F Y")
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return formats.date_format(moment, "j F Y H:i")
    if isinstance(value, dict):
        return {k: readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(v) for v in value]
    return value
