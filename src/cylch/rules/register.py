"""Register alerts: the point of the child protection register is that anyone who records
something about a child on it (or looked after) reaches the social worker at once, and is
told who that is."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, override
from django.utils.translation import gettext_lazy as _

from cylch.access.models import User
from cylch.core.bulk import id_chunks
from cylch.events.models import Event
from cylch.identity.models import Allocation, AllocationKind, HouseholdMembership, Person
from cylch.identity.selectors import age_on
from cylch.notify.services import in_language, notify_user
from cylch.rules import routing
from cylch.rules.engine import STATUS_CODES, Child


def statuses_now(person: Person, at=None) -> set[str]:
    """ "register" and/or "looked_after", as the spine says on ``at`` (default now): the same
    reading the rules make."""
    return _statuses({person.pk}, at or timezone.now()).get(person.pk, set())


def social_worker_of(person: Person):
    """(organisation, worker) responsible for the child now: the allocated social worker, else
    the key worker of the child's open child protection process (the process records its social
    worker on the episode, not as an allocation), else (None, None)."""
    return _social_workers([person.pk])[person.pk]


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
    return register_notices([person]).get(person.pk) if person is not None else None


def _notice(status: set[str], org, worker: User | None) -> RegisterNotice:
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
    """``register_notice`` for each of many people (a batch's, a file's), keyed by person id,
    with what it reads read together: everyone's statuses, then, for those with one, their
    allocated social workers, their child protection processes' and their homes, a query each.
    An agency system's answer to every batch names the children on the register, so this is
    on the path of every batch (it used to cost several queries a child)."""
    people = {p.pk: p for p in people if p is not None}
    statuses = {pk: s for pk, s in _statuses(set(people), timezone.now()).items() if s}
    if not statuses:
        return {}
    responsible = _social_workers(statuses)
    doors = _front_doors([pk for pk, (org, _worker) in responsible.items() if org is None])
    return {pk: _notice(statuses[pk], org or doors[pk], worker) for pk, (org, worker) in sorted(responsible.items())}


def _social_workers(person_ids) -> dict[int, tuple[object | None, User | None]]:
    """(organisation, worker) responsible for each of these children now, as ``social_worker_of``
    says, in two queries: the allocations, then the open processes of those with no worker."""
    from cylch.protection.models import Episode

    today = timezone.localdate()
    allocations: dict[int, Allocation] = {}
    for chunk in id_chunks(person_ids):
        for alloc in (
            Allocation.objects.filter(
                person_id__in=chunk, kind=AllocationKind.ALLOCATED_SOCIAL_WORKER, from_date__lte=today
            )
            .filter(Q(to_date__isnull=True) | Q(to_date__gte=today))
            .select_related("organisation", "practitioner")
            .order_by("person_id", "-from_date", "-id")
        ):
            allocations.setdefault(alloc.person_id, alloc)
    out: dict[int, tuple[object | None, User | None]] = {}
    for pk in person_ids:
        alloc = allocations.get(pk)
        if alloc is not None and alloc.practitioner is not None:
            out[pk] = (alloc.organisation, alloc.practitioner)
        else:
            out[pk] = (alloc.organisation, None) if alloc is not None else (None, None)
    episodes: dict[int, object] = {}
    for chunk in id_chunks([pk for pk, (_org, worker) in out.items() if worker is None]):
        for episode in (
            Episode.objects.filter(child_id__in=chunk, closed_on__isnull=True, social_worker__isnull=False)
            .select_related("organisation", "social_worker")
            .order_by("child_id", "-pk")
        ):
            episodes.setdefault(episode.child_id, episode)
    for pk, episode in episodes.items():
        if episode.social_worker.is_active:
            out[pk] = (episode.organisation, episode.social_worker)
    return out


def _front_doors(person_ids) -> dict[int, object]:
    """The front door of each of these people's current home's authority (their latest open
    membership, as ``current_household`` reads it), in one query and a lookup an authority."""
    authorities: dict[int, object] = {}
    for chunk in id_chunks(person_ids):
        for membership in (
            HouseholdMembership.objects.filter(person_id__in=chunk, to_date__isnull=True)
            .select_related("household__local_authority")
            .order_by("person_id", "-from_date", "-id")
        ):
            authorities.setdefault(membership.person_id, membership.household.local_authority)
    doors: dict[int | None, object] = {}  # one lookup an authority, however many children
    for pk in person_ids:
        authority = authorities.get(pk)
        key = authority.pk if authority is not None else None
        if key not in doors:
            doors[key] = routing.front_door(authority)
    return {pk: doors[authorities[pk].pk if authorities.get(pk) else None] for pk in person_ids}


def tell_social_worker(event: Event) -> int:
    """Notify the allocated social worker (or, with none, the front door) of a new entry about a
    child on the register or looked after, or about the household such a child lives in (a
    police domestic-abuse notice at the address). Not for the worker's own entries."""
    return tell_social_workers([event])


def tell_social_workers(events: list[Event]) -> int:
    """``tell_social_worker`` for each of these events in turn (a batch's), with what it reads
    read once for them all: the children living at the households' addresses, everyone's
    statuses, the child protection processes' social workers and the children's homes. Returns
    how many people were told."""
    events = [e for e in events if e.code not in STATUS_CODES]
    at_home = _children_at_all({e.household_id for e in events if e.person_id is None and e.household_id is not None})
    about: list[tuple[Event, list[Person]]] = []
    for event in events:
        if event.person_id is not None:
            about.append((event, [event.person]))
        elif event.household_id is not None:
            about.append((event, at_home.get(event.household_id, [])))
    if not about:
        return 0
    now = timezone.now()
    on = _with_status({c.pk for _e, children in about for c in children}, now)
    about = [(event, [c for c in children if c.pk in on]) for event, children in about]
    responsible = _responsible({c.pk: c for _e, children in about for c in children})
    told = 0
    for event, children in about:
        for child in children:
            told += _tell_about(event, child, responsible[child.pk])
    return told


def _with_status(person_ids: set[int], at) -> set[int]:
    """Those of these people on the register or looked after at ``at``, in one query."""
    return {pk for pk, status in _statuses(person_ids, at).items() if status}


def _statuses(person_ids: set[int], at) -> dict[int, set[str]]:
    """Each person's statuses at ``at`` ("register", "looked_after"), as ``statuses_now`` reads
    them (their status entries only: a status does not depend on age), in one query; only the
    people with any status entry are keys."""
    changes: dict[int, list] = {}
    for chunk in id_chunks(person_ids):
        for person_id, code, moment in (
            Event.objects.filter(person_id__in=chunk, code__in=list(STATUS_CODES), superseded_by__isnull=True)
            .order_by("occurred_at", "id")
            .values_list("person_id", "code", "occurred_at")
        ):
            changes.setdefault(person_id, []).append((moment, *STATUS_CODES[code]))
    return {pk: set(Child(pk, None, False, statuses).status_on(at)) for pk, statuses in changes.items()}


def _responsible(children: dict[int, Person]) -> dict[int, tuple[User | None, object | None]]:
    """(social worker, front door) of each child, as ``register_notices`` finds them: the front door only where there is no worker. The allocations, processes and
    homes read in a query each for all the children."""
    workers = {pk: worker for pk, (_org, worker) in _social_workers(children).items()}
    doors = _front_doors([pk for pk, worker in workers.items() if worker is None])
    return {pk: (worker, doors.get(pk)) for pk, worker in workers.items()}


def _children_at(household_id: int) -> list[Person]:
    return _children_at_all({household_id}).get(household_id, [])


def _children_at_all(household_ids: set[int]) -> dict[int, list[Person]]:
    """The people living at each household now, not merged into another, under 18 or of unknown
    age (the children a household's entry reaches), in one query for them all."""
    today = timezone.localdate()
    found: dict[int, dict[int, Person]] = {}
    for chunk in id_chunks(household_ids):
        for membership in HouseholdMembership.objects.filter(
            household_id__in=chunk, to_date__isnull=True, person__merged_into__isnull=True
        ).select_related("person"):
            found.setdefault(membership.household_id, {}).setdefault(membership.person_id, membership.person)
    return {
        household: [
            p for _pk, p in sorted(people.items()) if p.date_of_birth is None or age_on(p.date_of_birth, today) < 18
        ]
        for household, people in found.items()
    }


def _tell_about(event: Event, child: Person, responsible: tuple[User | None, object | None]) -> int:
    worker, door = responsible
    people = [worker] if worker is not None else routing.people_to_tell(routing.Target(door, None, "front_door"))
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
            context={"organisation": in_language(event.organisation.name)},
        )
        told += 1
    return told
