"""Whom an alert's notice is about, on the notices page (``notify.inbox.whom``)."""

from __future__ import annotations

from cylch.notify.inbox import says_whom
from cylch.rules.models import Alert


@says_whom(r"^/alerts/([0-9a-f-]{36})/$")
def alerts_named(user, wanted: dict[str, str]) -> dict[str, str]:
    """The children of each alert the reader may open, as the alerts list names them."""
    from cylch.rules.services import may_act

    alerts = {
        str(a.public_id): a
        for a in Alert.objects.filter(public_id__in=set(wanted.values())).prefetch_related("children")
    }
    return {
        url: ", ".join(c.display_name for c in alerts[pid].children.all())
        for url, pid in wanted.items()
        if pid in alerts and may_act(user, alerts[pid])
    }
