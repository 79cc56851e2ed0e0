"""One home held as two households: found, merged by a person (or the command), and the merge
undone (docs/identity.md, "One home held twice")."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Value
from django.db.models.functions import Replace, Upper
from django.utils import timezone
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.identity.households import address_of_household, chunks
from cylch.identity.models import Household, HouseholdMembership, Person

# --- one home held twice: found, merged by a person (or the command), and the merge undone -----
#
# Older data (reports made their own households before ``household_at``) and spellings that only
# normalise alike since a later change leave one home as two households, each with part of the
# family's chronology. Entries are append-only and keep the household they were recorded at, so a
# merge moves the memberships and leaves a pointer (``Household.merged_into``) that the readers of
# a home follow; undoing it puts the memberships back and marks the two as different homes.

MERGED, SEPARATED = "households merged", "household merge undone"


@dataclass
class HomeTwice:
    """Two live households that look like one home: ``other`` would merge into ``keep``."""

    keep: Household
    other: Household
    keep_members: list[Person]
    other_members: list[Person]
    exact: bool  # every household of the group reads as one address, in one local authority


def duplicate_households(households: QuerySet[Household] | None = None) -> list[HomeTwice]:
    """Live households among ``households`` (default: all) held at one address by
    ``Address.same_as`` (one UPRN, else one first line and postcode) that both have somebody
    living there now or entries about them, and that no reviewer has said are other homes.

    Each group keeps the household others were merged into before, else the one somebody lives
    in now, then the oldest (as ``household_at`` finds one). A group is ``exact`` when every pair
    in it is the same address and all are in one local authority; only those are the command's
    to merge. Six queries however many households (and one more per 500 households in pairs,
    for who lives there): the candidates, those sharing a compact postcode or a UPRN, are a
    subquery of the other reads, never a list of ids (at 50,500 households with 500 pairs,
    seven queries and 2.6 s of CPU on SQLite).
    """
    base = (households if households is not None else Household.objects.all()).filter(merged_into__isnull=True)
    compact = base.annotate(compact=Upper(Replace("postcode", Value(" "), Value(""))))
    postcodes = compact.exclude(postcode="").values("compact").annotate(n=Count("pk")).filter(n__gt=1)
    uprns = base.exclude(uprn="").values("uprn").annotate(n=Count("pk")).filter(n__gt=1)
    candidates = compact.filter(Q(compact__in=postcodes.values("compact")) | Q(uprn__in=uprns.values("uprn")))
    found = {h.pk: h for h in candidates.select_related("local_authority").order_by("pk")}
    lived_in, used = _in_use(candidates)
    found = {pk: h for pk, h in found.items() if pk in lived_in or pk in used}
    pairs = _same_address_pairs(found, candidates)
    groups = _groups(pairs)
    members = _members_now(sorted({pk for pair in pairs for pk in pair}))
    kept_before = set(
        Household.objects.filter(merged_into__in=candidates.values("pk")).values_list("merged_into_id", flat=True)
    )
    out = []
    for group in groups:
        ranked = sorted(group, key=lambda pk: (pk not in kept_before, pk not in lived_in, pk))
        keep = found[ranked[0]]
        exact = len({found[pk].local_authority_id for pk in group}) == 1 and all(
            frozenset((a, b)) in pairs for i, a in enumerate(ranked) for b in ranked[i + 1 :]
        )
        for pk in ranked[1:]:
            if frozenset((keep.pk, pk)) in pairs:
                out.append(HomeTwice(keep, found[pk], members.get(keep.pk, []), members.get(pk, []), exact))
    return sorted(out, key=lambda d: (d.keep.postcode, d.keep.address_line, d.keep.pk, d.other.pk))


def _in_use(candidates: QuerySet[Household]) -> tuple[set[int], set[int]]:
    """Of the candidates, those somebody lives in now, and (of the rest) those entries refer to."""
    from cylch.events.models import Event

    now = HouseholdMembership.objects.filter(to_date__isnull=True)
    lived_in = set(now.filter(household_id__in=candidates.values("pk")).values_list("household_id", flat=True))
    empty = candidates.exclude(pk__in=now.values("household_id")).values("pk")
    used = set(Event.objects.filter(household_id__in=empty).values_list("household_id", flat=True).distinct())
    return lived_in, used


def _same_address_pairs(found: dict[int, Household], candidates: QuerySet[Household]) -> set[frozenset[int]]:
    """Pairs of the same address that no reviewer has said are other homes."""
    addresses = {pk: address_of_household(h) for pk, h in found.items()}
    buckets: dict[str, list[int]] = defaultdict(list)
    for pk, address in addresses.items():
        for key in {f"p:{address.postcode}", f"u:{address.uprn}" if address.uprn else ""} - {""}:
            buckets[key].append(pk)
    through = Household.not_same_as.through
    different = {
        frozenset(pair)
        for pair in through.objects.filter(from_household_id__in=candidates.values("pk")).values_list(
            "from_household_id", "to_household_id"
        )
    }
    pairs = set()
    for pks in buckets.values():
        for i, a in enumerate(pks):
            for b in pks[i + 1 :]:
                pair = frozenset((a, b))
                if pair not in different and addresses[a].same_as(addresses[b]):
                    pairs.add(pair)
    return pairs


def _groups(pairs: set[frozenset[int]]) -> list[set[int]]:
    """The households joined by same-address pairs, each group once."""
    parent: dict[int, int] = {}

    def root(pk: int) -> int:
        while parent.setdefault(pk, pk) != pk:
            pk = parent[pk]
        return pk

    for a, b in (tuple(sorted(p)) for p in pairs):
        parent[root(b)] = root(a)
    groups: dict[int, set[int]] = defaultdict(set)
    for pk in parent:
        groups[root(pk)].add(pk)
    return [groups[k] for k in sorted(groups)]


def _members_now(pks: list[int]) -> dict[int, list[Person]]:
    members: dict[int, list[Person]] = defaultdict(list)
    for chunk in chunks(pks):
        for m in (
            HouseholdMembership.objects.filter(household_id__in=chunk, to_date__isnull=True)
            .select_related("person")
            .order_by("person__date_of_birth", "person_id")
        ):
            members[m.household_id].append(m.person)
    return members


def duplicates_for(user) -> list[HomeTwice]:
    """The duplicates a reviewer may decide: the family-conflict reviewers (front door, social
    worker, team manager), for households in their local authority or in none."""
    from cylch.access.roles import FRONT_DOOR_ROLES

    org = user.organisation
    if user.role not in FRONT_DOOR_ROLES or org is None:
        return []
    nowhere = Q(local_authority__isnull=True)
    scope = nowhere if org.local_authority_id is None else nowhere | Q(local_authority_id=org.local_authority_id)
    return duplicate_households(Household.objects.filter(scope))


def duplicate_for(user, keep_id, other_id) -> HomeTwice | None:
    """The one pair shown to ``user`` with these public ids, or None (not theirs, or not a pair)."""
    return next(
        (d for d in duplicates_for(user) if (str(d.keep.public_id), str(d.other.public_id)) == (keep_id, other_id)),
        None,
    )


def merged_for(user) -> QuerySet[Household]:
    """Households merged into another within the reviewer's scope (as ``duplicates_for``),
    newest first: what they may undo."""
    from cylch.access.roles import FRONT_DOOR_ROLES

    org = user.organisation
    if user.role not in FRONT_DOOR_ROLES or org is None:
        return Household.objects.none()
    rows = Household.objects.filter(merged_into__isnull=False).select_related("merged_into")
    scope = Q(local_authority__isnull=True)
    if org.local_authority_id is not None:
        scope |= Q(local_authority_id=org.local_authority_id)
    return rows.filter(scope).order_by("-merged_at", "-pk")


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _overlap(a: HouseholdMembership, b: HouseholdMembership) -> bool:
    """Whether two memberships' periods meet (no start: since ever; no end: still living there)."""
    return (a.from_date is None or b.to_date is None or a.from_date <= b.to_date) and (
        b.from_date is None or a.to_date is None or b.from_date <= a.to_date
    )


def _join_memberships(keep: Household, merged: Household) -> list[dict]:
    """Move ``merged``'s memberships to ``keep``. One that overlaps the same person's membership
    of ``keep`` is joined to it instead (the wider period; a living-there-now one stays open), so
    nobody is a member twice at once. Returns each as it was, for the undo."""
    held: dict[int, list[HouseholdMembership]] = defaultdict(list)
    for m in HouseholdMembership.objects.select_for_update().filter(household=keep).order_by("pk"):
        held[m.person_id].append(m)
    moves = []
    for m in HouseholdMembership.objects.select_for_update().filter(household=merged).order_by("pk"):
        entry: dict[str, Any] = {"id": m.pk, "person": m.person_id, "from": _iso(m.from_date), "to": _iso(m.to_date)}
        twin = next((k for k in held[m.person_id] if _overlap(k, m)), None)
        if twin is None:
            m.household = keep
            m.save(update_fields=["household"])
            held[m.person_id].append(m)
        else:
            entry["joined"] = {"id": twin.pk, "from": _iso(twin.from_date), "to": _iso(twin.to_date)}
            starts = [d for d in (twin.from_date, m.from_date) if d]
            twin.from_date = min(starts) if starts else None
            twin.to_date = None if twin.to_date is None or m.to_date is None else max(twin.to_date, m.to_date)
            twin.save(update_fields=["from_date", "to_date"])
            entry["joined"].update(now_from=_iso(twin.from_date), now_to=_iso(twin.to_date))
            m.delete()
        moves.append(entry)
    return moves


def _part_memberships(keep: Household, merged: Household, moves: list[dict]) -> None:
    """Put back what ``_join_memberships`` did, latest first. A joined membership that changed
    since (the person moved out) keeps its end, and the one restored ends then too."""
    for entry in reversed(moves):
        joined = entry.get("joined")
        if joined is None:
            HouseholdMembership.objects.filter(pk=entry["id"], household=keep).update(household=merged)
            continue
        to_date = _day(entry["to"])
        twin = HouseholdMembership.objects.select_for_update().filter(pk=joined["id"]).first()
        if twin is not None:
            unchanged = (_iso(twin.from_date), _iso(twin.to_date)) == (joined["now_from"], joined["now_to"])
            if not unchanged and to_date is None:
                to_date = twin.to_date
            twin.from_date = _day(joined["from"])
            twin.to_date = _day(joined["to"]) if unchanged else twin.to_date
            twin.save(update_fields=["from_date", "to_date"])
        # The person may have been merged into someone since: the membership is theirs now.
        person = Person.objects.get(pk=entry["person"]).live()
        HouseholdMembership.objects.create(
            pk=entry["id"], household=merged, person=person, from_date=_day(entry["from"]), to_date=to_date
        )


def check_household_merge(*, keep: Household, merged: Household, reason: str) -> None:
    """Whether ``merged`` may be made part of ``keep``; raises ``ValidationError`` if not."""
    errors = []
    if not reason.strip():
        errors.append(_("Say why these are one home: what you checked, and with whom."))
    if keep.pk == merged.pk:
        errors.append(_("A household cannot be merged into itself."))
    elif keep.merged_into_id or merged.merged_into_id:
        errors.append(_("One of these households has already been merged into another."))
    elif merged.merged_from.exists():
        errors.append(_("Other households were merged into this one: keep it, and merge the other into it."))
    elif keep.local_authority_id != merged.local_authority_id:
        errors.append(_("These households are in different local authorities: record a move instead."))
    elif keep.not_same_as.filter(pk=merged.pk).exists():
        errors.append(_("A reviewer has said these are different homes."))
    if errors:
        raise ValidationError({"__all__": errors})


def household_merge(*, keep: Household, merged: Household, actor: User | None, reason: str) -> Household:
    """Make ``merged`` part of ``keep``: one home, its whole chronology together.

    The memberships move to ``keep`` (``_join_memberships``: history kept, nobody a member
    twice at once); entries stay as recorded and ``merged`` points to ``keep``, which the
    chronology follows. Audited, with an entry on the home's chronology saying who merged what
    and why. Merging a pair already merged this way round returns ``keep`` and changes nothing.
    """
    reason = (reason or "").strip()
    with transaction.atomic():
        locked = Household.objects.select_for_update(of=("self",)).filter(pk__in=[keep.pk, merged.pk]).order_by("pk")
        rows = {h.pk: h for h in locked.select_related("local_authority")}
        keep, merged = rows[keep.pk], rows[merged.pk]
        if merged.merged_into_id == keep.pk:
            return keep
        check_household_merge(keep=keep, merged=merged, reason=reason)
        now = timezone.now()
        moves = _join_memberships(keep, merged)
        merged.merged_into, merged.merged_at = keep, now
        merged.merge_detail = {"reason": reason, "by": actor.username if actor else "", "memberships": moves}
        merged.save(update_fields=["merged_into", "merged_at", "merge_detail", "modified_at"])
        detail = {"into": str(keep.public_id), "reason": reason, "memberships": len(moves),
                  "joined": sum(1 for m in moves if m.get("joined"))}  # fmt: skip
        _audit(actor, merged, MERGED, detail)
        _on_spine(keep, actor=actor, when=now, text=f"Recorded as one home with {merged} (household {merged.public_id}), "
                  f"which was held separately. Reason: {reason}", code="merged")  # fmt: skip
    return keep


def household_unmerge(*, merged: Household, actor: User | None, reason: str) -> Household:
    """Undo ``household_merge``: the memberships go back as they were, ``merged`` is a home of
    its own again, and the two are marked as different homes so neither the review page nor
    the command offers them again. Audited and on the chronology of the home it left."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"__all__": [_("Say why these are different homes.")]})
    with transaction.atomic():
        merged = Household.objects.select_for_update().get(pk=merged.pk)
        if merged.merged_into_id is None:
            raise ValidationError({"__all__": [_("This household is not merged into another.")]})
        keep = (
            Household.objects.select_for_update(of=("self",))
            .select_related("local_authority")
            .get(pk=merged.merged_into_id)
        )
        moves = merged.merge_detail.get("memberships", [])
        _part_memberships(keep, merged, moves)
        merged.merged_into, merged.merged_at, merged.merge_detail = None, None, {}
        merged.save(update_fields=["merged_into", "merged_at", "merge_detail", "modified_at"])
        merged.not_same_as.add(keep)
        _audit(actor, merged, SEPARATED, {"from": str(keep.public_id), "reason": reason, "memberships": len(moves)})
        _on_spine(keep, actor=actor, when=timezone.now(), code="separated",
                  text=f"No longer recorded as one home with {merged} (household {merged.public_id}). Reason: {reason}")  # fmt: skip
    return merged


def household_not_same(*, a: Household, b: Household, actor: User, reason: str) -> None:
    """A reviewer's word that two households that read alike are different homes (flats at one
    address without flat numbers, say): never offered as one again. Audited."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"__all__": [_("Say why these are different homes.")]})
    with transaction.atomic():
        a.not_same_as.add(b)
        _audit(actor, a, "households are different homes", {"other": str(b.public_id), "reason": reason})


def _audit(actor: User | None, household: Household, purpose: str, detail: dict) -> None:
    audit_record(
        action="write",
        actor=actor,
        actor_label="" if actor else "cylch households",
        object_type="household",
        object_id=household.public_id,
        purpose=purpose,
        detail=detail,
    )


def _on_spine(home: Household, *, actor: User | None, when, text: str, code: str) -> None:
    """An entry about the home as a whole, recorded by the worker's organisation (the home's
    children's services for the command). None where neither is known: the audit still is."""
    from cylch.access.models import Organisation
    from cylch.access.roles import OrganisationKind
    from cylch.events.models import Source
    from cylch.events.services import record_event
    from cylch.identity.events import HOUSEHOLD_MERGED, HOUSEHOLD_SEPARATED

    organisation = actor.organisation if actor is not None else None
    if organisation is None and home.local_authority_id:
        organisation = (
            Organisation.objects.filter(
                local_authority_id=home.local_authority_id, kind=OrganisationKind.LA_CHILDRENS_SERVICES
            )
            .order_by("pk")
            .first()
        )
    if organisation is None:
        return
    record_event(
        organisation=organisation, code=HOUSEHOLD_MERGED if code == "merged" else HOUSEHOLD_SEPARATED,
        occurred_at=when, household=home, summary=text, recorded_by=actor, audit=False,
        source=Source.WEB if actor is not None else Source.SYSTEM,
    )  # fmt: skip
