"""A significant change means the consolidated assessment must be reviewed (RR 6.1). An entry
marked significant in the chronology of a child in the process is such a change."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from cylch.chronology.models import Significance
from cylch.protection.models import Episode
from cylch.protection.services import significant_change


@receiver(post_save, sender=Significance, dispatch_uid="cylch.protection.on_significance")
def on_significance(sender, instance: Significance, created: bool, **kwargs) -> None:
    if not created or instance.removed_at is not None:
        return
    event = instance.event
    if event.person_id is None or event.code.startswith("process."):
        return
    episode = Episode.objects.filter(child_id=event.person_id, closed_on__isnull=True).first()
    if episode is not None:
        significant_change(episode, user=instance.marked_by,
                           because=f"Marked significant in the chronology: {event.code} of {event.occurred_at:%d/%m/%Y}")  # fmt: skip
