"""Writes the chronology owns: marking an entry significant, and taking the mark off."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.access.selectors import PersonAccess
from cylch.chronology.models import Significance
from cylch.chronology.selectors import Entry, chronology


def entry_for(access: PersonAccess, event_id) -> Entry | None:
    """The entry as this viewer sees it in the child's whole-family chronology."""
    return next(
        (e for e in chronology(access, whole_family=True).entries if e.event.public_id == event_id),
        None,
    )


def significance_toggle(*, access: PersonAccess, user: User, event_id, note: str = "") -> Significance | None:
    """Mark an entry significant, or take off a live mark. Returns the live mark, or None.

    Only someone who may see what the entry is (not a withheld entry) may mark it; a mark is
    taken off by the organisation that made it, so one agency cannot undo another's judgement.
    """
    entry = entry_for(access, event_id)
    if entry is None or entry.withheld:
        raise PermissionDenied
    now = timezone.now()
    with transaction.atomic():
        live = Significance.objects.select_for_update().filter(event=entry.event, removed_at__isnull=True).first()
        if live is not None:
            if live.organisation_id != user.organisation_id:
                raise PermissionDenied
            live.removed_at, live.removed_by = now, user
            live.save(update_fields=["removed_at", "removed_by"])
            result = None
        else:
            try:
                with transaction.atomic():
                    result = Significance.objects.create(
                        event=entry.event, organisation=user.organisation, marked_by=user, note=note, marked_at=now
                    )
            except IntegrityError:  # marked by someone else a moment ago: theirs stands
                return Significance.objects.filter(event=entry.event, removed_at__isnull=True).first()
        audit_record(
            action="write",
            actor=user,
            organisation_code=user.organisation.code,
            object_type="event",
            object_id=entry.event.public_id,
            purpose="marked significant" if result else "significance mark removed",
            detail={"person": str(access.person.public_id)},
        )
    return result
