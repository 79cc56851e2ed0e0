"""Who is around a child, and which events a rule sees: the rule's scope.

One ``World`` answers the questions scoping asks (is this person a child, who are their
brothers and sisters, who cares for them, who lives at this address). The incremental path
asks the database as it goes; the batch path loads everything once
(:meth:`World.load_all`). Both then run the same scope code, so they enumerate the same
scopes and feed :func:`cylch.rules.engine.evaluate` the same events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import OuterRef, Q, Subquery

from cylch.events.models import Event
from cylch.identity.households import homes_with_merged
from cylch.identity.models import Household, HouseholdMembership, Person, Relationship
from cylch.rules.engine import STATUS_CODES, Child, Ev
from cylch.rules.pack import Rule

SIBLING_KINDS = ("sibling", "half_sibling")
PARENT_KINDS = ("parent", "step_parent")
CARER_KINDS = ("parent", "step_parent", "carer", "partner_of_parent")
CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class Scope:
    key: str  # what an alert is deduplicated on, with the rule id
    kind: str
    person_ids: frozenset[int]  # whose events count (empty for a household)
    household_id: int | None  # the household whose events count, or the child's home
    children: tuple[int, ...]  # the children the alert would be about


def _age_years(born: date | None, on: date) -> int | None:
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class World:
    """Facts about people, cached for the life of one evaluation."""

    def __init__(self, today: date):
        self.today = today
        self._person: dict[int, tuple[date | None, bool, bool]] = {}  # born, unborn, alive
        self._relatives: dict[int, list[tuple[str, int]]] = {}  # person -> [(kind, relative)] outgoing
        self._relatives_in: dict[int, list[tuple[str, int]]] = {}  # relative -> [(kind, person)]
        self._home: dict[int, int | None] = {}
        self._members: dict[int, list[int]] = {}
        self._board: dict[int | None, str | None] = {}
        self._live: dict[int, int] = {}  # a household merged into another -> that one (identity/households/merge.py)
        self._statuses: dict[int, list[tuple[datetime, str, bool]]] = {}
        self.loaded_all = False

    # -- bulk loading (batch) ------------------------------------------------------------
    def load_all(self) -> World:
        for pk, born, unborn, died in (
            Person.objects.current()
            .values_list("pk", "date_of_birth", "is_unborn", "date_of_death")
            .iterator(chunk_size=20000)
        ):
            self._person[pk] = (born, unborn, died is None)
        for person, kind, relative in (
            Relationship.objects.filter(recorded_in_error=False)
            .values_list("person_id", "kind", "relative_id")
            .iterator(chunk_size=20000)
        ):
            self._relatives.setdefault(person, []).append((kind, relative))
            self._relatives_in.setdefault(relative, []).append((kind, person))
        members = defaultdict(list)
        for person, household in (
            HouseholdMembership.objects.filter(to_date__isnull=True)
            .order_by("person_id", "-from_date", "-id")
            .values_list("person_id", "household_id")
            .iterator(chunk_size=20000)
        ):
            if person not in self._home:
                self._home[person] = household
                members[household].append(person)
        self._members = dict(members)
        for pk, board, into in Household.objects.values_list(
            "pk", "local_authority__board_area__code", "merged_into_id"
        ).iterator(chunk_size=20000):
            self._board[pk] = board
            if into is not None:
                self._live[pk] = into
        for person, code, at in (
            Event.objects.filter(code__in=STATUS_CODES, superseded_by__isnull=True)
            .order_by("occurred_at", "id")
            .values_list("person_id", "code", "occurred_at")
            .iterator(chunk_size=20000)
        ):
            kind, on = STATUS_CODES[code]
            self._statuses.setdefault(person, []).append((at, kind, on))
        self.loaded_all = True
        return self

    # -- loading around a batch (the incremental path, many events at once) -----------------
    def load_around(self, person_ids: set[int], household_ids: set[int], *, hops: int = 3) -> World:
        """Read what scoping asks about these people and households in a few queries.

        The people, their relatives out to ``hops`` steps (a sibling through a parent is two,
        that sibling's own brothers and sisters through another parent three) and their homes;
        the households' members and board areas (statuses: :meth:`load_statuses`). Anything further out is still asked
        for one at a time, as without this, so the scopes are the same either way.
        """
        todo = set(person_ids)
        households = set(household_ids)
        for _hop in range(hops):
            todo = {pk for pk in todo if pk not in self._relatives}
            if not todo:
                break
            self._load_people(todo)
            households |= {h for pk in todo if (h := self._home.get(pk)) is not None}
            todo = {r for pk in todo for _k, r in self._relatives[pk]} | {
                p for pk in todo for _k, p in self._relatives_in[pk]
            }
        self._load_households(households)
        members = {m for h in households for m in self._members.get(h, [])}
        self._load_people({pk for pk in members if pk not in self._relatives})
        return self

    def _load_people(self, pks: set[int]) -> None:
        """Each person's facts, relatives and current home: a query for the people with their
        homes, one for the relationships. Statuses are read later, for the children the scopes
        are about (:meth:`load_statuses`), not for everyone reached."""
        ordered = sorted(pks)
        for i in range(0, len(ordered), CHUNK):
            chunk = ordered[i : i + CHUNK]
            for pk in chunk:
                self._person[pk] = (None, False, False)  # as person() has it for an id not found
                self._relatives[pk], self._relatives_in[pk] = [], []
                self._home[pk] = None
            # The current home as home() reads it (latest start, then latest made), alongside.
            home = (
                HouseholdMembership.objects.filter(person_id=OuterRef("pk"), to_date__isnull=True)
                .order_by("-from_date", "-id")
                .values("household_id")[:1]
            )
            for pk, born, unborn, died, household in (
                Person.objects.filter(pk__in=chunk)
                .annotate(current_home=Subquery(home))
                .values_list("pk", "date_of_birth", "is_unborn", "date_of_death", "current_home")
            ):
                self._person[pk] = (born, unborn, died is None)
                self._home[pk] = household
            inside = set(chunk)
            for person, kind, relative in Relationship.objects.filter(
                Q(person_id__in=chunk) | Q(relative_id__in=chunk), recorded_in_error=False
            ).values_list("person_id", "kind", "relative_id"):
                if person in inside:
                    self._relatives[person].append((kind, relative))
                if relative in inside:
                    self._relatives_in[relative].append((kind, person))

    def load_statuses(self, pks: set[int]) -> None:
        """The register and looked-after entries of these people (those not read yet), in one
        query: what :meth:`child` would read for each."""
        ordered = sorted(pk for pk in pks if pk not in self._statuses)
        for i in range(0, len(ordered), CHUNK):
            chunk = ordered[i : i + CHUNK]
            for pk in chunk:
                self._statuses[pk] = []
            for person, code, at in (
                Event.objects.filter(person_id__in=chunk, code__in=STATUS_CODES, superseded_by__isnull=True)
                .order_by("occurred_at", "id")
                .values_list("person_id", "code", "occurred_at")
            ):
                self._statuses[person].append((at, *STATUS_CODES[code]))

    def load_people(self, pks) -> None:
        """What :meth:`person` reads, for those of these people not read yet, in one query."""
        ordered = sorted({pk for pk in pks if pk is not None and pk not in self._person})
        for i in range(0, len(ordered), CHUNK):
            chunk = ordered[i : i + CHUNK]
            for pk in chunk:
                self._person[pk] = (None, False, False)
            for pk, born, unborn, died in Person.objects.filter(pk__in=chunk).values_list(
                "pk", "date_of_birth", "is_unborn", "date_of_death"
            ):
                self._person[pk] = (born, unborn, died is None)

    def _load_households(self, households: set[int]) -> None:
        ordered = sorted(h for h in households if h not in self._members)
        for i in range(0, len(ordered), CHUNK):
            chunk = ordered[i : i + CHUNK]
            members: dict[int, list[int]] = {h: [] for h in chunk}
            for household, person in HouseholdMembership.objects.filter(
                household_id__in=chunk, to_date__isnull=True
            ).values_list("household_id", "person_id"):
                members[household].append(person)
            self._members.update(members)
            for pk, board, into in Household.objects.filter(pk__in=chunk).values_list(
                "pk", "local_authority__board_area__code", "merged_into_id"
            ):
                self._board[pk] = board
                if into is not None:
                    self._live[pk] = into

    # -- facts ---------------------------------------------------------------------------
    def person(self, pk: int) -> tuple[date | None, bool, bool]:
        if pk not in self._person and not self.loaded_all:
            row = Person.objects.filter(pk=pk).values_list("date_of_birth", "is_unborn", "date_of_death").first()
            self._person[pk] = (row[0], row[1], row[2] is None) if row else (None, False, False)
        return self._person.get(pk, (None, False, False))

    def is_child(self, pk: int, on: date | None = None) -> bool:
        """Under 18 (or unborn) and alive: the children an alert can be about."""
        born, unborn, alive = self.person(pk)
        if not alive:
            return False
        if unborn:
            return True
        age = _age_years(born, on or self.today)
        return age is not None and age < 18

    def _rels(self, pk: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        if pk not in self._relatives and not self.loaded_all:
            rows = Relationship.objects.filter(
                Q(person_id=pk) | Q(relative_id=pk), recorded_in_error=False
            ).values_list("person_id", "kind", "relative_id")
            self._relatives[pk] = [(k, r) for p, k, r in rows if p == pk]
            self._relatives_in[pk] = [(k, p) for p, k, r in rows if r == pk]
        return self._relatives.get(pk, []), self._relatives_in.get(pk, [])

    def siblings(self, pk: int) -> set[int]:
        """Brothers and sisters as recorded, and children who share a parent with this one."""
        out, inn = self._rels(pk)
        found = {r for k, r in out if k in SIBLING_KINDS}
        for kind, parent in inn:
            if kind in PARENT_KINDS:
                found |= {r for k, r in self._rels(parent)[0] if k in PARENT_KINDS}
        found.discard(pk)
        return found

    def carers(self, child: int) -> set[int]:
        return {p for k, p in self._rels(child)[1] if k in CARER_KINDS}

    def cared_for(self, adult: int) -> set[int]:
        return {r for k, r in self._rels(adult)[0] if k in CARER_KINDS}

    def home(self, pk: int) -> int | None:
        if pk not in self._home and not self.loaded_all:
            self._home[pk] = (
                HouseholdMembership.objects.filter(person_id=pk, to_date__isnull=True)
                .order_by("-from_date", "-id")
                .values_list("household_id", flat=True)
                .first()
            )
        return self._home.get(pk)

    def members(self, household: int) -> list[int]:
        if household not in self._members and not self.loaded_all:
            self._members[household] = list(
                HouseholdMembership.objects.filter(household_id=household, to_date__isnull=True).values_list(
                    "person_id", flat=True
                )
            )
        return self._members.get(household, [])

    def board_area(self, household: int | None) -> str | None:
        if household is None:
            return None
        if household not in self._board and not self.loaded_all:
            row = (
                Household.objects.filter(pk=household)
                .values_list("local_authority__board_area__code", "merged_into_id")
                .first()
            )
            self._board[household] = row[0] if row else None
            if row and row[1] is not None:
                self._live[household] = row[1]
        return self._board.get(household)

    def live_household(self, household: int) -> int:
        """The household, or the one it was merged into: where its entries count now."""
        self.board_area(household)  # read with the board area, in the same query
        return self._live.get(household, household)

    def child(self, pk: int) -> Child:
        born, unborn, _alive = self.person(pk)
        if pk not in self._statuses and not self.loaded_all:
            self._statuses[pk] = [
                (at, *STATUS_CODES[code])
                for code, at in Event.objects.filter(person_id=pk, code__in=STATUS_CODES, superseded_by__isnull=True)
                .order_by("occurred_at", "id")
                .values_list("code", "occurred_at")
            ]
        return Child(pk, born, unborn, self._statuses.get(pk, []))

    # -- scopes --------------------------------------------------------------------------
    def scopes_for(self, rule: Rule, person_id: int | None, household_id: int | None) -> list[Scope]:
        """The scopes an event about this person (or household) can change for this rule."""
        if rule.scope == "household":
            if household_id is None:
                return []
            household_id = self.live_household(household_id)
            kids = tuple(sorted(p for p in self.members(household_id) if self.is_child(p)))
            if rule.alert_for == "each_child":
                return [
                    Scope(f"household:{household_id}/child:{c}", rule.scope, frozenset(), household_id, (c,))
                    for c in kids
                ]
            return [Scope(f"household:{household_id}", rule.scope, frozenset(), household_id, kids)]
        if person_id is None:
            return []
        if rule.scope == "child":
            if not self.is_child(person_id):
                return []
            return [
                Scope(f"person:{person_id}", rule.scope, frozenset({person_id}), self.home(person_id), (person_id,))
            ]
        if rule.scope == "child_and_siblings":
            if not self.is_child(person_id):
                return []
            scopes = {}
            for focus in {person_id} | {s for s in self.siblings(person_id) if self.is_child(s)}:
                group = tuple(sorted({focus} | {s for s in self.siblings(focus) if self.is_child(s)}))
                key = "siblings:" + ",".join(map(str, group))
                scopes[key] = Scope(key, rule.scope, frozenset(group), self.home(focus), group)
            return list(scopes.values())
        # parents_and_carers: the children this person cares for (living with them, if asked)
        scopes = []
        for child in sorted(self.cared_for(person_id)):
            if not self.is_child(child):
                continue
            carers = self.carers(child)
            if rule.living_with_child:
                home = self.home(child)
                carers = {c for c in carers if home is not None and self.home(c) == home}
            if person_id not in carers:
                continue
            scopes.append(Scope(f"carers-of:{child}", rule.scope, frozenset(carers), self.home(child), (child,)))
        return scopes

    def ev(self, pk, code, at, organisation_id, person_id, details) -> Ev:
        return Ev(pk, code, at, organisation_id, person_id, details or {}, self.was_child(person_id, at))

    def was_child(self, pk: int | None, at: datetime) -> bool | None:
        """Was the subject under 18 at the time? None for a household or an unknown age."""
        if pk is None:
            return None
        born, unborn, _alive = self.person(pk)
        if unborn:
            return True
        age = _age_years(born, at.date())
        return None if age is None else age < 18


def earliest(rule: Rule, now: datetime) -> datetime:
    """The oldest event the rule can read when evaluated at ``now``."""
    start = rule.lookback.before(now)
    oldest = rule.window.before(start)
    for cond in rule.conditions:
        if cond.within is not None:
            oldest = min(oldest, cond.within.before(start))
    return oldest


EVENT_FIELDS = ("pk", "code", "occurred_at", "organisation_id", "person_id", "details")


def scope_events(world: World, scope: Scope, codes: frozenset[str], since: datetime) -> list[Ev]:
    """The events a rule reads inside a scope, from the database (the incremental path)."""
    qs = Event.objects.filter(code__in=codes, occurred_at__gte=since, superseded_by__isnull=True)
    qs = (
        qs.filter(household_id__in=homes_with_merged([scope.household_id]))
        if scope.kind == "household"
        else qs.filter(person_id__in=scope.person_ids)
    )
    return [world.ev(*row) for row in qs.values_list(*EVENT_FIELDS)]
