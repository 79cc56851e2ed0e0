"""Whom an alert's notice is about, on the notices page (``notify.inbox.whom``)."""

from __future__ import annotations

import re

from django.urls import reverse

from cylch.notify.inbox import says_whom
from cylch.rules.models import Alert

_ALERT = re.compile(r"^/alerts/([0-9a-f-]{36})/$")


@says_whom
def alerts_named(user, urls: list[str]) -> dict[str, str]:
    """The children of each alert the reader may open, as the alerts list names them."""
    from cylch.rules.services import may_act

    ids = {m.group(1) for url in urls if (m := _ALERT.match(url))}
    if not ids:
        return {}
    named = {}
    for alert in Alert.objects.filter(public_id__in=ids).prefetch_related("children"):
        if may_act(user, alert):
            names = ", ".join(c.display_name for c in alert.children.all())
            named[reverse("rules:alert", args=[alert.public_id])] = names
    return named
