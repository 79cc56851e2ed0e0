"""Whom an alert's notice is about, on the notices page (``notify.inbox.whom``)."""

from __future__ import annotations

from cylch.access.selectors import Viewer, may_see_demographics_of
from cylch.notify.inbox import says_whom
from cylch.rules.models import Alert, LeadCoordinatorProposal


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


@says_whom(r"^/alerts/lead-coordinators/#proposal-([0-9a-f-]{36})$")
def proposals_named(user, wanted: dict[str, str]) -> dict[str, str]:
    """The child a lead coordinator is proposed for, to a reader who may see their details."""
    found = {
        str(p.public_id): p.person
        for p in LeadCoordinatorProposal.objects.filter(public_id__in=set(wanted.values())).select_related("person")
    }
    shown = may_see_demographics_of(Viewer.for_user(user), set(found.values()))
    return {url: found[pid].display_name for url, pid in wanted.items() if pid in found and found[pid].pk in shown}
