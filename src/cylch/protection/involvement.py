"""An agency taking part in a child's statutory process is involved with the child: it can
open the child's record, whatever records of its own it holds (the police invited to the
conference, a third-sector service owning an action in the plan)."""

from __future__ import annotations

from django.db.models import Q

from cylch.protection.models import Invitee, PlanAction


def takes_part(organisation, person) -> bool:
    return (
        Invitee.objects.filter(organisation=organisation, removed_at__isnull=True, meeting__episode__child=person)
        .filter(Q(meeting__episode__closed_on__isnull=True))
        .exists()
        or PlanAction.objects.filter(
            owner_organisation=organisation, plan__episode__child=person, plan__ended_on__isnull=True
        ).exists()
    )
