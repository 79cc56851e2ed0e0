"""Alerts (deleted), child protection and review records (anonymised) and the audit log
(content erased, the chain kept)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.governance.retention_records.base import (
    CHILD_TRIGGERS,
    Candidate,
    RecordClass,
    RemovalContext,
    Removed,
    chunks,
    count_rows,
    digest,
    erase,
    household_members,
    local_day,
    serialised,
    valid_uuid,
)


class AlertsClass(RecordClass):
    """A closed alert with its evidence links, recipients, steps and held decisions. The
    entries it pointed at are their own records (and go by their own rule)."""

    key = "alerts"
    label = _("Alerts raised by the rules")
    action = "delete"
    triggers = CHILD_TRIGGERS | {"recorded", "closed"}

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.rules.models import Alert, AlertStatus

        rows = Alert.objects.order_by("pk").values_list(
            "pk", "public_id", "raised_at", "closed_at", "status", "household_id"
        )
        for batch in chunks(rows.iterator(chunk_size=2000), 2000):
            children: dict[int, list[int]] = {}
            for ids in chunks([r[0] for r in batch]):
                for alert, person in Alert.children.through.objects.filter(alert_id__in=ids).values_list(
                    "alert_id", "person_id"
                ):
                    children.setdefault(alert, []).append(person)
            households = household_members({r[5] for r in batch if r[5] is not None})
            for pk, public_id, raised_at, closed_at, status, household in batch:
                kids = children.get(pk, [])
                members = {p for p, _s, _u in households.get(household, [])}
                yield Candidate(key=str(public_id), pk=pk, on=local_day(raised_at), recorded=local_day(raised_at),
                                persons=frozenset(kids) | members, age_persons=tuple(kids), all_children=True,
                                closed=local_day(closed_at), open=status != AlertStatus.CLOSED)  # fmt: skip

    def exists(self, record_id: str) -> bool:
        from cylch.rules.models import Alert

        return valid_uuid(record_id) and Alert.objects.filter(public_id=record_id).exists()

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.governance.models import ApprovalRequest
        from cylch.rules.models import Alert, AlertEvidence, AlertRecipient, AlertStep

        alert = Alert.objects.select_for_update().filter(pk=candidate.pk).first()
        if alert is None:
            return None
        rows = [
            *serialised([alert]),
            *serialised(AlertEvidence.objects.filter(alert=alert)),
            *serialised(AlertRecipient.objects.filter(alert=alert)),
            *serialised(AlertStep.objects.filter(alert=alert)),
            *serialised(ApprovalRequest.objects.filter(alert=alert)),
        ]
        ApprovalRequest.objects.filter(alert=alert).delete()
        alert.delete()
        return Removed(count_rows(rows), digest(rows))


class ProtectionClass(RecordClass):
    """A child's passage through the child protection process. Anonymised, not deleted: the
    statutory skeleton (stages, meetings and their dates, decisions, categories, registrations,
    deadlines and whether they were met, visits' dates and whether the child was seen) stays for
    the board's returns and for reviews, moved to a stand-in person with no name, date or
    identifier; every narrative, name, address and email is erased, and its links to the
    report, the spine and the people invited are cut."""

    key = "protection"
    label = _("Child protection records")
    action = "anonymise"
    triggers = CHILD_TRIGGERS | {"recorded", "closed"}

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.protection.models import Episode, Invitee

        rows = Episode.objects.order_by("child_id", "pk").values_list(
            "pk", "public_id", "child_id", "opened_on", "closed_on"
        )
        for batch in chunks(rows.iterator(chunk_size=2000), 2000):
            invited: dict[int, set[int]] = {}
            for ids in chunks([r[0] for r in batch]):
                for episode, person in Invitee.objects.filter(
                    meeting__episode_id__in=ids, person__isnull=False
                ).values_list("meeting__episode_id", "person_id"):
                    invited.setdefault(episode, set()).add(person)
            for pk, public_id, child, opened_on, closed_on in batch:
                if str(public_id) in removed:
                    continue
                yield Candidate(key=str(public_id), pk=pk, on=opened_on, recorded=opened_on,
                                persons=frozenset({child} | invited.get(pk, set())), age_persons=(child,),
                                all_children=True, closed=closed_on, open=closed_on is None)  # fmt: skip

    def exists(self, record_id: str) -> bool:
        from cylch.protection.models import Episode

        return valid_uuid(record_id) and Episode.objects.filter(public_id=record_id).exists()

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.governance.models import ApprovalRequest
        from cylch.protection import models as p

        episode = p.Episode.objects.select_for_update().filter(pk=candidate.pk).first()
        if episode is None:
            return None
        stand_in = context.stand_in(episode.child_id)
        meetings = p.Meeting.objects.filter(episode=episode)
        rows: list[dict[str, Any]] = []
        erase([episode], {"child": stand_in, "report": None, "close_reason": ""}, rows)
        erase(meetings, {"information_shared": "", "reasons": "", "immediate_action": "", "progress": "",
                          "risk_of_future_harm": "", "record": "", "record_translated": "", "event": None}, rows)  # fmt: skip
        erase(p.Postponement.objects.filter(meeting__episode=episode), {"reason": ""}, rows)
        erase(p.Invitee.objects.filter(meeting__episode=episode), {"person": None, "name": "", "email": "",
                                                                     "report_text": "", "removed_reason": ""}, rows)  # fmt: skip
        erase(p.Challenge.objects.filter(meeting__episode=episode), {"raised_by": "", "text": "", "response": ""}, rows)
        erase(p.Correction.objects.filter(meeting__episode=episode), {"text": "", "answer": ""}, rows)
        enquiries = p.Enquiry.objects.filter(episode=episode)
        erase(enquiries, {"findings": ""}, rows)
        erase(ApprovalRequest.objects.filter(enquiry__in=enquiries), {"payload": {}, "reasons": ""}, rows)
        erase(p.Assessment.objects.filter(episode=episode), {"analysis": "", "review_needed_because": ""}, rows)
        erase(p.Contribution.objects.filter(assessment__episode=episode), {"text": ""}, rows)
        erase(
            p.Plan.objects.filter(episode=episode),
            {"worries": "", "outcomes": "", "child_can_do": "", "contingency": ""},
            rows,
        )
        erase(p.PlanVersion.objects.filter(plan__episode=episode), {"snapshot": {}, "note": ""}, rows)
        erase(p.PlanAction.objects.filter(plan__episode=episode), {"text": "", "owner_name": ""}, rows)
        erase(p.ActionUpdate.objects.filter(action__plan__episode=episode), {"note": ""}, rows)
        erase(p.Registration.objects.filter(episode=episode), {"child": stand_in, "reasons": "", "end_explanation": "",
                                                                "eligible_needs": "", "contingency": ""}, rows)  # fmt: skip
        erase(p.Visit.objects.filter(episode=episode), {"note": ""}, rows)
        erase(p.Deadline.objects.filter(episode=episode), {"cancel_reason": ""}, rows)
        return Removed(count_rows(rows), digest(rows))


class ReviewsClass(RecordClass):
    """A referral for a Child Practice Review (or its successor) and the review. Anonymised:
    the review, its timeline, its report and its recommendations are the board's learning and
    stay; the link to the child and the case narrative of the referral are erased."""

    key = "reviews"
    label = _("Safeguarding review records")
    action = "anonymise"
    triggers = frozenset({"recorded", "closed"})

    def candidates(self, removed: set[str]) -> Iterator[Candidate]:
        from cylch.reviews.models import Referral

        rows = Referral.objects.order_by("pk").values_list(
            "pk",
            "public_id",
            "child_id",
            "referred_on",
            "decided_type",
            "decided_on",
            "review__pk",
            "review__completed_on",
        )
        for pk, public_id, child, referred_on, decided_type, decided_on, review, completed_on in rows.iterator():
            if str(public_id) in removed:
                continue
            closed = completed_on if review is not None else decided_on
            is_open = not decided_type or (review is not None and completed_on is None)
            people = (child,) if child else ()
            yield Candidate(key=str(public_id), pk=pk, on=referred_on, recorded=referred_on, persons=frozenset(people),
                            age_persons=people, all_children=True, closed=closed, open=is_open)  # fmt: skip

    def exists(self, record_id: str) -> bool:
        from cylch.reviews.models import Referral

        return valid_uuid(record_id) and Referral.objects.filter(public_id=record_id).exists()

    def remove(self, candidate: Candidate, context: RemovalContext) -> Removed | None:
        from cylch.reviews.models import Milestone, Referral, Review

        referral = Referral.objects.select_for_update().filter(pk=candidate.pk).first()
        if referral is None:
            return None
        rows: list[dict[str, Any]] = []
        erase([referral], {"child": None, "summary": "", "proposal_reasons": [], "decision_reasons": ""}, rows)
        erase(Review.objects.filter(referral=referral), {"scope_rationale": ""}, rows)
        erase(Milestone.objects.filter(review__referral=referral), {"delay_note": ""}, rows)
        return Removed(count_rows(rows), digest(rows))


class AuditLogClass(RecordClass):
    """Audit entries. Never deleted (a gap would break the chain): their content is erased
    (``redacted_at`` set; who, the object's id, the purpose, the address and the detail emptied)
    and their ``payload_digest`` and hashes stay, so ``cylch audit verify`` still passes. The
    run's own entries (``object_type`` "retention") are never erased: they are the proof."""

    key = "audit_log"
    label = _("Audit log")
    action = "redact"
    triggers = frozenset({"recorded"})
    RECEIPT_TYPE = "retention"

    def due_entries(self, cutoff: date):
        """Entries made before ``cutoff`` (a date) and not yet erased, oldest first."""
        from datetime import datetime, time

        from cylch.access.models import AuditEntry

        moment = timezone.make_aware(datetime.combine(cutoff, time.min))
        return (
            AuditEntry.objects.filter(redacted_at__isnull=True, at__lt=moment)
            .exclude(object_type=self.RECEIPT_TYPE)
            .order_by("seq")
        )

    def exists(self, record_id: str) -> bool:
        from cylch.access.models import AuditEntry

        return str(record_id).isdigit() and AuditEntry.objects.filter(seq=int(record_id)).exists()

    @staticmethod
    def envelope_line(entry) -> str:
        """What is kept of an erased entry, one line each in the receipt's digest."""
        from datetime import UTC

        at = entry.at.astimezone(UTC).isoformat(timespec="microseconds")
        return f"{entry.seq}|{at}|{entry.action}|{entry.object_type}|{entry.organisation_code}|{entry.payload_digest}"

    def redact(self, entries: list) -> Removed:
        """Erase the content of ``entries`` (inside the caller's transaction)."""
        from cylch.access.models import AuditEntry

        blob = "\n".join(self.envelope_line(e) for e in entries)
        AuditEntry.objects.filter(pk__in=[e.pk for e in entries]).update(
            redacted_at=timezone.now(), actor=None, actor_label="", object_id="", purpose="", ip_address="", detail={}
        )
        return Removed({"access.auditentry": len(entries)}, hashlib.sha256(blob.encode()).hexdigest(),
                       detail={"seqs": seq_ranges([e.seq for e in entries])})  # fmt: skip


def seq_ranges(seqs: list[int]) -> list[list[int]]:
    """[1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    out: list[list[int]] = []
    for seq in sorted(seqs):
        if out and seq == out[-1][1] + 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    return out
