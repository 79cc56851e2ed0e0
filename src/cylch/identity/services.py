"""Writes to the person index. Each function validates, writes and audits in one transaction."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import Organisation, User
from cylch.identity.models import (
    AgencyRecord,
    Allocation,
    Household,
    HouseholdMembership,
    LinkMethod,
    Person,
    PersonLink,
    Relationship,
    Sex,
    match_keys,
)
from cylch.identity.names import search_key
from cylch.identity.postcodes import stored_postcode
from cylch.identity.signals import link_undone
from cylch.identity.validators import validate_nhs_number, validate_upn

# Ids per IN (...) list: well inside SQLite's and PostgreSQL's limits on parameters.
CHUNK = 500

# Read for every record a batch sends: ``Sex.values`` builds its list on each use.
SEXES = frozenset(Sex.values)

RECORD_FIELDS = (
    "given_name",
    "family_name",
    "other_names",
    "date_of_birth",
    "sex",
    "address_line",
    "town",
    "postcode",
    "nhs_number",
    "upn",
    "expected_date_of_delivery",
)


def clean_record_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise an agency's fields. Raises ``ValidationError`` keyed by field."""
    unknown = set(data) - set(RECORD_FIELDS) - {"extra"}
    errors: dict[str, list[str]] = {f: [_("Unknown field.")] for f in sorted(unknown)}
    out: dict[str, Any] = {}
    for field in RECORD_FIELDS:
        value = data.get(field)
        if value in (None, ""):
            continue
        try:
            if field == "nhs_number":
                value = validate_nhs_number(str(value))
            elif field == "upn":
                value = validate_upn(str(value))
            elif field in {"date_of_birth", "expected_date_of_delivery"}:
                value = value if isinstance(value, date) else date.fromisoformat(str(value))
            elif field == "sex":
                if value not in SEXES:
                    raise ValidationError(_("Use one of %(values)s.") % {"values": ", ".join(Sex.values)})
            elif field == "postcode":
                value = " ".join(str(value).upper().split())
            else:
                value = str(value).strip()
        except ValueError:
            errors.setdefault(field, []).append(
                _("“%(value)s” is not a date in the form YYYY-MM-DD.") % {"value": value}
            )
            continue
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)
            continue
        out[field] = value
    if data.get("extra"):
        out["extra"] = dict(data["extra"])
    if errors:
        raise ValidationError(errors)
    return out


@dataclass(frozen=True)
class RecordResult:
    record: AgencyRecord
    person: Person
    record_created: bool
    person_created: bool
    link_method: str


def _find_by_identifier(fields: dict[str, Any]) -> tuple[Person | None, str]:
    """Deterministic linkage: the same valid NHS number, else the same pupil number."""
    if fields.get("nhs_number"):
        person = Person.objects.current().filter(nhs_number=fields["nhs_number"]).order_by("id").first()
        if person:
            return person, LinkMethod.NHS_NUMBER
    if fields.get("upn"):
        person = Person.objects.current().filter(upn=fields["upn"]).order_by("id").first()
        if person:
            return person, LinkMethod.UPN
    return None, LinkMethod.NEW_PERSON


def person_from_fields(fields: dict[str, Any]) -> Person:
    person = Person(
        given_name=fields.get("given_name", ""),
        family_name=fields.get("family_name", ""),
        other_names=fields.get("other_names", ""),
        date_of_birth=fields.get("date_of_birth"),
        sex=fields.get("sex", Sex.UNKNOWN),
        nhs_number=fields.get("nhs_number", ""),
        upn=fields.get("upn", ""),
        is_unborn=bool(fields.get("expected_date_of_delivery") and not fields.get("date_of_birth")),
        expected_date_of_delivery=fields.get("expected_date_of_delivery"),
    )
    person.search_name = search_key(person.given_name, person.family_name, person.other_names)
    return person


def _enrich(person: Person, fields: dict[str, Any]) -> list[str]:
    """Fill gaps in the person from a newly linked record and learn the record's spelling.

    Returns the fields changed. A person a batch has made but not stored yet
    (``identity/records_batch.py``) is stored as it then stands."""
    changed = []
    for field in ("date_of_birth", "nhs_number", "upn"):
        if fields.get(field) and not getattr(person, field):
            setattr(person, field, fields[field])
            changed.append(field)
    key = search_key(person.search_name, fields.get("given_name", ""), fields.get("family_name", ""))
    if key != person.search_name:
        person.search_name = key
        changed.append("search_name")
    if changed and person.pk is not None:
        person.save(update_fields=[*changed, "modified_at"])
    return changed


def _online_match(fields: dict[str, Any], record: AgencyRecord, prescored=None, hidden=()):
    """The linkage model's best candidate for a record no identifier linked (None when switched off)."""
    if not settings.CYLCH_ONLINE_LINKAGE:
        return None
    from cylch.identity.linkage.online import best_match

    return best_match(fields, exclude_record=record.pk, prescored=prescored, hidden=hidden)


def _record_saved(
    organisation: Organisation, local_id: str, fields: dict[str, Any], actor: User | None, known_new: bool
) -> tuple[AgencyRecord, bool]:
    """The organisation's record with this id, written with ``fields``, and whether it is new."""
    record = (
        None
        if known_new
        else AgencyRecord.objects.select_for_update().filter(organisation=organisation, local_id=local_id).first()
    )
    created = record is None
    if created:
        record = AgencyRecord(organisation=organisation, local_id=local_id, created_by=actor)
    for field, value in fields.items():
        setattr(record, field, value)
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        if not created:
            raise
        # Another request stored this record between our look and our insert (a resend racing
        # its original, tests/test_faults.py): carry on with theirs, as if it had been there.
        record = AgencyRecord.objects.select_for_update().get(organisation=organisation, local_id=local_id)
        created = False
        for field, value in fields.items():
            setattr(record, field, value)
        record.save()
    return record, created


def agency_record_upsert(
    *,
    organisation: Organisation,
    local_id: str,
    data: dict[str, Any],
    actor: User | None = None,
    audit: bool = True,
    link_to: Person | None = None,
    prescored=None,
    known_new: bool = False,
    stored: AgencyRecord | None = None,
    hidden: Collection[int] = (),
) -> RecordResult:
    """Store what an organisation holds about someone and link it to a person.

    A new record links deterministically on a valid NHS number or pupil number; failing that
    the linkage model scores it against the records held: at or above the auto-link weight it
    joins that person, in the review band it starts a new person and a review task, below it
    starts a new person. A record sent again is updated in place; its existing link stands.
    ``prescored`` is the linkage model's scoring of the record's candidates done beforehand for a
    whole batch (``linkage.online.prescore``), used if the candidates are still the same.
    ``known_new``: the caller read, in this transaction, that the organisation holds no record
    with this id, so it is not looked for again (one held after all, stored meanwhile by a
    concurrent request, is found when the insert fails, as before).
    ``stored``: the record, inserted with these fields by the caller in this transaction and not
    linked yet; ``hidden``: records the linkage model is not to see as candidates (both for a
    batch that stores its new records together before linking each in turn:
    ``identity/records_batch.py``).
    """
    if not local_id or not str(local_id).strip():
        raise ValidationError({"local_id": [_("The organisation's own identifier is required.")]})
    fields = clean_record_fields(data)
    with transaction.atomic():
        if stored is not None:
            record, record_created = stored, True  # inserted by the caller, with these fields
        else:
            record, record_created = _record_saved(organisation, local_id, fields, actor, known_new)
        # A record this call has just inserted has no links yet.
        link = None if record_created else record.links.filter(active=True).select_related("person").first()
        person_created = False
        if link:
            person, method = link.person, link.method
            _enrich(person, fields)
        elif link_to is not None:
            person, method = link_to, LinkMethod.DEMOGRAPHIC
            PersonLink.objects.create(agency_record=record, person=person, method=method)
        else:
            person, method = _find_by_identifier(fields)
            match = _online_match(fields, record, prescored, hidden) if person is None else None
            if match is not None and match.decision == "link":
                person, method = Person.objects.get(pk=match.person_id).live(), LinkMethod.PROBABILISTIC
            if person is None:
                person = person_from_fields(fields)
                person.created_by = actor
                person.save()
                person_created = True
            else:
                _enrich(person, fields)
            PersonLink.objects.create(
                agency_record=record,
                person=person,
                method=method,
                score=match.probability if method == LinkMethod.PROBABILISTIC else None,
                model_version=match.model_version if method == LinkMethod.PROBABILISTIC else "",
            )
            if match is not None and match.decision == "review":
                from cylch.identity.linking import review_raise
                from cylch.identity.models import ReviewReason

                review_raise(
                    record_a=record.pk, record_b=match.record_id, weight=match.weight,
                    probability=match.probability, model_version=match.model_version, reason=ReviewReason.UNCERTAIN,
                )  # fmt: skip
        if audit:
            audit_record(
                action="write",
                actor=actor,
                organisation_code=organisation.code,
                object_type="agency_record",
                object_id=record.public_id,
                purpose="agency record received",
                detail={"person": str(person.public_id), "link": method, "new": record_created},
            )
    return RecordResult(record, person, record_created, person_created, method)


def link_retire(link: PersonLink, *, actor: User | None, reason: str) -> None:
    """End a link, keeping who ended it and why (the row stays: links are never deleted)."""
    link.active = False
    link.undone_at = timezone.now()
    link.undone_by = actor
    link.undo_reason = reason
    link.save(update_fields=["active", "undone_at", "undone_by", "undo_reason"])


def link_undo(*, link: PersonLink, actor: User, reason: str) -> Person:
    """Detach an agency record from a wrongly linked person onto a new person of its own.

    Events stay with the agency record, so they move with it; nothing is lost. What was built on
    the moved entries is revisited through ``link_undone`` in the same transaction: the rules app
    flags every alert they were evidence for and runs the rules for them on their new person
    (docs/identity.md, "Undoing a link").
    """
    if not reason.strip():
        raise ValidationError({"reason": [_("Say why the link is wrong.")]})
    with transaction.atomic():
        link_retire(link, actor=actor, reason=reason)
        record = link.agency_record
        fields = {f: getattr(record, f) for f in RECORD_FIELDS if getattr(record, f)}
        person = person_from_fields(fields)
        person.created_by = actor
        person.save()
        PersonLink.objects.create(
            agency_record=record,
            person=person,
            method=LinkMethod.CLERICAL,
            confirmed_by=actor,
            confirmed_at=timezone.now(),
        )
        from cylch.events.models import Event

        moved = list(Event.objects.filter(agency_record=record).order_by("pk").values_list("pk", flat=True))
        Event.objects.filter(agency_record=record).update(person=person)
        audit_record(
            action="write",
            actor=actor,
            object_type="person_link",
            object_id=link.pk,
            purpose="link undone",
            detail={"reason": reason, "new_person": str(person.public_id), "events_moved": len(moved)},
        )
        link_undone.send(
            sender=PersonLink, link=link, old_person=link.person, new_person=person, event_ids=moved,
            actor=actor, reason=reason,
        )  # fmt: skip
    return person


def household_create(
    *, address_line: str, town: str = "", postcode: str = "", local_authority=None, actor: User | None = None
) -> Household:
    if not address_line.strip():
        raise ValidationError({"address_line": [_("An address is required.")]})
    household = Household.objects.create(
        address_line=address_line.strip(),
        town=town.strip(),
        postcode=stored_postcode(postcode),
        local_authority=local_authority,
        created_by=actor,
    )
    audit_record(
        action="write",
        actor=actor,
        object_type="household",
        object_id=household.public_id,
        purpose="household recorded",
    )
    return household


def household_add_member(
    *, household: Household, person: Person, from_date: date | None = None, actor: User | None = None
) -> HouseholdMembership:
    """Move a person into a household, closing their current membership elsewhere."""
    with transaction.atomic():
        today = from_date or timezone.localdate()
        HouseholdMembership.objects.filter(person=person, to_date__isnull=True).exclude(household=household).update(
            to_date=today
        )
        membership, _created = HouseholdMembership.objects.get_or_create(
            household=household, person=person, to_date=None, defaults={"from_date": from_date}
        )
        audit_member_added(household, person, actor)
    return membership


def audit_member_added(household: Household, person: Person, actor: User | None) -> None:
    """The audit entry of someone joining a household (also for the first homes ``place`` inserts together)."""
    audit_record(
        action="write",
        actor=actor,
        object_type="household",
        object_id=household.public_id,
        purpose="household member added",
        detail={"person": str(person.public_id)},
    )


SYMMETRIC = {"sibling", "half_sibling", "partner"}


def relationship_add(
    *,
    person: Person,
    kind: str,
    relative: Person,
    parental_responsibility: bool = False,
    lives_with: bool = False,
    source_organisation: Organisation | None = None,
    actor: User | None = None,
) -> Relationship:
    """Record that ``person`` is ``kind`` of ``relative`` (siblings and partners both ways)."""
    if person.pk == relative.pk:
        raise ValidationError({"relative": [_("A person cannot be related to themselves.")]})
    with transaction.atomic():
        rel, _created = Relationship.objects.update_or_create(
            person=person,
            kind=kind,
            relative=relative,
            defaults={
                "parental_responsibility": parental_responsibility,
                "lives_with": lives_with,
                "source_organisation": source_organisation,
            },
        )
        if kind in SYMMETRIC:
            Relationship.objects.update_or_create(
                person=relative,
                kind=kind,
                relative=person,
                defaults={"lives_with": lives_with, "source_organisation": source_organisation},
            )
        if kind == "parent":
            from cylch.identity.network import check_child

            check_child(relative)
        audit_record(
            action="write",
            actor=actor,
            object_type="relationship",
            object_id=rel.pk,
            purpose="relationship recorded",
            detail={"person": str(person.public_id), "kind": kind, "relative": str(relative.public_id)},
        )
    return rel


def allocation_create(
    *,
    person: Person,
    organisation: Organisation,
    kind: str,
    practitioner: User | None = None,
    from_date: date | None = None,
    actor: User | None = None,
) -> Allocation:
    allocation = Allocation.objects.create(
        person=person,
        organisation=organisation,
        kind=kind,
        practitioner=practitioner,
        from_date=from_date or timezone.localdate(),
        created_by=actor,
    )
    audit_record(
        action="write",
        actor=actor,
        object_type="allocation",
        object_id=allocation.public_id,
        purpose="allocation recorded",
        detail={"person": str(person.public_id), "organisation": organisation.code, "kind": kind},
    )
    return allocation


REKEY_BATCH = 5000


def agency_record_keys_remake(*, batch: int = REKEY_BATCH, progress=None, actor_label: str = "cylch link rekey") -> int:
    """Make every agency record's stored linkage keys (``AgencyRecord.MATCH_KEYS``) again from
    the fields they come from; returns how many records changed.

    The keys are written when a record is saved, so a change to how they are made
    (``identity/names.py``, ``linkage/features.py``) leaves the records already held with the old
    keys, and online matching then misses candidates. Reads ``batch`` records at a time in id
    order (a hub of a million is never held in memory) and writes only the keys that differ,
    each batch in its own transaction: a second run changes nothing. ``modified_at`` is left
    alone (households read it as when the agency last wrote). ``progress(n)`` is called with
    the records read in each batch.
    """
    keys = list(AgencyRecord.MATCH_KEYS)
    sources = [source for _column, source, _name in AgencyRecord.MATCH_KEYS.values()]
    qs = AgencyRecord.objects.order_by("pk").only("pk", *sources, *keys)
    last, changed = 0, 0
    while rows := list(qs.filter(pk__gt=last)[:batch]):
        last = rows[-1].pk
        # key -> new value -> the records that get it: one UPDATE per value, since a change to
        # how keys are made gives many records the same new value (every "Dai" is now "dafydd").
        # bulk_update's CASE per row cost 1.6 ms of CPU a row.
        writes: dict[str, dict[str, list[int]]] = {key: {} for key in keys}
        stale: set[int] = set()
        for record in rows:
            for key, value in match_keys(record).items():
                if getattr(record, key) != value:
                    writes[key].setdefault(value, []).append(record.pk)
                    stale.add(record.pk)
        if stale:
            with transaction.atomic():
                for key, by_value in writes.items():
                    for value, pks in by_value.items():
                        for i in range(0, len(pks), CHUNK):
                            AgencyRecord.objects.filter(pk__in=pks[i : i + CHUNK]).update(**{key: value})
        changed += len(stale)
        if progress is not None:
            progress(len(rows))
    audit_record(
        action="write",
        actor_label=actor_label,
        object_type="agency_record",
        object_id=changed,
        purpose="linkage keys remade",
        detail={"changed": changed, "keys": keys},
    )
    return changed
