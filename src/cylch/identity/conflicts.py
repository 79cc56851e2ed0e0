"""Family conflicts: relationships that cannot all be true, side by side, for a person to decide.

``network.py`` finds them (a child with three parents, a parent younger than is possible) and
changes nothing. Here a children's services reviewer of the child's local authority
(``selectors.family_conflicts_for``, the matching queue's scope) says of each relationship
whether it is right, has ended, or was recorded in error, with a reason. Nothing is deleted:
a wrong relationship is ended and marked, so what the agency said survives. The decision is
audited, put on the child's chronology, and binds later runs: ``network.check_child`` never
raises the same kind of conflict again about the same relationships (a new one does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cylch.access.audit import audit_record, hold_recording
from cylch.access.models import User
from cylch.identity.models import (
    AgencyRecord,
    ConflictDecision,
    FamilyConflict,
    HouseholdMembership,
    Person,
    PersonLink,
    Relationship,
)
from cylch.identity.network import current_parents, decided, findings
from cylch.identity.selectors import age_on, family_conflicts_for

KEEP, ENDED, ERROR = "keep", "ended", "error"
OUTCOME_CHOICES = [
    (KEEP, gettext_lazy("Right: keep it")),
    (ENDED, gettext_lazy("It was right, but it has ended")),
    (ERROR, gettext_lazy("Wrong: it was recorded in error")),
]
REASON_MAX = 2000
NOTE_MAX = 200
KIND_SUMMARY = {"too_many_parents": "more than two parents recorded", "parent_too_young": "a parent too young"}


# --- reads -------------------------------------------------------------------------------------


def open_conflicts_for(user) -> QuerySet[FamilyConflict]:
    """The open conflicts a reviewer may decide, newest first, with the person loaded."""
    return family_conflicts_for(user).filter(resolved=False).select_related("person").order_by("-created_at", "-pk")


def decided_conflicts_for(user) -> QuerySet[FamilyConflict]:
    """Conflicts a reviewer decided (not those the hub closed on a merge), latest first."""
    return (
        family_conflicts_for(user)
        .filter(resolved=True)
        .exclude(decision="")
        .select_related("person", "resolved_by")
        .order_by("-resolved_at", "-pk")
    )


@dataclass
class Side:
    """One relationship in the conflict and the evidence about it."""

    relationship: Relationship
    relative: Person
    age_gap: int | None  # the relative's age when the child was born
    lives_at_childs_home: bool
    records: list[AgencyRecord]  # who holds the relative, as they sent it
    named: bool = False  # the conflict names this relationship (the too-young parent)
    outcome: dict | None = None  # once decided: what became of it


@dataclass
class ConflictView:
    conflict: FamilyConflict
    child: Person
    sides: list[Side]
    child_records: list[AgencyRecord]
    home: object | None  # the child's current household
    relationship_ids: str = ""  # what the decision form was shown, so a changed family is noticed
    others: list[FamilyConflict] = field(default_factory=list)  # the child's other open conflicts


def conflict_relationships(conflict: FamilyConflict) -> list[Relationship]:
    """The relationships a conflict is about: while open, the child's parents now believed;
    once decided, the ones decided on (those a later merge removed are gone)."""
    if not conflict.resolved:
        return current_parents(conflict.person)
    ids = [o.get("relationship") for o in conflict.outcomes or []]
    return list(Relationship.objects.filter(pk__in=ids).select_related("person", "source_organisation").order_by("pk"))


def conflict_view(conflict: FamilyConflict) -> ConflictView:
    """The conflict with its evidence, in a fixed number of queries however large the family."""
    child = conflict.person
    rels = conflict_relationships(conflict)
    people = [child.pk, *(r.person_id for r in rels)]
    records: dict[int, list[AgencyRecord]] = {pk: [] for pk in people}
    for link in (
        PersonLink.objects.filter(person_id__in=people, active=True)
        .select_related("agency_record", "agency_record__organisation")
        .order_by("agency_record__organisation__name_en", "agency_record__local_id")
    ):
        records[link.person_id].append(link.agency_record)
    homes: dict[int, set[int]] = {}
    home = None
    for m in (
        HouseholdMembership.objects.filter(person_id__in=people, to_date__isnull=True)
        .select_related("household", "household__local_authority")
        .order_by("-from_date", "-pk")
    ):
        homes.setdefault(m.person_id, set()).add(m.household_id)
        if m.person_id == child.pk and home is None:
            home = m.household
    named = conflict.detail.get("parent") if conflict.kind == "parent_too_young" else None
    outcomes = {o.get("relationship"): o for o in conflict.outcomes or []}
    sides = [
        Side(
            relationship=r,
            relative=r.person,
            age_gap=age_on(r.person.date_of_birth, child.date_of_birth) if child.date_of_birth else None,
            lives_at_childs_home=home is not None and home.pk in homes.get(r.person_id, set()),
            records=records.get(r.person_id, []),
            named=named is not None and str(r.person.public_id) == named,
            outcome=outcomes.get(r.pk),
        )
        for r in rels
    ]
    others = [] if conflict.resolved else list(child.family_conflicts.filter(resolved=False).exclude(pk=conflict.pk))
    return ConflictView(
        conflict=conflict,
        child=child,
        sides=sides,
        child_records=records[child.pk],
        home=home,
        relationship_ids=",".join(str(r.pk) for r in rels),
        others=others,
    )


# --- the decision ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the reviewer says of one relationship."""

    relationship_id: int
    outcome: str  # KEEP, ENDED or ERROR
    ended_on: date | None = None
    note: str = ""


def conflict_decide(
    *, conflict: FamilyConflict, actor: User, outcomes: list[Outcome], reason: str, shown: str | None = None
) -> FamilyConflict:
    """Record a reviewer's decision on every relationship of an open conflict.

    ``shown`` is the relationship ids the reviewer was shown (comma-separated): when the family
    changed in the meantime (an agency added a parent) the decision is refused, to be made again
    on what is there now. Errors are keyed by the decision form's fields (``outcome-1``,
    ``ended-1``, ``note-1`` by position, ``reason``).
    """
    reason = (reason or "").strip()
    with transaction.atomic():
        hold_recording()  # before the conflict's row: see hold_recording
        conflict = FamilyConflict.objects.select_for_update().select_related("person").get(pk=conflict.pk)
        if conflict.resolved:
            raise ValidationError({"__all__": [_("This conflict has already been decided.")]})
        rels = current_parents(conflict.person)
        ids = [r.pk for r in rels]
        given = {o.relationship_id: o for o in outcomes}
        if (shown is not None and shown != ",".join(map(str, ids))) or set(given) - set(ids):
            raise ValidationError(
                {"__all__": [_("The family has changed since you opened this page. Look again and decide on what is there now.")]}
            )  # fmt: skip
        _validate(conflict, rels, given, reason)
        today = timezone.localdate()
        now = timezone.now()
        record = []
        for rel in rels:
            o = given[rel.pk]
            fields = []
            if o.note.strip() and o.note.strip() != rel.note:
                rel.note = o.note.strip()
                fields.append("note")
            if o.outcome == ENDED:
                rel.to_date = o.ended_on
                fields.append("to_date")
            elif o.outcome == ERROR:
                rel.recorded_in_error = True
                rel.to_date = rel.to_date or today
                fields += ["recorded_in_error", "to_date"]
            if fields:
                rel.save(update_fields=fields)
            record.append(
                {
                    "relationship": rel.pk,
                    "person": str(rel.person.public_id),
                    "name": rel.person.display_name,
                    "kind": rel.kind,
                    "outcome": o.outcome,
                    "to_date": rel.to_date.isoformat() if o.outcome != KEEP and rel.to_date else None,
                    "note": rel.note,
                    "source": rel.source_organisation_id,
                }
            )
        corrected = any(o["outcome"] != KEEP for o in record)
        conflict.decision = ConflictDecision.CORRECTED if corrected else ConflictDecision.ALL_RIGHT
        conflict.outcomes = record
        conflict.resolved = True
        conflict.resolved_by = actor
        conflict.resolved_at = now
        conflict.note = reason
        conflict.save(update_fields=["decision", "outcomes", "resolved", "resolved_by", "resolved_at", "note"])
        closed = _close_settled(conflict.person, decided_by=conflict)
        _on_spine(conflict, actor=actor, when=now)
        audit_record(
            action="write",
            actor=actor,
            object_type="family_conflict",
            object_id=conflict.pk,
            purpose="family conflict decided",
            detail={
                "person": str(conflict.person.public_id),
                "kind": conflict.kind,
                "decision": conflict.decision,
                "outcomes": [{k: o[k] for k in ("relationship", "person", "outcome", "to_date")} for o in record],
                "reason": reason,
                "also_closed": [c.pk for c in closed],
            },
        )
    return conflict


def _validate(conflict: FamilyConflict, rels: list[Relationship], given: dict[int, Outcome], reason: str) -> None:
    errors: dict[str, list[str]] = {}
    today = timezone.localdate()
    kept = [r for r in rels if r.pk in given and given[r.pk].outcome == KEEP]
    for i, rel in enumerate(rels, start=1):
        name = rel.person.display_name
        o = given.get(rel.pk)
        if o is None or o.outcome not in {KEEP, ENDED, ERROR}:
            errors[f"outcome-{i}"] = [
                _("Say whether %(name)s's relationship is right, has ended or is wrong") % {"name": name}
            ]
            continue
        if len(o.note.strip()) > NOTE_MAX:
            errors[f"note-{i}"] = [
                _("The note must be %(limit_value)s characters or fewer") % {"limit_value": NOTE_MAX}
            ]
        if o.outcome == ENDED:
            if o.ended_on is None:
                errors[f"ended-{i}"] = [_("Enter the date %(name)s's relationship ended") % {"name": name}]
            elif o.ended_on > today:
                errors[f"ended-{i}"] = [_("The date it ended must be today or in the past")]
            elif rel.from_date and o.ended_on < rel.from_date:
                errors[f"ended-{i}"] = [_("The date it ended must be after the date it began")]
        if (
            o.outcome == KEEP
            and conflict.kind == "too_many_parents"
            and len(kept) > 2
            and not (o.note.strip() or rel.note)
        ):
            errors[f"note-{i}"] = [
                _("You are keeping more than two parents: say which parent %(name)s is, for example birth mother or adoptive mother")
                % {"name": name}
            ]  # fmt: skip
    if not reason:
        errors["reason"] = [_("Say why: what you checked, and with whom")]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [_("The reason must be %(limit_value)s characters or fewer") % {"limit_value": REASON_MAX}]
    if errors:
        raise ValidationError(errors)


def _close_settled(child: Person, *, decided_by: FamilyConflict) -> list[FamilyConflict]:
    """The child's other open conflicts that the decision settled (the too-young "parent" was
    recorded in error): closed, naming the decision, so nobody is asked twice."""
    still = {f.kind for f in findings(child) if not decided(child, f.kind, f.relationships)}
    closed = []
    for other in FamilyConflict.objects.select_for_update().filter(person=child, resolved=False):
        if other.kind not in still:
            other.resolved = True
            other.resolved_at = decided_by.resolved_at
            other.resolved_by = decided_by.resolved_by
            other.note = f"settled by the decision on family conflict {decided_by.pk}"
            other.save(update_fields=["resolved", "resolved_at", "resolved_by", "note"])
            closed.append(other)
    return closed


OUTCOME_WORDS = {KEEP: "right", ENDED: "ended", ERROR: "recorded in error"}


def _on_spine(conflict: FamilyConflict, *, actor: User, when) -> None:
    """One entry on the child's chronology: what was decided about whom, and why."""
    from cylch.events.services import record_event
    from cylch.identity.events import FAMILY_REVIEWED

    lines = [f"Family relationships reviewed: {KIND_SUMMARY.get(conflict.kind, conflict.kind)}."]
    for o in conflict.outcomes:
        words = OUTCOME_WORDS[o["outcome"]]
        if o["outcome"] == ENDED and o["to_date"]:
            words = f"ended {date.fromisoformat(o['to_date']).strftime('%d/%m/%Y')}"
        note = f" ({o['note']})" if o["note"] else ""
        lines.append(f"{o['name']}, {o['kind'].replace('_', ' ')}{note}: {words}.")
    lines.append(f"Reason: {conflict.note}")
    record_event(
        organisation=actor.organisation, code=FAMILY_REVIEWED, occurred_at=when, person=conflict.person,
        summary="\n".join(lines), recorded_by=actor, audit=False, external_id=f"family-conflict:{conflict.pk}",
    )  # fmt: skip
