"""Whom a notice linking to a person's pages is about, on the notices page (``notify.inbox.whom``).

Register and protection notices, lead-coordinator proposals and access notices link to the
person's record or their child protection page; their text names nobody, because the same text
is emailed. The page names the person to a reader who may see their details, as their record would.
"""

from __future__ import annotations

from cylch.access.selectors import Viewer, may_see_demographics_of
from cylch.identity.models import Person
from cylch.notify.inbox import says_whom


@says_whom(r"^/people/([0-9a-f-]{36})/(?:protection/)?$")
def people_named(user, wanted: dict[str, str]) -> dict[str, str]:
    found = {str(p.public_id): p.live() for p in Person.objects.filter(public_id__in=set(wanted.values()))}
    shown = may_see_demographics_of(Viewer.for_user(user), {p.pk: p for p in found.values()}.values())
    return {url: found[pid].display_name for url, pid in wanted.items() if pid in found and found[pid].pk in shown}
