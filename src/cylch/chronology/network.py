"""The family network: who lives with whom, who is whose parent or partner, how old the
children are, which organisations know each person, and what each adult needs for themselves.

Reviews found parents' own needs (mental health, drink and drugs, learning disability) sat in
adult services' records and were never put beside the children those adults cared for (TA 1.3,
"parental unmet need"). This module reads them from the spine and shows them with the family,
but only as far as the viewer may see: every fact about a member is judged at that member's
access (:func:`cylch.chronology.selectors.member_levels`).

* Names, ages and sex (as in "Mother") need ``may_see_demographics`` for that member;
  otherwise the member is "a family member", known by role only.
* A flag (register, looked after, care leaver) or an adult's need is named only when the
  viewer may see at least a summary of an entry that shows it. Entries withheld from the
  viewer are counted, over *all* the member's entries, so the note "some entries withheld"
  says nothing about what kind of entry was withheld.
* Organisation names are shown as the person page shows them: at the existence level the
  policy always lets a viewer know who holds something.
* The taxonomy has no young-carer code, so "young carer" is derived from what is recorded: a
  current ``carer`` relationship held by someone under 18.

A fixed number of queries (six here, five in ``family_of``) plus what ``member_levels``
spends on each member the viewer is not allocated to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from cylch.access.policy import Level
from cylch.access.selectors import PersonAccess
from cylch.chronology.family import PARENT_KINDS, ROLE_LABELS, Family
from cylch.chronology.selectors import member_levels
from cylch.events.models import Event
from cylch.identity.models import Allocation, HouseholdMembership, Person, PersonLink, RelationshipKind
from cylch.identity.models import Relationship as Rel
from cylch.identity.selectors import age_on
from cylch.rules.engine import STATUS_CODES, Child

# Roles drawn on the adults' row and on the children's row; "household" goes by age.
ADULT_ROLES = {"parent", "step_parent", "carer", "partner_of_parent", "grandparent", "other_significant_adult"}
CHILD_ROLES = {"child", "sibling", "half_sibling"}

# What the spine says about an adult's own needs: taxonomy code prefixes (all real codes, see
# ``tests/test_family_network.py``), most specific need first.
NEED_PREFIXES: dict[str, tuple[str, ...]] = {
    "mental_health": ("health.adult_mental_health.",),
    "substance_misuse": ("health.substance_misuse.",),
    "learning_disability": ("social_care.parent.learning_disability",),
    "adult_services": ("social_care.adult_services.",),
}
NEED_LABELS = {
    "mental_health": gettext_lazy("Mental health"),
    "substance_misuse": gettext_lazy("Drug or alcohol misuse"),
    "learning_disability": gettext_lazy("Learning disability"),
    "adult_services": gettext_lazy("Adult social services"),
}
# ``details.status`` of a service-contact entry, and ``details.reason`` of adult services.
SERVICE_STATUS_LABELS = {
    "referred": gettext_lazy("referred"),
    "assessed": gettext_lazy("assessed"),
    "open": gettext_lazy("open to the service"),
    "engaged": gettext_lazy("engaged with the service"),
    "did_not_attend": gettext_lazy("did not attend"),
    "discharged_non_engagement": gettext_lazy("discharged for not engaging"),
    "disengaged": gettext_lazy("disengaged"),
    "discharged": gettext_lazy("discharged"),
    "completed": gettext_lazy("completed"),
}
NOT_ENGAGING = {"did_not_attend", "discharged_non_engagement", "disengaged"}
ADULT_SERVICES_REASONS = {
    "mental_health": gettext_lazy("mental health"),
    "learning_disability": gettext_lazy("learning disability"),
    "physical_disability": gettext_lazy("physical disability"),
    "substance_misuse": gettext_lazy("drug or alcohol misuse"),
    "carer_support": gettext_lazy("support as a carer"),
    "adult_safeguarding": gettext_lazy("adult safeguarding"),
    "other": gettext_lazy("other"),
}

CARE_LEAVER_PREFIX = "social_care.care_leaver."
FLAG_LABELS = {
    "register": gettext_lazy("Child protection register"),
    "looked_after": gettext_lazy("Looked after"),
    "young_carer": gettext_lazy("Young carer"),
    "care_leaver": gettext_lazy("Care leaver"),
}


@dataclass(frozen=True)
class Flag:
    key: str  # register | looked_after | young_carer | care_leaver
    label: str


@dataclass
class Need:
    """One kind of need an adult has, as far as the viewer may see the entries showing it."""

    key: str
    label: str
    entries: int = 0  # visible entries showing it
    latest: date | None = None
    detail: str = ""  # from the newest entry whose content the viewer may read
    not_engaging: bool = False  # that entry says the adult missed or left the service


@dataclass
class Home:
    """A household at least one member lives in now."""

    pk: int | None  # None: the members with no current home recorded
    label: str  # "The child's home", "Home 2" ...
    address: str  # empty when the viewer may not see any resident's address
    is_child_home: bool
    residents: list[NetworkMember] = field(default_factory=list, repr=False, compare=False)


@dataclass
class NetworkMember:
    person: Person
    role: str
    role_label: str
    named: bool  # the viewer may see this member's name and age
    name: str  # the display name, or "A family member"
    age: int | None
    unborn: bool
    is_child: bool  # the child this network is about
    adult_row: bool  # drawn with the adults (parents' generation)
    lives_with_child: bool
    home: int | None  # current household (``Home.pk``)
    organisations: list[str] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    needs: list[Need] = field(default_factory=list)
    withheld: int = 0  # entries about the member the viewer sees only as existing
    # Filled once every member exists; kept out of repr and comparison (they point back).
    parent_of: list[NetworkMember] = field(default_factory=list, repr=False, compare=False)
    partners: list[NetworkMember] = field(default_factory=list, repr=False, compare=False)

    @property
    def pk(self) -> int:
        return self.person.pk

    @property
    def short_name(self) -> str:
        """The name, or the role for someone whose name the viewer may not see."""
        return self.name if self.named else self.role_label

    @property
    def age_text(self) -> str:
        if not self.named:
            return ""  # "unborn" is an age too, and would tell of a pregnancy
        if self.unborn:
            return _("Unborn")
        if self.age is None:
            return ""
        if self.age == 0:
            return _("Under 1 year old")
        return ngettext("%(n)s year old", "%(n)s years old", self.age) % {"n": self.age}


@dataclass
class Network:
    child: Person
    members: list[NetworkMember]
    homes: list[Home]  # the child's home first; the "no home recorded" group, if any, last
    parent_links: list[tuple[int, int]]  # (parent pk, child pk)
    partner_links: list[tuple[int, int]]  # (pk, pk), each pair once

    @property
    def withheld(self) -> int:
        return sum(m.withheld for m in self.members)


def _visible(level: Level) -> bool:
    """A summary says what kind of entry it is: enough to name a flag or a need."""
    return level != Level.EXISTENCE


def network_of(access: PersonAccess, family: Family) -> Network:
    """The child's family network as ``access.viewer`` may see it."""
    language = get_language() or "en"
    now = timezone.now()
    today = timezone.localdate()
    accesses = member_levels(access, family, family.members)
    ids = family.person_ids

    homes_of: dict[int, int] = {}
    addresses: dict[int, str] = {}
    for m in (
        HouseholdMembership.objects.filter(person_id__in=ids, to_date__isnull=True)
        .select_related("household")
        .order_by(F("from_date").desc(nulls_last=True), "-id")
    ):
        homes_of.setdefault(m.person_id, m.household_id)  # the newest, for people outside the child's home
        addresses[m.household_id] = str(m.household)

    organisations: dict[int, set[str]] = {pk: set() for pk in ids}
    for pk, name_en, name_cy in PersonLink.objects.filter(person_id__in=ids, active=True).values_list(
        "person_id", "agency_record__organisation__name_en", "agency_record__organisation__name_cy"
    ):
        organisations[pk].add(name_cy if language == "cy" and name_cy else name_en)
    for pk, name_en, name_cy in (
        Allocation.objects.filter(person_id__in=ids)
        .filter(Q(to_date__isnull=True) | Q(to_date__gte=today))
        .values_list("person_id", "organisation__name_en", "organisation__name_cy")
    ):
        organisations[pk].add(name_cy if language == "cy" and name_cy else name_en)

    # Withheld entries, counted over everything about each member (never only the kinds read
    # below, which would tell the viewer what kind of entry was withheld).
    withheld: dict[int, int] = {}
    for pk, sensitivity, organisation_id, n in (
        Event.objects.filter(person_id__in=ids, superseded_by__isnull=True)
        .values("person_id", "sensitivity", "organisation_id")
        .annotate(n=Count("id"))
        .values_list("person_id", "sensitivity", "organisation_id", "n")
    ):
        if accesses[pk].level_for(sensitivity=sensitivity, organisation_id=organisation_id) == Level.EXISTENCE:
            withheld[pk] = withheld.get(pk, 0) + n

    relevant = Q(code__in=list(STATUS_CODES)) | Q(code__startswith=CARE_LEAVER_PREFIX)
    for prefixes in NEED_PREFIXES.values():
        for prefix in prefixes:
            relevant |= Q(code__startswith=prefix)
    events: dict[int, list[tuple]] = {}
    for row in (
        Event.objects.filter(relevant, person_id__in=ids, superseded_by__isnull=True)
        .order_by("occurred_at", "id")
        .values_list("person_id", "code", "occurred_at", "sensitivity", "organisation_id", "details")
    ):
        events.setdefault(row[0], []).append(row[1:])

    caring = set(
        Rel.objects.filter(person_id__in=ids, kind=RelationshipKind.CARER)
        .filter(Q(to_date__isnull=True) | Q(to_date__gte=today))
        .values_list("person_id", flat=True)
    )

    members: list[NetworkMember] = []
    for fm in family.members:
        person, pa = fm.person, accesses[fm.person.pk]
        named = pa.may_see_demographics
        age = age_on(person.date_of_birth, today) if not person.is_unborn else None
        is_child = fm.role == "child"
        adult_row = fm.role in ADULT_ROLES or (
            fm.role not in CHILD_ROLES and not person.is_unborn and (age is None or age >= 18)
        )
        mine = events.get(person.pk, [])
        flags = _flags(person, pa, mine, now)
        if named and person.pk in caring and not person.is_unborn and age is not None and age < 18:
            flags.append(Flag("young_carer", str(FLAG_LABELS["young_carer"])))
        members.append(
            NetworkMember(
                person=person,
                role=fm.role,
                # A label such as "Mother" would tell the person's sex: a demographic.
                role_label=fm.role_label if named else str(ROLE_LABELS[fm.role]),
                named=named,
                name=person.display_name if named else _("A family member"),
                age=age if named else None,
                unborn=person.is_unborn,
                is_child=is_child,
                adult_row=adult_row and not is_child,
                lives_with_child=fm.lives_with_child,
                # Whoever lives with the child is drawn in the child's home, as ``family_of`` decided.
                home=family.home if fm.lives_with_child and family.home is not None else homes_of.get(person.pk),
                organisations=sorted(organisations.get(person.pk, ())),
                flags=flags,
                needs=_needs(pa, mine),
                withheld=withheld.get(person.pk, 0),
            )
        )

    network = Network(
        child=family.child,
        members=members,
        homes=_homes(family, members, addresses),
        parent_links=_parent_links(family, members),
        partner_links=_partner_links(family, members),
    )
    by_pk = {m.pk: m for m in members}
    for parent, child in network.parent_links:
        by_pk[parent].parent_of.append(by_pk[child])
    for a, b in network.partner_links:
        by_pk[a].partners.append(by_pk[b])
        by_pk[b].partners.append(by_pk[a])
    for home in network.homes:
        home.residents = [m for m in members if m.home == home.pk]
    return network


def _flags(person: Person, pa: PersonAccess, mine: list[tuple], now: datetime) -> list[Flag]:
    """Register and looked after, read from the spine as the rules read them
    (:func:`cylch.rules.register.statuses_now`), and care leaver. A status is named only when the
    entry that set it is visible to the viewer.

    Young carer has no taxonomy code; the caller derives it from a recorded ``carer``
    relationship held by someone under 18 (shown, like all relationships, with demographics).
    """
    statuses = [(at, *STATUS_CODES[code]) for code, at, *_rest in mine if code in STATUS_CODES]
    on = Child(person.pk, person.date_of_birth, person.is_unborn, statuses).status_on(now)
    setter: dict[str, tuple[str, int]] = {}  # kind -> (sensitivity, organisation) of the latest "on"
    for code, at, sensitivity, organisation_id, _details in mine:
        if code in STATUS_CODES and at <= now and STATUS_CODES[code][1]:
            setter[STATUS_CODES[code][0]] = (sensitivity, organisation_id)
    flags = []
    for kind in ("register", "looked_after"):
        if kind in on:
            sensitivity, organisation_id = setter[kind]
            if _visible(pa.level_for(sensitivity=sensitivity, organisation_id=organisation_id)):
                flags.append(Flag(kind, str(FLAG_LABELS[kind])))
    if any(
        code.startswith(CARE_LEAVER_PREFIX)
        and at <= now
        and _visible(pa.level_for(sensitivity=sensitivity, organisation_id=organisation_id))
        for code, at, sensitivity, organisation_id, _details in mine
    ):
        flags.append(Flag("care_leaver", str(FLAG_LABELS["care_leaver"])))
    return flags


def _need_key(code: str) -> str | None:
    for key, prefixes in NEED_PREFIXES.items():
        if any(code.startswith(p) for p in prefixes):
            return key
    return None


def _needs(pa: PersonAccess, mine: list[tuple]) -> list[Need]:
    """The member's own needs, oldest entry first so the newest readable detail wins."""
    needs: dict[str, Need] = {}
    for code, at, sensitivity, organisation_id, details in mine:
        key = _need_key(code)
        if key is None:
            continue
        level = pa.level_for(sensitivity=sensitivity, organisation_id=organisation_id)
        if not _visible(level):
            continue  # counted among the withheld entries; never named
        need = needs.setdefault(key, Need(key, str(NEED_LABELS[key])))
        need.entries += 1
        need.latest = timezone.localtime(at).date()
        if level == Level.CONTENT:
            details = details or {}
            status, reason = details.get("status"), details.get("reason")
            if status in SERVICE_STATUS_LABELS:
                need.detail = _("Latest service contact: %(status)s") % {"status": SERVICE_STATUS_LABELS[status]}
                need.not_engaging = status in NOT_ENGAGING
            elif reason in ADULT_SERVICES_REASONS:
                need.detail = _("For %(reason)s") % {"reason": ADULT_SERVICES_REASONS[reason]}
    return [needs[k] for k in NEED_PREFIXES if k in needs]


def _homes(family: Family, members: list[NetworkMember], addresses: dict[int, str]) -> list[Home]:
    """One per current household, the child's first, then in the order their people appear.

    An address is shown when the viewer may see the demographics of someone living there (as
    that person's own page would show it)."""
    child_home = next((m.home for m in members if m.is_child), None)
    order: list[int | None] = [child_home] if child_home is not None else []
    for m in members:
        if m.home not in order and m.home is not None:
            order.append(m.home)
    if any(m.home is None for m in members):
        order.append(None)
    homes = []
    for n, pk in enumerate(order, start=1):
        if pk is None:
            homes.append(Home(None, _("No current home recorded"), "", False))
            continue
        shown = any(m.named for m in members if m.home == pk)
        label = _("The child's home") if pk == child_home else _("Home %(n)s") % {"n": n}
        homes.append(Home(pk, label, addresses.get(pk, "") if shown else "", pk == child_home))
    return homes


def _parent_links(family: Family, members: list[NetworkMember]) -> list[tuple[int, int]]:
    """Parent, step-parent and carer of, between the people shown (a parent stays one after
    the relationship's end date; the end date is about caring arrangements). A child who cares
    for an adult is a young carer (a flag), not drawn as the adult's parent."""
    shown = {m.pk for m in members}
    adults = {m.pk for m in members if m.adult_row}
    links = []
    for rel in family.relationships:
        if rel.kind in PARENT_KINDS and rel.person_id in adults and rel.relative_id in shown:
            pair = (rel.person_id, rel.relative_id)
            if pair not in links:
                links.append(pair)
    return links


def _partner_links(family: Family, members: list[NetworkMember]) -> list[tuple[int, int]]:
    """Current partners (a partner link, or someone recorded as the partner of a parent), both
    of the parents' generation: "partner of a parent" recorded against the child names no parent."""
    shown = {m.pk for m in members if m.adult_row}
    pairs: list[tuple[int, int]] = []
    for rel in family.relationships:
        if rel.kind not in (RelationshipKind.PARTNER, RelationshipKind.PARTNER_OF_PARENT) or rel.to_date is not None:
            continue
        if rel.person_id in shown and rel.relative_id in shown:
            a, b = sorted((rel.person_id, rel.relative_id))
            if (a, b) not in pairs:
                pairs.append((a, b))
    return pairs
