"""Whom a front-door notice is about, on the notices page (``notify.inbox.whom``): a report
passed on or waiting names its reference, never the children, because the same text is emailed."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from cylch.notify.inbox import says_whom
from cylch.reports.models import Report, SubjectRole
from cylch.reports.services import check_may_decide


def _may_decide(user, report: Report) -> bool:
    try:
        check_may_decide(user=user, report=report)
    except PermissionDenied:
        return False
    return True


@says_whom(r"^/front-door/([^/]+)/$")
def reports_named(user, wanted: dict[str, str]) -> dict[str, str]:
    """The children of each report the reader may decide, as its triage page names them."""
    found = Report.objects.filter(reference__in=set(wanted.values())).prefetch_related("subjects__person")
    reports = {r.reference: r for r in found if _may_decide(user, r)}
    return {
        url: ", ".join(s.person.display_name for s in reports[ref].subjects.all() if s.role == SubjectRole.CHILD)
        for url, ref in wanted.items()
        if ref in reports
    }
