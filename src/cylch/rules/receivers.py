"""Every newly recorded event, in its own transaction: evaluate the rules that read its code,
tell a social worker about an entry for a child on the register, and propose a lead
coordinator when a second organisation becomes involved."""

from __future__ import annotations

from django.conf import settings
from django.dispatch import receiver

from cylch.events.signals import event_recorded
from cylch.rules.coordinator import lead_coordinator_check
from cylch.rules.register import tell_social_worker
from cylch.rules.services import evaluate_event


@receiver(event_recorded, dispatch_uid="cylch.rules.on_event")
def on_event(sender, event, **kwargs) -> None:
    if not getattr(settings, "CYLCH_RULES_ON_RECORD", True):
        return
    evaluate_event(event)
    if event.person_id is not None:
        tell_social_worker(event)
        if not event.code.startswith("process.lead_coordinator"):
            lead_coordinator_check(event.person)
