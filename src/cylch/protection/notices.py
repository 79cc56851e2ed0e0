"""Whom a meeting's notice is about, on the notices page (``notify.inbox.whom``): invitations,
circulated records, corrections and translations name the meeting, never the child, because
the same text is emailed."""

from __future__ import annotations

from cylch.access.selectors import Viewer, may_see_demographics_of
from cylch.notify.inbox import says_whom
from cylch.protection.meetings import member_episodes
from cylch.protection.models import Meeting


@says_whom(r"^/protection/meetings/([0-9a-f-]{36})/$")
def meetings_named(user, wanted: dict[str, str]) -> dict[str, str]:
    """The child of each meeting the reader takes part in and whose details they may see."""
    found = Meeting.objects.filter(public_id__in=set(wanted.values())).select_related(
        "episode__child", "episode__transfer_to"
    )
    found = list(found)
    taking_part = member_episodes(user, {m.episode for m in found})
    members = {str(m.public_id): m for m in found if m.episode_id in taking_part}
    shown = may_see_demographics_of(Viewer.for_user(user), {m.episode.child for m in members.values()})
    return {
        url: members[pid].episode.child.display_name
        for url, pid in wanted.items()
        if pid in members and members[pid].episode.child_id in shown
    }
