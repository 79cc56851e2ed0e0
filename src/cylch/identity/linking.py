"""Probabilistic linking in the person index: review tasks, merges, and applying a batch run.

Rules that keep people safe from the machine: a link made on a trusted identifier, by a
person, or at birth is never undone by a batch; a reviewer's "different people" is never
linked again and "same person" never split; every merge is audited and keeps the merged
person as a pointer (``merged_into``) so old references still resolve.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cylch.access.audit import audit_record
from cylch.access.models import User
from cylch.identity.linkage.batch import BatchResult, ReviewPair
from cylch.identity.linkage.model import LinkageModel
from cylch.identity.models import (
    AgencyRecord,
    FamilyConflict,
    HouseholdMembership,
    LinkMethod,
    MatchReview,
    Person,
    PersonLink,
    Relationship,
    ReviewReason,
    ReviewStatus,
)
from cylch.identity.services import link_retire

# Links a batch run must keep: a trusted identifier, a person's decision, a birth, or the
# record that founded the person. Only probabilistic links are the batch's to remake.
HARD_METHODS = frozenset(
    {LinkMethod.NHS_NUMBER, LinkMethod.UPN, LinkMethod.CLERICAL, LinkMethod.BIRTH, LinkMethod.DEMOGRAPHIC,
     LinkMethod.NEW_PERSON}
)  # fmt: skip


def review_raise(
    *, record_a: int, record_b: int, weight: float, probability: float, model_version: str, reason: str
) -> MatchReview | None:
    """Open a review task for a pair, unless the pair already has one (open or decided)."""
    a, b = sorted((int(record_a), int(record_b)))
    if a == b:
        return None
    review, created = MatchReview.objects.get_or_create(
        record_a_id=a,
        record_b_id=b,
        defaults={"weight": weight, "probability": probability, "model_version": model_version, "reason": reason},
    )
    return review if created else None


def person_merge(
    *, source: Person, target: Person, actor: User | None, reason: str, score: float | None = None,
    model_version: str = "", method: str = LinkMethod.PROBABILISTIC,
) -> Person:  # fmt: skip
    """Move everything about ``source`` onto ``target``; ``source`` remains as a pointer."""
    if source.pk == target.pk:
        return target
    with transaction.atomic():
        now = timezone.now()
        links = list(PersonLink.objects.select_for_update().filter(person=source, active=True))
        for link in links:
            link_retire(link, actor=actor, reason=f"merged into person {target.public_id}: {reason}")
            PersonLink.objects.create(
                agency_record_id=link.agency_record_id,
                person=target,
                method=method,
                score=score,
                model_version=model_version,
                confirmed_by=actor if method == LinkMethod.CLERICAL else None,
                confirmed_at=now if method == LinkMethod.CLERICAL else None,
            )
        _move_related(source, target)
        for f in ("date_of_birth", "nhs_number", "upn"):
            if not getattr(target, f) and getattr(source, f):
                setattr(target, f, getattr(source, f))
        from cylch.identity.names import search_key

        target.search_name = search_key(target.search_name, source.search_name)
        target.save()
        source.merged_into = target
        source.save(update_fields=["merged_into", "modified_at"])
        from cylch.identity.network import check_people

        check_people([target])
        audit_record(
            action="write",
            actor=actor,
            actor_label="" if actor else "cylch linkage",
            object_type="person",
            object_id=source.public_id,
            purpose="person merged",
            detail={"into": str(target.public_id), "reason": reason, "score": score, "model": model_version,
                    "records": [link.agency_record_id for link in links]},
        )  # fmt: skip
    return target


def _move_related(source: Person, target: Person) -> None:
    """Re-point every row that refers to ``source``; a row that would duplicate one is dropped."""
    from cylch.events.models import Event

    Event.objects.filter(person=source).update(person=target)
    for m in HouseholdMembership.objects.filter(person=source):
        if HouseholdMembership.objects.filter(person=target, household_id=m.household_id, to_date=m.to_date).exists():
            m.delete()
        else:
            m.person = target
            m.save(update_fields=["person"])
    for rel in Relationship.objects.filter(Q(person=source) | Q(relative=source)):
        new_person = target if rel.person_id == source.pk else rel.person
        new_relative = target if rel.relative_id == source.pk else rel.relative
        if (
            new_person.pk == new_relative.pk
            or Relationship.objects.filter(person=new_person, kind=rel.kind, relative=new_relative).exists()
        ):
            rel.delete()
            continue
        rel.person, rel.relative = new_person, new_relative
        rel.save(update_fields=["person", "relative"])
    # Open family conflicts were about the old person; the merged person is checked afresh.
    FamilyConflict.objects.filter(person=source, resolved=False).update(
        resolved=True, resolved_at=timezone.now(), note=f"person merged into {target.public_id}"
    )
    skip = {"links", "memberships", "relationships_out", "relationships_in", "merged_from", "events"}
    for rel in Person._meta.related_objects:
        if rel.name in skip or not rel.one_to_many:
            continue
        # Nothing is dropped: a row that cannot move fails the whole merge, which then rolls back.
        rel.related_model._default_manager.filter(**{rel.field.name: source}).update(**{rel.field.name: target})


def review_decide(*, review: MatchReview, same: bool, actor: User, note: str = "") -> MatchReview:
    """Record a reviewer's decision; "same" merges the two people at once."""
    if review.status != ReviewStatus.OPEN:
        raise ValidationError({"status": ["This pair has already been decided."]})
    if not same and not note.strip():
        raise ValidationError({"note": ["Say what shows they are different people."]})
    with transaction.atomic():
        review = MatchReview.objects.select_for_update().get(pk=review.pk)
        if review.status != ReviewStatus.OPEN:
            raise ValidationError({"status": ["This pair has already been decided."]})
        review.status = ReviewStatus.SAME if same else ReviewStatus.DIFFERENT
        review.decided_by = actor
        review.decided_at = timezone.now()
        review.note = note.strip()
        review.save(update_fields=["status", "decided_by", "decided_at", "note"])
        if same:
            a = _person_of(review.record_a_id)
            b = _person_of(review.record_b_id)
            if a.pk != b.pk:
                target, source = _keeper(a, b)
                person_merge(
                    source=source, target=target, actor=actor, reason="confirmed the same person in review",
                    method=LinkMethod.CLERICAL,
                )  # fmt: skip
        audit_record(
            action="write",
            actor=actor,
            object_type="match_review",
            object_id=review.pk,
            purpose="match reviewed",
            detail={"decision": review.status, "records": [review.record_a_id, review.record_b_id]},
        )
    return review


def _person_of(record_id: int) -> Person:
    return PersonLink.objects.select_related("person").get(agency_record_id=record_id, active=True).person.live()


def _keeper(a: Person, b: Person) -> tuple[Person, Person]:
    """The person with more records stays (then the older); the other merges into them."""
    ca = PersonLink.objects.filter(person=a, active=True).count()
    cb = PersonLink.objects.filter(person=b, active=True).count()
    return (a, b) if (ca, -a.pk) >= (cb, -b.pk) else (b, a)


@dataclass
class ApplySummary:
    merged: int = 0
    moved: int = 0
    reviews_opened: int = 0
    clusters: int = 0
    notes: list[str] = field(default_factory=list)


def hub_constraints() -> tuple[list[tuple[str, str]], set[frozenset[str]]]:
    """Must-link pairs (records held together by hard links) and cannot-link pairs (reviewers)."""
    must: list[tuple[str, str]] = []
    first: dict[int, str] = {}
    for record_id, person_id in PersonLink.objects.filter(active=True, method__in=HARD_METHODS).values_list(
        "agency_record_id", "person_id"
    ):
        rid = str(record_id)
        if person_id in first:
            must.append((first[person_id], rid))
        else:
            first[person_id] = rid
    for a, b in MatchReview.objects.filter(status=ReviewStatus.SAME).values_list("record_a_id", "record_b_id"):
        must.append((str(a), str(b)))
    cannot = {
        frozenset((str(a), str(b)))
        for a, b in MatchReview.objects.filter(status=ReviewStatus.DIFFERENT).values_list("record_a_id", "record_b_id")
    }
    return must, cannot


def apply_batch(result: BatchResult, model: LinkageModel, *, actor: User | None = None) -> ApplySummary:
    """Make the person index agree with a batch run's clusters, within the rules above."""
    summary = ApplySummary()
    current = dict(PersonLink.objects.filter(active=True).values_list("agency_record_id", "person_id"))
    hard = set(
        PersonLink.objects.filter(active=True, method__in=HARD_METHODS).values_list("agency_record_id", flat=True)
    )
    from cylch.events.models import Event
    from cylch.identity.services import RECORD_FIELDS, person_from_fields

    persons_with_hard = {current[r] for r in hard if r in current}
    with transaction.atomic():
        for members in result.clusters().values():
            records = [int(m) for m in members if int(m) in current]
            if not records:
                continue
            hard_persons = Counter(current[r] for r in records if r in hard)
            owners = {current[r] for r in records}
            if len(owners) == 1 and (hard_persons or next(iter(owners)) not in persons_with_hard):
                continue  # already one person, and theirs alone: nothing to change (no query)
            if hard_persons:
                target = Person.objects.get(pk=hard_persons.most_common(1)[0][0]).live()
            else:
                first = AgencyRecord.objects.get(pk=records[0])
                target = person_from_fields({f: getattr(first, f) for f in RECORD_FIELDS if getattr(first, f)})
                target.save()
            if len(records) > 1:
                summary.clusters += 1
            for pid in set(hard_persons) - {target.pk}:
                source = Person.objects.get(pk=pid)
                if source.merged_into_id:
                    continue
                person_merge(source=source, target=target, actor=actor, reason="batch linkage",
                             score=None, model_version=model.version)  # fmt: skip
                summary.merged += 1
            soft = [r for r in records if r not in hard]
            for link in PersonLink.objects.filter(agency_record_id__in=soft, active=True).select_related("person"):
                if link.person.live().pk == target.pk:
                    continue
                link_retire(link, actor=actor, reason=f"re-linked by batch linkage {model.version}")
                PersonLink.objects.create(
                    agency_record_id=link.agency_record_id, person=target, method=LinkMethod.PROBABILISTIC,
                    model_version=model.version,
                )  # fmt: skip
                Event.objects.filter(agency_record_id=link.agency_record_id).update(person=target)
                summary.moved += 1
        for pair in result.review:
            if review_raise(
                record_a=int(pair.left), record_b=int(pair.right), weight=pair.weight,
                probability=_probability(pair), model_version=model.version,
                reason=ReviewReason.CONFLICT if pair.reason == "conflict" else ReviewReason.UNCERTAIN,
            ):  # fmt: skip
                summary.reviews_opened += 1
        audit_record(
            action="write",
            actor=actor,
            actor_label="" if actor else "cylch link run",
            object_type="linkage_run",
            object_id=model.version,
            purpose="batch linkage applied",
            detail={"merged": summary.merged, "moved": summary.moved, "reviews": summary.reviews_opened,
                    "records": len(result.cluster_of)},
        )  # fmt: skip
    return summary


def _probability(pair: ReviewPair) -> float:
    return 1 - 1 / (1 + 2**pair.weight)


def records_of(review: MatchReview) -> tuple[AgencyRecord, AgencyRecord]:
    return (
        AgencyRecord.objects.select_related("organisation").get(pk=review.record_a_id),
        AgencyRecord.objects.select_related("organisation").get(pk=review.record_b_id),
    )
