"""Register alerts: the point of the child protection register is that anyone who records
something about a child on it (or looked after) reaches the social worker at once, and is
told who that is."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, override
from django.utils.translation import gettext_lazy as _

from cylch.events.models import Event
from cylch.identity.models import AllocationKind, Person
from cylch.identity.selectors import age_on, current_household
from cylch.notify.services import notify_user
from cylch.rules import routing
from cylch.rules.engine import STATUS_CODES
from cylch.rules.world import World


def statuses_now(person: Person, at=None) -> set[str]:
    """ "register" and/or "looked_after", as the spine says on ``at`` (default now): the same
    reading the rules make."""
    at = at or timezone.now()
    return World(timezone.localdate(at)).child(person.pk).status_on(at)


def social_worker_of(person: Person):
    """(organisation, worker) responsible for the child now: the allocated social worker, else
    the key worker of the child's open child protection process (the process records its social
    worker on the episode, not as an allocation), else (None, None)."""
    from cylch.protection.models import Episode

    alloc = routing.current_allocation(person, AllocationKind.ALLOCATED_SOCIAL_WORKER)
    if alloc is not None and alloc.practitioner is not None:
        return alloc.organisation, alloc.practitioner
    episode = (
        Episode.objects.filter(child=person, closed_on__isnull=True, social_worker__isnull=False)
        .select_related("organisation", "social_worker")
        .order_by("-pk")
        .first()
    )
    if episode is not None and episode.social_worker.is_active:
        return episode.organisation, episode.social_worker
    return (alloc.organisation, None) if alloc is not None else (None, None)


def _front_door_of(person: Person):
    home = current_household(person)
    return routing.front_door(home.local_authority if home else None)


@dataclass(frozen=True)
class RegisterNotice:
    on_register: bool
    looked_after: bool
    worker_id: int | None
    worker_name: str
    organisation_name_en: str
    organisation_name_cy: str
    phone: str
    email: str

    def organisation(self, language: str) -> str:
        return self.organisation_name_cy if language == "cy" else self.organisation_name_en

    def sentence(self, name: str, language: str) -> str:
        """What the practitioner who has just recorded about the child reads, in their language."""
        with override(language):
            if self.on_register:
                status = gettext("%(name)s is on the child protection register.") % {"name": name}
            else:
                status = gettext("%(name)s is looked after by a local authority.") % {"name": name}
            contact = ", ".join(part for part in (self.phone, self.email) if part)
            if self.worker_name:
                who = gettext("Their social worker is %(worker)s, %(organisation)s") % {
                    "worker": self.worker_name,
                    "organisation": self.organisation(language),
                }
            else:
                who = gettext("No social worker is allocated: contact %(organisation)s") % {
                    "organisation": self.organisation(language)
                }
            told = gettext("They have been told of what you recorded.")
            return f"{status} {who}{f' ({contact})' if contact else ''}. {told}"


def register_notice(person: Person) -> RegisterNotice | None:
    """What a practitioner recording about this child must be told, or None."""
    if person is None:
        return None
    status = statuses_now(person)
    if not status:
        return None
    org, worker = social_worker_of(person)
    org = org or _front_door_of(person)
    return RegisterNotice(
        on_register="register" in status,
        looked_after="looked_after" in status,
        worker_id=worker.pk if worker else None,
        worker_name=(worker.get_full_name() or worker.username) if worker else "",
        organisation_name_en=org.name_en,
        organisation_name_cy=org.name_cy,
        phone=(worker.phone if worker and worker.phone else org.safeguarding_phone),
        email=(worker.email if worker and worker.email else org.safeguarding_email),
    )


def register_notices(people) -> dict[int, RegisterNotice]:
    """``register_notice`` for each of many people (a batch), keyed by person id. Only people with
    a register or looked-after entry on the spine can have a status: one query finds them, so a
    batch about children nobody has registered costs one query, not one per child."""
    ids = {p.pk for p in people}
    maybe = set(
        Event.objects.filter(person_id__in=ids, code__in=list(STATUS_CODES)).values_list("person_id", flat=True)
    )
    notices = {}
    for person in people:
        if person.pk in maybe and (notice := register_notice(person)) is not None:
            notices[person.pk] = notice
    return notices


def tell_social_worker(event: Event) -> int:
    """Notify the allocated social worker (or, with none, the front door) of a new entry about a
    child on the register or looked after, or about the household such a child lives in (a
    police domestic-abuse notice at the address). Not for the worker's own entries."""
    if event.code in STATUS_CODES:
        return 0
    if event.person_id is not None:
        children = [event.person] if statuses_now(event.person, timezone.now()) else []
    elif event.household_id is not None:
        children = [c for c in _children_at(event.household_id) if statuses_now(c, timezone.now())]
    else:
        children = []
    told = 0
    for child in children:
        told += _tell_about(event, child)
    return told


def _children_at(household_id: int) -> list[Person]:
    today = timezone.localdate()
    people = Person.objects.filter(
        memberships__household_id=household_id, memberships__to_date__isnull=True, merged_into__isnull=True
    ).distinct()
    return [p for p in people if p.date_of_birth is None or age_on(p.date_of_birth, today) < 18]


def _tell_about(event: Event, child: Person) -> int:
    _org, worker = social_worker_of(child)
    if worker is not None:
        people = [worker]
    else:
        people = routing.people_to_tell(routing.Target(_front_door_of(child), None, "front_door"))
    told = 0
    for user in people:
        if event.recorded_by_id == user.pk or not user.is_active:
            continue
        notify_user(
            recipient=user,
            kind="register_entry",
            url=reverse("identity:person", args=[child.public_id]),
            dedupe_key=f"register-entry:{event.public_id}:{child.pk}:{user.pk}",
            subject=_("New entry for a child on the register or looked after"),
            body=(
                _(
                    "%(organisation)s has recorded something about a child you are responsible for. Open the child's record to see it."
                )
                if event.person_id is not None
                else _(
                    "%(organisation)s has recorded something about the household of a child you are responsible for. Open the child's record to see it."
                )
            ),
            context={"organisation": event.organisation.name(user.language)},
        )
        told += 1
    return told
