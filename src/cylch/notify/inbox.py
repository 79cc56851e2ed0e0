"""A person's notices in the hub: what the outbox also emails, kept to be read where they work.

Every notice a service sends with ``notify_user`` is stored here; email is a second channel, not
the only one (HAZ-004: an email that never arrives must not be the only way someone hears).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import F, QuerySet
from django.http import Http404
from django.utils import timezone

from cylch.access.models import User
from cylch.notify.models import Notification


def notices_for(user: User) -> QuerySet[Notification]:
    """Unread first, then the newest."""
    return Notification.objects.filter(recipient=user).order_by(
        F("read_at").asc(nulls_first=True), "-created_at", "-pk"
    )  # unread (NULL) first on PostgreSQL as on SQLite


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


@transaction.atomic
def notice_mark_read(*, user: User, public_id) -> Notification:
    """Marking is the recipient's own: anyone else's notice is "not found"."""
    try:
        notice = Notification.objects.select_for_update().get(recipient=user, public_id=public_id)
    except (Notification.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    if notice.read_at is None:
        notice.read_at = timezone.now()
        notice.save(update_fields=["read_at"])
    return notice


@transaction.atomic
def notices_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


# Whom a notice is about, on the hub's page only: an email never names a child, so a notice's
# own text does not either, and a list of "Alert: ..." notices all read alike. Each app that
# sends notices about its pages registers, for the links of one pattern, a function from
# (reader, {link: the pattern's first group}) to {link: whom}, answering only for what the
# reader may see.
_ABOUT: list[tuple[re.Pattern, Callable[[User, dict[str, str]], dict[str, str]]]] = []


def says_whom(pattern: str):
    """Register the decorated function for the notices whose links match ``pattern``."""
    compiled = re.compile(pattern)

    def register(fn: Callable[[User, dict[str, str]], dict[str, str]]):
        _ABOUT.append((compiled, fn))
        return fn

    return register


def named(user: User, urls: Iterable[str]) -> dict[str, str]:
    """{link: whom it is about} for those of ``urls`` a registered app can answer for ``user``."""
    found: dict[str, str] = {}
    for pattern, fn in _ABOUT:
        wanted = {url: m.group(1) for url in urls if (m := pattern.match(url))}
        if wanted:
            found.update(fn(user, wanted))
    return {url: words for url, words in found.items() if words}


def whom(user: User, notices: Iterable[Notification]) -> dict[int, str]:
    """{notice pk: whom it is about} for those of ``notices`` a registered app can answer."""
    notices = [n for n in notices if n.url]
    found = named(user, {n.url for n in notices})
    return {n.pk: found[n.url] for n in notices if n.url in found}
