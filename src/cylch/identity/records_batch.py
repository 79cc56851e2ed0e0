"""A batch's agency records, stored and linked as one by one, with the writes made together.

Sent alone, a record new to the hub costs eleven queries (docs/bench.md, "Intake"): two
savepoints, its insert, the look for its NHS and pupil numbers, its candidates read again, their
links, the new person and the link. A batch of a thousand events carries fifty or so, and they
were a third of its time. Here the batch's new records are inserted in one statement before
any is linked, their candidates scored in one comparison (``linkage.online.prescore``), the
people holding the batch's identifiers and the links of every candidate read once, and each
new record is then decided in its turn, in the batch's order, from what was read and what the
batch has done since; the people it makes and the links go in together at the end.

A decision is made this way only where it is the one the record would get alone at that
moment, which holds while nothing the batch wrote before it could be one of its candidates
(no record written since the scoring is among them, and no blocking rule holds between it and
a record the batch has written: :class:`_Written`), and the person's other records do not
decide it (``online.weighs_whole_person``). Any other record is linked by
``agency_record_upsert`` itself, after what the batch has decided so far is stored, with the
batch's records not yet reached hidden from its search, exactly as it would have been linked
alone. If another sender stores one of the new records first, the batch links every record
that way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from cylch.access.models import Organisation, User
from cylch.core.bulk import id_chunks, insert_rows
from cylch.identity.models import AgencyRecord, LinkMethod, Person, PersonLink
from cylch.identity.services import (
    RecordResult,
    _enrich,
    agency_record_upsert,
    clean_record_fields,
    person_from_fields,
)

IDENTIFIERS = (("nhs_number", LinkMethod.NHS_NUMBER), ("upn", LinkMethod.UPN))
_LAST = float("inf")  # where a person not stored yet stands in id order: after everyone stored


def agency_records_upsert(
    *, organisation: Organisation, subjects: list[tuple[str, dict[str, Any]]], actor: User | None = None
) -> Iterator[RecordResult | ValidationError]:
    """``agency_record_upsert`` for many records of one organisation, in order, without audit.

    The records already held and their links are read in one query each (locked in id order, so
    two batches cannot take each other's records in opposite orders), and a held record is
    written only when what was sent changes it. The records not held yet are inserted together
    and linked as the module docstring says, each as it would be linked sent alone at its turn.

    The held records are locked, and the new ones inserted, before this returns. The results
    come from the iterator it returns: each subject's result, or the ``ValidationError`` that
    refused it, in order, so a caller reading the person sees them as that record left them, as
    if the records had been sent one by one. The people the batch makes are stored when the
    iterator ends; until then they have no id.
    """
    local_ids = sorted({str(local_id) for local_id, _data in subjects if local_id and str(local_id).strip()})
    records: dict[str, AgencyRecord] = {}
    for chunk in id_chunks(local_ids):
        held = AgencyRecord.objects.select_for_update().filter(organisation=organisation, local_id__in=chunk)
        records.update((record.local_id, record) for record in held.order_by("pk"))
    batch = _Batch(organisation, actor, records)
    batch.read_links()
    batch.insert_new(subjects)
    return batch.each(subjects)


class _Written:
    """The rows (prepared for the blocking rules) of the records a batch has written, indexed so
    that whether any rule holds between one of them and a new record is a few lookups.

    ``online._holds(terms, new, written)`` holds when the new record's left columns equal the
    written one's right columns, or the written one's left columns equal the new one's right,
    none unknown: each written row is kept by both sides of each rule."""

    def __init__(self, rules) -> None:
        self.rules = rules
        self.left: list[set] = [set() for _ in rules]
        self.right: list[set] = [set() for _ in rules]
        self.unindexable = False  # a rule on a column whose values cannot be hashed: all near

    def add(self, row: dict[str, Any]) -> None:
        try:
            for i, terms in enumerate(self.rules):
                left = tuple(row.get(x) for x, _y in terms)
                right = tuple(row.get(y) for _x, y in terms)
                if None not in left:
                    self.left[i].add(left)
                if None not in right:
                    self.right[i].add(right)
        except TypeError:
            self.unindexable = True

    def near(self, row: dict[str, Any]) -> bool:
        """Whether a rule holds between ``row`` and a written record's row."""
        if self.unindexable:
            return True
        try:
            for i, terms in enumerate(self.rules):
                left = tuple(row.get(x) for x, _y in terms)
                right = tuple(row.get(y) for _x, y in terms)
                if (None not in left and left in self.right[i]) or right in self.left[i]:
                    return True
        except TypeError:
            return True
        return False


class _Batch:
    """What a batch has read and done so far, for deciding its new records in turn."""

    def __init__(self, organisation: Organisation, actor: User | None, records: dict[str, AgencyRecord]) -> None:
        from cylch.identity.linkage import online

        self.online = online
        self.organisation, self.actor, self.records = organisation, actor, records
        self.persons: dict[int, Person] = {}  # each stored person once, as the batch left them
        # record -> (person, how linked); the person by id, or itself while not stored.
        self.links: dict[int, tuple[int | Person, str]] = {}
        self.fresh: dict[str, AgencyRecord] = {}  # inserted together, turn not reached
        self.hidden: set[int] = set()  # their ids
        self.prescored: dict[str, Any] = {}
        self.person_of: dict[int, int] = {}  # candidate record -> its person
        self.by_identifier: dict[str, dict[str, int | Person]] = {field: {} for field, _m in IDENTIFIERS}
        self.written: set[int] = set()  # records written since the scores were worked out
        self.model = online.active_model() if settings.CYLCH_ONLINE_LINKAGE else None
        self.written_rows = _Written(online.blocking_terms(self.model) if self.model else ())
        self.new_persons: list[Person] = []
        self.new_links: list[PersonLink] = []

    # --- reading, before the first record's turn --------------------------------------------------

    def read_links(self) -> None:
        held = [r.pk for r in self.records.values()]
        for chunk in id_chunks(held):
            active = PersonLink.objects.filter(agency_record_id__in=chunk, active=True)
            for link in active.select_related("person"):
                self.persons.setdefault(link.person_id, link.person)
                self.links[link.agency_record_id] = (link.person_id, link.method)

    def insert_new(self, subjects: list[tuple[str, dict[str, Any]]]) -> None:
        """Insert the records not held yet (as the first subject naming each sends it), score
        them, and read what deciding them needs: the people holding their identifiers and the
        links of their candidates."""
        new: dict[str, dict[str, Any]] = {}  # local id -> cleaned fields, of records to link
        first: set[str] = set()
        for local_id, data in subjects:
            if not local_id or not str(local_id).strip() or str(local_id) in first:
                continue
            local_id = str(local_id)
            first.add(local_id)  # a later subject naming it finds it stored, whatever this one does
            record = self.records.get(local_id)
            if record is not None and record.pk in self.links:
                continue
            try:
                new[local_id] = clean_record_fields(data)
            except ValidationError:
                continue  # refused when its turn comes
        # Scored against the records held before the batch, as in the first record's turn.
        if self.model is not None and len(new) >= 2:  # for one, scoring it in its turn costs the same
            self.prescored = dict(zip(new, self.online.prescore(list(new.values()), model=self.model), strict=True))
        fresh = [
            AgencyRecord(organisation=self.organisation, local_id=local_id, created_by=self.actor, **fields)
            for local_id, fields in new.items()
            if local_id not in self.records
        ]
        for record in fresh:
            record.fill_match_keys()
        if fresh:
            try:
                with transaction.atomic():
                    insert_rows(AgencyRecord, fresh)
            except IntegrityError:
                fresh = []  # another sender stored one meanwhile: each is linked on its own
        self.fresh = {r.local_id: r for r in fresh}
        self.hidden = {r.pk for r in fresh}
        candidates = {pk for scores in self.prescored.values() for pk in scores.candidates}
        for chunk in id_chunks(candidates):
            self.person_of.update(
                PersonLink.objects.filter(agency_record_id__in=chunk, active=True).values_list(
                    "agency_record_id", "person_id"
                )
            )
        for field, _method in IDENTIFIERS:
            values = {fields[field] for local_id, fields in new.items() if local_id in self.fresh and fields.get(field)}
            for chunk in id_chunks(values):
                for person in Person.objects.current().filter(**{f"{field}__in": chunk}).order_by("-pk"):
                    self.persons.setdefault(person.pk, person)
                    self.by_identifier[field][getattr(person, field)] = person.pk  # the lowest id last

    # --- each record in its turn ------------------------------------------------------------------

    def each(self, subjects: list[tuple[str, dict[str, Any]]]) -> Iterator[RecordResult | ValidationError]:
        from cylch.identity.linkage.features import surname_key

        for local_id, data in subjects:
            try:
                if not local_id or not str(local_id).strip():
                    raise ValidationError({"local_id": ["The organisation's own identifier is required."]})
                local_id = str(local_id)
                fields = clean_record_fields(data)
                record = self.records.get(local_id)
                if record is None or record.pk not in self.links:
                    yield self._link(local_id, data, fields, record)
                    continue
                changed = [f for f, value in fields.items() if getattr(record, f) != value]
                for field in changed:
                    setattr(record, field, fields[field])
                if changed or record.surname_key != surname_key(record.family_name):
                    record.save(update_fields=[*changed, "surname_key", "modified_at"])
                    self._wrote(record)
                ref, method = self.links[record.pk]
                person = self._person(ref)
                if _enrich(person, fields):
                    self._know(person)
                yield RecordResult(record, person, False, False, method)
            except ValidationError as exc:
                yield exc
        self._store()

    def _link(self, local_id: str, data: dict[str, Any], fields: dict[str, Any], record: AgencyRecord | None):
        """A record with no link yet: decided from what was read if that is safe, else alone."""
        fresh = self.fresh.pop(local_id, None)
        scores = self.prescored.pop(local_id, None)
        if fresh is not None:
            self.hidden.discard(fresh.pk)
            result = self._decided(fresh, fields, scores)
        else:
            result = None
        if result is None:
            self._store()  # what the batch decided so far is there for the record's own look
            if scores is not None and scores.candidates & self.written:
                scores = None
            result = agency_record_upsert(
                organisation=self.organisation, local_id=local_id, data=data, actor=self.actor, audit=False,
                prescored=scores, known_new=record is None and fresh is None, stored=fresh, hidden=self.hidden,
            )  # fmt: skip
            self.persons[result.person.pk] = result.person  # read afresh by it, so the latest
            self.links[result.record.pk] = (result.person.pk, result.link_method)
        self.records[local_id] = result.record
        self._wrote(result.record)
        self._know(result.person)
        return result

    def _decided(self, record: AgencyRecord, fields: dict[str, Any], scores) -> RecordResult | None:
        """The record linked as ``agency_record_upsert`` would link it now, or None when that
        cannot be told from what was read (it is then linked by ``agency_record_upsert``)."""
        for field, method in IDENTIFIERS:
            if fields.get(field) and fields[field] in self.by_identifier[field]:
                return self._join(record, fields, self._person(self.by_identifier[field][fields[field]]), method)
        if self.model is None:
            return self._join(record, fields, None, LinkMethod.NEW_PERSON)
        online = self.online
        if (
            scores is None
            or scores.model is not online.active_model()
            or not scores.whole
            or scores.candidates & self.written
            or self.written_rows.near(online._row_for_rules(fields))
        ):
            return None
        best = online.best_linked(scores.scores, self.person_of)
        if best is None:
            return self._join(record, fields, None, LinkMethod.NEW_PERSON)
        if online.weighs_whole_person(self.model, best.weight):
            return None  # the person's records, some maybe this batch's, decide it
        match = online.decide(self.model, scores.scores, self.person_of, fields)
        if match.decision == "link":
            return self._join(record, fields, self._stored_person(match.person_id), LinkMethod.PROBABILISTIC, match)
        result = self._join(record, fields, None, LinkMethod.NEW_PERSON)
        if match.decision == "review":
            from cylch.identity.linking import review_raise
            from cylch.identity.models import ReviewReason

            review_raise(
                record_a=record.pk, record_b=match.record_id, weight=match.weight, probability=match.probability,
                model_version=match.model_version, reason=ReviewReason.UNCERTAIN,
            )  # fmt: skip
        return result

    def _join(self, record: AgencyRecord, fields, person: Person | None, method: str, match=None) -> RecordResult:
        """Link the record to ``person`` (a new one when None), both stored at the batch's end."""
        created = person is None
        if created:
            person = person_from_fields(fields)
            person.created_by = self.actor
            self.new_persons.append(person)
        else:
            _enrich(person, fields)
        probabilistic = method == LinkMethod.PROBABILISTIC
        self.new_links.append(
            PersonLink(
                agency_record=record, person=person, method=method,
                score=match.probability if probabilistic else None,
                model_version=match.model_version if probabilistic else "",
            )
        )  # fmt: skip
        self.links[record.pk] = (person.pk or person, method)
        return RecordResult(record, person, True, created, method)

    # --- what the batch knows and has done --------------------------------------------------------

    def _person(self, ref: int | Person) -> Person:
        if isinstance(ref, Person):
            return self.persons.get(ref.pk, ref) if ref.pk else ref
        return self.persons[ref]

    def _stored_person(self, pk: int) -> Person:
        if pk not in self.persons:
            person = Person.objects.get(pk=pk).live()
            self.persons.setdefault(person.pk, person)
            return self.persons[person.pk]
        return self.persons[pk]

    def _know(self, person: Person) -> None:
        """Its NHS and pupil numbers now find it, unless they find someone stored before it."""
        rank = person.pk or _LAST
        for field, _method in IDENTIFIERS:
            value = getattr(person, field)
            if not value:
                continue
            held = self.by_identifier[field].get(value)
            held_rank = held if isinstance(held, int) else (held.pk or _LAST) if held is not None else None
            if held_rank is None or rank < held_rank:
                self.by_identifier[field][value] = person.pk or person

    def _wrote(self, record: AgencyRecord) -> None:
        self.written.add(record.pk)
        if self.model is not None:
            self.written_rows.add(self.online._row_for_rules(record))

    def _store(self) -> None:
        """Insert the people and links decided since the last time, in the order decided."""
        if self.new_persons:
            insert_rows(Person, self.new_persons)
            for person in self.new_persons:
                self.persons[person.pk] = person
            self.new_persons = []
        if self.new_links:
            insert_rows(PersonLink, self.new_links)  # each takes its person's id now
            self.new_links = []
