"""What governance listens for: new spine events and alerts sent to an organisation, which may
become webhook deliveries. Both handlers run inside the transaction of the change they report,
so a delivery commits or rolls back with it; nothing is sent from here (the worker sends)."""

from __future__ import annotations


def _on_event_recorded(sender, event, **kwargs) -> None:
    from cylch.governance.webhooks import on_event_recorded

    on_event_recorded(event)


def _on_alert_recipient(sender, instance, created: bool, **kwargs) -> None:
    if created:
        from cylch.governance.webhooks import on_alert_sent

        on_alert_sent(instance.alert, instance.organisation)


def connect() -> None:
    from django.db.models.signals import post_save

    from cylch.events.signals import event_recorded

    event_recorded.connect(_on_event_recorded, dispatch_uid="cylch.governance.webhooks.on_event")
    post_save.connect(
        _on_alert_recipient, sender="rules.AlertRecipient", dispatch_uid="cylch.governance.webhooks.on_alert"
    )
