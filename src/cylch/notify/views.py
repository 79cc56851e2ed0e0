"""The notices page. Thin: list, mark read, follow the link."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cylch.notify import inbox


def notices(request):
    page = Paginator(inbox.notices_for(request.user), 25).get_page(request.GET.get("page"))
    return render(request, "notify/notices.html", {
        "page": page, "unread": inbox.unread_count(request.user), "whom": inbox.whom(request.user, page),
    })  # fmt: skip


@require_POST
def read(request, public_id):
    """Mark one notice read; with ``open``, go on to what it is about (a path on this hub only)."""
    notice = inbox.notice_mark_read(user=request.user, public_id=public_id)
    if request.POST.get("open") and notice.url and url_has_allowed_host_and_scheme(notice.url, allowed_hosts=None):
        return redirect(notice.url)
    return redirect("notify:notices")


@require_POST
def read_all(request):
    inbox.notices_mark_all_read(user=request.user)
    return redirect("notify:notices")
