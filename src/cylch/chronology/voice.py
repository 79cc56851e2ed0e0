"""The child's voice: what each child said, wished or felt, how it was heard, and what was
done about each wish (TA 1.4: wishes recorded and never answered; RR KLOE 3: seen alone).

Everything is an event on the spine (``voice.*`` codes), so the access policy, the
chronology, the audit trail and the rules see it like any other entry. A response names its
wish (``details.wish``) and may set a follow-up date; a wish stays open until a response
says it was acted on, partly acted on, or not possible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.access.policy import Level, Relationship
from cylch.access.selectors import PersonAccess
from cylch.chronology.models import ChildStory
from cylch.chronology.selectors import Chronology, Entry, chronology
from cylch.events.models import Event
from cylch.events.services import record_event

WISH = "voice.wish.expressed"
RESPONSE = "voice.wish.response"
LIVED = "voice.lived_experience"
CLOSING_OUTCOMES = {"acted_on", "partly_acted_on", "not_possible"}
# What the voice page offers to record directly; the rest arrive from agency systems too.
CAPTURE_KINDS = {"lived_experience": LIVED, "wish": WISH, "feels_unsafe": "voice.feels_unsafe"}
CAPTURE_FIELDS = ("seen_alone", "location", "method", "language", "advocate_present")


class NotAllowed(Exception):
    """The user may not write to this child's voice record."""


def may_record(access: PersonAccess) -> bool:
    return access.relationship != Relationship.NONE or access.break_glass is not None


@dataclass
class Wish:
    entry: Entry
    responses: list[Entry] = field(default_factory=list)  # oldest first

    @property
    def latest(self) -> Entry | None:
        return self.responses[-1] if self.responses else None

    @property
    def is_open(self) -> bool:
        latest = self.latest
        return latest is None or latest.event.details.get("outcome") not in CLOSING_OUTCOMES

    @property
    def follow_up_on(self) -> date | None:
        value = self.latest.event.details.get("follow_up_on") if self.latest else None
        return date.fromisoformat(value) if value else None

    @property
    def overdue(self) -> bool:
        due = self.follow_up_on
        return self.is_open and due is not None and due < timezone.localdate()


@dataclass
class Voice:
    chronology_all: Chronology  # the child's whole chronology (not only voice), for the record page
    captures: list[Entry]  # what the child said or felt, newest first (wishes included)
    wishes: list[Wish]  # newest first
    story: ChildStory | None
    story_level: Level | None
    seen_alone: int
    last_seen_alone: datetime | None

    @property
    def open_wishes(self) -> list[Wish]:
        return [w for w in self.wishes if w.is_open and not w.entry.withheld]

    @property
    def withheld(self) -> int:
        return self.chronology_all.withheld

    @property
    def own_words(self) -> list[Entry]:
        """The child's most recent words the viewer may read, for the top of the record."""
        return [e for e in self.captures if e.shows_content and e.event.summary][:3]


def voice_of(access: PersonAccess) -> Voice:
    """The child's voice as this viewer may read it, from the child's own chronology.

    A withheld entry's category is not the viewer's to know, so withheld entries are not
    listed here as voice entries; the page says how many entries are withheld and sends the
    viewer to the chronology, which says who holds them.
    """
    chron = chronology(access)
    entries = [e for e in chron.entries if e.member is not None and not e.withheld and e.category == "voice"]
    wishes: dict[str, Wish] = {}
    captures = []
    answers = []
    for entry in entries:
        if entry.event.code == RESPONSE:
            answers.append(entry)
        else:
            captures.append(entry)
            if entry.event.code == WISH:
                wishes[str(entry.event.public_id)] = Wish(entry)
    for answer in reversed(answers):  # oldest first
        wish = wishes.get(answer.event.details.get("wish", ""))
        if wish is not None:
            wish.responses.append(answer)
    alone = [e for e in entries if e.event.details.get("seen_alone") is True]
    story = (
        ChildStory.objects.filter(child=access.person).select_related("organisation").order_by("-written_at").first()
    )
    return Voice(
        chronology_all=chron,
        captures=captures,
        wishes=list(wishes.values()),
        story=story,
        story_level=access.level_for(sensitivity="voice", organisation_id=story.organisation_id) if story else None,
        seen_alone=len(alone),
        last_seen_alone=alone[0].occurred_at if alone else None,
    )


def record_voice(
    *,
    access: PersonAccess,
    user: User,
    kind: str,
    words: str,
    occurred_at: datetime,
    capture: dict,
    topic: str = "",
) -> Event:
    """Record what the child said, wished or felt, in their words, and how it was heard."""
    if not may_record(access):
        raise NotAllowed
    code = CAPTURE_KINDS[kind]
    details = {k: v for k, v in capture.items() if k in CAPTURE_FIELDS and v not in (None, "")}
    if code == "voice.feels_unsafe":
        details = {}
    if code == WISH:
        details["response_due"] = True
        if topic:
            details["topic"] = topic
    return record_event(
        organisation=user.organisation,
        code=code,
        person=access.person,
        occurred_at=occurred_at,
        summary=words,
        details=details,
        recorded_by=user,
    ).event


def respond_to_wish(
    *,
    access: PersonAccess,
    user: User,
    wish_id: str,
    what_we_did: str,
    outcome: str,
    child_told: bool,
    follow_up_on: date | None,
) -> Event:
    """Say what was done about a wish, and whether the child was told."""
    if not may_record(access):
        raise NotAllowed
    wish = Event.objects.filter(public_id=wish_id, person=access.person, code=WISH).first()
    if wish is None:
        raise ValidationError({"wish": [_("That wish is not on this child's record.")]})
    if outcome not in CLOSING_OUTCOMES and follow_up_on is None:
        raise ValidationError({"follow_up_on": [_("Give a date to come back to this wish while it is still open")]})
    details = {"outcome": outcome, "child_told": child_told, "wish": str(wish.public_id)}
    if follow_up_on:
        details["follow_up_on"] = follow_up_on.isoformat()
    return record_event(
        organisation=user.organisation,
        code=RESPONSE,
        person=access.person,
        occurred_at=timezone.now(),
        summary=what_we_did,
        details=details,
        recorded_by=user,
    ).event


def story_save(*, access: PersonAccess, user: User, summary: str) -> ChildStory:
    """A new version of the child's story; earlier versions are kept."""
    if not may_record(access):
        raise NotAllowed
    summary = summary.strip()
    if not summary:
        raise ValidationError({"summary": [_("Write the child's story in a few sentences")]})
    with transaction.atomic():
        story = ChildStory.objects.create(
            child=access.person,
            summary=summary,
            organisation=user.organisation,
            written_by=user,
            written_at=timezone.now(),
        )
        audit_record(
            action="write",
            actor=user,
            organisation_code=user.organisation.code,
            object_type="child_story",
            object_id=access.person.public_id,
            purpose="child's story written",
            detail={"story": story.pk},
        )
    return story


def seen_alone_measure(since: date, until: date, *, local_authority_id: int | None = None) -> dict[str, int]:
    """Children whose voice was recorded in a period, and how many of them were seen alone.

    For the board dashboards (insight issue): counts only, never names.
    """
    qs = Event.objects.filter(
        code__startswith="voice.", occurred_at__date__gte=since, occurred_at__date__lte=until, person__isnull=False
    )
    if local_authority_id is not None:
        qs = qs.filter(household__local_authority_id=local_authority_id)
    per_child = qs.values("person_id").annotate(alone=Count("id", filter=Q(details__seen_alone=True)))
    heard = seen = 0
    for row in per_child:
        heard += 1
        seen += 1 if row["alone"] else 0
    return {"children_heard": heard, "children_seen_alone": seen}
