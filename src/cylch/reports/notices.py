"""Whom a front-door notice is about, on the notices page (``notify.inbox.whom``): a report
passed on or waiting names its reference, never the children, because the same text is emailed."""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied

from cylch.notify.inbox import says_whom
from cylch.reports.models import Report, SubjectRole
from cylch.reports.services import check_may_decide

_TRIAGE = re.compile(r"^/front-door/([^/]+)/$")


@says_whom
def reports_named(user, urls: list[str]) -> dict[str, str]:
    """The children of each report the reader may decide, as its triage page names them."""
    wanted = {url: m.group(1) for url in urls if (m := _TRIAGE.match(url))}
    if not wanted:
        return {}
    named = {}
    reports = Report.objects.filter(reference__in=set(wanted.values())).prefetch_related("subjects__person")
    by_reference = {r.reference: r for r in reports}
    for url, reference in wanted.items():
        report = by_reference.get(reference)
        if report is None:
            continue
        try:
            check_may_decide(user=user, report=report)
        except PermissionDenied:
            continue
        names = [s.person.display_name for s in report.subjects.all() if s.role == SubjectRole.CHILD and s.person]
        if names:
            named[url] = ", ".join(names)
    return named
