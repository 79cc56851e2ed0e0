"""After a wrong link is undone: the alerts built on the entries that moved (HAZ-002).

An undo moves an agency record's entries to a person of their own (``identity.link_undo``).
Alerts raised with those entries as evidence were raised partly on someone else's history. Two
things happen, in the undo's transaction:

1. **Every such alert is flagged, not changed.** It gets an ``evidence_moved`` step (how many
   of its entries moved, the undo's reason, who undid it) and the audit log an entry; while it
   is open, whoever owns it is told in the app and by email to decide whether it still stands.
   Nothing is taken off the alert and it is not closed by itself: the entries still happened,
   the owner may already have acted on them, and whether the rest still adds up is a judgement.
2. **The moved entries are evaluated again on the person they now belong to**, as if they had
   just been recorded there, so a pattern that was really about the other child is raised on
   that child. Nothing is raised twice (the usual rule: a closed alert is not raised again for
   the same evidence).
"""

from __future__ import annotations

from django.conf import settings
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cylch.access.audit import audit_record, hold_recording
from cylch.access.models import User
from cylch.events.models import Event
from cylch.identity.models import Person, PersonLink
from cylch.identity.signals import link_undone
from cylch.notify.services import in_language, notify_address, notify_user
from cylch.rules import routing
from cylch.rules.models import Alert, AlertEvidence, AlertStep
from cylch.rules.selectors import rule_of
from cylch.rules.services import evaluate_event


def alerts_review_after_link_undo(
    *, link: PersonLink, old_person: Person, new_person: Person, event_ids: list[int], actor: User | None, reason: str
) -> list[Alert]:
    """Flag each alert whose evidence moved (telling the owner of an open one), then run the rules
    for the moved entries on their new person. Returns the flagged alerts. Call inside the undo's
    transaction."""
    now = timezone.now()
    moved = set(event_ids)
    by_alert: dict[int, int] = {}
    for alert_id in AlertEvidence.objects.filter(event_id__in=moved).values_list("alert_id", flat=True):
        by_alert[alert_id] = by_alert.get(alert_id, 0) + 1
    hold_recording()  # before the alerts' rows: see hold_recording
    flagged = list(
        Alert.objects.select_for_update(of=("self",))  # the alerts only: the owner is an outer join
        .filter(pk__in=sorted(by_alert))
        .select_related("owner_organisation", "owner", "local_authority__board_area")
        .order_by("pk")
    )
    for alert in flagged:
        count = by_alert[alert.pk]
        AlertStep.objects.create(
            alert=alert, at=now, actor=actor, action="evidence_moved", note=reason.strip(),
            detail={"events": count, "from_person": str(old_person.public_id), "to_person": str(new_person.public_id),
                    "link": link.pk},
        )  # fmt: skip
        if alert.is_open:
            _tell_owner(alert, count, link)
        audit_record(
            action="write", actor=actor, object_type="alert", object_id=alert.public_id,
            purpose="alert evidence moved by a link undone", detail={"events": count, "link": link.pk, "open": alert.is_open},
        )  # fmt: skip

    if getattr(settings, "CYLCH_RULES_ON_RECORD", True):
        # One entry per (code, household) is enough: the evaluation reads the whole scope.
        seen: set[tuple[str, int | None]] = set()
        for event in Event.objects.filter(pk__in=sorted(moved)).order_by("-occurred_at", "-pk"):
            if (event.code, event.household_id) not in seen:
                seen.add((event.code, event.household_id))
                evaluate_event(event)
    return flagged


def _tell_owner(alert: Alert, count: int, link: PersonLink) -> None:
    url = reverse("rules:alert", args=[alert.public_id])
    rule = rule_of(alert)
    people = routing.people_to_tell(routing.Target(alert.owner_organisation, alert.owner, "owner"))
    for user in people:
        notify_user(
            recipient=user,
            kind="alert_evidence_moved",
            url=url,
            dedupe_key=f"alert:{alert.public_id}:moved:{link.pk}:{user.pk}",
            subject=_("Check an alert: some of its records were about someone else"),
            body=_(
                "A wrong link between records has been undone: entries this alert was raised on were about another "
                "person and are now on their own record (moved: %(count)s). Open the alert and decide whether it "
                "still stands: %(title)s."
            ),
            context={"count": count, "title": in_language(rule.title_in) if rule else alert.rule_id},
        )
    if not people and alert.owner_organisation.safeguarding_email:
        notify_address(
            to=alert.owner_organisation.safeguarding_email,
            subject=_("Check a Cylch alert: some of its records were about someone else"),
            body=_("A wrong link between records has been undone and a Cylch alert needs checking. Sign in to see it."),
            url=url,
            dedupe_key=f"alert:{alert.public_id}:moved:{link.pk}:org",
        )


@receiver(link_undone, dispatch_uid="cylch.rules.on_link_undone")
def on_link_undone(sender, *, link, old_person, new_person, event_ids, actor, reason, **kwargs) -> None:
    alerts_review_after_link_undo(
        link=link, old_person=old_person, new_person=new_person, event_ids=event_ids, actor=actor, reason=reason
    )
