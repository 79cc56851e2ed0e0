"""An agency taking part in a child's statutory process is involved with the child: it can
open the child's record, whatever records of its own it holds (the police invited to the
conference, a third-sector service owning an action in the plan)."""

from __future__ import annotations

from django.db.models import Q

from cylch.protection.models import Invitee, PlanAction


def taking_part(organisation, persons) -> set[int]:
    """The pks of those ``persons`` in whose open process the organisation takes part: invited
    to a meeting of an open episode, or owning an action of a plan in force. Two queries."""
    invited = Invitee.objects.filter(
        organisation=organisation, removed_at__isnull=True, meeting__episode__child__in=persons
    ).filter(Q(meeting__episode__closed_on__isnull=True))
    acting = PlanAction.objects.filter(
        owner_organisation=organisation, plan__episode__child__in=persons, plan__ended_on__isnull=True
    )
    return set(invited.values_list("meeting__episode__child_id", flat=True)) | set(
        acting.values_list("plan__episode__child_id", flat=True)
    )
